#!/usr/bin/env python3
"""Asks the terminal for the cursor position at start-up, as Codex and Gemini do, and only
proceeds once it is answered. Prints 'CPR OK <row>;<col>' or 'CPR TIMEOUT', then echoes lines."""
import os, select, sys, termios, tty

fd = sys.stdin.fileno()
old = termios.tcgetattr(fd)
tty.setraw(fd)
try:
    os.write(1, b"probe> \x1b[6n")
    buf = b""
    ready = True
    while not buf.endswith(b"R"):
        r, _, _ = select.select([fd], [], [], 2.0)
        if not r:
            ready = False
            break
        buf += os.read(fd, 64)
finally:
    termios.tcsetattr(fd, termios.TCSADRAIN, old)
if ready and buf.startswith(b"\x1b["):
    print("\r\nCPR OK " + buf[2:-1].decode(), flush=True)
else:
    print("\r\nCPR TIMEOUT", flush=True)
    sys.exit(3)
for line in sys.stdin:
    print("echo:" + line.strip(), flush=True)
