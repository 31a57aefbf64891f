#!/usr/bin/env python3
"""The new-device alert's question on a large event log, before and after migration 0035
(docs/benchmarks.md, "Sign-ins on a million-event log").

Builds a SQLite database in a temporary directory from `migrations/sqlite` up to 0034, writes
EVENTS events (three in four `login_succeeded`, over 100 000 accounts), then times "this
account's latest `login_succeeded`" (the statement `storage/events.rs` builds for it) for an
account with no success and for one whose last success is 100 000 events back; applies 0035
(timed: what an upgrade waits for) and times both again. Prints one JSON object.

    python3 tools/load/event_index.py --events 1000000

Only the Python standard library (its `sqlite3`, not the server's SQLite build).
"""

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import schema_before  # noqa: E402

QUERY = ("select seq from event where 1 = 1 and kind = ? and user_id = ? "
         "order by seq desc limit ?")


def timed(db, user):
    t0 = time.perf_counter()
    db.execute(QUERY, ("login_succeeded", user, 2)).fetchall()
    return round(1e3 * (time.perf_counter() - t0), 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "events.db"))
        m35 = schema_before(db, "0035")
        rows = ((f"ev{i}", i, "login_failed" if i % 4 == 0 else "login_succeeded",
                 f"seed-{i % 100000}", "allow", i) for i in range(args.events))
        db.executemany("insert into event (id, ts, kind, user_id, decision_code, created_at) "
                       "values (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
        # seed-1's last success is the 100 000th event from the end.
        cases = {"no_success_ms": "nobody", "success_100k_back_ms": "seed-1"}
        out = {"events": args.events, "before": {k: timed(db, u) for k, u in cases.items()}}
        t0 = time.perf_counter()
        db.executescript(m35)
        out["migration_0035_s"] = round(time.perf_counter() - t0, 2)
        out["after"] = {k: timed(db, u) for k, u in cases.items()}
        out["plan_after"] = [r[3] for r in db.execute("explain query plan " + QUERY, ("k", "u", 2))]
        print(json.dumps(out))


if __name__ == "__main__":
    main()
