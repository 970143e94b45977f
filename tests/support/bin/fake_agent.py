#!/usr/bin/env python3
"""A fake coding agent that draws Claude Code-, Codex- or Gemini-like screens (--agent), using
the on-screen markers of the real agents (see the recorded screens under tests/fixtures/screens
and profiles/*.toml), so the daemon's detection, approvals and input delivery can be tested on a real pty.

At start-up it enables bracketed paste, asks the cursor position (and exits like Codex if no
answer comes within 2 s), and optionally shows the agent's trust dialog (--trust). Then it
draws its prompt box and waits. A submitted prompt is echoed as 'RECEIVED[<n> lines]: ...' and
run as a script:

  !tools N          N tool calls: spinner, tool line, a short gap without spinner, repeated
  !redraw S         tool calls with gaps for S seconds (the no-flapping test)
  !ask KIND DETAIL  spinner, then a numbered permission dialog (KIND: bash, edit, create)
  !limit            the agent's usage-limit banner
  !prose            a reply that quotes "Do you want to proceed?" and a numbered list
  !hang             one spinner frame, then nothing (a stalled agent)
  !spin-hang        the spinner keeps turning and its clock ticks, but the token count stops:
                    stuck behind a live-looking spinner
  !think S          the spinner for S seconds with a growing token count, then a reply
  a prompt asking for a VERDICT line (with --verdicts): a consensus reviewer's reply
  !earlystop        posts the Stop hook, keeps its spinner 1.5 s more, then finishes
  !context N        a reply, then the footer shows Claude's 'Context left until auto-compact: N%'
  !askback          a reply that asks the user a question ("What would you like me to ...?")
  !compact S        Claude's compaction: PreCompact hook, a 'Compacting conversation…' spinner for
                    S seconds, 'Conversation compacted', PostCompact hook
  /model, /config   (claude) the model picker or the settings panel; Enter or Esc closes it
  anything else     spinner for 0.8 s, then a one-line reply

Input handling: arrows move a dialog's cursor, Enter confirms, a lone Esc rejects, digits pick
an option. Like Codex (paste_burst.rs), an Enter arriving < 120 ms after a burst of >= 6 fast
typed characters inserts a newline instead of submitting (codex, gemini); the fake Claude drops
such an Enter, as Claude's Ink input does. A bracketed paste ends a burst. --swallow-enters N
ignores the first N submitting Enters (a lost keypress) so the daemon's re-press can be tested.

Hooks (claude only): with --settings FILE (a Claude Code settings file), it calls the `type:
"http"` hooks registered there the way Claude Code does: an HTTP POST of a JSON payload
(session_id, transcript_path, cwd, hook_event_name, and per event tool_name/tool_input/prompt)
with the configured headers. SessionStart at start-up, UserPromptSubmit on submit,
PreToolUse/PostToolUse around tool lines, Stop at the end of a turn, and PermissionRequest when a
dialog opens (in a thread: the dialog stays on screen, and a reply of
{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":...}}}
answers it, shown as 'HOOK DECISION allow|deny'). --transcript PATH is the transcript_path sent.

Length: one program, on purpose. It is started as a plain script on a pty (no package, no imports
of its own), and its parts (screen, turn script, keys, hooks) share one agent session's state.
"""
import argparse, json, os, select, sys, termios, threading, time, tty, urllib.request, uuid

p = argparse.ArgumentParser()
p.add_argument("--agent", choices=["claude", "codex", "gemini"], required=True)
p.add_argument("--trust", action="store_true", help="show the trust dialog at start-up")
p.add_argument("--swallow-enters", type=int, default=0)
p.add_argument("--dialog-drops-keys", type=int, default=0, help="drop the first N keys that reach a "
               "dialog (Codex drains the input that reached a security-sensitive dialog)")
p.add_argument("--dialog-redraws", type=int, default=0, help="the first N keys that reach a dialog "
               "are lost in a redraw: a blank frame, then the dialog with its cursor on option 1 (Gemini)")
p.add_argument("--startup-delay", type=float, default=0.2)
p.add_argument("--draw-log", help="append the epoch time of every idle frame drawn after a turn "
               "(the state-change latency benchmark's clock start)")
# Orchestration: forks (`claude --fork-session --resume <id>`) and consensus reviewers.
p.add_argument("--resume", default=None, help="conversation id to resume (shown on screen)")
p.add_argument("--fork-session", action="store_true")
p.add_argument("--verdicts", default=None,
               help="comma-separated approve|reject|none, picked by $AEGIS_REVIEWER_INDEX")
