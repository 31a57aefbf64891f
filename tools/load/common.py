"""Shared parts of the load tools: a real authd process on a fresh database, and a browser-like
sign-in over plain HTTP. Only the Python standard library."""

import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse


MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "migrations", "sqlite")


def schema_before(db, migration):
    """Applies `migrations/sqlite` up to (not including) the one whose name starts with
    `migration` to the `sqlite3` connection `db`; returns that migration's SQL."""
    import glob
    files = sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql")))
    for f in files:
        with open(f) as sql:
            if os.path.basename(f).startswith(migration):
                return sql.read()
            db.executescript(sql.read())
    raise FileNotFoundError(migration)


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


def rss_mib(pid, field="VmRSS"):
    """`rss_kib` in MiB, to a tenth."""
    return round(rss_kib(pid, field) / 1024, 1)


def thread_cpu(pid):
    """CPU seconds (user + system) the process's threads have used so far, summed per thread
    group: the thread name without its trailing number (`authd-hash-0` and `authd-hash-1` are
    `authd-hash`; tokio's workers `tokio-rt-worker`; sqlx's SQLite threads `sqlx-sqlite-worker`,
    which Linux cuts to 15 characters)."""
    groups = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended between the listing and the read
        name = re.sub(r"[-_]?\d+$", "", stat[stat.index("(") + 1:stat.rindex(")")])
        groups[name] = groups.get(name, 0.0) + cpu_seconds(stat)
    return groups


def cpu_seconds(stat):
    """User + system CPU seconds of a `/proc/.../stat` line (fields 14 and 15; the name in
    parentheses may hold spaces, so fields are counted after its closing one)."""
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid):
    """CPU seconds (user + system) the whole process has used so far, threads that have ended
    included (`/proc/PID/stat`)."""
    with open(f"/proc/{pid}/stat") as f:
        return cpu_seconds(f.read())


