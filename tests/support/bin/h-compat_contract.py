#!/usr/bin/env python3
"""An independent Aegis v0.3 client (stdlib only): makes exactly the calls of
reference/aegis-v0.3-contract.md's table the way its MCP client does (Bearer token when it has
one, Content-Type only with a body, UUID session ids only) and checks every field the contract
lists for each response. Prints one line per check and exits 1 if any failed.

usage: h-compat_contract.py BASE_URL WORK_DIR [--token T] [--optional metrics,latency,...]

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
s, v = call("GET", "/v1/sessions/%s/metrics" % id)
if optional_route("metrics", s):
    check("metrics 200", s == 200, s)
    fields("metrics", v, {"durationSec": is_num, "messages": is_int, "toolCalls": is_int, "approvals": is_int,
                          "autoApprovals": is_int, "statusChanges": lambda x: is_list(x) and all(is_str(i) for i in x),
                          "tokenUsage": lambda u: u is None or is_obj(u)}, optional=("tokenUsage",))
s, v = call("GET", "/v1/sessions/%s/latency" % id)
if optional_route("latency", s):
    check("latency 200", s == 200, s)
    agg = lambda x: is_obj(x) and all(k in x for k in ("min", "max", "avg", "count"))
    fields("latency", v, {"sessionId": is_str, "realtime": lambda x: x is None or is_obj(x),
                          "aggregated": lambda x: is_obj(x) and all(agg(x.get(k)) for k in (
                              "hook_latency_ms", "state_change_detection_ms", "permission_response_ms", "channel_delivery_ms"))})

# ---- bash / command ----------------------------------------------------------------------------
s, v = call("POST", "/v1/sessions/%s/bash" % id, {"command": "ls"})
send_shape("bash", s, v)
wait_status(id, ("idle",))
s, _ = call("GET", "/v1/sessions/%s/pane" % id)
check("bash sent as !ls", "!ls" in (call("GET", "/v1/sessions/%s/pane" % id)[1] or {}).get("pane", ""))
s, v = call("POST", "/v1/sessions/%s/command" % id, {"command": "help"})
send_shape("command", s, v)
wait_status(id, ("idle",))
check("command sent as /help", "/help" in (call("GET", "/v1/sessions/%s/pane" % id)[1] or {}).get("pane", ""))

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
