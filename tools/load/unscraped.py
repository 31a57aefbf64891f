#!/usr/bin/env python3
"""Resident memory of a server that nobody scrapes, under a sustained load of cheap requests.

The Prometheus recorder keeps each histogram sample until it is folded into its buckets, and
every request records one; a server whose `/metrics` nobody reads must still stay flat. Starts
the given authd binary on a fresh SQLite database (metrics listener off, as in the other load
tools), takes a user's access token through the authorization-code flow, then runs `wrk -t1
-c64` against `GET /healthz` and `GET /userinfo` for `--seconds` each, one after the other,
sampling the server's resident set (`VmRSS`, and `RssAnon`: the heap and stacks, without the
binary's own pages) every second. One JSON object on stdout: the rates, the resident set at the
start, at the end of each path's run and its peak (`VmHWM`), and the samples.

    python3 tools/load/unscraped.py target/release/authd --seconds 30
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, rss_mib  # noqa: E402
from hotpaths import PASSWORD, REDIRECT, user_token, wrk  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=30, help="length of each path's run")
    ap.add_argument("--conns", type=int, default=64)
    args = ap.parse_args()

    srv = Server(args.binary, {"AUTHD_RATE_LOGIN_PER_IP": "1000000"})
    try:
        srv.cli("user", "add", "load@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        rp = json.loads(srv.cli("client", "add", "load-rp", "--redirect-uri", REDIRECT, "--first-party",
                                "--scope", "openid", "--scope", "email"))
        srv.start()
        pid = srv.proc.pid
        access = user_token(srv, rp["client_secret"])
        result = {"start_mib": rss_mib(pid), "start_anon_mib": rss_mib(pid, "RssAnon")}
        samples = []
        for name, headers in [("healthz", ()), ("userinfo", [f"Authorization: Bearer {access}"])]:
            out = {}
            run = threading.Thread(target=lambda: out.update(
                wrk(srv.url(f"/{name}"), args.conns, args.seconds, headers=headers)))
            t0 = time.monotonic()
            run.start()
            while run.is_alive():
                run.join(1.0)
                samples.append({"path": name, "s": round(time.monotonic() - t0, 1),
                                "rss_mib": rss_mib(pid), "anon_mib": rss_mib(pid, "RssAnon")})
            result[name] = {"per_s": out.get("per_s"), "p99_ms": out.get("p99_ms"),
                            "non_2xx": out.get("non_2xx"), "end_mib": samples[-1]["rss_mib"],
                            "end_anon_mib": samples[-1]["anon_mib"]}
        result["peak_mib"] = rss_mib(pid, "VmHWM")
        result["samples"] = samples
        print(json.dumps(result))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
