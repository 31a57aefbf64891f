#!/usr/bin/env python3
"""Instructions the server spends per sign-in outside argon2 (issue #12's sign-in figure, as a
count that does not drift with the machine).

Sign-ins per second against the argon2 limit depend on what each sign-in costs besides its
hash, and on a shared VM that cost, timed in CPU milliseconds, moves by a fifth within minutes
(docs/benchmarks.md). Valgrind's callgrind counts instructions instead: the same binary, inputs
and environment give the same count whatever else the machine does.

Starts the given authd binary under `valgrind --tool=callgrind` on a fresh SQLite database
(instrumentation off), signs in WARMUP times (first-use costs: statement caches, lazily built
tables), then counts N sign-ins of an existing account (GET /login, POST /login with the
right password, the load's browser: the same address and user agent, no device cookie), and
then N sign-ins of unknown accounts from random addresses (a flood's attempt). For each phase
it prints the instructions per sign-in in all threads; in the hash threads' jobs (argon2's
verification); in `memset` (each hash thread wipes its 19 MiB area before it goes idle:
`rep stosb`, which valgrind counts per byte, so this figure overstates its time); and the rest
(the server's requests, pages, sessions, events, risk score, CAPTCHA image and SQLite, in user
space: valgrind counts no kernel work, so system calls, page-cache writes and context switches
are not in it).

    cargo build --release
    python3 tools/load/signin_instructions.py target/release/authd            # N=20, ~3 min
    python3 tools/load/signin_instructions.py target/release/authd --n 50
    python3 tools/load/signin_instructions.py target/release/authd --syscalls --n 100

With `--syscalls` the server runs without valgrind and `strace -f -c` counts the system calls
of all its threads over the same N known-account sign-ins (valgrind sees no kernel work, and the
server's CPU outside hashing is mostly there): calls per sign-in by system call.

Needs valgrind (callgrind_control, callgrind_annotate), or strace for `--syscalls`. Only the
Python standard library.
"""

import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, sign_in  # noqa: E402

PASSWORD = "a load test passphrase"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def annotate(path, inclusive):
    """(instructions, function) per line of `callgrind_annotate`'s function list."""
    out = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                          "--threshold=100", path], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)", line)
        if m:
            yield int(m.group(1).replace(",", "")), m.group(2)


def counts(path):
    """Instructions in a callgrind dump: in all, in the hash threads' jobs (the verification,
    argon2 and the PHC string; inclusive), and in `memset` (mostly the hash threads wiping their
    19 MiB area before they go idle; a CAPTCHA image's buffers add a few million)."""
    total = hashing = wiping = 0
    for n, what in annotate(path, inclusive=True):
        if "PROGRAM TOTALS" in what:
            total = n
        elif "password::answering_once" in what:
            hashing = max(hashing, n)
    for n, what in annotate(path, inclusive=False):
        if ":__memset_" in what:
            wiping += n
    return total, hashing, wiping


def syscalls(srv, email, args):
    """System calls per known-account sign-in, all threads (`strace -f -c`)."""
    srv.start()
    for _ in range(args.warmup):
        assert sign_in(srv.port, email, PASSWORD, "198.51.100.1", UA)[0] == 303
    table = os.path.join(srv.tmp, "strace.txt")
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", table, "-p", str(srv.proc.pid)],
                              stderr=subprocess.DEVNULL)
    time.sleep(1)  # strace attaches to every thread
    statuses = [sign_in(srv.port, email, PASSWORD, "198.51.100.1", UA)[0] for _ in range(args.n)]
    if any(s != 303 for s in statuses):
        raise SystemExit(f"expected 303, got {statuses}")
    tracer.terminate()
    tracer.wait()
    per = {}
    with open(table) as f:
        for line in f:
            cols = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(cols) >= 5 and cols[3].isdigit() and cols[-1] != "total":
                per[cols[-1]] = round(int(cols[3]) / args.n, 2)
    return {"n": args.n, "syscalls_per_sign_in": dict(sorted(per.items(), key=lambda kv: -kv[1])),
            "total": round(sum(per.values()), 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--n", type=int, default=20, help="sign-ins counted per phase")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--syscalls", action="store_true", help="count system calls with strace instead")
    args = ap.parse_args()

    settings = {"AUTHD_RATE_LOGIN_PER_IP": "1000000", "AUTHD_RATE_LOGIN_PER_ACCOUNT": "1000000",
                # Under valgrind a hash takes seconds: no request may give up waiting.
                "AUTHD_HASH_MAX_WAIT_MS": "600000", "AUTHD_REQUEST_TIMEOUT_SECS": "600"}
    srv = Server(os.path.abspath(args.binary), settings)
    email = "load0@example.com"
    srv.cli("user", "add", email, "--password-stdin", stdin=PASSWORD + "\n")
    if args.syscalls:
        try:
            print(json.dumps(syscalls(srv, email, args)))
        finally:
            srv.stop()
        return
    out = os.path.join(srv.tmp, "callgrind.out")
    prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p"]
    result = {"n": args.n}
    try:
        srv.start(prefix=prefix, tries=3000)
        pid = srv.proc.pid
        for _ in range(args.warmup):
            assert sign_in(srv.port, email, PASSWORD, "198.51.100.1", UA)[0] == 303
        control(pid, "-i", "on")
        phases = [("known_account", lambda i: sign_in(srv.port, email, PASSWORD, "198.51.100.1", UA)[0], 303),
                  ("unknown_account", lambda i: sign_in(
                      srv.port, f"nobody{i}@example.com", "wrong guess",
                      f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}", UA)[0], 401)]
        for name, attempt, expected in phases:
            statuses = [attempt(i) for i in range(args.n)]
            if any(s != expected for s in statuses):
                raise SystemExit(f"{name}: expected {expected}, got {statuses}")
            before = set(glob.glob(out + "*"))
            control(pid, "-d", name)
            dumped = sorted(set(glob.glob(out + "*")) - before)
            total, hashing, wiping = counts(dumped[-1])
            result[name] = {"instructions_per_sign_in": round(total / args.n),
                            "hash_jobs": round(hashing / args.n),
                            "memset_wipe": round(wiping / args.n),
                            "rest": round((total - hashing - wiping) / args.n)}
    finally:
        srv.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
