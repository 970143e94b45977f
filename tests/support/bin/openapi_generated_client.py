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
from aegis_client.api.auth import (  # noqa: E402
    delete_v1_auth_keys_id, get_v1_auth_keys, post_v1_auth_keys, post_v1_auth_sse_token,
)
from aegis_client.api.compat import (  # noqa: E402
    get_v1_sessions_health, get_v1_sessions_id_health, get_v1_sessions_id_pane,
    get_v1_sessions_id_summary, post_v1_handshake, post_v1_sessions_id_escape,
)
from aegis_client.api.executions import get_v1_agents  # noqa: E402
from aegis_client.api.health import get_v1_health  # noqa: E402
from aegis_client.api.memory import (  # noqa: E402
    delete_v1_memory_key, get_v1_memory, get_v1_memory_key, get_v1_sessions_id_memories,
    post_v1_memory, post_v1_sessions_id_memories,
)
from aegis_client.api.permissions import (  # noqa: E402
    get_v1_human_approvals, get_v1_permissions, get_v1_sessions_id_detect,
    get_v1_sessions_id_permissions_history,
    get_v1_sessions_id_permissions_pending, put_v1_sessions_id_permission_profile,
    put_v1_sessions_id_permissions,
)
from aegis_client.api.sessions import (  # noqa: E402
    delete_v1_sessions_batch, delete_v1_sessions_id, get_v1_sessions, get_v1_sessions_id,
    get_v1_sessions_id_commands, get_v1_sessions_id_read, get_v1_sessions_stats,
    post_v1_sessions, post_v1_sessions_batch, post_v1_sessions_id_exec,
    post_v1_sessions_id_interrupt, post_v1_sessions_id_keys, post_v1_sessions_id_resize,
    post_v1_sessions_id_send,
)
from aegis_client.api.recordings import get_v1_sessions_id_transcript  # noqa: E402
from aegis_client.api.webhooks import (  # noqa: E402
    delete_v1_webhooks_id, get_v1_channels_health, get_v1_webhooks, get_v1_webhooks_dead_letter,
    post_v1_webhooks,
)
from aegis_client.models import (  # noqa: E402
    BatchCreateRequest, BatchDeleteRequest, CreateKeyRequest, CreateSessionRequest,
    CreateWebhook, ExecRequest, HandshakeRequest, KeysRequest, MemorySetRequest, PolicyRequest,
    ProfileRequest, ResizeRequest, SendRequest, SseTokenRequest,
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

    permissions_and_compat(client, sid)
    memory(client, sid)
    auth_keys(client)
    webhooks_and_more(client, sid)

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
          delete_v1_sessions_id.sync_detailed(sid, client=client), 200, "Deleted")
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