p.add_argument("--settings", help="Claude Code settings file with http hooks")
p.add_argument("--transcript", default="", help="transcript_path reported in hook payloads")
args, _unknown = p.parse_known_args()  # like claude, tolerate flags it does not use
AGENT = args.agent

fd = sys.stdin.fileno()
old_attrs = termios.tcgetattr(fd)
tty.setraw(fd)


def write(b):
    if isinstance(b, str):
        b = b.encode()
    while b:
        n = os.write(1, b)
        b = b[n:]


def size():
    try:
        s = os.get_terminal_size(1)
        return s.columns, s.lines
    except OSError:
        return 80, 24


def quit(code=0):
    write("\x1b[?2004l")
    termios.tcsetattr(fd, termios.TCSADRAIN, old_attrs)
    sys.exit(code)


# ---- hooks -----------------------------------------------------------------------------------
HOOKS = {}
if args.settings:
    with open(args.settings) as f:
        HOOKS = json.load(f).get("hooks", {})
SESSION_ID = str(uuid.uuid4())
hook_log = []  # (event, http status) of every call, for the screen
hook_decision = None  # (dialog id, behavior) from a PermissionRequest reply
dialog_seq = 0


def call_hook(event, extra=None, timeout=10):
    """POST the payload to every http hook registered for `event`; return the last reply."""
    reply = None
    for group in HOOKS.get(event, []):
        for h in group.get("hooks", []):
            if h.get("type") != "http":
                continue
            payload = {"session_id": SESSION_ID, "transcript_path": args.transcript,
                       "cwd": os.getcwd(), "hook_event_name": event, "permission_mode": "default"}
            payload.update(extra or {})
            req = urllib.request.Request(h["url"], data=json.dumps(payload).encode(), method="POST",
                                         headers=dict(h.get("headers", {}), **{"Content-Type": "application/json"}))
            try:
                with urllib.request.urlopen(req, timeout=h.get("timeout", timeout)) as r:
                    body = r.read()
                    reply = json.loads(body) if body.strip() else {}
                    hook_log.append((event, r.status))
            except Exception as e:  # a failing hook never stops Claude
                hook_log.append((event, getattr(e, "code", str(e))))
    return reply


def permission_hook(seq, tool_input):
    global hook_decision
    reply = call_hook("PermissionRequest", {"tool_name": "Bash", "tool_input": tool_input}, timeout=600)
    try:
        out = reply["hookSpecificOutput"]
        assert out["hookEventName"] == "PermissionRequest"
        behavior = out["decision"]["behavior"]
        assert behavior in ("allow", "deny")
    except Exception:
        return  # no decision: the dialog stays for the user
    hook_decision = (seq, behavior)
    os.write(wake_w, b"x")


wake_r, wake_w = os.pipe()  # wakes the main loop when a hook thread got a decision

# ---- start-up: bracketed paste, cursor position query -------------------------------------
write("\x1b[?2004h\x1b[6n")
buf = b""
deadline = time.time() + 2.0
while not buf.endswith(b"R"):
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    if not r:
        write("Error: The cursor position could not be read within a normal duration\r\n")
        quit(1)
    buf += os.read(fd, 64)

SPIN = {"claude": "·✢✳✶✻✽", "codex": "•◦", "gemini": "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"}[AGENT]
VERBS = ["Pondering", "Herding", "Pollinating", "Working"]

transcript, input_buf = [], ""  # the lines above the prompt area; the prompt being typed
mode = "starting"  # starting | trust | idle | working | dialog | frozen
steps = []  # pending script steps of the current turn
step_until, turn_start, spinning = 0.0, 0.0, False
verb = "Working"
dialog = None  # dict(kind, title, detail, options, cursor, trust)
panel = None  # (command, lines) of an open /model or /config panel (claude)
context_left = None  # percent shown in Claude's footer once !context ran
swallow = args.swallow_enters
burst_run, last_char, burst_until = 0, 0.0, 0.0  # the typing burst Codex's paste_burst.rs tracks
cwd = os.getcwd()


def rule(cols):
    return "─" * cols