def db_writes(pid):
    """Bytes and write calls the process's SQLite threads (`sqlx-sqlite-worker`, and the WAL's
    background copy) have issued so far: `wchar` and `syscw` of /proc/PID/task/TID/io. These
    threads touch only the database files, so this is what the database wrote (log frames,
    checkpoint copies), counted at the system call, before the page cache."""
    total = {"bytes": 0, "calls": 0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("sqlx-sqlite"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/io") as f:
                io = dict(line.split(": ") for line in f.read().splitlines())
        except OSError:
            continue  # the thread ended between the listing and the read
        total["bytes"] += int(io["wchar"])
        total["calls"] += int(io["syscw"])
    return total


def db_writes_per(before, after, count):
    """KiB and write calls per unit of work between two `db_writes` readings."""
    if not count:
        return None
    return {"kib": round((after["bytes"] - before["bytes"]) / 1024 / count, 2),
            "calls": round((after["calls"] - before["calls"]) / count, 2)}


def cpu_ms_per(before, after, count):
    """Milliseconds of CPU per unit of work (`count` units between the two `thread_cpu`
    readings) for each thread group, and `outside_hashing` for all but the hash threads. Less
    sensitive than a rate to a shared machine's drift: it counts what the server spent, not
    what it got."""
    if not count:
        return {}
    spent = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    per = {k: round(1e3 * v / count, 3) for k, v in sorted(spent.items()) if v > 0}
    per["outside_hashing"] = round(
        1e3 * sum(v for k, v in spent.items() if not k.startswith("authd-hash")) / count, 3)
    return per


class Server:
    """`authd serve` on a fresh SQLite database in a temporary directory (or on `database_url`),
    migrated first; the caller's AUTHD_*, MALLOC_* and TOKIO_* variables win over `settings`,
    except its database URL and master key (the tool's own scratch database only)."""

    def __init__(self, binary, settings=None, database_url=None, migrate=True):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="authd-load-")
        self.port = free_port()
        self.env = {"PATH": os.environ["PATH"], "AUTHD_BIND": f"127.0.0.1:{self.port}",
                    "AUTHD_ISSUER": f"http://127.0.0.1:{self.port}", "AUTHD_METRICS_BIND": "",
                    "RUST_LOG": os.environ.get("LOAD_RUST_LOG", "error"), "AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_LOG_FORMAT": "plain"}
        if database_url:
            import base64
            self.env["AUTHD_DATABASE_URL"] = database_url
            # PostgreSQL needs the master key given (every instance shares it).
            self.env["AUTHD_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        self.env.update(settings or {})
        # Never the caller's database or master key: an operator's shell with them exported
        # would have the tool migrate, seed and flood that database.
        keep_ours = ("AUTHD_DATABASE_URL", "AUTHD_DATABASE_URL_FILE", "AUTHD_MASTER_KEY",
                     "AUTHD_MASTER_KEY_FILE", "AUTHD_MASTER_KEY_PATH")
        self.env.update({k: v for k, v in os.environ.items()
                         if k.startswith(("AUTHD_", "MALLOC_", "TOKIO_")) and k not in keep_ours})
        self.proc = None
        if migrate:
            self.cli("migrate")

    def sibling(self):
        """A second instance on the same database, master key and issuer (another port)."""
        other = Server.__new__(Server)
        other.binary, other.proc = self.binary, None
        other.tmp = tempfile.mkdtemp(prefix="authd-load-")
        other.port = free_port()
        other.env = {**self.env, "AUTHD_BIND": f"127.0.0.1:{other.port}", "AUTHD_METRICS_BIND": ""}
        return other

    def seed(self, accounts, events):
        """`accounts` accounts and `events` events (over the last week) written straight into
        the database, before the server starts (figures "with 1 million events and 100 000
        accounts in the database")."""
        now = int(time.time())
        statements = []
        if accounts:
            statements.append(
                f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {accounts}) "
                "insert into account (id, email, password_hash, is_admin, created_at, updated_at, "
                "session_epoch, require_mfa) select 'seed-' || i, 'seed' || i || '@example.com', "
                "'$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', false, 1700000000, 1700000000, 0, false from n")
        if events:
            per = max(accounts, 1)
            statements.append(
                f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {events}) "
                "insert into event (id, ts, kind, ip, user_agent, user_id, username, created_at, decision, "
                f"decision_code) select 'seedev-' || i, {now * 1000} - i * 600, "
                "case i % 4 when 0 then 'login_failed' else 'login_succeeded' end, "
                "'198.51.' || (i % 256) || '.' || (i / 256 % 256), 'seed/1.0', "
                f"'seed-' || (i % {per} + 1), 'seed' || (i % {per} + 1) || '@example.com', {now}, "
                "'allow', 'allow' from n")
        url = self.env.get("AUTHD_DATABASE_URL")
        for sql in statements:
            if url and url.startswith("postgres"):
                subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)
            else:
                import sqlite3
                db = sqlite3.connect(os.path.join(self.tmp, "authd.db"))
                db.execute(sql)
                db.commit()
                db.close()

    def cli(self, *args, stdin=None):
        return subprocess.run([self.binary, *args], cwd=self.tmp, env=self.env, input=stdin,
                              capture_output=True, text=True, check=True).stdout

    def start(self, prefix=(), tries=300):
        """Starts `authd serve` (under `prefix`, e.g. valgrind) and waits up to `tries` tenths
        of a second for `/readyz`."""
        # LOAD_SERVER_SESSION=1: the server in a session of its own (`setsid`), as a service
        # manager starts it, instead of in the load generators' (docs/benchmarks.md, "Two
        # instances: the tail was the kernel's, not a core's").
        own = os.environ.get("LOAD_SERVER_SESSION") == "1"
        self.proc = subprocess.Popen([*prefix, self.binary, "serve"], cwd=self.tmp, env=self.env,
                                     start_new_session=own)
        for _ in range(tries):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("authd did not become ready")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def cookies_of(resp, jar):
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie":
            name, _, value = v.split(";")[0].partition("=")
            jar[name] = value
    return jar


def cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def sign_in(port, email, password, ip, ua, jar=None):
    """One browser sign-in (GET /login, POST /login) on a fresh connection; returns the POST's
    status (or "error") and the cookie jar."""
    jar = {} if jar is None else jar
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        head = {"X-Forwarded-For": ip, "User-Agent": ua}
        conn.request("GET", "/login", headers=head)
        r = conn.getresponse()
        body = r.read().decode()
        cookies_of(r, jar)
        m = re.search(r'name="csrf_token" value="([^"]+)"', body)
        if r.status != 200 or not m:
            return r.status, jar
        form = urllib.parse.urlencode({"username": email, "password": password, "csrf_token": m.group(1)})
        conn.request("POST", "/login", body=form, headers={
            **head, "Cookie": cookie_header(jar), "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        cookies_of(r, jar)
        return r.status, jar
    except OSError:
        return "error", jar
    finally:
        conn.close()
