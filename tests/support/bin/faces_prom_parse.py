#!/usr/bin/env python3
"""Parse Prometheus exposition text from stdin with the reference Python parsers
(prometheus_client, from PyPI): the strict OpenMetrics parser, which requires `# EOF`, and the
classic text-format parser. Prints {"families": {name: {"type": t, "samples": [[name,
labels, value], ...]}}}; exits 1 (with the parser's message) if either parser refuses it.
"""
import json, sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as classic_parse

text = sys.stdin.read()
try:
    families = list(om_parse(text))
    # The classic parser does not know `# EOF`; it must accept everything before it.
    list(classic_parse(text.replace("# EOF\n", "")))
except Exception as e:  # the parsers raise ValueError and friends with a position
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
    sys.exit(1)
out = {}
for f in families:
    out[f.name] = {
        "type": f.type,
        "samples": [[s.name, s.labels, s.value] for s in f.samples],
    }
print(json.dumps({"families": out}))