def options_for(kind, detail):
    if AGENT == "claude":
        if kind == "trust":
            return ["Yes, I trust this folder", "No, exit"]
        second = {
            "bash": "Yes, and don't ask again for %s commands in %s" % (detail.split()[0], cwd),
            "edit": "Yes, allow all edits during this session (shift+tab)",
            "create": "Yes, allow all edits during this session (shift+tab)",
        }[kind]
        return ["Yes", second, "No, and tell Claude what to do differently (esc)"]
    if AGENT == "codex":
        if kind == "trust":
            return ["Yes, allow Codex to work in this folder", "No, quit"]
        return [
            "Yes, proceed (y)",
            "Yes, and don't ask again for commands that start with `%s` (p)" % detail.split()[0],
            "No, and tell Codex what to do differently (esc)",
        ]
    if kind == "trust":
        return ["Trust folder (%s)" % os.path.basename(cwd), "Trust parent folder", "Don't trust"]
    return ["Allow once", "Allow for this session", "No, suggest changes (esc)"]


def dialog_lines(cols):
    d = dialog
    kind, detail = d["kind"], d["detail"]
    opts = []
    for i, label in enumerate(d["options"]):
        cur = {"claude": "❯", "codex": "›", "gemini": "●"}[AGENT] if i == d["cursor"] else " "
        opts.append("%s %d. %s" % (cur, i + 1, label))
    if AGENT == "claude":
        if kind == "trust":
            body = ["Accessing workspace:", "", cwd, "",
                    "Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source project, or work from your team). If not, take a moment to review what's in this folder first.",
                    "", "Claude Code'll be able to read, edit, and execute files here.", ""] + opts + ["", "Enter to confirm · Esc to cancel"]
        elif kind == "bash":
            body = ["Bash command", "", "  " + detail, "  Run a command the user asked for", "",
                    "Do you want to proceed?"] + opts + ["", "Esc to cancel · Tab to amend · ctrl+e to explain"]
        elif kind == "edit":
            body = ["Edit file", "", "Do you want to make this edit to %s?" % detail] + opts + ["", "Esc to cancel"]
        else:
            body = ["Create file", "", "Do you want to create %s?" % detail] + opts + ["", "Esc to cancel"]
        return [rule(cols)] + [" " + l for l in body]
    if AGENT == "codex":
        if kind == "trust":
            body = ["> You are in " + cwd, "", "  Do you trust the contents of this directory?", ""] + ["  " + o for o in opts] + ["", "  Press enter to continue"]
            return body
        title = {"bash": "Would you like to run the following command?",
                 "edit": "Would you like to make the following edits?",
                 "create": "Would you like to make the following edits?"}[kind]
        det = "$ " + detail if kind == "bash" else "• Edited " + detail
        return ["  " + title, "", "  " + det, ""] + opts + ["", "  Press enter to confirm or esc to cancel"]
    # gemini: a rounded box
    width = min(cols - 2, 70)
    if kind == "trust":
        body = ["Do you trust the files in this folder?", ""] + opts
    else:
        head = {"bash": "? Shell " + detail, "edit": "? Edit " + detail, "create": "? WriteFile " + detail}[kind]
        q = {"bash": "Allow execution of [Shell]?", "edit": "Apply this change?", "create": "Apply this change?"}[kind]
        body = [head, "", q, ""] + opts
    out = ["╭" + "─" * width + "╮"]
    for l in body:
        out.append("│ " + l.ljust(width - 2)[: width - 2] + " │")
    out.append("╰" + "─" * width + "╯")
    return out


frozen_tokens = None  # set by !spin-hang: the count stops while the spinner turns


def spinner_line(now):
    secs = int(now - turn_start)
    g = SPIN[int(now * 10) % len(SPIN)]
    if AGENT == "claude":
        tokens = frozen_tokens if frozen_tokens is not None else 40 + secs * 17
        return "%s %s… (%ds · ↓ %d tokens)" % (g, verb, secs, tokens)
    if AGENT == "codex":
        return "%s Working (%ds • esc to interrupt)" % (g, secs)
    return "%s %s... (esc to cancel, %ds)" % (g, verb, secs)


PANELS = {
    "/model": [" Select model",
               " Switch between Claude models. Applies to this session and future Claude Code sessions.",
               "", " ❯ 1. Default (recommended) ✔  Opus 4.5 · Most capable for complex work",
               "   2. Sonnet                   Sonnet 4.5 · Best for everyday tasks",
               "", " Enter to confirm · Esc to exit"],
    "/config": [" Settings:  Status   Config   Usage  (←/→ or tab to cycle)", "",
                " Configure Claude Code preferences", "",
                " ❯ Auto-compact                              true",
                "   Theme                                     Dark mode", "",
                " Type to filter · Enter to change · Esc to exit"],
}


