#!/usr/bin/env python3
"""A scripted model server for the real-agent tests: speaks the three wire protocols the agent
CLIs use, answers each model turn from a script the test writes, and records every request.

  Anthropic Messages      POST /v1/messages            (Claude Code; SSE when "stream": true)
  OpenAI Responses        POST /v1/responses           (Codex; always SSE)
  Gemini generateContent  POST /v1beta/models/M:generateContent | :streamGenerateContent

Binds 127.0.0.1 on a free port and prints `model server listening on http://127.0.0.1:PORT`
as its first stdout line. Control routes (the test's side):

  POST /_script   {"turns": [step, ...], "default": step?}  append turns (and set the default)
  GET  /_requests?from=N  every request from the Nth on: [{n, method, path, kind, step, body,
                          answered_at}] (answered_at: epoch seconds of the answer's last byte)
  GET  /_health

A "main" request is a model turn: it takes the next step of the script (or the default, a
short text, once the script ran out). "side" requests never take a step: Claude's `HEAD /`
and its session-title request (json_schema output), Codex's title request (text.format
json_schema), Gemini's non-streaming utility calls (router, next-speaker, loop checks).

Steps (one per model turn; a step with "times": N answers N turns, e.g. an error the agent
retries; "times": 0 answers every turn from then on):
  {"say": TEXT}                                plain answer
  {"say": TEXT, "chunks": N, "interval_ms": M} the answer streamed in N pieces M ms apart
  {"shell": CMD}                               the agent's shell tool (asks for approval)
  {"write": PATH, "content": TEXT}             the agent's file-writing tool
  {"ask": QUESTION, "header": H, "options": [[LABEL, DESCRIPTION], ...]}  the question tool
  {"status": 400|429|500|503|529, "message": TEXT, "retry_after": S}      an HTTP error
  {"fail_midway": TEXT}                        starts streaming TEXT, then the stream fails
  {"hang": SECONDS}                            streams nothing for SECONDS (keeps the turn open)
"""

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATE = {
    "turns": [],
    "default": {"say": "ok"},
    "requests": [],
    # Index of the step the next main request takes, and how often it answered already.
    "cursor": 0,
    "used": 0,
}
TITLE = "Mock session"


def next_step():
    """The step for one model turn (advancing the script), and its index (-1: the default)."""
    with LOCK:
        turns = STATE["turns"]
        while STATE["cursor"] < len(turns):
            i = STATE["cursor"]
            step = turns[i]
            times = step.get("times", 1)
            if times == 0 or STATE["used"] < times:
                STATE["used"] += 1
                if times != 0 and STATE["used"] >= times:
                    STATE["cursor"] += 1
                    STATE["used"] = 0
                return step, i
            STATE["cursor"] += 1
            STATE["used"] = 0
        return STATE["default"], -1


def record(entry):
    with LOCK:
        entry["n"] = len(STATE["requests"])
        STATE["requests"].append(entry)


