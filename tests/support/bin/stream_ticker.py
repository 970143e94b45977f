#!/usr/bin/env python3
"""Benchmark helper: after the file GO appears, print COUNT lines `T<ns since epoch>` every
INTERVAL_MS, appending each timestamp to STAMPS. Usage: stream_ticker.py GO STAMPS COUNT INTERVAL_MS"""
import os
import sys
import time

go, stamps, count, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) / 1000
sys.stdout.write("ticker ready\n")
sys.stdout.flush()
while not os.path.exists(go):
    time.sleep(0.005)
with open(stamps, "a") as f:
    for _ in range(count):
        t = time.time_ns()
        sys.stdout.write(f"T{t}\n")
        sys.stdout.flush()
        f.write(f"{t}\n")
        f.flush()
        time.sleep(interval)
sys.stdout.write("ticker done\n")
sys.stdout.flush()
time.sleep(3600)
