#!/usr/bin/env python3
"""Migration 0036 on a large event log: what one event costs to write and what the admin
overview's top lists cost to read, with `(kind, ts, user_id)` and `(kind, ts, ip)` (0032) and
with the one `(kind, ts, user_id, ip)` that replaces them (docs/benchmarks.md, "One index fewer
per event").

Builds a SQLite database in a temporary directory from `migrations/sqlite` up to 0035, writes
EVENTS events over a week (a mix of kinds like a live log: tokens, sign-ins, failures,
challenges; 100 000 accounts, 62 500 addresses), then, before and after applying 0036:
- pages written per event: 2 000 events committed one at a time and 2 000 in commits of 32,
  counted as WAL frames (`synchronous = NORMAL`, no checkpoint meanwhile), as the server writes;
- the top accounts' and top sources' plans (`explain query plan`) and their median time over
  five runs for the last day (the statements `storage/admin_stats.rs` builds).
Prints one JSON object.

    python3 tools/load/event_overview_index.py --events 1000000

Only the Python standard library (its `sqlite3`, not the server's SQLite build).
"""

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import schema_before  # noqa: E402

HOSTILE = "('login_failed', 'login_blocked', 'login_challenged', 'rate_limited')"
TOP_ACCOUNTS = ("select a.email as key, t.n from (select user_id, count(*) as n from event "
                f"where ts >= ? and kind in {HOSTILE} and user_id is not null group by user_id"
                ") t join account a on a.id = t.user_id order by t.n desc, a.email limit ?")
TOP_SOURCES = (f"select ip as key, count(*) as n from event where ts >= ? and ip is not null "
               f"and kind in {HOSTILE} group by ip order by count(*) desc, ip limit ?")
KINDS = (["token_issued"] * 40 + ["login_succeeded"] * 20 + ["login_failed"] * 10
         + ["session_created"] * 5 + ["login_challenged"] * 3 + ["token_refreshed"] * 4
         + ["logout"] * 3 + ["session_revoked"] * 3 + ["rate_limited"] * 2 + ["login_blocked"] * 2
         + ["challenge_passed"] * 2 + ["alert_sent"] * 2 + ["admin_action"] * 2 + ["account_locked"] * 2)
INSERT = ("insert into event (id, ts, kind, ip, user_agent, user_id, username, client_id, risk, "
          "decision, request_id, created_at, decision_code) values (?,?,?,?,?,?,?,?,?,?,?,?,?)")
WEEK_MS = 7 * 24 * 3600 * 1000


def row(i, ts):
    kind = KINDS[i % 100]
    token = kind.startswith("token")
    user = None if (kind == "token_issued" and i % 2) or kind == "rate_limited" else f"u{(i * 7919) % 100000}"
    ip = f"10.{(i * 7) % 62500 // 250}.{(i * 7) % 62500 % 250}.1"
    return (f"ev-{i}", ts, kind, ip, "ua", user, None if token else "x@example.com",
            f"client-{i % 50}" if token else None, None if token else '{"score":0.5}', "d", f"r{i}",
            ts // 1000, "issued_authorization_code" if token else "allow")


def pages_per_event(path, start, now, batch, n=2000):
    """WAL frames per event for `n` events committed `batch` at a time."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("pragma journal_mode = wal")
    db.execute("pragma synchronous = normal")
    db.execute("pragma wal_autocheckpoint = 0")
    db.execute("pragma wal_checkpoint(truncate)")
    page = db.execute("pragma page_size").fetchone()[0]
    for b in range(0, n, batch):
        db.execute("begin")
        db.executemany(INSERT, [row(start + i, now + i) for i in range(b, b + batch)])
        db.execute("commit")
    frames = (os.path.getsize(path + "-wal") - 32) // (page + 24)
    db.execute("pragma wal_checkpoint(truncate)")
    db.close()
    return round(frames / n, 2)


def reads(path, now):
    db = sqlite3.connect(path)
    since = now - 24 * 3600 * 1000
    out = {}
    for name, sql in (("top_accounts", TOP_ACCOUNTS), ("top_sources", TOP_SOURCES)):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            db.execute(sql, (since, 10)).fetchall()
            times.append(1e3 * (time.perf_counter() - t0))
        plan = [r[3] for r in db.execute("explain query plan " + sql, (since, 10))]
        out[name] = {"median_ms": round(statistics.median(times), 2), "plan": plan}
    db.close()
    return out


def measure(path, start, now):
    return {"pages_per_event_alone": pages_per_event(path, start, now, 1),
            "pages_per_event_in_commits_of_32": pages_per_event(path, start + 2000, now + 2000, 32),
            **reads(path, now + 4000)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    now = int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.db")
        db = sqlite3.connect(path)
        m36 = schema_before(db, "0036")
        db.executemany("insert into account (id, email, password_hash, is_admin, created_at, updated_at, "
                       "session_epoch, require_mfa) values (?, ?, 'x', false, 0, 0, 0, false)",
                       ((f"u{i}", f"u{i}@example.com") for i in range(100000)))
        step = WEEK_MS // max(args.events, 1)
        db.executemany(INSERT, (row(i, now - WEEK_MS + i * step) for i in range(args.events)))
        db.commit()
        db.close()
        out = {"events": args.events, "before": measure(path, args.events, now)}
        db = sqlite3.connect(path)
        t0 = time.perf_counter()
        db.executescript(m36)
        out["migration_0036_s"] = round(time.perf_counter() - t0, 2)
        db.close()
        out["after"] = measure(path, args.events + 10000, now + 10000)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
