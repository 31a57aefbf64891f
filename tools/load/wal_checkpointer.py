#!/usr/bin/env python3
"""An experiment's tool (docs/benchmarks.md, "The token tail is the disk's fsync"): checkpoints a
running server's SQLite database from a connection of its own, as soon as N frames of the WAL
wait to be copied, meant to keep the server's writer (automatic checkpoint at 1 000 frames) from
running checkpoints itself. It could not: SQLite's automatic checkpoint counts the log's whole
length, copied or not, so the writer still checkpointed, and restarted the log, every 1 000
frames (docs/benchmarks.md, "The writer's checkpoint counts the whole log"). The frame counts come from the `-shm` WAL index (the header's
`mxFrame` at byte 16, the checkpoint's `nBackfill` at byte 96; sqlite.org/walformat.html),
read every 2 ms.

    python3 tools/load/wal_checkpointer.py /work/load/al.db 400 &
    python3 tools/load/hotpaths.py BIN --flood 32 --only token,introspect \\
        --database-url 'sqlite:///work/load/al.db?mode=rwc'

Run it against a server started with `AUTHD_SQLITE_WAL_RESTART_PAGES=0` (SQLite's own automatic
checkpoint, the behaviour it was written against). The server now copies the log in the
background itself (src/storage/sqlite_wal.rs), without the second descriptor this tool opens:
within one process, closing such a descriptor would drop SQLite's POSIX locks.
"""

import os
import sqlite3
import struct
import sys
import time


def main():
    path, frames = sys.argv[1], int(sys.argv[2])
    while not os.path.exists(path + "-shm"):
        time.sleep(0.05)
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    con.execute("pragma synchronous=normal")
    with open(path + "-shm", "rb") as shm:
        while True:
            shm.seek(0)
            head = shm.read(100)
            (mx_frame,) = struct.unpack_from("<I", head, 16)
            (backfilled,) = struct.unpack_from("<I", head, 96)
            if mx_frame - backfilled >= frames:
                con.execute("pragma wal_checkpoint(passive)").fetchall()
            time.sleep(0.002)


if __name__ == "__main__":
    main()