def permissions_and_compat(client, sid):
    """The permission, detection and v0.3 routes on a shell session, which asks nothing."""
    pending = check("pending", "/v1/sessions/{id}/permissions/pending", "get",
                    get_v1_sessions_id_permissions_pending.sync_detailed(sid, client=client),
                    200, "SessionPending")
    if pending["sessionId"] != sid or pending["pending"] != []:
        fail(f"pending: {pending}")
    history = check("history", "/v1/sessions/{id}/permissions/history", "get",
                    get_v1_sessions_id_permissions_history.sync_detailed(sid, client=client),
                    200, "PermissionHistory")
    if history["history"] != []:
        fail(f"history: {history}")
    everywhere = check("all pending", "/v1/permissions", "get",
                       get_v1_permissions.sync_detailed(client=client), 200,
                       "PendingPermissions")
    if everywhere["total"] != 0:
        fail(f"all pending: {everywhere}")
    approvals = check("human approvals", "/v1/human-approvals", "get",
                      get_v1_human_approvals.sync_detailed(client=client), 200,
                      "HumanApprovals")
    if approvals["approvals"] != []:
        fail(f"human approvals: {approvals}")
    policy = check("policy", "/v1/sessions/{id}/permissions", "put",
                   put_v1_sessions_id_permissions.sync_detailed(
                       sid, client=client, body=PolicyRequest.from_dict({
                           "allowRead": True, "timeoutMs": 5000, "defaultAction": "reject",
                           "rules": [{"kind": "bash", "pattern": "^ls", "action": "approve"}],
                       })),
                   200, "PermissionPolicy")
    if policy["rules"] != [{"kind": "bash", "pattern": "^ls", "action": "approve"}] \
            or policy["timeoutMs"] != 5000 or policy["allowWrite"] is not None:
        fail(f"policy: {policy}")
    profile = check("profile", "/v1/sessions/{id}/permission-profile", "put",
                    put_v1_sessions_id_permission_profile.sync_detailed(
                        sid, client=client, body=ProfileRequest(profile="strict")),
                    200, "PermissionPolicy")
    if profile["profile"] != "strict":
        fail(f"profile: {profile}")
    detected = check("detect", "/v1/sessions/{id}/detect", "get",
                     get_v1_sessions_id_detect.sync_detailed(sid, client=client), 200,
                     "Detection")
    if detected["sessionId"] != sid or detected["sources"]["hooks"] is not None:
        fail(f"detect: {detected}")

    health = check("session health", "/v1/sessions/{id}/health", "get",
                   get_v1_sessions_id_health.sync_detailed(sid, client=client), 200,
                   "SessionHealth")
    if not health["alive"]:
        fail(f"session health: {health}")
    everyone = check("sessions health", "/v1/sessions/health", "get",
                     get_v1_sessions_health.sync_detailed(client=client), 200,
                     "SessionsHealth")
    if [x["id"] for x in everyone["sessions"]] != [sid]:
        fail(f"sessions health: {everyone}")
    pane = check("pane", "/v1/sessions/{id}/pane", "get",
                 get_v1_sessions_id_pane.sync_detailed(sid, client=client), 200, "Pane")
    if "generated-42" not in pane["pane"]:
        fail(f"pane: {pane}")
    summary = check("summary", "/v1/sessions/{id}/summary", "get",
                    get_v1_sessions_id_summary.sync_detailed(sid, client=client), 200,
                    "SessionSummary")
    if summary["sessionId"] != sid or summary["messages"] != []:
        fail(f"summary: {summary}")
    shook = check("handshake", "/v1/handshake", "post",
                  post_v1_handshake.sync_detailed(
                      client=client, body=HandshakeRequest.from_dict(
                          {"protocolVersion": "1", "clientCapabilities": ["swarm", "x.y"]})),
                  200, "HandshakeResponse")
    if shook["negotiatedCapabilities"] != ["swarm"] or not shook["warnings"]:
        fail(f"handshake: {shook}")


def memory(client, sid):
    """Set, read, list and delete memory entries, global and of a session."""
    made = check("memory set", "/v1/memory", "post",
                 post_v1_memory.sync_detailed(client=client, body=MemorySetRequest.from_dict(
                     {"key": "notes/first", "value": "remember this", "ttlSeconds": 600})),
                 201, "MemoryEntry")
    if made["key"] != "notes/first" or "expiresAt" not in made:
        fail(f"memory set: {made}")
    got = check("memory get", "/v1/memory/{key}", "get",
                get_v1_memory_key.sync_detailed("notes/first", client=client), 200,
                "MemoryEntry")
    if got["value"] != "remember this":
        fail(f"memory get: {got}")
    listed = check("memory list", "/v1/memory", "get",
                   get_v1_memory.sync_detailed(client=client, prefix="notes/"), 200,
                   "MemoryList")
    if [e["key"] for e in listed["entries"]] != ["notes/first"]:
        fail(f"memory list: {listed}")
    check("memory delete", "/v1/memory/{key}", "delete",
          delete_v1_memory_key.sync_detailed("notes/first", client=client), 200, "Ok")
    check("memory get after delete", "/v1/memory/{key}", "get",
          get_v1_memory_key.sync_detailed("notes/first", client=client), 404, "Error")
    mine = check("session memory set", "/v1/sessions/{id}/memories", "post",
                 post_v1_sessions_id_memories.sync_detailed(
                     sid, client=client,
                     body=MemorySetRequest.from_dict({"key": "plan", "value": "step one"})),
                 201, "MemoryEntry")
    if mine["key"] != "plan" or "expiresAt" in mine:
        fail(f"session memory set: {mine}")
    ours = check("session memory list", "/v1/sessions/{id}/memories", "get",
                 get_v1_sessions_id_memories.sync_detailed(sid, client=client), 200,
                 "MemoryList")
    if ours["total"] != 1 or ours["entries"][0]["value"] != "step one":
        fail(f"session memory list: {ours}")


