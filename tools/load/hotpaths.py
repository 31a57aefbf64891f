#!/usr/bin/env python3
"""Issue #12's throughput and latency figures, reproduced with one command each.

Starts the given authd binary on a fresh SQLite database (or on `--database-url`, e.g. a
scratch PostgreSQL database), creates an account, a first-party web client and a
client-credentials client, takes a user's access token through the real authorization-code flow
with PKCE, and runs `wrk` (Debian's package) over loopback against:

- `GET /healthz` and `GET /userinfo` (valid bearer) at `wrk -t1 -c32` — the hot paths;
- `POST /token` (client credentials; a durable `token_issued` event per answer) and
  `POST /introspect` at `-c8` with latency percentiles — the token endpoint's tail. The user's
  token is introspected by its own client (its audience: the signature, the client's secret and
  the token's state read, answered `active: true`, checked once before the run); until
  2026-12-04 this tool introspected it with the client-credentials client, which gets
  `active: false` without the token's state read (docs/benchmarks.md, "Introspection measured
  by the token's own client");
- with `--only risk`, `POST /risk/evaluate` (the web client, which may also use the
  client-credentials grant, asks about its user's token with its own machine token, as an app
  that is its own resource server does; a `risk_evaluated` event per answer) at `-c8`, which a
  resource server asks on a token's use like introspection.

With `--flood N`, N Python threads keep sign-ins of unknown accounts from random addresses going
during the whole run (the isolation figure: every hash worker busy), and their statuses and the
share of `503` answers carrying `Retry-After` are reported. With `--fast-flood N`, `wrk` keeps N
connections of such sign-ins going instead, reusing one session's cookie and CSRF token (as an
attacker's tool would), each request as soon as the last one answered; with `--flood-device`
as well, that session also carries the load account's device cookie (an attacker's own
account's, which passes step 1 on the known lane). For each path, `server_cores` gives the
cores each of the server's thread groups used during its run (`common.thread_cpu`; the first
instance's only) and `total`, the whole process's. One JSON object on stdout.

    cargo build --release --bin authd
    python3 tools/load/hotpaths.py target/release/authd
    python3 tools/load/hotpaths.py target/release/authd --flood 32
    python3 tools/load/hotpaths.py target/release/authd --fast-flood 256 --only token,introspect,userinfo
    python3 tools/load/hotpaths.py target/release/authd --fast-flood 256 --flood-device --only token
    python3 tools/load/hotpaths.py target/release/authd --database-url postgres://postgres@127.0.0.1:5432/scratch
    python3 tools/load/hotpaths.py target/release/authd --database-url 'sqlite:///dev/shm/x.db?mode=rwc'

(A SQLite file of one's choosing, e.g. on tmpfs, to take the disk's `fsync` out of a figure.)

The load generators share the machine's cores with the server.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, cookie_header, db_writes, db_writes_per, free_port, process_cpu, rss_kib, sign_in, thread_cpu  # noqa: E402

PASSWORD = "a load test passphrase"
REDIRECT = "http://127.0.0.1:9/cb"


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def answer_once(srv, path, body, headers):
    """One request as the wrk run will send it: the status and the JSON answer."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("POST", path, body, headers)
    res = conn.getresponse()
    answer = res.read()
    conn.close()
    return res.status, json.loads(answer or b"null")


