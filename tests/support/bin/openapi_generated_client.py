#!/usr/bin/env python3
"""Drive the daemon through a client generated from its own OpenAPI document.

Usage: openapi_generated_client.py DOC_JSON CLIENT_PARENT_DIR WORK_DIR
The package `aegis_client` under CLIENT_PARENT_DIR was generated from DOC_JSON by
openapi-python-client (a standard generator from PyPI, not our code). The daemon's address and
token come from AEGIS_URL and AEGIS_AUTH_TOKEN.

Every answer is checked three ways:
- its status code is the one the document gives for success (or an error the step expects);
- its body validates against the document's schema for that answer, made strict: an object
  schema that lists properties accepts no other key, so a field the server sends but the
  document does not describe fails here;
- the generated client parsed it into the documented model, and that model writes back
  exactly the JSON the server sent (nothing lost, nothing renamed, nothing left over).
Prints one JSON object of what it checked; exits 1 on the first failure.
"""
import copy, json, os, sys, time

from jsonschema import Draft202012Validator

DOC_PATH, CLIENT_DIR, WORK_DIR = sys.argv[1:4]
sys.path.insert(0, CLIENT_DIR)

from aegis_client import AuthenticatedClient, Client  # noqa: E402
from aegis_client.api.compat import post_v1_sessions_id_escape  # noqa: E402
from aegis_client.api.health import get_v1_health  # noqa: E402
from aegis_client.api.sessions import (  # noqa: E402
    delete_v1_sessions_batch, delete_v1_sessions_id, get_v1_sessions, get_v1_sessions_id,
    get_v1_sessions_id_commands, get_v1_sessions_id_read, get_v1_sessions_stats,
    post_v1_sessions, post_v1_sessions_batch, post_v1_sessions_id_exec,
    post_v1_sessions_id_interrupt, post_v1_sessions_id_keys, post_v1_sessions_id_resize,
    post_v1_sessions_id_send,
)
from aegis_client.models import (  # noqa: E402
    BatchCreateRequest, BatchDeleteRequest, CreateSessionRequest, ExecRequest, KeysRequest,
    ResizeRequest, SendRequest,
)

checked = []


def fail(msg):
    print(json.dumps({"ok": False, "error": msg, "checked": checked}))
    sys.exit(1)


