#!/usr/bin/env python3
"""A real MCP client (the `mcp` package from PyPI, not our own code) driving `aegis mcp`.

Usage: faces_mcp_client.py AEGIS_BINARY WORK_DIR
The daemon's address and token reach `aegis mcp` through AEGIS_URL / AEGIS_AUTH_TOKEN in the
environment. Steps: initialize, list tools and resource templates, create a bash session,
wait for it, send a command, read the screen (tool and resource), provoke a daemon error, and
kill the session. Prints one JSON object of what it saw; exits 1 on the first surprise.
"""
import asyncio, json, os, sys, time

from mcp import ClientSession, StdioServerParameters, stdio_client

EXPECTED_TOOLS = {
    "create_session", "list_sessions", "get_session", "read_output", "send_message",
    "send_keys", "interrupt", "kill_session", "approve", "reject",
    "list_pending_permissions", "wait_for_state", "spawn", "run_pipeline",
    "memory_get", "memory_set",
}


def fail(msg):
    print(json.dumps({"ok": False, "error": msg}))
    sys.exit(1)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def call(s, name, args, expect_error=False):
    r = await s.call_tool(name, args)
    if bool(r.is_error) != expect_error:
        fail(f"{name}({args}) is_error={r.is_error}: {text_of(r)}")
    return text_of(r)


async def main(binary, work_dir):
    seen = {}
    params = StdioServerParameters(command=binary, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            seen["server"] = init.server_info.name
            seen["protocol"] = init.protocol_version
            tools = (await s.list_tools()).tools
            names = {t.name for t in tools}
            if not EXPECTED_TOOLS <= names:
                fail(f"missing tools: {sorted(EXPECTED_TOOLS - names)}")
            for t in tools:
                if t.input_schema.get("type") != "object" or not t.description:
                    fail(f"tool {t.name} lacks a schema or description")
            seen["tools"] = sorted(names)
            send_schema = next(t for t in tools if t.name == "send_message").input_schema
            seen["send_required"] = sorted(send_schema.get("required", []))

            created = json.loads(await call(s, "create_session", {
                "workDir": work_dir, "agentType": "shell", "name": "mcp-bash",
                "command": ["bash", "--norc", "--noprofile"],
            }))
            sid = created["id"]
            seen["created"] = sid
            waited = json.loads(await call(s, "wait_for_state", {
                "session": sid, "states": ["idle"], "timeoutMs": 20000}))
            if not waited["reached"]:
                fail(f"session never idle: {waited['status']}")
            sent = json.loads(await call(s, "send_message", {
                "session": "mcp-bash", "text": "echo mcp-$((6*7))"}))
            seen["delivered"] = sent["delivered"]
            deadline = time.monotonic() + 20
            while True:
                screen = json.loads(await call(s, "read_output", {"session": sid}))["output"]
                if "mcp-42" in screen:
                    break
                if time.monotonic() > deadline:
                    fail(f"echo never appeared; screen:\n{screen}")
                await asyncio.sleep(0.1)
            seen["screen_has_echo"] = True

            templates = (await s.list_resource_templates()).resource_templates
            seen["templates"] = [t.uri_template for t in templates]
            listed = [str(x.uri) for x in (await s.list_resources()).resources]
            uri = f"aegis://sessions/{sid}/screen"
            if uri not in listed:
                fail(f"{uri} not in resources {listed}")
            contents = (await s.read_resource(uri)).contents
            seen["resource_has_echo"] = any("mcp-42" in getattr(c, "text", "") for c in contents)

            seen["missing_error"] = await call(
                s, "get_session", {"session": "no-such-session"}, expect_error=True)
            seen["bad_args_error"] = await call(
                s, "send_keys", {"session": sid}, expect_error=True)
            wait_schema = next(t for t in tools if t.name == "wait_for_state").input_schema
            seen["state_names"] = wait_schema["properties"]["states"]["items"].get("enum", [])
            seen["bad_state_error"] = await call(
                s, "wait_for_state", {"session": sid, "states": ["idel"]}, expect_error=True)
            pending = json.loads(await call(s, "list_pending_permissions", {"session": sid}))
            seen["pending_shape"] = sorted(pending)
            page = json.loads(await call(s, "list_sessions", {"limit": 1, "page": 1}))
            seen["page_limit"] = page["pagination"]["limit"]

            await call(s, "kill_session", {"session": sid})
            listed = json.loads(await call(s, "list_sessions", {}))
            seen["after_kill"] = [x["id"] for x in listed["sessions"]]
    seen["ok"] = True
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
