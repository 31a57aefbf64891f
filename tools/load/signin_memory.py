#!/usr/bin/env python3
"""Resident memory of an authd process under a sustained sign-in load (issue #12's first figure).

Starts the given authd binary on a fresh SQLite database in a temporary directory, creates one
account per client (sign-ins to one account from one address are counted together by design),
records the idle resident set, then runs CLIENTS concurrent browser sign-ins (GET /login, POST
/login with the right password, each client its own address via a trusted X-Forwarded-For and
its own browser) for SECONDS, sampling VmRSS every 100 ms; prints one JSON object: idle RSS,
peak RSS (VmHWM), sign-ins per second, and the status counts.

    cargo build --release
    python3 tools/load/signin_memory.py target/release/authd --clients 8 --seconds 120

Only the Python standard library; the load generator shares the machine's cores.
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, cpu_ms_per, rss_kib, sign_in, thread_cpu  # noqa: E402

PASSWORD = "a load test passphrase"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120)
    args = ap.parse_args()

    # Hashing is what loads memory: the per-minute limits (30 per address and account by
    # default) would answer most of a tight loop with 429 and leave the hash workers idle.
    srv = Server(args.binary, {"AUTHD_RATE_LOGIN_PER_IP": "1000000", "AUTHD_RATE_LOGIN_PER_ACCOUNT": "1000000"})
    emails = [f"load{i}@example.com" for i in range(args.clients)]
    for e in emails:
        srv.cli("user", "add", e, "--password-stdin", stdin=PASSWORD + "\n")
    try:
        srv.start()
        proc, port = srv.proc, srv.port
        time.sleep(2)
        idle = rss_kib(proc.pid)

        counts, lock, stop = {}, threading.Lock(), time.monotonic() + args.seconds
        samples = []

        def client(i):
            ip, ua = f"198.51.100.{i + 1}", f"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.{i}"
            while time.monotonic() < stop:
                status, _ = sign_in(port, emails[i], PASSWORD, ip, ua)
                with lock:
                    counts[str(status)] = counts.get(str(status), 0) + 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        started, cpu_before = time.monotonic(), thread_cpu(proc.pid)
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            samples.append(rss_kib(proc.pid))
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        cpu = cpu_ms_per(cpu_before, thread_cpu(proc.pid), counts.get("303", 0))
        peak = rss_kib(proc.pid, "VmHWM")
        print(json.dumps({
            "clients": args.clients, "seconds": round(elapsed, 1),
            "idle_rss_mib": round(idle / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
            "end_rss_mib": round(samples[-1] / 1024, 1) if samples else None,
            "sign_ins_per_s": round(counts.get("303", 0) / elapsed, 1), "statuses": counts,
            "server_cpu_ms_per_sign_in": cpu,
        }))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
