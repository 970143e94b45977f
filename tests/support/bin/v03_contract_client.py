#!/usr/bin/env python3
"""An independent Aegis v0.3 client (stdlib only): makes exactly the calls Aegis v0.3's MCP
client makes, the way it makes them (Bearer token when it has
one, Content-Type only with a body, UUID session ids only) and checks every field the contract
lists for each response. Prints one line per check and exits 1 if any failed.

usage: v03_contract_client.py BASE_URL WORK_DIR [--token T] [--optional metrics,latency,...]

--optional names routes other areas own that may not be served yet: a 404 from them is
reported as SKIP instead of a failure (every field is still checked when they answer).
"""
import argparse, json, re, sys, time, urllib.error, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("base")
ap.add_argument("work_dir")
ap.add_argument("--token")
ap.add_argument("--optional", default="")
a = ap.parse_args()
OPTIONAL = set(x for x in a.optional.split(",") if x)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
failures = []


def call(method, path, body=None):
    headers = {}
    if a.token:
        headers["Authorization"] = "Bearer " + a.token
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(a.base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


class Sse:
    """An SSE stream read the way a v0.3 client does (EventSource.onmessage): only `data:`
    lines count, as JSON. Records any `event:` line, which would hide a frame from onmessage,
    and the `id:` line of each frame."""

    def __init__(self, path):
        headers = {"Accept": "text/event-stream"}
        if a.token:
            headers["Authorization"] = "Bearer " + a.token
        self.r = urllib.request.urlopen(urllib.request.Request(a.base + path, headers=headers), timeout=30)
        self.event_lines = []

    def next(self):
        """The next frame as (id or None, data JSON); None when the stream ends."""
        fid, data = None, []
        while True:
            line = self.r.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    return fid, json.loads("\n".join(data))
                fid = None
                continue
            if line.startswith("event:"):
                self.event_lines.append(line)
            elif line.startswith("id:"):
                fid = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))

    def until(self, wanted, limit=500):
        """Read frames, checking each one's v0.3 shape, until each of `wanted` (name →
        predicate on a frame) has matched once, in any order. Returns name → first matching
        frame; a name that never matched (stream ended or went quiet) is missing."""
        seen = {}
        try:
            for _ in range(limit):
                if len(seen) == len(wanted):
                    break
                got = self.next()
                if got is None:
                    break
                fid, f = got
                ok = is_obj(f) and is_str(f.get("event")) and is_int(f.get("timestamp")) \
                    and is_obj(f.get("data")) and str_or_null(f.get("sessionId")) \
                    and (fid is None or str(f.get("id")) == fid)
                if not ok:
                    check("sse frame has v0.3's {event, sessionId, timestamp, data, id}", False, (fid, f))
                    continue
                for name, pred in wanted.items():
                    if name not in seen and f["event"] == name.split("#")[0] and pred(f):
                        seen[name] = f
        except OSError as e:  # a read timeout: report what is missing instead of dying
            print("     (sse stream: %s)" % e)
        return seen

    def close(self):
        self.r.close()


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else "  " + str(detail)[:400]))
    if not ok:
        failures.append(name)


def sid(s):
    """The MCP client refuses any session id that is not a UUID."""
    if not UUID.match(s or ""):
        check("session id is a UUID", False, s)
        sys.exit(1)
    return s


# type checkers
def is_int(v): return isinstance(v, int) and not isinstance(v, bool)
def is_num(v): return isinstance(v, (int, float)) and not isinstance(v, bool)
def is_str(v): return isinstance(v, str)
def is_bool(v): return isinstance(v, bool)
def str_or_null(v): return v is None or isinstance(v, str)
def is_list(v): return isinstance(v, list)
def is_obj(v): return isinstance(v, dict)
def epoch_ms(v): return is_int(v) and v > 1_000_000_000_000


def fields(name, obj, spec, optional=()):
    if not is_obj(obj):
        check(name, False, "not an object: %r" % (obj,))
        return
    for f, t in spec.items():
        present = f in obj
        if not present and f in optional:
            continue
        check("%s.%s" % (name, f), present and t(obj[f]), obj.get(f, "<missing>"))