def strict(schema):
    """The schema as JSON Schema 2020-12, with undocumented keys refused."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


with open(DOC_PATH) as f:
    DOC = json.load(f)
COMPONENTS = {"schemas": strict(copy.deepcopy(DOC["components"]["schemas"]))}


def schema_of(path, method, status):
    """The `$ref` schema the document gives for this answer, or None (no JSON body)."""
    responses = DOC["paths"][path][method]["responses"]
    answer = responses.get(str(status)) or responses.get("default")
    if answer is None:
        fail(f"{method.upper()} {path} answered {status}, which the document does not list")
    if "$ref" in answer:
        answer = DOC["components"]["responses"][answer["$ref"].split("/")[-1]]
    return answer.get("content", {}).get("application/json", {}).get("schema")


def check(step, path, method, response, want_status, want_model):
    status = int(response.status_code)
    if status != want_status:
        fail(f"{step}: status {status}, want {want_status}: {response.content[:300]!r}")
    body = json.loads(response.content)
    schema = schema_of(path, method, status)
    if schema is None:
        fail(f"{step}: the document gives no JSON schema for {status}")
    errors = sorted(
        Draft202012Validator({**schema, "components": COMPONENTS}).iter_errors(body),
        key=lambda e: list(e.path),
    )
    if errors:
        e = errors[0]
        fail(f"{step}: body does not match the document at {list(e.path)}: {e.message}")
    parsed = response.parsed
    if type(parsed).__name__ != want_model:
        fail(f"{step}: the client parsed a {type(parsed).__name__}, want {want_model}")
    if parsed.to_dict() != body:
        fail(f"{step}: the client's model does not round-trip the body: "
             f"{json.dumps(parsed.to_dict())[:400]} != {json.dumps(body)[:400]}")
    checked.append(f"{method.upper()} {path} {status}")
    return body


def main():
    base = os.environ["AEGIS_URL"]
    client = AuthenticatedClient(base_url=base, token=os.environ["AEGIS_AUTH_TOKEN"], timeout=30)
    anonymous = Client(base_url=base, timeout=30)

    check("health", "/v1/health", "get",
          get_v1_health.sync_detailed(client=anonymous), 200, "Health")

    create = CreateSessionRequest.from_dict({
        "workDir": WORK_DIR, "name": "generated-client", "agentType": "shell",
        "command": ["bash", "--norc", "--noprofile"], "cols": 100, "rows": 30,
    })
    s = check("create", "/v1/sessions", "post",
              post_v1_sessions.sync_detailed(client=client, body=create), 201, "Session")
    sid = s["id"]
    check("get", "/v1/sessions/{id}", "get",
          get_v1_sessions_id.sync_detailed(sid, client=client), 200, "Session")
    listed = check("list", "/v1/sessions", "get",
                   get_v1_sessions.sync_detailed(client=client), 200, "SessionList")
    if [x["id"] for x in listed["sessions"]] != [sid]:
        fail(f"list: {listed}")
    check("stats", "/v1/sessions/stats", "get",
          get_v1_sessions_stats.sync_detailed(client=client), 200, "SessionStats")

    sent = check("send", "/v1/sessions/{id}/send", "post",
                 post_v1_sessions_id_send.sync_detailed(
                     sid, client=client, body=SendRequest(text="echo generated-$((6*7))")),
                 200, "SendResponse")
    if not sent["delivered"]:
        fail(f"send: not delivered: {sent}")
    deadline = time.monotonic() + 20
    while True:
        read = check("read", "/v1/sessions/{id}/read", "get",
                     get_v1_sessions_id_read.sync_detailed(sid, client=client), 200,
                     "ReadResponse")
        if "generated-42" in read["output"]:
            break
        if time.monotonic() > deadline:
            fail(f"read: the command's output never showed: {read['output']!r}")
        time.sleep(0.1)

    ran = check("exec", "/v1/sessions/{id}/exec", "post",
                post_v1_sessions_id_exec.sync_detailed(
                    sid, client=client, body=ExecRequest(command="echo exec-$((2+3)); false")),
                200, "ExecResult")
    if ran["exitCode"] != 1 or "exec-5" not in ran["output"]:
        fail(f"exec: {ran}")
    commands = check("commands", "/v1/sessions/{id}/commands", "get",
                     get_v1_sessions_id_commands.sync_detailed(sid, client=client), 200,
                     "CommandList")
    if not commands["commands"] or commands["commands"][-1]["exitCode"] != 1:
        fail(f"commands: {commands}")

    check("keys", "/v1/sessions/{id}/keys", "post",
          post_v1_sessions_id_keys.sync_detailed(
              sid, client=client, body=KeysRequest(keys=["Enter"])), 200, "Ok")
    check("resize", "/v1/sessions/{id}/resize", "post",
          post_v1_sessions_id_resize.sync_detailed(
              sid, client=client, body=ResizeRequest(cols=90, rows=25)), 200, "Ok")
    check("interrupt", "/v1/sessions/{id}/interrupt", "post",
          post_v1_sessions_id_interrupt.sync_detailed(sid, client=client), 200, "Ok")
    check("escape", "/v1/sessions/{id}/escape", "post",
          post_v1_sessions_id_escape.sync_detailed(sid, client=client), 200, "Ok")

    check("resize refused", "/v1/sessions/{id}/resize", "post",
          post_v1_sessions_id_resize.sync_detailed(
              sid, client=client, body=ResizeRequest(cols=0, rows=25)), 400, "Error")
    check("delete", "/v1/sessions/{id}", "delete",
          delete_v1_sessions_id.sync_detailed(sid, client=client), 200, "Ok")
    check("get after delete", "/v1/sessions/{id}", "get",
          get_v1_sessions_id.sync_detailed(sid, client=client), 404, "Error")

    batch = BatchCreateRequest.from_dict({"sessions": [
        {"workDir": WORK_DIR, "agentType": "shell", "command": ["bash", "--norc"]},
        {"workDir": "relative/dir", "agentType": "shell"},
    ]})
    made = check("batch create", "/v1/sessions/batch", "post",
                 post_v1_sessions_batch.sync_detailed(client=client, body=batch), 201,
                 "BatchCreateResponse")
    if made["created"] != 1 or len(made["failed"]) != 1:
        fail(f"batch create: {made}")
    gone = check("batch delete", "/v1/sessions/batch", "delete",
                 delete_v1_sessions_batch.sync_detailed(
                     client=client,
                     body=BatchDeleteRequest(ids=[made["sessions"][0]["id"], "nope"])),
                 200, "BatchDeleteResponse")
    if gone["deleted"] != 1 or gone["notFound"] != ["nope"]:
        fail(f"batch delete: {gone}")

    print(json.dumps({"ok": True, "checked": checked}))


main()
