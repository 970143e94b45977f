#!/usr/bin/env python3
"""Stands in for an agent CLI: prints its argv (as JSON) and waits, so a test can check the
exact command line Aegis built."""
import json, sys, time
print("ARGV " + json.dumps(sys.argv[1:]), flush=True)
time.sleep(60)
