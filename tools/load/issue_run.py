#!/usr/bin/env python3
"""The run behind issue #12's first table, on authd alone: peak resident memory over it all.

Starts the given authd binary on a fresh SQLite database (default settings: rate limits, risk
engine and all; metrics listener off, so nothing scrapes), with `--users` accounts (the first
made by the CLI, the others given the same password hash in SQL, so every one can sign in).
Each user signs in once (`GET /login`, `POST /login`) from an address and browser of its own,
`--clients` at a time; then one user's access token, taken through the authorization-code flow
with PKCE, is sent to `GET /userinfo`, and `GET /healthz` is asked, each with `wrk -t1 -c64`
for `--seconds`. The server's resident set is sampled every 200 ms throughout. One JSON object
on stdout: the resident set at idle and at its peak (`VmHWM`) and at the end of each phase,
sign-ins per second and their statuses, the two paths' rates and p99.

    python3 tools/load/issue_run.py target/release/authd
"""

import argparse
import json
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, rss_kib, rss_mib, sign_in  # noqa: E402
from hotpaths import PASSWORD, REDIRECT, user_token, wrk  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16, help="sign-ins at once")
    ap.add_argument("--seconds", type=int, default=20, help="length of the userinfo and healthz runs")
    args = ap.parse_args()

    srv = Server(args.binary)
    try:
        for email in ("user0@example.com", "load@example.com"):  # the second takes the token
            srv.cli("user", "add", email, "--password-stdin", stdin=PASSWORD + "\n")
        rp = json.loads(srv.cli("client", "add", "load-rp", "--redirect-uri", REDIRECT, "--first-party",
                                "--scope", "openid", "--scope", "email"))
        db = sqlite3.connect(os.path.join(srv.tmp, "authd.db"))
        db.execute(
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) "
            "insert into account (id, email, password_hash, is_admin, created_at, updated_at, session_epoch, "
            "require_mfa, email_verified_at) select 'run-' || i, 'user' || i || '@example.com', a.password_hash, "
            "a.is_admin, a.created_at, a.updated_at, 0, a.require_mfa, a.email_verified_at "
            "from n, account a where a.email = 'user0@example.com'", (args.users - 1,))
        db.commit()
        db.close()
        srv.start()
        pid = srv.proc.pid
        time.sleep(2)
        result = {"idle_mib": rss_mib(pid)}
        samples, done = [], threading.Event()

        def sample():
            while not done.is_set():
                samples.append(rss_kib(pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        todo, lock, counts = list(range(args.users)), threading.Lock(), {}

        def client():
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                ip = f"10.{i // 64770 % 256}.{i // 254 % 255}.{i % 254 + 1}"
                ua = f"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.{i}"
                status, _ = sign_in(srv.port, f"user{i}@example.com", PASSWORD, ip, ua)
                with lock:
                    counts[str(status)] = counts.get(str(status), 0) + 1

        t0 = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        result["sign_ins"] = {"per_s": round(counts.get("303", 0) / elapsed, 1), "statuses": counts,
                              "end_mib": rss_mib(pid)}
        access = user_token(srv, rp["client_secret"])
        for name, headers in [("userinfo", [f"Authorization: Bearer {access}"]), ("healthz", ())]:
            out = wrk(srv.url(f"/{name}"), 64, args.seconds, headers=headers)
            result[name] = {"per_s": out["per_s"], "p99_ms": out["p99_ms"], "non_2xx": out["non_2xx"],
                            "end_mib": rss_mib(pid)}
        done.set()
        sampler.join()
        result["peak_mib"] = rss_mib(pid, "VmHWM")
        result["sampled_max_mib"] = round(max(samples) / 1024, 1)
        print(json.dumps(result))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
