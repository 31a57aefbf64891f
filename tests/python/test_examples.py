"""The integration kit against a real authd: the Flask example (examples/flask_app) signs a user in
through authd's pages with Authlib, shows the user and their `amr`, calls the risk-hooked JSON API
(examples/risk_api.rs) and signs out through `end_session`; the API accepts its owner's token in the
owner's context and refuses the same token used from elsewhere, a forged token and no token.
Started by .ci/run in its venv; needs AUTHD_BIN and RISK_API_BIN (built by `cargo test`)."""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("AUTHD_BIN") or os.path.join(TARGET, "debug", "authd")
API_BIN = os.environ.get("RISK_API_BIN") or os.path.join(TARGET, "debug", "examples", "risk_api")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
EMAIL, PASSWORD = "kit@example.com", "a kettle of tea leaves"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, proc):
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process serving {url} exited with {proc.returncode}"
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="module")
def kit():
    tmp = tempfile.mkdtemp(prefix="authd-kit-")
    port, app_port, api_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    # The app on "localhost", authd on "127.0.0.1": two hosts, two cookie jars, as in production.
    app_base = f"http://localhost:{app_port}"
    env = {"PATH": os.environ["PATH"], "AUTHD_BIND": f"127.0.0.1:{port}", "AUTHD_ISSUER": base,
           "RUST_LOG": "warn", "AUTHD_METRICS_BIND": ""}

    def cli(*args, stdin=None):
        out = subprocess.run([BIN, *args], cwd=tmp, env=env, input=stdin, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    # Commands other than serve and migrate never create the database.
    cli("migrate")
    client = cli("client", "add", "shop", "--redirect-uri", f"{app_base}/callback",
                 "--post-logout-redirect-uri", f"{app_base}/", "--grant", "authorization_code",
                 "--grant", "client_credentials", "--first-party", "--name", "Tea shop")
    cli("user", "add", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    procs = [subprocess.Popen([BIN, "serve"], cwd=tmp, env=env)]
    wait_for(f"{base}/readyz", procs[-1])
    procs.append(subprocess.Popen([API_BIN], env={
        "PATH": os.environ["PATH"], "AUTHD_URL": base, "API_CLIENT_ID": "shop",
        "API_CLIENT_SECRET": client["client_secret"], "API_BIND": f"127.0.0.1:{api_port}",
        "API_TRUSTED_PROXY": "127.0.0.1"}))
    wait_for(f"http://127.0.0.1:{api_port}/orders", procs[-1])
    procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", "flask_app", "app.py")], env={
        "PATH": os.environ["PATH"], "AUTHD_URL": base, "CLIENT_ID": "shop",
        "CLIENT_SECRET": client["client_secret"], "API_URL": f"http://127.0.0.1:{api_port}",
        "PORT": str(app_port)}))
    wait_for(f"{app_base}/", procs[-1])
    yield {"base": base, "app": app_base, "api": f"http://127.0.0.1:{api_port}", "secret": client["client_secret"]}
    for p in reversed(procs):
        p.terminate()
        p.wait(timeout=10)


def sign_in(browser, login_url):
    """Fills authd's sign-in form at `login_url` and follows the redirects back to the app."""
    form = browser.get(login_url)
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return browser.post(form.url, data={"username": EMAIL, "password": PASSWORD, "csrf_token": csrf})


