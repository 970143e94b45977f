#!/usr/bin/env python3
"""Enables bracketed paste and reports exactly what arrives: one 'PASTE[n lines]: ...' line per
paste, 'ENTER' per carriage return outside a paste, 'KEY: ...' for anything else."""
import os, sys, termios, tty

fd = sys.stdin.fileno()
tty.setraw(fd)
out = lambda s: os.write(1, (s + "\r\n").encode())
os.write(1, b"\x1b[?2004h")
out("paste-probe ready")
buf = b""
START, END = b"\x1b[200~", b"\x1b[201~"
while True:
    data = os.read(fd, 4096)
    if not data:
        break
    buf += data
    while buf:
        if buf.startswith(START):
            end = buf.find(END)
            if end < 0:
                break  # wait for the rest of the paste
            body = buf[len(START):end].decode(errors="replace")
            out("PASTE[%d lines]: %s" % (body.count("\n") + 1, body.replace("\n", "|")))
            buf = buf[end + len(END):]
        elif buf.startswith(b"\r"):
            out("ENTER")
            buf = buf[1:]
        elif buf.startswith(b"\x1b") and len(buf) < len(START) and START.startswith(buf):
            break  # a partial paste marker
        elif buf.startswith(b"\x03"):
            out("bye")
            sys.exit(0)
        else:
            nxt = [i for i in (buf.find(b"\r", 1), buf.find(b"\x1b", 1)) if i > 0]
            cut = min(nxt) if nxt else len(buf)
            out("KEY: %r" % buf[:cut])
            buf = buf[cut:]
