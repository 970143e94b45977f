#!/usr/bin/env python3
"""A fake coding agent for execution tests: shows a prompt, and for each line it reads
("add A B") prints a little work and then `RESULT <A+B>`, then the prompt again."""
import sys
import time

sys.stdout.write("fake agent ready\n> ")
sys.stdout.flush()
for line in sys.stdin:
    words = line.split()
    sys.stdout.write("thinking...\n")
    sys.stdout.flush()
    time.sleep(0.2)
    try:
        answer = str(int(words[1]) + int(words[2])) if words[:1] == ["add"] else "?"
    except (IndexError, ValueError):
        answer = "?"
    sys.stdout.write(f"RESULT {answer}\n> ")
    sys.stdout.flush()
