#!/usr/bin/env python3
"""Where the request threads wait while `POST /token` runs under a login flood: an off-CPU
count, so a rare stall of the token endpoint's tail can be named rather than guessed.

Runs `hotpaths.py BIN --flood N --only token` and, once the token load has started, records
every context switch of the server's threads with its call stack for `--record` seconds
(`perf record -e sched:sched_switch --call-graph dwarf`, Debian's linux-perf; needs root or
`kernel.perf_event_paranoid` ≤ 1). The busiest `tokio-rt-worker` threads, as many as the
server has async workers (`TOKIO_WORKER_THREADS`, else one per core), are taken for them
(tokio's blocking-pool threads share the name and are left out). For each way one of
them left the CPU other than being preempted (`S`: a sleep, e.g. a futex; `D`: waiting on the
disk inside a system call), it prints the count, the state, the kernel frames just below the
system call and the user frames just above it. An async worker in `D` holds up every request
queued on it.

    cargo build --release --bin authd
    sudo python3 tools/load/offcpu.py target/release/authd            # 8 s recorded, --flood 32
    sudo python3 tools/load/offcpu.py target/release/authd --top 20

Prints the token run's rate and tail first (perf's recording slows the server somewhat).
`--only introspect` (or `userinfo`) records that path's run instead, and `--database-url`
runs the server on that database (PostgreSQL), as `hotpaths.py` does. The server is found as
the load tool's child, so BIN may be a wrapper script that `exec`s the binary (to set a
variable the tools do not pass through).

    sudo python3 tools/load/offcpu.py BIN --only introspect --database-url postgres://…/scratch
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def server_of(parent):
    """The pid of the `… serve` process among `parent`'s children (the load tool's server; a
    wrapper script that `exec`s the binary keeps its pid), or None."""
    children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True,
                              text=True).stdout.split()
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv:
            return child
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--flood", type=int, default=32)
    ap.add_argument("--record", type=int, default=8, help="seconds recorded")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--only", default="token", choices=["token", "introspect", "userinfo"])
    ap.add_argument("--database-url", help="passed to hotpaths.py (PostgreSQL)")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "off.data")
        extra = ["--database-url", args.database_url] if args.database_url else []
        load = subprocess.Popen([sys.executable, os.path.join(HERE, "hotpaths.py"), binary,
                                 "--flood", str(args.flood), "--only", args.only,
                                 "--seconds", str(args.record + 4), *extra],
                                stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while subprocess.run(["pgrep", "-f", f"wrk.*/{args.only}"],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline or load.poll() is not None:
                load.terminate()
                sys.exit(f"the {args.only} load did not start")
            time.sleep(0.1)
        pid = server_of(load.pid)
        if pid is None:
            load.terminate()  # hotpaths.py stops its server on the way out
            sys.exit("the server's process was not found")
        time.sleep(1)
        subprocess.run(["perf", "record", "-q", "-e", "sched:sched_switch", "--call-graph",
                        "dwarf,16384", "-p", pid, "-o", data, "--", "sleep", str(args.record)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out, _ = load.communicate()
        run = json.loads(out.strip().splitlines()[-1])[args.only]
        print(f"{args.only}: {run['per_s']} /s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, "
              f"p99.9 {run['p99_9_ms']} ms")
        script = subprocess.run(["perf", "script", "-i", data, "--comms", "tokio-rt-worker",
                                 "-F", "tid,trace,ip,sym"], capture_output=True, text=True).stdout
    blocks = [b.strip().splitlines() for b in script.split("\n\n") if b.strip()]
    per_tid = collections.Counter(int(b[0].split()[0]) for b in blocks)
    n_workers = int(os.environ.get("TOKIO_WORKER_THREADS") or os.cpu_count() or 2)
    workers = {tid for tid, _ in per_tid.most_common(n_workers)}
    waits, states = collections.Counter(), collections.Counter()
    for b in blocks:
        state = re.search(r"prev_state=(\S+)", b[0])
        if int(b[0].split()[0]) not in workers or not state:
            continue
        states[state.group(1)] += 1
        if state.group(1).startswith("R"):
            continue
        frames = [f.split(None, 1)[1] for f in b[1:] if len(f.split(None, 1)) > 1]
        at = next((i for i, f in enumerate(frames) if "entry_SYSCALL" in f), None)
        if at is None:
            # Not in a system call (a page fault, say): the innermost frames, as they are.
            kernel, user = " < ".join(frames[:5]), "(not in a system call)"
        else:
            kernel = " < ".join(frames[max(0, at - 5):at])
            user = " < ".join(frames[at + 1:at + 6])
        waits[(state.group(1), kernel, user)] += 1
    print(f"async workers {sorted(workers)}: switches out by state {dict(states)}")
    ranked = waits.most_common()
    # The disk waits first, all of them (rare, and each one stops the worker); then the sleeps.
    for (state, kernel, user), n in [w for w in ranked if w[0][0].startswith("D")] + \
            [w for w in ranked if not w[0][0].startswith("D")][:args.top]:
        print(f"{n:6} {state}  {kernel}\n         | {user}")


if __name__ == "__main__":
    main()
