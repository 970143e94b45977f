#!/usr/bin/env python3
"""Replay program of the differential screen suite (tests/screen_diff.rs).

Usage: screen_replay.py DONE_PREFIX SEGMENT [COLSxROWS SEGMENT]...

Writes each SEGMENT file's bytes to the terminal exactly as they are (output post-processing
off, so "\\n" stays a bare line feed), then asks the terminal for the cursor position
(CSI 6 n). A terminal answers only after it has parsed every byte before the question, so
the answer is the barrier that says the whole segment is on the screen; it is written to
DONE_PREFIX.N (N = segment number) for the harness, which captures the pane once that file
exists. A COLSxROWS before a segment means: wait until the terminal has that size (the
harness resizes the pane after DONE_PREFIX.N-1 appears), then write it.

After the last segment the program writes nothing more and stays until its terminal goes
away (end of input or hang-up), so the pane stays alive to be captured.
"""

import os
import select
import signal
import struct
import sys
import termios
import fcntl

TTY = 0
OUT = 1
# The harness gives up long before this; it only stops an orphan from living forever.
GIVE_UP_SECONDS = 300
# A terminal that has not answered the cursor question after this long is asked again (and
# the retry is recorded in DONE_PREFIX.N.retried for the harness to report): a daemon under
# load may drop a reply, and the suite is about the screen, not about that.
ASK_AGAIN_SECONDS = 5


def winsize():
    raw = fcntl.ioctl(TTY, termios.TIOCGWINSZ, b"\0" * 8)
    rows, cols, _, _ = struct.unpack("HHHH", raw)
    return cols, rows


def write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(OUT, view)
        view = view[n:]


def drain_input():
    while select.select([TTY], [], [], 0)[0]:
        if not os.read(TTY, 1024):
            return


def ask_cursor_position():
    """Ask for the cursor position; returns the report and how many times it had to ask."""
    drain_input()
    write_all(b"\x1b[6n")
    asked = 1
    reply = b""
    while not reply.endswith(b"R"):
        ready, _, _ = select.select([TTY], [], [], ASK_AGAIN_SECONDS)
        if not ready:
            if asked * ASK_AGAIN_SECONDS >= GIVE_UP_SECONDS:
                sys.exit("no cursor position report from the terminal")
            write_all(b"\x1b[6n")
            asked += 1
            continue
        chunk = os.read(TTY, 1)
        if not chunk:
            sys.exit("the terminal went away before answering")
        reply += chunk
    start = reply.rfind(b"\x1b[")
    return reply[start:], asked


def wait_for_size(cols, rows):
    # SIGWINCH is blocked from start-up, so a resize between the check and the wait is not lost.
    while winsize() != (cols, rows):
        if signal.sigtimedwait([signal.SIGWINCH], GIVE_UP_SECONDS) is None:
            sys.exit(f"the terminal never became {cols}x{rows}")


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGWINCH])
    attrs = termios.tcgetattr(TTY)
    attrs[1] &= ~termios.OPOST
    attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(TTY, termios.TCSANOW, attrs)

    prefix = sys.argv[1]
    args = sys.argv[2:]
    step = 0
    while args:
        if "x" in args[0] and not os.path.exists(args[0]):
            cols, rows = (int(v) for v in args[0].split("x"))
            wait_for_size(cols, rows)
            args = args[1:]
        with open(args[0], "rb") as f:
            write_all(f.read())
        args = args[1:]
        report, asked = ask_cursor_position()
        if asked > 1:
            with open(f"{prefix}.{step}.retried", "w") as f:
                f.write(f"asked {asked} times\n")
        tmp = f"{prefix}.{step}.tmp"
        with open(tmp, "wb") as f:
            f.write(report)
        os.rename(tmp, f"{prefix}.{step}")
        step += 1

    while True:
        ready, _, _ = select.select([TTY], [], [], GIVE_UP_SECONDS)
        if not ready:
            return
        try:
            if not os.read(TTY, 1024):
                return
        except OSError:
            return


if __name__ == "__main__":
    main()
