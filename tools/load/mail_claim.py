#!/usr/bin/env python3
"""Migration 0040 on a mail backlog: what one claim of due mail costs (the mail worker's
`DUE_MAIL`, `storage/mail.rs`) before and after the claim order became an indexed column
(docs/benchmarks.md, "The mail queue's claim on a backlog").

Builds a SQLite database in a temporary directory from `migrations/sqlite` up to 0039 and
queues BACKLOG unsent mails as a registration flood leaves them: nine in ten address
verifications, the rest alerts and notices, and a hundred e-mailed codes, a third of every
kind waiting for a retry (an SMTP outage's backoff). Then, before and after applying 0040
(the claim statement before it is kept here; the one after is read from `storage/mail.rs`):
the claim's plan (`explain query plan`), its median time over RUNS claims of 10, and the ids
it returns (the same ones both times). Prints one JSON object.

    python3 tools/load/mail_claim.py --backlog 100000

Only the Python standard library (its `sqlite3`, not the server's SQLite build).
"""

import argparse
import json
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import schema_before  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BEFORE = ("select id from mail_queue where sent_at is null and next_attempt_at <= $1 "
          "and (locked_until is null or locked_until <= $1) "
          "order by case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end, "
          "next_attempt_at limit $2")
NOW = 1_900_000_000


def due_mail_now():
    """`DUE_MAIL` as `storage/mail.rs` spells it (a Rust string with `\\` line joins)."""
    with open(os.path.join(HERE, "..", "..", "src", "storage", "mail.rs")) as f:
        src = f.read()
    body = re.search(r'const DUE_MAIL: &str = "(.*?)";', src, re.S).group(1)
    return re.sub(r"\\\n\s*", "", body)


def numbered(sql):
    return sql.replace("$1", "?1").replace("$2", "?2")


def queue(db, backlog):
    rows = []
    for i in range(backlog):
        kind = "verify_email" if i % 10 else ("attack", "password_reset", "lockout")[i // 10 % 3]
        if i < 100:
            kind = "email_code"
        retry = i % 3 == 0
        due = NOW + 300 if retry else NOW - backlog + i
        rows.append((f"m{i}", f"<m{i}@x>", kind, f"r{i}@example.com", "s", "t", "h", 0, due,
                     None, None, None, due))
    db.executemany("insert into mail_queue (id, message_id, kind, recipient, subject, text_body, "
                   "html_body, attempts, next_attempt_at, locked_until, sent_at, last_error, "
                   "created_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()


def measure(db, sql, runs):
    plan = [r[3] for r in db.execute("explain query plan " + numbered(sql), (NOW, 10))]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        ids = [r[0] for r in db.execute(numbered(sql), (NOW, 10))]
        times.append((time.perf_counter() - t) * 1e3)
    return {"plan": plan, "median_ms": round(statistics.median(times), 3), "ids": ids}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(os.path.join(d, "t.db"))
        migration = schema_before(db, "0040")
        queue(db, args.backlog)
        before = measure(db, BEFORE, args.runs)
        db.executescript(migration)
        after = measure(db, due_mail_now(), args.runs)
    same = before["ids"] == after["ids"]
    print(json.dumps({"backlog": args.backlog, "sqlite": sqlite3.sqlite_version,
                      "same_claim": same, "before": before, "after": after}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
