#!/usr/bin/env python3
"""An experiment's tool (docs/benchmarks.md, "The token tail is the disk's fsync"): checkpoints a
running server's SQLite database from a connection of its own, as soon as N frames of the WAL
wait to be copied, so that the server's writer (automatic checkpoint at 1 000 frames) never
runs a checkpoint itself. The frame counts come from the `-shm` WAL index (the header's
`mxFrame` at byte 16, the checkpoint's `nBackfill` at byte 96; sqlite.org/walformat.html),
read every 2 ms.

    python3 tools/load/wal_checkpointer.py /work/load/al.db 400 &
    python3 tools/load/hotpaths.py BIN --flood 32 --only token,introspect \\
        --database-url 'sqlite:///work/load/al.db?mode=rwc'

Not part of authd: the server keeps SQLite's own automatic checkpoint (see the doc for why).
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
