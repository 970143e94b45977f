#!/usr/bin/env python3
"""A fake agent mid-output for the durability tests: puts its terminal in raw mode (so the
pty passes its bytes through unchanged), then prints a numbered line every 20 ms and appends
exactly the same bytes to the log file named in argv[1]. It stops (printing DONE) once the
file named in argv[2] exists. Comparing the recording with the log is then byte-exact."""
import os
import sys
import time
import tty

log_path, stop_path = sys.argv[1], sys.argv[2]
tty.setraw(1)
out = os.fdopen(1, "wb", buffering=0)
i = 0
with open(log_path, "ab", buffering=0) as log:
    while True:
        done = os.path.exists(stop_path)
        line = ("DONE\r\n" if done else f"line {i} \u2713 \x1b[32mok\x1b[0m \u00e9t\u00e9\r\n").encode()
        out.write(line)
        log.write(line)
        if done:
            break
        i += 1
        time.sleep(0.02)
