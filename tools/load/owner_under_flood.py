#!/usr/bin/env python3
"""An owner's sign-ins while a login flood runs: how long the real owner waits for an answer.

Starts the given authd binary on a fresh SQLite database with one account, keeps `--flood`
sign-ins of unknown accounts from random addresses going (as `hotpaths.py --flood`), and signs
the owner in again and again from one address for `--seconds`: each time as a fresh browser, or
with `--known-device` as the browser the owner signed in with before the flood (it keeps only
the device cookie that sign-in set).
Prints one JSON object: the owner's sign-ins, their statuses, median and slowest time, the
flood's statuses, and the server's resident memory at the start and its peak (`VmHWM`) over the
run (a flood is a sustained sign-in load too: issue #12's memory target). Run it on a busy host (docs/benchmarks.md: four busy loops beside it) to see
what the hash threads' priorities cost the owner. With `--machine-requests`, one more thread
keeps asking for the JWKS (a machine request) the whole time, so the hash pool's steady thread
leaves new jobs to its idle-class helpers (`domain/accounts/hash_queue.rs`): on a busy host the
owner's sign-in then depends on its rescue of stalled jobs.

    python3 tools/load/owner_under_flood.py target/release/authd --seconds 45
    python3 tools/load/owner_under_flood.py target/release/authd --seconds 30 --machine-requests
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, rss_kib, sign_in  # noqa: E402
from hotpaths import flood  # noqa: E402

PASSWORD = "a load test passphrase"


def machine_requests(port, stop, counts, lock):
    """GET /jwks.json until `stop`, counting the answers under `jwks_<status>`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        try:
            conn.request("GET", "/jwks.json")
            res = conn.getresponse()
            res.read()
            key = f"jwks_{res.status}"
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            key = "jwks_error"
        with lock:
            counts[key] = counts.get(key, 0) + 1
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--flood", type=int, default=32)
    ap.add_argument("--machine-requests", action="store_true",
                    help="a thread asks for the JWKS again and again during the run")
    ap.add_argument("--known-device", action="store_true",
                    help="the owner's browser signed in once before the flood (device cookie)")
    args = ap.parse_args()
    srv = Server(args.binary, {"AUTHD_RATE_LOGIN_PER_IP": "1000000"})
    try:
        srv.cli("user", "add", "owner@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        srv.start()
        idle = rss_kib(srv.proc.pid)
        device = {}
        if args.known_device:
            status, jar = sign_in(srv.port, "owner@example.com", PASSWORD, "192.0.2.7", "owner/1.0")
            device = {k: v for k, v in jar.items() if k.endswith("authd_device")}
            if status != 303 or not device:
                raise RuntimeError(f"the owner's first sign-in answered {status} without a device cookie")
        stop, lock, counts = threading.Event(), threading.Lock(), {}
        flooders = [threading.Thread(target=flood, args=(srv.port, stop, counts, lock), daemon=True)
                    for _ in range(args.flood)]
        if args.machine_requests:
            flooders.append(threading.Thread(target=machine_requests, args=(srv.port, stop, counts, lock),
                                             daemon=True))
        for t in flooders:
            t.start()
        time.sleep(2)
        times, statuses = [], {}
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            status, _ = sign_in(srv.port, "owner@example.com", PASSWORD, "192.0.2.7", "owner/1.0",
                                jar=dict(device))
            times.append((time.monotonic() - t0) * 1000)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        stop.set()
        for t in flooders:
            t.join(timeout=35)
        counts.pop("_ms", None)
        peak = rss_kib(srv.proc.pid, "VmHWM")
        times.sort()
        print(json.dumps({"owner": {"known_device": args.known_device, "sign_ins": len(times), "statuses": statuses,
                                    "p50_ms": round(times[len(times) // 2]) if times else None,
                                    "max_ms": round(times[-1]) if times else None},
                          "flood": {"clients": args.flood, "statuses": counts},
                          "idle_rss_mib": round(idle / 1024, 1), "peak_rss_mib": round(peak / 1024, 1)}))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