def chunks_of(text, n):
    n = max(1, min(n, len(text) or 1))
    size = -(-len(text) // n) if text else 0
    return [text[i : i + size] for i in range(0, len(text), size)] if text else [""]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the test reads /_requests instead
        pass

    # ---- plumbing -------------------------------------------------------------------------

    def body_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self.read_chunked()
        if self.headers.get("Content-Encoding", "") in ("gzip",):
            import gzip

            raw = gzip.decompress(raw)
        elif self.headers.get("Content-Encoding", "") == "zstd":
            return {"_undecoded": "zstd", "_bytes": len(raw)}
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            return {"_unparsed": raw.decode("utf-8", "replace")}

    def read_chunked(self):
        out = b""
        while True:
            size = int(self.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def send_json(self, status, value, headers=None):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, event, data):
        frame = ""
        if event:
            frame += f"event: {event}\n"
        frame += f"data: {json.dumps(data)}\n\n"
        self.wfile.write(frame.encode())
        self.wfile.flush()

    # ---- routes ---------------------------------------------------------------------------

    def do_HEAD(self):
        record({"method": "HEAD", "path": self.path, "kind": "side", "step": None, "body": None})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/_requests":
            query = parse_qs(urlparse(self.path).query)
            start = int(query.get("from", ["0"])[0])
            with LOCK:
                data = STATE["requests"][start:]
            return self.send_json(200, data)
        if path == "/_health":
            return self.send_json(200, {"ok": True})
        record({"method": "GET", "path": self.path, "kind": "side", "step": None, "body": None})
        self.send_json(404, {"error": {"message": f"mock: no route GET {path}"}})

    def do_POST(self):
        path = urlparse(self.path).path
        body = self.body_json()
        if path == "/_script":
            with LOCK:
                STATE["turns"].extend(body.get("turns", []))
                if "default" in body:
                    STATE["default"] = body["default"]
            return self.send_json(200, {"ok": True, "turns": len(STATE["turns"])})
        if path.startswith("/v1/messages"):
            return self.answer(lambda: self.anthropic(body))
        if path.startswith("/v1/responses"):
            return self.answer(lambda: self.openai(body))
        if path.startswith("/v1beta/models/") or path.startswith("/v1/models/"):
            return self.answer(lambda: self.gemini(path, body))
        record({"method": "POST", "path": self.path, "kind": "side", "step": None, "body": body})
        self.send_json(404, {"error": {"message": f"mock: no route POST {path}"}})

    def answer(self, handler):
        """Run a model route's handler; the request's record gets `answered_at`, the epoch
        time its answer's last byte was written (the clock start of the comparison bench's
        state-change figure on real agents)."""
        self.entry = None
        try:
            handler()
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        if self.entry is not None:
            with LOCK:
                self.entry["answered_at"] = time.time()

    def take(self, body, side):
        """Record the request; for a main one take and return its step."""
        entry = {"method": "POST", "path": self.path, "body": body}
        self.entry = entry
        if side:
            entry.update(kind="side", step=None)
            record(entry)
            return None
        step, index = next_step()
        entry.update(kind="main", step=index)
        record(entry)
        return step

    def error_status(self, step, body_for):
        status = step["status"]
        message = step.get("message", f"mock: scripted {status}")
        headers = {}
        if "retry_after" in step:
            headers["retry-after"] = str(step["retry_after"])
        self.send_json(status, body_for(status, message), headers)

    def pause(self, step):
        if step.get("delay_ms"):
            time.sleep(step["delay_ms"] / 1000)

    # ---- Anthropic Messages ---------------------------------------------------------------

    def anthropic(self, body):
        body = body or {}
        side = "format" in (body.get("output_config") or {}) or not body.get("tools")
        step = self.take(body, side)
        model = body.get("model", "claude-mock")
        if side:
            return self.anthropic_answer(body, model, [{"type": "text", "text": json.dumps({"title": TITLE})}], "end_turn", {})
        self.pause(step)
        if "status" in step:
            kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                     500: "api_error", 529: "overloaded_error", 503: "overloaded_error"}
            return self.error_status(step, lambda s, m: {"type": "error", "error": {"type": kinds.get(s, "api_error"), "message": m}})
        blocks, stop = self.anthropic_blocks(step)
        self.anthropic_answer(body, model, blocks, stop, step)

    def anthropic_blocks(self, step):
        tid = "toolu_" + uuid.uuid4().hex[:20]
        if "shell" in step:
            return [{"type": "text", "text": step.get("preface", "I'll run the command.")},
                    {"type": "tool_use", "id": tid, "name": "Bash",
                     "input": {"command": step["shell"], "description": step.get("description", "Run the scripted command")}}], "tool_use"
        if "write" in step:
            return [{"type": "tool_use", "id": tid, "name": "Write",
                     "input": {"file_path": step["write"], "content": step.get("content", "")}}], "tool_use"
        if "ask" in step:
            opts = [{"label": l, "description": d} for l, d in step.get("options", [])]
            return [{"type": "tool_use", "id": tid, "name": "AskUserQuestion",
                     "input": {"questions": [{"question": step["ask"], "header": step.get("header", "Question"),
                                              "options": opts, "multiSelect": False}]}}], "tool_use"
        if "fail_midway" in step:
            return [{"type": "text", "text": step["fail_midway"]}], None
        return [{"type": "text", "text": step.get("say", "ok")}], "end_turn"

    def anthropic_answer(self, body, model, blocks, stop, step):
        mid = "msg_" + uuid.uuid4().hex[:20]
        usage = {"input_tokens": 12, "output_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if not body.get("stream"):
            if "fail_midway" in step:
                return self.send_json(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            return self.send_json(200, {"id": mid, "type": "message", "role": "assistant", "model": model,
                                        "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage})
        self.start_sse()
        self.sse("message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": dict(usage, output_tokens=1)}})
        if "hang" in step:
            self.keep_alive(step["hang"], lambda: self.sse("ping", {"type": "ping"}))
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                self.sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
                pieces = chunks_of(block["text"], step.get("chunks", 1))
                for k, piece in enumerate(pieces):
                    if k and step.get("interval_ms"):
                        time.sleep(step["interval_ms"] / 1000)
                    self.sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": piece}})
                if "fail_midway" in step:
                    self.sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                    return
            else:
                self.sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": dict(block, input={})})
                self.sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}})
            self.sse("content_block_stop", {"type": "content_block_stop", "index": i})
        self.sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 8}})
        self.sse("message_stop", {"type": "message_stop"})

    def keep_alive(self, seconds, ping):
        deadline = time.time() + seconds
        while time.time() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.time())))
            ping()

    # ---- OpenAI Responses -----------------------------------------------------------------

    def openai(self, body):
        body = body or {}
        fmt = ((body.get("text") or {}).get("format") or {}).get("type")
        side = fmt == "json_schema"
        step = self.take(body, side)
        if side:
            return self.openai_stream(body, [self.openai_message(json.dumps({"title": TITLE}))], {})
        self.pause(step)
        if "status" in step:
            codes = {429: "rate_limit_exceeded", 503: "server_is_overloaded", 500: "server_error", 400: "invalid_request_error"}
            return self.error_status(step, lambda s, m: {"error": {"message": m, "type": codes.get(s, "error"), "code": codes.get(s, "error")}})
        cid = "call_" + uuid.uuid4().hex[:20]
        if "shell" in step:
            args = {"cmd": step["shell"], "sandbox_permissions": "require_escalated",
                    "justification": step.get("description", "Run the scripted command?")}
            items = [{"type": "function_call", "id": "fc_" + cid, "call_id": cid, "name": "exec_command", "arguments": json.dumps(args), "status": "completed"}]
        elif "write" in step:
            # Codex 0.171 offers no apply_patch tool: a patch goes through exec_command, which
            # Codex recognises and shows as an edit.
            patch = "*** Begin Patch\n*** Add File: {}\n{}*** End Patch".format(
                step["write"], "".join("+" + l + "\n" for l in step.get("content", "").splitlines()))
            args = {"cmd": "apply_patch <<'PATCH'\n" + patch + "\nPATCH", "sandbox_permissions": "require_escalated",
                    "justification": step.get("description", "Create the file?")}
            items = [{"type": "function_call", "id": "fc_" + cid, "call_id": cid, "name": "exec_command", "arguments": json.dumps(args), "status": "completed"}]
        elif "ask" in step:
            args = {"questions": [{"id": "q1", "header": step.get("header", "Question"), "question": step["ask"],
                                   "options": [{"label": l, "description": d} for l, d in step.get("options", [])]}]}
            items = [{"type": "function_call", "id": "fc_" + cid, "call_id": cid, "name": "request_user_input", "arguments": json.dumps(args), "status": "completed"}]
        else:
            items = [self.openai_message(step.get("say", step.get("fail_midway", "ok")))]
        self.openai_stream(body, items, step)

    @staticmethod
    def openai_message(text):
        return {"type": "message", "id": "msg_" + uuid.uuid4().hex[:20], "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}

    def openai_stream(self, body, items, step):
        rid = "resp_" + uuid.uuid4().hex[:20]
        self.start_sse()
        base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": body.get("model", "mock"), "output": []}
        self.sse(None, {"type": "response.created", "response": dict(base, status="in_progress")})
        if "hang" in step:
            self.keep_alive(step["hang"], lambda: None)
        for idx, item in enumerate(items):
            if item["type"] == "message":
                text = item["content"][0]["text"]
                self.sse(None, {"type": "response.output_item.added", "output_index": idx, "item": dict(item, status="in_progress", content=[])})
                self.sse(None, {"type": "response.content_part.added", "item_id": item["id"], "output_index": idx, "content_index": 0,
                                "part": {"type": "output_text", "text": "", "annotations": []}})
                for k, piece in enumerate(chunks_of(text, step.get("chunks", 1))):
                    if k and step.get("interval_ms"):
                        time.sleep(step["interval_ms"] / 1000)
                    self.sse(None, {"type": "response.output_text.delta", "item_id": item["id"], "output_index": idx, "content_index": 0, "delta": piece})
                if "fail_midway" in step:
                    self.sse(None, {"type": "response.failed", "response": dict(base, status="failed",
                                    error={"code": "server_error", "message": "mock stream failure"})})
                    return
                self.sse(None, {"type": "response.output_text.done", "item_id": item["id"], "output_index": idx, "content_index": 0, "text": text})
            else:
                self.sse(None, {"type": "response.output_item.added", "output_index": idx, "item": item})
            self.sse(None, {"type": "response.output_item.done", "output_index": idx, "item": item})
        usage = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 8,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 20}
        self.sse(None, {"type": "response.completed", "response": dict(base, status="completed", output=items, usage=usage)})

    # ---- Gemini ---------------------------------------------------------------------------

    def gemini(self, path, body):
        body = body or {}
        stream = ":streamGenerateContent" in path
        step = self.take(body, not stream)
        if not stream:
            schema = json.dumps(body.get("generationConfig") or body.get("config") or {})
            if "complexity_score" in schema:
                answer = {"complexity_reasoning": "mock", "complexity_score": 10}
            elif "next_speaker" in schema:
                answer = {"reasoning": "mock", "next_speaker": "user"}
            else:
                answer = {"title": TITLE}
            return self.send_json(200, self.gemini_chunk([{"text": json.dumps(answer)}], "STOP"))
        self.pause(step)
        if "status" in step:
            names = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
            return self.error_status(step, lambda s, m: {"error": {"code": s, "message": m, "status": names.get(s, "UNKNOWN")}})
        if "shell" in step:
            parts = [{"functionCall": {"name": "run_shell_command", "args": {"command": step["shell"], "description": step.get("description", "Run the scripted command")}}}]
        elif "write" in step:
            parts = [{"functionCall": {"name": "write_file", "args": {"file_path": step["write"], "content": step.get("content", "")}}}]
        elif "ask" in step:
            parts = [{"functionCall": {"name": "ask_user", "args": {"questions": [{"question": step["ask"], "header": step.get("header", "Question"), "type": "choice",
                      "options": [{"label": l, "description": d} for l, d in step.get("options", [])]}]}}}]
        else:
            parts = None
        self.start_sse()
        if "hang" in step:
            self.keep_alive(step["hang"], lambda: None)
        if parts:
            self.sse(None, self.gemini_chunk(parts, "STOP"))
            return
        text = step.get("say", step.get("fail_midway", "ok"))
        pieces = chunks_of(text, step.get("chunks", 1))
        for k, piece in enumerate(pieces):
            if k and step.get("interval_ms"):
                time.sleep(step["interval_ms"] / 1000)
            last = k == len(pieces) - 1 and "fail_midway" not in step
            self.sse(None, self.gemini_chunk([{"text": piece}], "STOP" if last else None))
        if "fail_midway" in step:
            # Cut the connection without a finish reason.
            self.wfile.flush()

    @staticmethod
    def gemini_chunk(parts, finish):
        cand = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        return {"candidates": [cand], "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 8, "totalTokenCount": 20},
                "modelVersion": "gemini-mock"}


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"model server listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    # Exit with the test: stdin is a pipe from the test process, closed when it drops us.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