def prompt_lines(cols):
    if AGENT == "claude":
        footer = "  ? for shortcuts"
        if context_left is not None:
            right = "Context left until auto-compact: %d%%" % context_left
            footer = footer.ljust(max(len(footer) + 2, cols - len(right) - 1)) + right
        return [rule(cols), "❯ " + input_buf.replace("\n", "⏎"), rule(cols), footer]
    if AGENT == "codex":
        return ["› " + (input_buf.replace("\n", "⏎") or "Ask Codex to do anything"), "", "  gpt-5.5 high · " + cwd]
    return [rule(cols), " > " + (input_buf.replace("\n", "⏎") or "Type your message or @path/to/file"), rule(cols),
            " " + cwd + "    gemini-2.5-pro    ? for shortcuts"]


def draw():
    now = time.time()
    cols, rows = size()
    bottom = []
    if mode in ("working", "frozen") and spinning:
        bottom += [spinner_line(now), ""]
    if dialog is not None:
        bottom += dialog_lines(cols)
    elif panel is not None:
        bottom += [rule(cols)] + panel[1]
    elif mode != "trust":
        bottom += prompt_lines(cols)
    room = max(0, rows - len(bottom) - 1)
    top = transcript[-room:] if room else []
    lines = top + [""] + bottom
    lines = [l[:cols] for l in lines][-rows:]
    write("\x1b[H\x1b[2J" + "\r\n".join(lines))
    global drawn_mode
    if args.draw_log and mode == "idle" and drawn_mode != "idle":
        with open(args.draw_log, "a") as f:
            f.write("%.6f\n" % time.time())
    drawn_mode = mode


drawn_mode = None  # the mode of the last frame drawn (for --draw-log)
dialog_drops, dialog_redraws = args.dialog_drops_keys, args.dialog_redraws  # keys still to lose


def say(line):
    transcript.append(line)


def finish_turn(settled=True):
    global mode, spinning
    spinning = False
    secs = max(1, int(time.time() - turn_start))
    if settled:
        if AGENT == "claude":
            say("✻ Worked for %ds" % secs)
        elif AGENT == "codex":
            say("Worked for %ds · done 3:24 PM" % secs)
    mode = "idle"


def start_turn(text):
    global mode, steps, turn_start, step_until, spinning, verb, frozen_tokens
    shown = text.replace("\n", "|")
    say(("> " if AGENT != "codex" else "› ") + text.split("\n")[0])
    say("RECEIVED[%d lines]: %s" % (text.count("\n") + 1, shown))
    words = text.strip().split()
    cmd = words[0] if words else ""
    call_hook("UserPromptSubmit", {"prompt": text})
    steps = []
    if cmd == "!tools":
        n = int(words[1]) if len(words) > 1 else 3
        for i in range(n):
            steps += [("spin", 0.4), ("tool", i), ("gap", 0.25)]
        steps += [("reply", "Ran %d tools." % n), ("done", None)]
    elif cmd == "!redraw":
        secs = float(words[1]) if len(words) > 1 else 10
        count = int(secs / 0.65) + 1
        for i in range(count):
            steps += [("spin", 0.35), ("tool", i), ("gap", 0.3)]
        steps += [("reply", "Redrew for %ss." % secs), ("done", None)]
    elif cmd == "!ask":
        kind = words[1] if len(words) > 1 else "bash"
        detail = " ".join(words[2:]) or "rm -rf build"
        steps += [("spin", 0.3), ("dialog", (kind, detail))]
    elif cmd == "!limit":
        steps += [("spin", 0.3), ("limit", None)]
    elif cmd == "!prose":
        steps += [("spin", 0.3), ("prose", None), ("done", None)]
    elif cmd == "!hang":
        steps += [("hang", None)]
    elif cmd == "!spin-hang":
        steps += [("spin", 0.3), ("spinhang", None)]
    elif cmd == "!think":
        secs = float(words[1]) if len(words) > 1 else 3
        steps += [("spin", secs), ("reply", "Thought for %ss." % secs), ("done", None)]
    elif args.verdicts and "VERDICT:" in text:
        steps += [("spin", 0.5)] + verdict_steps(text) + [("done", None)]
    elif cmd == "!earlystop":
        steps += [("spin", 0.3), ("hook", "Stop"), ("spin", 1.5), ("reply", "Stopped early."), ("done-quiet", None)]
    elif cmd == "!context":
        pct = int(words[1]) if len(words) > 1 else 7
        steps += [("spin", 0.3), ("reply", "Noted."), ("context", pct), ("done", None)]
    elif cmd == "!askback":
        steps += [("spin", 0.3), ("reply", "I can add the parser."),
                  ("reply", "What would you like me to name the new module?"), ("done", None)]
    elif cmd == "!compact":
        secs = float(words[1]) if len(words) > 1 else 2
        steps += [("hook", "PreCompact"), ("verb", "Compacting conversation"), ("spin", secs),
                  ("say", "✻ Conversation compacted (ctrl+o for history)"), ("hook", "PostCompact"),
                  ("done", None)]
    else:
        steps += [("spin", 0.8), ("reply", "You said: " + shown), ("done", None)]
    mode = "working"
    turn_start = time.time()
    step_until = 0.0
    verb = VERBS[len(transcript) % len(VERBS)]
    spinning = False
    frozen_tokens = None