def test_flask_app_signs_in_calls_the_api_and_signs_out(kit):
    browser = requests.Session()
    browser.headers["User-Agent"] = FIREFOX
    home = browser.get(kit["app"] + "/")
    assert "data-signed-out" in home.text

    # The app sends the browser to authd's /authorize, which asks it to sign in.
    r = browser.get(kit["app"] + "/login")
    assert r.url.startswith(kit["base"] + "/login?next="), r.url
    assert "Tea shop" in r.text  # the sign-in page names the app
    page = sign_in(browser, r.url)
    assert page.url == kit["app"] + "/", page.url
    assert f"Signed in as <strong>{EMAIL}</strong>" in page.text
    assert re.search(r"data-amr>[^<]*\bpwd\b", page.text), page.text

    # The API, asked by the app with the user's token in the user's own context, answers.
    orders = browser.get(kit["app"] + "/orders")
    assert orders.status_code == 200, orders.text
    assert 'data-api-status="200"' in orders.text and "a pot of tea" in orders.text

    # Sign-out goes through authd's end_session and comes back to the app, signed out of both.
    kept = requests.utils.dict_from_cookiejar(browser.cookies)
    out = browser.post(kit["app"] + "/logout")
    assert out.url == kit["app"] + "/" and "data-signed-out" in out.text
    account = browser.get(kit["base"] + "/account", allow_redirects=False)
    assert account.status_code == 303 and account.headers["location"].startswith("/login")
    # A copy of the app's cookie taken before the sign-out signs nobody in: the app keeps the
    # sign-in on its server, not in the (signed, not revocable) cookie.
    replay = requests.Session()
    replay.cookies.update(kept)
    again = replay.get(kit["app"] + "/")
    assert "data-signed-out" in again.text, again.text
    assert replay.get(kit["app"] + "/orders", allow_redirects=False).status_code == 302


def token_for(kit):
    """An access token of the shop client for the user, got through the real sign-in form."""
    meta = requests.get(kit["base"] + "/.well-known/openid-configuration").json()
    oauth = OAuth2Session("shop", kit["secret"], scope="openid email", redirect_uri=kit["app"] + "/callback",
                          code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    browser = requests.Session()
    browser.headers["User-Agent"] = FIREFOX
    r = browser.get(url)
    form = browser.get(r.url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = browser.post(form.url, data={"username": EMAIL, "password": PASSWORD, "csrf_token": csrf},
                     allow_redirects=False)
    assert r.status_code == 303, r.text
    r = browser.get(kit["base"] + r.headers["location"], allow_redirects=False)
    callback = r.headers["location"]
    assert callback.startswith(kit["app"] + "/callback?")
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    return token["access_token"]


def test_the_api_refuses_a_token_used_where_the_risk_api_sees_risk(kit):
    token = token_for(kit)
    api = kit["api"] + "/orders"
    # The owner's context (the address and browser it signed in with): allowed.
    ok = requests.get(api, headers={"Authorization": f"Bearer {token}", "User-Agent": FIREFOX,
                                    "X-Forwarded-For": "127.0.0.1"})
    assert ok.status_code == 200, ok.text

    # The same token replayed from another network with another client: the risk API is asked,
    # and the API refuses (step-up per RFC 9470, or blocked).
    stolen = requests.get(api, headers={"Authorization": f"Bearer {token}", "User-Agent": "curl/8.5.0",
                                        "X-Forwarded-For": "203.0.113.77"})
    assert stolen.status_code in (401, 403), stolen.text
    if stolen.status_code == 401:
        challenge = stolen.headers["WWW-Authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge and "acr_values=" in challenge
    assert stolen.json()["reasons"], stolen.text

    # A forged token (signature changed) and no token at all: invalid_token, before any risk call.
    head, body, sig = token.split(".")
    forged = ".".join([head, body, ("A" if sig[0] != "A" else "B") + sig[1:]])
    r = requests.get(api, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = requests.get(api)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_flask_app_cookie_is_secure_under_https_and_proxy_hops_are_opt_in(monkeypatch):
    """Deployed under https the app's session cookie is `Secure`; behind a proxy it believes
    `X-Forwarded-For` only when told how many hops (the user's address is what the risk check
    needs, not the proxy's)."""
    import importlib.util

    from flask import request, session

    for k, v in {"CLIENT_ID": "shop", "CLIENT_SECRET": "x", "APP_URL": "https://shop.example",
                 "TRUSTED_PROXY_HOPS": "1"}.items():
        monkeypatch.setenv(k, v)
    spec = importlib.util.spec_from_file_location(
        "kit_app_https", os.path.join(ROOT, "examples", "flask_app", "app.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    @mod.app.get("/_probe")
    def probe():
        session["probe"] = 1
        return request.remote_addr or ""

    client = mod.app.test_client()
    r = client.get("/_probe", base_url="https://shop.example",
                   headers={"X-Forwarded-For": "203.0.113.77"}, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert r.text == "203.0.113.77", r.text
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie, cookie