def session_info(name, s):
    fields(name, s, {
        "id": lambda v: is_str(v) and UUID.match(v), "windowId": is_str, "windowName": is_str,
        "workDir": is_str, "claudeSessionId": is_str, "jsonlPath": is_str, "byteOffset": is_int,
        "monitorOffset": is_int, "status": is_str, "createdAt": epoch_ms, "lastActivity": epoch_ms,
        "stallThresholdMs": is_int, "permissionMode": is_str, "autoApprove": is_bool,
        "promptDelivery": lambda v: is_obj(v) and is_bool(v.get("delivered")) and is_int(v.get("attempts")),
        "actionHints": lambda v: is_obj(v) and all(is_obj(h) and is_str(h.get("method")) and is_str(h.get("url"))
                                                   and is_str(h.get("description")) for h in v.values()),
    }, optional=("claudeSessionId", "jsonlPath", "autoApprove", "promptDelivery", "actionHints"))


def ok_shape(name, s, v):
    check(name + " 2xx", 200 <= s < 300, (s, v))
    fields(name, v, {"ok": lambda x: x is True})


def send_shape(name, s, v):
    check(name + " 2xx", 200 <= s < 300, (s, v))
    fields(name, v, {"ok": lambda x: x is True, "delivered": is_bool, "attempts": is_int})


def optional_route(name, s):
    if s == 404 and name in OPTIONAL:
        print("SKIP " + name + " (404: owned by another area, not served on this build)")
        return False
    return True