def verdict_steps(text):
    """A reviewer's reply: the verdict picked for this reviewer, per criterion in the prompt."""
    import json
    choices = args.verdicts.split(",")
    index = int(os.environ.get("AEGIS_REVIEWER_INDEX", "0"))
    choice = choices[index % len(choices)]
    if choice == "none":
        return [("reply", "I could not decide.")]
    lines = text.split("\n")
    criteria = []
    if "Criteria:" in lines:
        for l in lines[lines.index("Criteria:") + 1:]:
            if not l.startswith("- "):
                break
            criteria.append(l[2:])
    mark = "pass" if choice == "approve" else "fail"
    seen = []
    if "diff --git" in text:
        seen.append("saw diff")
    if "parent-output-marker" in text:
        seen.append("saw output")
    verdict = {"criteria": {c: mark for c in criteria}, "verdict": choice,
               "reason": "; ".join(seen) or "saw nothing"}
    return [("reply", "Reviewed."), ("reply", "VERDICT: " + json.dumps(verdict, separators=(",", ":")))]


def advance():
    """Run script steps whose time has come. Returns True if the screen changed."""
    global step_until, spinning, mode, dialog, frozen_tokens, dialog_seq, context_left, verb
    changed = False
    now = time.time()
    while mode == "working" and steps and now >= step_until:
        kind, arg = steps.pop(0)
        changed = True
        if kind == "spin":
            spinning = True
            step_until = now + arg
        elif kind == "gap":
            spinning = False
            step_until = now + arg
        elif kind == "hook":
            call_hook(arg)
        elif kind == "context":
            context_left = arg
        elif kind == "verb":
            verb = arg
        elif kind == "say":
            say(arg)
        elif kind == "tool":
            call_hook("PreToolUse", {"tool_name": "Bash", "tool_input": {"command": "echo tool-%d" % arg}})
            call_hook("PostToolUse", {"tool_name": "Bash", "tool_input": {"command": "echo tool-%d" % arg}})
            say("⏺ Bash(echo tool-%d)" % arg if AGENT == "claude" else "• Ran echo tool-%d" % arg if AGENT == "codex" else "✓ Shell echo tool-%d" % arg)
            say("  ⎿  tool-%d" % arg)
        elif kind == "reply":
            say(("⏺ " if AGENT == "claude" else "✦ " if AGENT == "gemini" else "• ") + arg)
        elif kind == "done":
            call_hook("Stop", {"stop_hook_active": False})
            finish_turn()
        elif kind == "done-quiet":
            finish_turn()
        elif kind == "dialog":
            spinning = False
            k, detail = arg
            dialog_seq += 1
            dialog = {"kind": k, "detail": detail, "options": options_for(k, detail), "cursor": 0, "seq": dialog_seq}
            mode = "dialog"
            if HOOKS.get("PermissionRequest") and k != "trust":
                threading.Thread(target=permission_hook, args=(dialog_seq, {"command": detail}), daemon=True).start()
        elif kind == "limit":
            spinning = False
            if AGENT == "claude":
                say("You've hit your limit · resets 3pm (America/Chicago)")
            elif AGENT == "codex":
                say("■ You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro) or try again at 3:28 PM.")
            else:
                say("✕ [API Error: You have exhausted your capacity on this model. (Status: 429 RESOURCE_EXHAUSTED)]")
                say("Please wait and try again later. To increase your limits, request a quota increase through AI Studio, or switch to another /auth method")
            mode = "idle"
        elif kind == "prose":
            lead = "⏺ " if AGENT == "claude" else "✦ " if AGENT == "gemini" else "• "
            say(lead + "Here is how the confirmation dialog of the tool reads:")
            say("  Bash command")
            say("  Do you want to proceed?")
            say("  ❯ 1. Yes")
            say("    2. No, and tell Claude what to do differently (esc)")
            say("  Esc to cancel")
            say("  Would you like to run the following command?")
            say("  Press enter to confirm or esc to cancel")
            for i in range(12):
                say("  More explanation, line %d of the reply." % (i + 1))
        elif kind == "hang":
            spinning = True
            mode = "frozen"
        elif kind == "spinhang":
            spinning = True
            frozen_tokens = 40 + int(now - turn_start) * 17
            step_until = float("inf")  # no further steps: the spinner turns forever
    return changed