def auth_keys(client):
    """Create an API key, see it listed without its secret, revoke it."""
    made = check("key create", "/v1/auth/keys", "post",
                 post_v1_auth_keys.sync_detailed(client=client, body=CreateKeyRequest.from_dict(
                     {"name": "generated-client", "scopes": ["sessions:read"]})),
                 201, "ApiKey")
    if not made.get("key") or made["scopes"] != ["sessions:read"]:
        fail(f"key create: {made}")
    listed = check("key list", "/v1/auth/keys", "get",
                   get_v1_auth_keys.sync_detailed(client=client), 200, "ApiKeyList")
    if [k["id"] for k in listed["keys"]] != [made["id"]] or "key" in listed["keys"][0]:
        fail(f"key list: {listed}")
    check("key delete", "/v1/auth/keys/{id}", "delete",
          delete_v1_auth_keys_id.sync_detailed(made["id"], client=client), 200, "Ok")
    check("key delete again", "/v1/auth/keys/{id}", "delete",
          delete_v1_auth_keys_id.sync_detailed(made["id"], client=client), 404, "Error")


def webhooks_and_more(client, sid):
    """Webhook endpoints (to a port nobody serves, for an event no step raises), their
    health, an SSE token, the agent profiles and the session's recorded output."""
    hook = check("webhook create", "/v1/webhooks", "post",
                 post_v1_webhooks.sync_detailed(client=client, body=CreateWebhook.from_dict(
                     {"url": "http://127.0.0.1:9/hook", "events": ["pipeline.finished"],
                      "secret": "s3cret"})),
                 201, "Webhook")
    if not hook["hasSecret"] or hook["events"] != ["pipeline.finished"]:
        fail(f"webhook create: {hook}")
    hooks = check("webhook list", "/v1/webhooks", "get",
                  get_v1_webhooks.sync_detailed(client=client), 200, "WebhookList")
    if [h["id"] for h in hooks["webhooks"]] != [hook["id"]]:
        fail(f"webhook list: {hooks}")
    channels = check("channels health", "/v1/channels/health", "get",
                     get_v1_channels_health.sync_detailed(client=client), 200,
                     "ChannelsHealth")
    if [(c["id"], c["status"]) for c in channels["channels"]] != [(hook["id"], "unused")]:
        fail(f"channels health: {channels}")
    dead = check("dead letters", "/v1/webhooks/dead-letter", "get",
                 get_v1_webhooks_dead_letter.sync_detailed(client=client), 200, "DeadLetters")
    if dead["total"] != 0:
        fail(f"dead letters: {dead}")
    check("webhook delete", "/v1/webhooks/{id}", "delete",
          delete_v1_webhooks_id.sync_detailed(hook["id"], client=client), 200, "Ok")

    token = check("sse token", "/v1/auth/sse-token", "post",
                  post_v1_auth_sse_token.sync_detailed(
                      client=client, body=SseTokenRequest(ttl_seconds=30)),
                  201, "SseToken")
    if token["expiresIn"] != 30 or not token["token"]:
        fail(f"sse token: {token}")
    agents = check("agents", "/v1/agents", "get",
                   get_v1_agents.sync_detailed(client=client), 200, "AgentList")
    if "claude" not in [a["name"] for a in agents["agents"] if a["builtin"]]:
        fail(f"agents: {agents}")
    recorded = check("transcript", "/v1/sessions/{id}/transcript", "get",
                     get_v1_sessions_id_transcript.sync_detailed(sid, client=client), 200,
                     "OutputTranscript")
    if "generated-42" not in recorded["text"]:
        fail(f"transcript: {recorded['text'][:300]!r}")


main()
