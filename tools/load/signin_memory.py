#!/usr/bin/env python3
"""Resident memory of an authd process under a sustained sign-in load (issue #12's first figure).

Starts the given authd binary on a fresh SQLite database in a temporary directory, creates one
account per client (sign-ins to one account from one address are counted together by design),
records the idle resident set, then runs CLIENTS concurrent browser sign-ins (GET /login, POST
/login with the right password, each client its own address via a trusted X-Forwarded-For and
its own browser) for SECONDS, sampling VmRSS every 100 ms; prints one JSON object: idle RSS,
peak RSS (VmHWM), sign-ins per second, the status counts, and the server's CPU per sign-in by
thread group.

With `--limit`, the same run also measures the argon2 limit (cores ÷ one verification's time)
on the idle server before the load: one client signs in 30 times in a row and the server's own
`authd_password_hash_seconds` (metrics listener) gives its mean verification time; if the
`argon2` module (argon2-cffi, the reference C implementation) is importable, 31 of its
verifications at the same parameters give a second limit, and `cores` threads verifying with
it at once give the hardware's own parallel rate (`argon2_cffi_parallel_per_s`: two 19 MiB
blocks at once share caches and memory bandwidth). The sign-ins per second are then reported
as a share of each, and the server's mean verification time during the load is reported next
to its idle one (`authd_verify_ms_under_load`). The idle time is measured again after the load
and the limit uses the mean of the two (`authd_verify_ms_before_load`,
`authd_verify_ms_after_load`): on a shared VM it drifts by a fifth within minutes.

With `--seed-accounts A --seed-events E`, the database gets A accounts and E events (as
`hotpaths.py`) before the server starts, and ten more accounts' first sign-ins are timed one
after another before the load (`first_sign_in_ms`): a first sign-in asks the event log for the
account's latest success (the new-device alert), the question a large log makes slow if an
index is missing.

With `--transactions` (PostgreSQL only), 100 sign-ins in a row before the load give the
database transactions one sign-in makes (`pg_stat_database`; each statement outside a
transaction is one): a count, not a time, so it does not drift with the machine.

    cargo build --release
    python3 tools/load/signin_memory.py target/release/authd --clients 8 --seconds 120
    python3 -m venv /tmp/v && /tmp/v/bin/pip install argon2-cffi
    /tmp/v/bin/python tools/load/signin_memory.py target/release/authd --seconds 20 --limit
    python3 tools/load/signin_memory.py target/release/authd --seed-accounts 100000 --seed-events 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/scratch
    python3 tools/load/signin_memory.py target/release/authd --seconds 5 --transactions \
        --database-url postgres://postgres@127.0.0.1:5432/scratch

Only the Python standard library; the load generator shares the machine's cores.
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Server, cpu_ms_per, db_writes, db_writes_per, free_port, rss_kib, sign_in,  # noqa: E402
                    thread_cpu)

PASSWORD = "a load test passphrase"


def hash_seconds(metrics_port):
    """The server's `authd_password_hash_seconds` sum and count so far."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = {}
    for line in text.splitlines():
        for field in ("sum", "count"):
            if line.startswith(f"authd_password_hash_seconds_{field} "):
                found[field] = float(line.split()[1])
    return found.get("sum", 0.0), found.get("count", 0.0)


def mean_ms(before, after):
    """The mean verification time, in ms, between two `hash_seconds` readings (None if the
    server counted none in between)."""
    (s0, n0), (s1, n1) = before, after
    return round(1e3 * (s1 - s0) / (n1 - n0), 2) if n1 > n0 else None


def idle_verify_ms(srv, metrics_port, email):
    """One verification's time on the idle server: the mean over 30 sign-ins in a row, after
    five to warm up (None if the server counted none)."""
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    for _ in range(5):
        sign_in(srv.port, email, PASSWORD, "198.51.100.250", ua)
    before = hash_seconds(metrics_port)
    for _ in range(30):
        sign_in(srv.port, email, PASSWORD, "198.51.100.250", ua)
    return mean_ms(before, hash_seconds(metrics_port))


