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
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

PASSWORD = "a load test passphrase"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def sign_in(port, email, ip, ua):
    """One browser sign-in on a fresh connection and session; returns the POST's status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        head = {"X-Forwarded-For": ip, "User-Agent": ua}
        conn.request("GET", "/login", headers=head)
        r = conn.getresponse()
        body = r.read().decode()
        cookies = "; ".join(c.split(";")[0] for k, c in r.getheaders() if k.lower() == "set-cookie")
        m = re.search(r'name="csrf_token" value="([^"]+)"', body)
        if r.status != 200 or not m:
            return r.status
        form = urllib.parse.urlencode({"username": email, "password": PASSWORD, "csrf_token": m.group(1)})
        conn.request("POST", "/login", body=form, headers={**head, "Cookie": cookies,
                                                             "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        return r.status
    except OSError:
        return "error"
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="authd-load-")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "AUTHD_BIND": f"127.0.0.1:{port}",
           "AUTHD_ISSUER": f"http://127.0.0.1:{port}", "AUTHD_METRICS_BIND": "", "RUST_LOG": "error",
           "AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_LOG_FORMAT": "plain",
           # Hashing is what loads memory: the per-minute limits (30 per address and account by
           # default) would answer most of a tight loop with 429 and leave the hash workers idle.
           "AUTHD_RATE_LOGIN_PER_IP": "1000000", "AUTHD_RATE_LOGIN_PER_ACCOUNT": "1000000"}
    # The caller's AUTHD_* settings and glibc's MALLOC_* tunables win (to compare configurations).
    env.update({k: v for k, v in os.environ.items() if k.startswith(("AUTHD_", "MALLOC_"))})
    emails = [f"load{i}@example.com" for i in range(args.clients)]
    # The CLI creates no database outside serve/migrate: migrate first.
    subprocess.run([args.binary, "migrate"], cwd=tmp, env=env, capture_output=True, text=True, check=True)
    for e in emails:
        subprocess.run([args.binary, "user", "add", e, "--password-stdin"], cwd=tmp, env=env, input=PASSWORD + "\n",
                       capture_output=True, text=True, check=True)
    proc = subprocess.Popen([args.binary, "serve"], cwd=tmp, env=env)
    try:
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)
        idle = rss_kib(proc.pid)

        counts, lock, stop = {}, threading.Lock(), time.monotonic() + args.seconds
        samples = []

        def client(i):
            ip, ua = f"198.51.100.{i + 1}", f"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.{i}"
            while time.monotonic() < stop:
                status = sign_in(port, emails[i], ip, ua)
                with lock:
                    counts[str(status)] = counts.get(str(status), 0) + 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            samples.append(rss_kib(proc.pid))
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        peak = rss_kib(proc.pid, "VmHWM")
        print(json.dumps({
            "clients": args.clients, "seconds": round(elapsed, 1),
            "idle_rss_mib": round(idle / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
            "end_rss_mib": round(samples[-1] / 1024, 1) if samples else None,
            "sign_ins_per_s": round(counts.get("303", 0) / elapsed, 1), "statuses": counts,
        }))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
