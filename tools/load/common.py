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


class Server:
    """`authd serve` on a fresh SQLite database in a temporary directory (or on `database_url`),
    migrated first; the caller's AUTHD_* and MALLOC_* variables win over `settings`."""

    def __init__(self, binary, settings=None, database_url=None):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="authd-load-")
        self.port = free_port()
        self.env = {"PATH": os.environ["PATH"], "AUTHD_BIND": f"127.0.0.1:{self.port}",
                    "AUTHD_ISSUER": f"http://127.0.0.1:{self.port}", "AUTHD_METRICS_BIND": "",
                    "RUST_LOG": "error", "AUTHD_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHD_LOG_FORMAT": "plain"}
        if database_url:
            import base64
            self.env["AUTHD_DATABASE_URL"] = database_url
            # PostgreSQL needs the master key given (every instance shares it).
            self.env["AUTHD_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        self.env.update(settings or {})
        self.env.update({k: v for k, v in os.environ.items() if k.startswith(("AUTHD_", "MALLOC_"))})
        self.proc = None
        self.cli("migrate")

    def cli(self, *args, stdin=None):
        return subprocess.run([self.binary, *args], cwd=self.tmp, env=self.env, input=stdin,
                              capture_output=True, text=True, check=True).stdout

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], cwd=self.tmp, env=self.env)
        for _ in range(300):
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
