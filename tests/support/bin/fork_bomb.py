#!/usr/bin/env python3
"""A fork bomb inside a ulimit, for tests/load.rs.

Every process forks again as fast as the kernel allows; only RLIMIT_NPROC stops the growth.
RLIMIT_NPROC does not bind root (CI runs as root), so when started as root the bomb first
drops to an unprivileged uid. As a backstop, should the limit not hold (no uid to drop to),
the tree stops at a fixed depth, so a broken environment can never take the machine down.

Prints "bomb armed" once the limit is set, and "limit reached" when the kernel first refuses
the original process a fork. Every process lives at most LIFETIME seconds.
"""
import os
import resource
import sys
import time

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 48
UNPRIVILEGED = 65534  # nobody
MAX_DEPTH = 7  # backstop: at most 2**7 processes if the ulimit does not bind
LIFETIME = 120

def processes_of(uid):
    n = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat("/proc/" + pid).st_uid == uid:
                n += 1
        except OSError:
            pass
    return n


if os.getuid() != 0:
    # Not root: the limit counts every process of this user, so leave room for LIMIT more.
    LIMIT += processes_of(os.getuid())
resource.setrlimit(resource.RLIMIT_NPROC, (LIMIT, LIMIT))
if os.getuid() == 0:
    try:
        os.setgroups([])
        os.setgid(UNPRIVILEGED)
        os.setuid(UNPRIVILEGED)
    except OSError as e:
        print("cannot drop root (%s): the depth backstop bounds the bomb" % e, flush=True)
print("bomb armed uid=%d limit=%d" % (os.getuid(), LIMIT), flush=True)

end = time.time() + LIFETIME
depth = 0
reported = False
while time.time() < end:
    if depth >= MAX_DEPTH:
        time.sleep(0.5)
        continue
    try:
        if os.fork() == 0:
            depth += 1
            continue
    except OSError:
        if depth == 0 and not reported:
            reported = True
            print("limit reached in pid %d" % os.getpid(), flush=True)
        time.sleep(0.05)
os._exit(0)