def limits(srv, metrics_port, email):
    """One verification's time on the idle server (`idle_verify_ms`) and, if argon2-cffi is
    importable, the reference implementation's (the median of 31 after five); each with its
    limit, cores ÷ that time."""
    cores = os.cpu_count() or 1
    out = {"cores": cores}
    out["authd_verify_ms_before_load"] = idle_verify_ms(srv, metrics_port, email)
    try:
        import argon2  # argon2-cffi
    except ImportError:
        return out
    ph = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    h = ph.hash(PASSWORD)
    for _ in range(5):
        ph.verify(h, PASSWORD)
    times = []
    for _ in range(31):
        t0 = time.perf_counter()
        ph.verify(h, PASSWORD)
        times.append(time.perf_counter() - t0)
    out["argon2_cffi_verify_ms"] = round(1e3 * sorted(times)[15], 2)
    out["argon2_cffi_parallel_per_s"] = parallel_rate(ph, h, cores)
    return out


def parallel_rate(ph, h, cores, each=20):
    """argon2-cffi's verifications per second with one thread per core verifying at once (the
    C code runs without the GIL): what the hardware gives when every core hashes. Two 19 MiB
    blocks at once share the caches and memory bandwidth, so it can fall short of cores ÷ one
    verification's time, a limit no implementation reaches then."""
    start = threading.Barrier(cores + 1)

    def verify():
        start.wait()
        for _ in range(each):
            ph.verify(h, PASSWORD)

    threads = [threading.Thread(target=verify) for _ in range(cores)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return round(cores * each / (time.perf_counter() - t0), 1)


def with_ratios(limit, rate):
    """`limit` with each limit per second and the measured rate's share of it, in percent."""
    # A shared VM drifts: the idle times measured before and after the load, averaged.
    idle = [ms for ms in (limit.get("authd_verify_ms_before_load"),
                          limit.get("authd_verify_ms_after_load")) if ms]
    if idle:
        limit["authd_verify_ms"] = round(sum(idle) / len(idle), 2)
    for name in ("authd", "argon2_cffi"):
        ms = limit.get(f"{name}_verify_ms")
        if ms:
            per_s = limit["cores"] / (ms / 1e3)
            limit[f"{name}_limit_per_s"] = round(per_s, 1)
            limit[f"sign_ins_pct_of_{name}_limit"] = round(100 * rate / per_s, 1)
    if limit.get("argon2_cffi_parallel_per_s"):
        limit["sign_ins_pct_of_argon2_cffi_parallel"] = round(
            100 * rate / limit["argon2_cffi_parallel_per_s"], 1)
    return limit


def pg_transactions(url):
    """Transactions committed or rolled back in the PostgreSQL database at `url` so far (every
    statement outside `begin … commit` is one), as `pg_stat_database` counts them."""
    import subprocess
    out = subprocess.run(
        ["psql", url, "-Atc", "select xact_commit + xact_rollback from pg_stat_database "
         "where datname = current_database()"], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def transactions_per_sign_in(port, url, email, n=100):
    """The database transactions one browser sign-in makes (GET /login, POST /login, a new
    browser each time, as in the load): `n` sign-ins in a row, the count read before and after.
    A backend reports its counts at most a second after a transaction, or when it has been idle
    for ten (PostgreSQL 15), hence the waits. The server's own background jobs (the mail poller
    every second, the attack-wave refresh) also count: the same window on the idle server is
    measured first and subtracted. None unless every sign-in succeeded."""
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    time.sleep(11)
    idle_start, t0 = pg_transactions(url), time.monotonic()
    time.sleep(20)
    idle_rate = (pg_transactions(url) - idle_start - 1) / (time.monotonic() - t0)
    before, t0 = pg_transactions(url), time.monotonic()
    ok = sum(sign_in(port, email, PASSWORD, "198.51.100.251", ua)[0] == 303 for _ in range(n))
    time.sleep(11)
    counted = pg_transactions(url) - before - 1  # psql's own session counts one
    window = time.monotonic() - t0
    if ok != n:
        return None
    return round((counted - idle_rate * window) / n, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--limit", action="store_true", help="also measure the argon2 limit (see above)")
    ap.add_argument("--seed-accounts", type=int, default=0, help="accounts written into the database first")
    ap.add_argument("--seed-events", type=int, default=0, help="events written into the database first")
    ap.add_argument("--database-url", help="e.g. a scratch PostgreSQL database (default: SQLite in a temporary directory)")
    ap.add_argument("--transactions", action="store_true",
                    help="PostgreSQL only: also count the database transactions per sign-in before the load")
    args = ap.parse_args()
    if args.transactions and not (args.database_url or "").startswith("postgres"):
        ap.error("--transactions counts PostgreSQL's transactions: give a postgres:// --database-url")

    # Hashing is what loads memory: the per-minute limits (30 per address and account by
    # default) would answer most of a tight loop with 429 and leave the hash workers idle.
    settings = {"AUTHD_RATE_LOGIN_PER_IP": "1000000", "AUTHD_RATE_LOGIN_PER_ACCOUNT": "1000000"}
    metrics_port = free_port() if args.limit else None
    if metrics_port:
        settings["AUTHD_METRICS_BIND"] = f"127.0.0.1:{metrics_port}"
    srv = Server(args.binary, settings, database_url=args.database_url)
    emails = [f"load{i}@example.com" for i in range(args.clients)]
    firsts = [f"first{i}@example.com" for i in range(10)] if args.seed_events else []
    for e in emails + firsts:
        srv.cli("user", "add", e, "--password-stdin", stdin=PASSWORD + "\n")
    srv.seed(args.seed_accounts, args.seed_events)
    try:
        srv.start()
        proc, port = srv.proc, srv.port
        time.sleep(2)
        idle = rss_kib(proc.pid)
        limit = limits(srv, metrics_port, emails[0]) if metrics_port else None
        per_sign_in = (transactions_per_sign_in(port, args.database_url, emails[0])
                       if args.transactions else None)
        first = []
        for e in firsts:
            t0 = time.monotonic()
            status, _ = sign_in(port, e, PASSWORD, "203.0.113.9", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
            first.append(round(1e3 * (time.monotonic() - t0), 1) if status == 303 else str(status))

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
        writes_before = db_writes(proc.pid)
        hashed_before = hash_seconds(metrics_port) if metrics_port else None
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            samples.append(rss_kib(proc.pid))
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        cpu = cpu_ms_per(cpu_before, thread_cpu(proc.pid), counts.get("303", 0))
        writes = db_writes_per(writes_before, db_writes(proc.pid), counts.get("303", 0))
        if hashed_before:
            # Each verification's time from start to end under the load (the hash threads
            # share the cores with the requests and the load generator).
            limit["authd_verify_ms_under_load"] = mean_ms(hashed_before, hash_seconds(metrics_port))
            limit["authd_verify_ms_after_load"] = idle_verify_ms(srv, metrics_port, emails[0])
        peak = rss_kib(proc.pid, "VmHWM")
        print(json.dumps({
            "clients": args.clients, "seconds": round(elapsed, 1),
            "idle_rss_mib": round(idle / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
            "end_rss_mib": round(samples[-1] / 1024, 1) if samples else None,
            "sign_ins_per_s": round(counts.get("303", 0) / elapsed, 1), "statuses": counts,
            "server_cpu_ms_per_sign_in": cpu,
            # SQLite only: the database threads' writes (PostgreSQL writes in its own processes).
            "db_writes_per_sign_in": None if args.database_url else writes,
            **({"pg_transactions_per_sign_in": per_sign_in} if args.transactions else {}),
            **({"limit": with_ratios(limit, counts.get("303", 0) / elapsed)} if limit else {}),
            **({"seeded": {"accounts": args.seed_accounts, "events": args.seed_events},
                "first_sign_in_ms": first} if firsts else {}),
        }))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