def answer_dialog(index):
    """The user picked option `index` (0-based) or Esc (None)."""
    global dialog, mode, steps, turn_start, spinning
    d = dialog
    label = d["options"][index] if index is not None else "(esc)"
    rejected = index is None or label.lower().startswith(("no", "don't")) or "(esc)" in label
    dialog = None
    if d["kind"] == "trust":
        if rejected:
            say("TRUST DECLINED")
            draw()
            quit(1)
        say("TRUSTED option %d" % (index + 1))
        mode = "idle"
        return
    if rejected:
        say("REJECTED " + d["detail"])
        say("  ⎿  User rejected the request")
        finish_turn(settled=False)
        return
    say("APPROVED option %d: %s" % (index + 1, d["detail"]))
    say("⏺ Bash(%s)" % d["detail"] if AGENT == "claude" else "• Ran " + d["detail"])
    mode = "working"
    steps[:0] = [("spin", 0.5), ("reply", "Done with " + d["detail"]), ("done", None)]


def on_key(key):
    """Handle one decoded key (str) or ('paste', text)."""
    global input_buf, swallow, burst_run, last_char, burst_until, mode, spinning, panel, dialog_drops, dialog_redraws
    now = time.time()
    if isinstance(key, tuple):
        input_buf += key[1]
        burst_run = 0
        burst_until = 0.0
        return
    if panel is not None:
        if key in ("enter", "esc"):
            name, panel = panel[0], None
            say("  ⎿  %s (%s)" % ("Kept the current setting" if key == "esc" else "Setting changed", name))
        return
    if dialog is not None:
        if dialog_drops > 0:
            dialog_drops -= 1
            return "dropped"
        if dialog_redraws > 0:
            dialog_redraws, dialog["cursor"] = dialog_redraws - 1, 0
            write("\x1b[2J\x1b[H")
            time.sleep(0.3)  # the blank frame lasts: the daemon sees the dialog leave
            return
        d = dialog
        n = len(d["options"])
        if key == "up":
            d["cursor"] = max(0, d["cursor"] - 1)
        elif key == "down":
            d["cursor"] = min(n - 1, d["cursor"] + 1)
        elif key == "enter":
            answer_dialog(d["cursor"])
        elif key == "esc":
            answer_dialog(None)
        elif key.isdigit() and 1 <= int(key) <= n:
            answer_dialog(int(key) - 1)
        return
    if key == "esc" and AGENT == "claude" and mode in ("working", "frozen"):
        # Claude Code interrupts a turn with Esc (its footer says "esc to interrupt").
        steps.clear()
        say("Interrupted by user")
        finish_turn(settled=False)
        return
    if key == "ctrl-c":
        if mode in ("working", "frozen"):
            steps.clear()
            say("Interrupted by user")
            finish_turn(settled=False)
            return
        quit(0)
    if key == "enter":
        if now < burst_until:
            if AGENT != "claude":
                # Codex's paste-burst guard (Gemini's rule is alike): a newline, not a submit.
                input_buf += "\n"
            # Claude's Ink input drops an Enter that follows a paste-like burst too closely.
            return
        if not input_buf:
            return
        if swallow > 0:
            swallow -= 1
            return
        if mode in ("idle",):
            text = input_buf
            input_buf = ""
            if AGENT == "claude" and text.strip() in PANELS:
                say("> " + text.strip())  # a local command: no turn, no hooks
                panel = (text.strip(), PANELS[text.strip()])
                return
            start_turn(text)
        return
    if key == "backspace":
        input_buf = input_buf[:-1]
        return
    if key in ("up", "down", "esc"):
        return
    # A plain character: track typed bursts (>= 6 chars each <= 8 ms apart).
    burst_run = burst_run + 1 if now - last_char <= 0.008 else 1
    last_char = now
    if burst_run >= 6:
        burst_until = now + 0.120
    input_buf += key


PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
pending = b""


def decode(data):
    """Split input bytes into keys. A lone ESC at the end of a read is the Esc key."""
    global pending
    buf = pending + data
    pending = b""
    keys = []
    while buf:
        if buf.startswith(PASTE_START):
            end = buf.find(PASTE_END)
            if end < 0:
                pending = buf
                break
            keys.append(("paste", buf[len(PASTE_START):end].decode(errors="replace")))
            buf = buf[end + len(PASTE_END):]
        elif buf[:3] in (b"\x1b[A", b"\x1bOA"):
            keys.append("up"); buf = buf[3:]
        elif buf[:3] in (b"\x1b[B", b"\x1bOB"):
            keys.append("down"); buf = buf[3:]
        elif buf.startswith(b"\x1b[") or buf.startswith(b"\x1bO"):
            # Another sequence (cursor report, other keys): skip to its final byte.
            i = 2
            while i < len(buf) and not (0x40 <= buf[i] <= 0x7e):
                i += 1
            if i >= len(buf):
                pending = buf
                break
            buf = buf[i + 1:]
        elif buf[:1] == b"\x1b":
            keys.append("esc"); buf = buf[1:]
        elif buf[:1] in (b"\r", b"\n"):
            keys.append("enter"); buf = buf[1:]
        elif buf[:1] == b"\x03":
            keys.append("ctrl-c"); buf = buf[1:]
        elif buf[:1] in (b"\x7f", b"\x08"):
            keys.append("backspace"); buf = buf[1:]
        else:
            # One UTF-8 character.
            n = 1
            b0 = buf[0]
            if b0 >= 0xF0: n = 4
            elif b0 >= 0xE0: n = 3
            elif b0 >= 0xC0: n = 2
            if len(buf) < n:
                pending = buf
                break
            keys.append(buf[:n].decode(errors="replace")); buf = buf[n:]
    return keys


# ---- main loop ------------------------------------------------------------------------------
time.sleep(args.startup_delay)  # a real agent takes a moment before its first frame
if args.resume:
    say("RESUMED %s fork=%s" % (args.resume, "yes" if args.fork_session else "no"))
if args.trust:
    dialog = {"kind": "trust", "detail": cwd, "options": options_for("trust", cwd), "cursor": 0}
    mode = "trust"
else:
    mode = "idle"
if AGENT == "codex":
    # Codex names the project in the window title once its TUI is up (the profile's ready_title);
    # set before the first frame, so nothing follows a start-up dialog's frame but key echoes.
    write("\x1b]0;%s\x07" % os.path.basename(os.getcwd()))
draw()
call_hook("SessionStart", {"source": "startup"})
last_draw = time.time()
while True:
    now = time.time()
    timeout = 0.1 if (mode == "working") else None
    if mode == "working" and steps:
        timeout = max(0.0, min(0.1, step_until - now))
    r, _, _ = select.select([fd, wake_r], [], [], timeout)
    changed = False
    if wake_r in r:
        os.read(wake_r, 64)
        r = [x for x in r if x != wake_r]
        d, hook_decision = hook_decision, None
        if d is not None and dialog is not None and dialog.get("seq") == d[0]:
            say("HOOK DECISION " + d[1])
            answer_dialog(0 if d[1] == "allow" else None)
            changed = True
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            quit(0)
        if not data:
            quit(0)
        for k in decode(data):
            # A dropped key leaves the screen as it was: nothing is redrawn for it.
            if on_key(k) != "dropped":
                changed = True
    if mode == "working":
        changed = advance() or changed
        if spinning:
            changed = True  # the spinner animates and its counter ticks
    if mode == "trust" and dialog is None:
        mode = "idle"
    if changed:
        draw()