def client_token(srv, auth):
    """A client-credentials access token for the client `auth` (a Basic header) names."""
    status, answer = answer_once(srv, "/token", "grant_type=client_credentials",
                                 {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise RuntimeError(f"client_credentials: {status} {answer}")
    return answer["access_token"]


def user_token(srv, rp_secret):
    """The authorization-code flow with PKCE, as a browser and an app would run it."""
    status, jar = sign_in(srv.port, "load@example.com", PASSWORD, "127.0.0.1", "load/1.0")
    if status != 303:
        raise RuntimeError(f"sign-in answered {status}")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "load-rp", "redirect_uri": REDIRECT,
                                "scope": "openid email", "state": "s", "nonce": "n",
                                "code_challenge": challenge, "code_challenge_method": "S256"})
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", f"/authorize?{q}", headers={"Cookie": cookie_header(jar), "User-Agent": "load/1.0"})
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location") or ""
    code = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).get("code", [None])[0]
    if not code:
        raise RuntimeError(f"authorize answered {r.status} {loc}")
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT, "code_verifier": verifier})
    c.request("POST", "/token", body=form, headers={"Authorization": basic("load-rp", rp_secret),
                                                    "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    body = json.loads(r.read())
    return body["access_token"]


def wrk(url, conns, seconds, script=None, headers=()):
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return round(float(m.group(1)) * unit[m.group(2)], 2) if m else None

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    # "Latency  avg  stdev  max  +/-stdev": the slowest answer (a tail past p99 shows here).
    top = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\s", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p999 = re.search(r"^p99\.9 (\d+)$", out, re.M)
    return {"per_s": round(float(rate.group(1))), "requests": int(done.group(1)) if done else None,
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "p99_9_ms": round(int(p999.group(1)) / 1000, 2) if p999 else None,
            "max_ms": round(float(top.group(1)) * unit[top.group(2)], 2) if top else None,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def autogroup_enabled():
    """`kernel.sched_autogroup_enabled` (1: each session's processes are scheduled as one group
    against other sessions', so a thread's nice or idle class counts only inside its session);
    None where the kernel has no such setting."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def cpu_cgroup():
    """The CPU cgroup this tool, and so the server it starts, runs in ("/" is none of its
    own): a group of its own decides PostgreSQL's waits as autogroups do (docs/benchmarks.md,
    "PostgreSQL's flood tail is the kernel's autogroups"). The v1 `cpu` controller's path, else
    the v2 path; None where unreadable."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return None
    v1 = [path for _, controllers, path in lines if "cpu" in controllers.split(",")]
    v2 = [path for _, controllers, path in lines if controllers == ""]
    return (v1 or v2 or [None])[0]


def post_script(dirpath, name, body, auth, content_type="application/x-www-form-urlencoded"):
    path = os.path.join(dirpath, f"{name}.lua")
    body = body.replace("\\", "\\\\").replace('"', '\\"')
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n'
                f'wrk.body = "{body}"\n'
                f'wrk.headers["Content-Type"] = "{content_type}"\n'
                f'wrk.headers["Authorization"] = "{auth}"\n'
                # The tail past p99 (wrk's --latency stops there), in microseconds.
                'done = function(summary, latency, requests)\n'
                '  io.write(string.format("p99.9 %d\\n", latency:percentile(99.9)))\n'
                'end\n')
    return path


FAST_FLOOD = r"""
-- Sign-ins of unknown accounts from random addresses, as fast as the server answers: one
-- session's cookie and CSRF token (as an attacker's tool would reuse them), a new address and
-- username per request.
math.randomseed(os.time())
local cookie, csrf = os.getenv("FLOOD_COOKIE"), os.getenv("FLOOD_CSRF")
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) statuses = {} end
request = function()
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  local body = string.format("username=nobody%d%%40example.com&password=wrong+guess&csrf_token=%s",
                             math.random(1, 1000000000), csrf)
  return wrk.format("POST", "/login", {["X-Forwarded-For"] = ip, ["Cookie"] = cookie,
                    ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
response = function(status, headers, body)
  local key = tostring(status)
  if status == 503 and (headers["retry-after"] or headers["Retry-After"]) then key = "503+retry_after" end
  statuses[key] = (statuses[key] or 0) + 1
end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do io.write(string.format("status %s %d\n", k, v)) end
  end
  io.write(string.format("p99 %d\n", latency:percentile(99)))
end
"""


def fast_flood(srv, conns, seconds, dirpath, device=False):
    """`wrk` running FAST_FLOOD for `seconds` with `conns` connections (started, not waited
    for); the session comes from one real `GET /login`. With `device`, every attempt also
    carries the device cookie the load account's own sign-in gave a browser (an attacker's
    own account's)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/login", headers={"X-Forwarded-For": "10.255.255.1"})
    r = c.getresponse()
    body = r.read().decode()
    cookie = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
    if device:
        status, jar = sign_in(srv.port, "load@example.com", PASSWORD, "127.0.0.1", "load/1.0")
        devices = [f"{k}={v}" for k, v in jar.items() if "device" in k]
        if status != 303 or not devices:
            raise SystemExit(f"no device cookie from the load account's sign-in ({status})")
        cookie = "; ".join([cookie, *devices])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    script = os.path.join(dirpath, "fast_flood.lua")
    with open(script, "w") as f:
        f.write(FAST_FLOOD)
    return subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s", "-s", script,
                             srv.url("/login")], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "FLOOD_COOKIE": cookie, "FLOOD_CSRF": urllib.parse.quote(csrf)})


def fast_flood_result(proc):
    out = proc.communicate()[0]
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^p99 (\d+)$", out, re.M)
    return {"per_s": round(float(rate.group(1))) if rate else None,
            "statuses": {m.group(1): int(m.group(2)) for m in re.finditer(r"^status (\S+) (\d+)$", out, re.M)},
            "p99_ms": round(int(p99.group(1)) / 1000, 1) if p99 else None}


def hash_counts(metrics_port):
    """Hashes run and those the steady hash thread ran again for a starved helper (the first
    instance's metrics listener)."""
    c = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    def value(name):
        m = re.search(rf"^{name}(?:{{[^}}]*}})? ([\d.e+]+)$", text, re.M)
        return int(float(m.group(1))) if m else 0
    return {"run": value("authd_password_hash_seconds_count"),
            "rescued": value("authd_hash_jobs_rescued_total")}


def percentile(values, q):
    """The q-th percentile (nearest rank) of `values` in ms, rounded; None if there are none."""
    ms = sorted(values)
    return round(ms[max(0, -(-len(ms) * q // 100) - 1)], 1) if ms else None


def flood(port, stop, counts, lock):
    """Sign-ins of unknown accounts from random addresses, one after another."""
    while not stop.is_set():
        ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/login", headers={"X-Forwarded-For": ip})
            r = conn.getresponse()
            body = r.read().decode()
            jar = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
            m = re.search(r'name="csrf_token" value="([^"]+)"', body)
            if not m:
                key = f"get_{r.status}"
            else:
                form = urllib.parse.urlencode({"username": f"nobody{random.randrange(10**9)}@example.com",
                                               "password": "wrong guess", "csrf_token": m.group(1)})
                conn.request("POST", "/login", body=form, headers={
                    "X-Forwarded-For": ip, "Cookie": jar, "Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                r.read()
                key = str(r.status) + ("+retry_after" if r.status == 503 and r.getheader("Retry-After") else "")
        except OSError:
            key = "error"
        finally:
            conn.close()
        with lock:
            counts[key] = counts.get(key, 0) + 1
            counts.setdefault("_ms", {}).setdefault(key, []).append((time.monotonic() - t0) * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--flood", type=int, default=0, help="concurrent unknown-account sign-ins during the run")
    ap.add_argument("--fast-flood", type=int, default=0,
                    help="connections of a wrk sign-in flood (unknown accounts, random addresses, one "
                         "session) during the whole run: as fast as the server answers")
    ap.add_argument("--flood-device", action="store_true",
                    help="the fast flood also sends the device cookie of the load account's own browser")
    ap.add_argument("--database-url")
    ap.add_argument("--only", help="comma-separated subset of healthz,userinfo,token,introspect,risk "
                                   "(risk only when named)")
    ap.add_argument("--token-conns", type=int, default=8, help="connections for token and introspect")
    ap.add_argument("--instances", type=int, default=1, help="servers on the one database (PostgreSQL), each loaded by its own wrk")
    ap.add_argument("--seed-accounts", type=int, default=0, help="accounts written into the database first")
    ap.add_argument("--seed-events", type=int, default=0, help="events written into the database first")
    ap.add_argument("--hash-counts", action="store_true",
                    help="open the metrics listener and report the hashes run and rescued (off by default: "
                         "the figures in docs/benchmarks.md were taken without it)")
    args = ap.parse_args()

    settings = {"AUTHD_RATE_TOKEN_PER_CLIENT": "100000000", "AUTHD_RATE_LOGIN_PER_IP": "1000000"}
    metrics_port = free_port() if args.hash_counts else None
    if metrics_port:
        settings["AUTHD_METRICS_BIND"] = f"127.0.0.1:{metrics_port}"
    srv = Server(args.binary, settings, args.database_url)
    others = []
    try:
        srv.cli("user", "add", "load@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        rp = json.loads(srv.cli("client", "add", "load-rp", "--redirect-uri", REDIRECT, "--first-party",
                                "--scope", "openid", "--scope", "email", "--grant", "authorization_code",
                                "--grant", "client_credentials"))
        cc = json.loads(srv.cli("client", "add", "load-cc", "--grant", "client_credentials"))
        srv.seed(args.seed_accounts, args.seed_events)
        srv.start()
        others.extend(srv.sibling() for _ in range(args.instances - 1))
        for o in others:
            o.start()
        access = user_token(srv, rp["client_secret"])
        stop, lock, flood_counts = threading.Event(), threading.Lock(), {}
        flooders = [threading.Thread(target=flood, args=(srv.port, stop, flood_counts, lock), daemon=True)
                    for _ in range(args.flood)]
        for t in flooders:
            t.start()
        with tempfile.TemporaryDirectory() as d:
            only = args.only.split(",") if args.only else ["healthz", "userinfo", "token", "introspect"]
            fast = (fast_flood(srv, args.fast_flood, len(only) * (args.seconds + 3) + 4, d,
                                args.flood_device)
                    if args.fast_flood else None)
            if flooders or fast:
                time.sleep(2)
            cc_auth = basic("load-cc", cc["client_secret"])
            rp_auth = basic("load-rp", rp["client_secret"])
            # The path the figures are meant to be: the audience's introspection is active.
            status, answer = answer_once(srv, "/introspect", f"token={access}", {
                "Authorization": rp_auth, "Content-Type": "application/x-www-form-urlencoded"})
            if status != 200 or not (answer or {}).get("active"):
                raise RuntimeError(f"introspection by the audience: {status} {answer}")
            def on_all(path, conns, script=None, headers=()):
                """The same wrk run against every instance at once; rates summed, tails the worst."""
                out = [None] * (1 + len(others))
                threads = [threading.Thread(target=lambda i=i, x=x: out.__setitem__(
                    i, wrk(x.url(path), conns, args.seconds, script, headers)))
                    for i, x in enumerate([srv, *others])]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if len(out) == 1:
                    return out[0]
                return {"per_s": sum(o["per_s"] for o in out), "per_instance": out,
                        "p99_ms": max(o["p99_ms"] or 0 for o in out),
                        "non_2xx": sum(o["non_2xx"] for o in out)}

            runs = {
                "healthz": lambda: on_all("/healthz", 32),
                "userinfo": lambda: on_all("/userinfo", 32, headers=[f"Authorization: Bearer {access}"]),
                "token": lambda: on_all("/token", args.token_conns,
                                        post_script(d, "token", "grant_type=client_credentials", cc_auth)),
                "introspect": lambda: on_all("/introspect", args.token_conns,
                                             post_script(d, "introspect", f"token={access}", rp_auth)),
                "risk": lambda: on_all("/risk/evaluate", args.token_conns, post_script(
                    d, "risk", json.dumps({"token": access, "ip": "198.51.100.7",
                                           "user_agent": "load/1.0"}),
                    f"Bearer {client_token(srv, rp_auth)}", "application/json")),
            }
            result = {}
            for name in only:
                before, cpu_before, t0 = db_writes(srv.proc.pid), thread_cpu(srv.proc.pid), time.monotonic()
                total_before = process_cpu(srv.proc.pid)
                result[name] = runs[name]()
                # Cores each of the server's thread groups used during the run (with a flood:
                # what the flood's requests, hashes and images take beside this path's).
                # `total` is the whole process's (threads that ended during the run included,
                # which the groups miss; a group whose threads ended can show less than zero).
                spent, wall = thread_cpu(srv.proc.pid), time.monotonic() - t0
                result[name]["server_cores"] = {k: round((v - cpu_before.get(k, 0.0)) / wall, 3)
                                                for k, v in sorted(spent.items())
                                                if v != cpu_before.get(k, 0.0)}
                result[name]["server_cores"]["total"] = round(
                    (process_cpu(srv.proc.pid) - total_before) / wall, 3)
                if name == "token" and not args.database_url and not args.flood and not args.fast_flood:
                    # What each token answer's event costs the database (SQLite, no flood: the
                    # flood's own writes would be counted too).
                    result[name]["db_writes_per_request"] = db_writes_per(
                        before, db_writes(srv.proc.pid), result[name]["requests"])
            result["rss_mib"] = [round(rss_kib(x.proc.pid, "VmHWM") / 1024, 1) for x in [srv, *others]]
            wal = os.path.join(srv.tmp, "authd.db-wal")
            if os.path.exists(wal):
                result["wal_mib"] = round(os.path.getsize(wal) / 2**20, 1)
            if metrics_port:
                result["hashes"] = hash_counts(metrics_port)
            if fast:
                result["fast_flood"] = {"connections": args.fast_flood, **fast_flood_result(fast)}
        stop.set()
        for t in flooders:
            t.join(timeout=35)
        if flooders:
            by_status = flood_counts.pop("_ms", {})
            # Each attempt's time (GET /login and POST /login) in all, and per answer: the
            # excess's `503`s apart from the `401`s that waited for a hash ("quickly, never a
            # timeout").
            result["flood"] = {"clients": args.flood, "statuses": flood_counts,
                               "p99_ms": percentile([m for ms in by_status.values() for m in ms], 99),
                               "by_status": {k: {"p50_ms": percentile(ms, 50), "p75_ms": percentile(ms, 75),
                                                 "p90_ms": percentile(ms, 90), "p99_ms": percentile(ms, 99),
                                                 "max_ms": percentile(ms, 100)}
                                             for k, ms in sorted(by_status.items())}}
        result["engine"] = "postgres" if (args.database_url or "").startswith("postgres") else "sqlite"
        # Whether the kernel groups processes by session (docs/benchmarks.md, "PostgreSQL's
        # flood tail is the kernel's autogroups"): it decides how far PostgreSQL waits for a core.
        result["sched_autogroup"] = autogroup_enabled()
        result["cpu_cgroup"] = cpu_cgroup()
        # Whether the servers ran in a session of their own (`LOAD_SERVER_SESSION=1`, as a
        # service manager starts them) or in this tool's, with its load generators.
        result["server_session"] = "own" if os.environ.get("LOAD_SERVER_SESSION") == "1" else "load"
        result["instances"] = args.instances
        result["seeded"] = {"accounts": args.seed_accounts, "events": args.seed_events}
        print(json.dumps(result))
    finally:
        for o in others:
            o.stop()
        srv.stop()


if __name__ == "__main__":
    main()