def wait_status(id, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s, v = call("GET", "/v1/sessions/" + id)
        if s == 200 and v.get("status") in want:
            return v
        time.sleep(0.1)
    check("status reaches %s" % (want,), False, v)
    return v


def pane_shows(id, needle, timeout=10):
    """Whether the raw pane shows `needle` within `timeout`: the agent draws what it was sent
    on its own schedule, so one read right after the send can come too early."""
    deadline = time.time() + timeout
    while True:
        pane = (call("GET", "/v1/sessions/%s/pane" % id)[1] or {}).get("pane", "")
        if needle in pane or time.time() > deadline:
            return needle in pane
        time.sleep(0.1)


# ---- server health -------------------------------------------------------------------------
s, v = call("GET", "/v1/health")
check("health 200", s == 200, (s, v))
fields("health", v, {"status": is_str, "version": is_str, "platform": is_str, "uptime": is_num,
                     "sessions": lambda x: is_obj(x) and is_int(x.get("active")) and is_int(x.get("total")),
                     "timestamp": is_str})

# ---- create ----------------------------------------------------------------------------------
s, v = call("POST", "/v1/sessions", {"workDir": a.work_dir, "name": "contract-1", "prompt": "hello contract"})
check("create 201", s == 201, (s, v))
session_info("create", v)
id = sid(v.get("id"))
wait_status(id, ("idle",))

# ---- list / get ------------------------------------------------------------------------------
s, v = call("GET", "/v1/sessions")
check("list 200", s == 200, s)
fields("list", v, {"sessions": is_list, "total": is_int,
                   "pagination": lambda p: is_obj(p) and all(is_int(p.get(k)) for k in ("page", "limit", "total", "totalPages"))})
for i, item in enumerate(v.get("sessions", [])):
    session_info("list.sessions[%d]" % i, item)
# the MCP client filters client-side by status and workDir
mine = [x for x in v.get("sessions", []) if x.get("workDir") == a.work_dir and x.get("status") == "idle"]
check("list client-side filter finds the session", any(x.get("id") == id for x in mine), v)

s, v = call("GET", "/v1/sessions/" + id)
check("get 200", s == 200, s)
session_info("get", v)
check("get.promptDelivery delivered", (v.get("promptDelivery") or {}).get("delivered") is True, v)

# ---- health ----------------------------------------------------------------------------------
s, v = call("GET", "/v1/sessions/%s/health" % id)
check("session health 200", s == 200, s)
fields("session health", v, {"alive": is_bool, "windowExists": is_bool, "claudeRunning": is_bool,
                             "paneCommand": str_or_null, "status": is_str, "hasTranscript": is_bool,
                             "lastActivity": epoch_ms, "lastActivityAgo": is_int, "sessionAge": is_int,
                             "details": is_str,
                             "actionHints": is_obj}, optional=("actionHints",))

# ---- send / read -----------------------------------------------------------------------------
s, v = call("POST", "/v1/sessions/%s/send" % id, {"text": "second message"})
send_shape("send", s, v)
wait_status(id, ("idle",))
s, v = call("GET", "/v1/sessions/%s/read" % id)
check("read 200", s == 200, s)
ROLES = ("user", "assistant", "system")
TYPES = ("text", "thinking", "tool_use", "tool_result", "tool_error", "permission_request", "progress")
fields("read", v, {
    "messages": lambda ms: is_list(ms) and all(
        is_obj(m) and m.get("role") in ROLES and m.get("contentType") in TYPES and is_str(m.get("text"))
        and all(k not in m or is_str(m[k]) for k in ("toolName", "toolUseId", "timestamp")) for m in ms),
    "status": is_str, "statusText": str_or_null, "interactiveContent": str_or_null,
    "output": is_str, "tokenUsage": lambda u: u is None or (is_obj(u) and all(
        is_int(u.get(k)) for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"))
        and (u.get("estimatedCostUsd") is None or is_num(u.get("estimatedCostUsd")))),
})
check("read.output shows the sent text", "second message" in v.get("output", ""), v.get("output"))
check("read.messages come from the transcript", len(v.get("messages") or []) > 0, v.get("messages"))

# ---- SSE in v0.3's frames ------------------------------------------------------------------------
STATES = ("idle", "working", "compacting", "context_warning", "waiting_for_input", "permission_prompt",
          "plan_mode", "ask_question", "bash_approval", "settings", "error", "unknown")
one = Sse("/v1/sessions/%s/events" % id)
every = Sse("/v1/events")
f = one.until({"connected": lambda f: True}).get("connected")
check("sse connected first (session)", f is not None and f.get("sessionId") == id, f)
check("sse connected first (global)", "connected" in every.until({"connected": lambda f: True}))
call("POST", "/v1/sessions/%s/send" % id, {"text": "sse check"})
got = one.until({"message": lambda f: f["data"].get("text") == "sse check",
                 "status#working": lambda f: f["data"].get("status") == "working",
                 "status#idle": lambda f: f["data"].get("status") == "idle"})
f = got.get("message")
check("sse message {role, text}", f is not None and f["sessionId"] == id and f["data"].get("role") == "user", f)
for k in ("status#working", "status#idle"):
    f = got.get(k)
    check("sse %s {status, detail} in v0.3's vocabulary" % k, f is not None and f["data"]["status"] in STATES
          and is_str(f["data"].get("detail")) and f["sessionId"] == id, f)
got = every.until({"session_message": lambda f: f.get("sessionId") == id,
                   "session_status_change": lambda f: f.get("sessionId") == id})
f = got.get("session_message")
check("sse global session_message", f is not None and f["data"].get("text") == "sse check", f)
f = got.get("session_status_change")
check("sse global session_status_change", f is not None and f["data"].get("status") in STATES, f)
check("sse frames have no event: line", not one.event_lines and not every.event_lines,
      one.event_lines + every.event_lines)
one.close()
every.close()
wait_status(id, ("idle",))

# ---- approve / reject (a permission dialog first) ---------------------------------------------
for action in ("approve", "reject"):
    call("POST", "/v1/sessions/%s/send" % id, {"text": "!ask bash rm -rf build-" + action})
    wait_status(id, ("permission_prompt",))
    s, v = call("POST", "/v1/sessions/%s/%s" % (id, action))
    ok_shape(action, s, v)
    wait_status(id, ("idle",))

# ---- escape / interrupt -----------------------------------------------------------------------
call("POST", "/v1/sessions/%s/send" % id, {"text": "!hang"})
wait_status(id, ("working", "stalled"))
s, v = call("POST", "/v1/sessions/%s/interrupt" % id)
ok_shape("interrupt", s, v)
wait_status(id, ("idle",))
s, v = call("POST", "/v1/sessions/%s/escape" % id)
ok_shape("escape", s, v)

# ---- pane / summary ----------------------------------------------------------------------------
s, v = call("GET", "/v1/sessions/%s/pane" % id)
check("pane 200", s == 200, s)
fields("pane", v, {"pane": is_str})
s, v = call("GET", "/v1/sessions/%s/summary" % id)
check("summary 200", s == 200, s)
fields("summary", v, {"sessionId": lambda x: x == id, "windowName": is_str, "status": is_str,
                      "totalMessages": is_int,
                      "messages": lambda ms: is_list(ms) and all(is_obj(m) and m.get("role") in ROLES and m.get("contentType") in TYPES and is_str(m.get("text")) for m in ms),
                      "createdAt": epoch_ms, "lastActivity": epoch_ms, "permissionMode": is_str, "prd": str_or_null},
       optional=("prd",))

# ---- metrics / latency (owned by the metrics area) ---------------------------------------------
def num_or_null(v): return v is None or is_num(v)


def token_usage(u):
    return is_obj(u) and all(is_int(u.get(k)) for k in (
        "inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")) \
        and "estimatedCostUsd" in u and num_or_null(u["estimatedCostUsd"])


def aggregated(x):
    """{min, max, avg, count}: a count, and numbers once something was counted."""
    return is_obj(x) and is_int(x.get("count")) and all(
        k in x and (is_num(x[k]) if x["count"] > 0 else num_or_null(x[k])) for k in ("min", "max", "avg"))


LATENCY = ("hook_latency_ms", "state_change_detection_ms", "permission_response_ms", "channel_delivery_ms")

s, v = call("GET", "/v1/sessions/%s/metrics" % id)
if optional_route("metrics", s):
    check("metrics 200", s == 200, s)
    fields("metrics", v, {"durationSec": is_num, "messages": is_int, "toolCalls": is_int, "approvals": is_int,
                          "autoApprovals": is_int, "statusChanges": lambda x: is_list(x) and all(is_str(i) for i in x),
                          "tokenUsage": lambda u: u is None or token_usage(u)}, optional=("tokenUsage",))
    # The transcript is known here (read returned its messages), so usage is too.
    check("metrics.tokenUsage from the transcript", token_usage(v.get("tokenUsage")), v.get("tokenUsage"))
s, v = call("GET", "/v1/sessions/%s/latency" % id)
if optional_route("latency", s):
    check("latency 200", s == 200, s)
    fields("latency", v, {
        "sessionId": lambda x: x == id,
        "realtime": lambda x: x is None or (is_obj(x) and all(
            k in x and num_or_null(x[k]) for k in LATENCY[:3])),
        "aggregated": lambda x: is_obj(x) and all(aggregated(x.get(k)) for k in LATENCY)})
    # A permission was answered above, so that latency was measured.
    check("latency.realtime measured", is_obj(v.get("realtime")), v.get("realtime"))
s, v = call("GET", "/v1/metrics")
if optional_route("metrics", s):
    check("global metrics 200", s == 200, s)
    fields("global metrics", v, {
        "uptime": is_num,
        "sessions": lambda x: is_obj(x) and all(is_int(x.get(k)) for k in (
            "total_created", "currently_active", "completed", "failed"))
        and all(k in x and num_or_null(x[k]) for k in ("avg_duration_sec", "avg_messages_per_session")),
        "auto_approvals": is_int, "webhooks_sent": is_int, "webhooks_failed": is_int,
        "pipelines_created": is_int, "batches_created": is_int,
        "prompt_delivery": lambda x: is_obj(x) and all(is_int(x.get(k)) for k in ("sent", "delivered", "failed"))
        and "success_rate" in x and num_or_null(x["success_rate"]),
        "latency": lambda x: is_obj(x) and all(aggregated(x.get(k)) for k in LATENCY),
    })
    check("global metrics count this session", (v.get("sessions") or {}).get("total_created", 0) >= 1
          and (v.get("prompt_delivery") or {}).get("sent", 0) >= 1, v)

# ---- bash / command ----------------------------------------------------------------------------
s, v = call("POST", "/v1/sessions/%s/bash" % id, {"command": "ls"})
send_shape("bash", s, v)
wait_status(id, ("idle",))
check("bash sent as !ls", pane_shows(id, "!ls"))
s, v = call("POST", "/v1/sessions/%s/command" % id, {"command": "help"})
send_shape("command", s, v)
wait_status(id, ("idle",))
check("command sent as /help", pane_shows(id, "/help"))

# ---- batch -------------------------------------------------------------------------------------
s, v = call("POST", "/v1/sessions/batch", {"sessions": [{"workDir": a.work_dir, "name": "contract-b1"},
                                                         {"workDir": a.work_dir, "name": "contract-b2"}]})
check("batch 201", s == 201, (s, v))
fields("batch", v, {"sessions": lambda x: is_list(x) and len(x) == 2, "created": lambda x: x == 2, "failed": is_list})
batch_ids = [sid(x.get("id")) for x in v.get("sessions", [])]
for i, item in enumerate(v.get("sessions", [])):
    session_info("batch.sessions[%d]" % i, item)

# ---- stats and batch delete (response shapes of the contract) ----------------------------------
s, v = call("GET", "/v1/sessions/stats")
check("stats 200", s == 200, s)
fields("stats", v, {"active": is_int, "byStatus": lambda x: is_obj(x) and all(is_int(n) for n in x.values()),
                    "totalCreated": is_int, "totalCompleted": is_int, "totalFailed": is_int})
missing = "00000000-0000-4000-8000-000000000000"
s, v = call("DELETE", "/v1/sessions/batch", {"ids": batch_ids + [missing]})
check("batch delete 200", s == 200, (s, v))
fields("batch delete", v, {"deleted": lambda x: x == 2, "notFound": lambda x: x == [missing], "errors": is_list})

# ---- pipelines / swarm (owned by the orchestration area) ----------------------------------------
s, v = call("GET", "/v1/pipelines")
if optional_route("pipelines", s):
    check("pipelines GET 200", s == 200, (s, v))
s, v = call("POST", "/v1/pipelines", {"name": "contract", "workDir": a.work_dir, "stages": [{"name": "s1", "prompt": "hi"}]})
if optional_route("pipelines", s):
    check("pipelines POST 2xx", 200 <= s < 300, (s, v))
s, v = call("GET", "/v1/swarm")
if optional_route("swarm", s):
    check("swarm 200", s == 200, (s, v))

# ---- memory ------------------------------------------------------------------------------------
s, v = call("POST", "/v1/memory", {"key": "contract/k", "value": "v1"})
check("memory POST 2xx", 200 <= s < 300, (s, v))
s, v = call("GET", "/v1/memory/contract/k")
check("memory GET 200", s == 200 and "v1" in json.dumps(v), (s, v))
s, v = call("DELETE", "/v1/memory/contract/k")
check("memory DELETE 2xx", 200 <= s < 300, (s, v))
s, v = call("GET", "/v1/memory/contract/k")
check("memory GET after delete 404", s == 404, (s, v))

# ---- errors carry `error` -----------------------------------------------------------------------
s, v = call("GET", "/v1/sessions/" + missing)
check("unknown session 404", s == 404, s)
check("error body has a human `error`", is_obj(v) and is_str(v.get("error")) and v["error"], v)

# ---- kill --------------------------------------------------------------------------------------
s, v = call("DELETE", "/v1/sessions/" + id)
ok_shape("kill", s, v)
s, _ = call("GET", "/v1/sessions/" + id)
check("killed session is gone", s == 404, s)

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
