"""authd from another ecosystem: Authlib's OAuth 2.0 client and PyJWT's JWKS client run the
authorization-code flow with PKCE through authd's real sign-in form, then verify, refresh,
introspect and revoke. Started by .ci/run in a venv; needs AUTHD_BIN (the built binary)."""

import json
import os
import re
import socket
import subprocess
import tempfile
import time
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

# The test server speaks plain http on loopback.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

BIN = os.environ.get("AUTHD_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "target")), "debug", "authd"
)
REDIRECT = "http://127.0.0.1:7777/callback"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    tmp = tempfile.mkdtemp(prefix="authd-py-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PATH": os.environ["PATH"], "AUTHD_BIND": f"127.0.0.1:{port}", "AUTHD_ISSUER": base, "RUST_LOG": "warn",
           # No metrics listener: it would take the fixed default port (9464).
           "AUTHD_METRICS_BIND": ""}

    def cli(*args, stdin=None):
        out = subprocess.run([BIN, *args], cwd=tmp, env=env, input=stdin, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    # Commands other than serve and migrate never create the database.
    cli("migrate")
    client = cli("client", "add", "py-app", "--redirect-uri", REDIRECT, "--grant", "authorization_code",
                 "--grant", "refresh_token", "--first-party")
    cli("user", "add", "py@example.com", "--password-stdin", stdin="python passphrase\n")
    proc = subprocess.Popen([BIN, "serve"], cwd=tmp, env=env)
    for _ in range(200):
        try:
            if requests.get(f"{base}/readyz", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield {"base": base, "client_id": client["client_id"], "client_secret": client["client_secret"]}
    proc.terminate()
    proc.wait(timeout=10)


def sign_in_through_the_form(url):
    """Plays the browser: authorize -> /login form -> back to authorize -> redirect to the client."""
    browser = requests.Session()
    base = f"{urlparse(url).scheme}://{urlparse(url).netloc}"
    r = browser.get(url, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    login = base + r.headers["location"]
    form = browser.get(login, allow_redirects=False)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = browser.post(login, data={"username": "py@example.com", "password": "python passphrase", "csrf_token": csrf},
                     allow_redirects=False)
    assert r.status_code == 303, r.text
    r = browser.get(base + r.headers["location"], allow_redirects=False)
    assert r.status_code == 303
    return r.headers["location"]


def test_authlib_and_pyjwt_interoperate(server):
    meta = requests.get(server["base"] + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == server["base"]
    assert "S256" in meta["code_challenge_methods_supported"]

    session = OAuth2Session(server["client_id"], server["client_secret"], scope="openid email",
                            redirect_uri=REDIRECT, code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(64)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    callback = sign_in_through_the_form(url)
    assert parse_qs(urlparse(callback).query)["state"] == [state]

    token = session.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert token["token_type"] == "Bearer" and "refresh_token" in token

    jwks = jwt.PyJWKClient(meta["jwks_uri"])
    id_key = jwks.get_signing_key_from_jwt(token["id_token"])
    claims = jwt.decode(token["id_token"], id_key.key, algorithms=["RS256"], audience=server["client_id"],
                        issuer=server["base"])
    assert claims["nonce"] == nonce
    assert claims["email"] == "py@example.com"

    header = jwt.get_unverified_header(token["access_token"])
    assert header["typ"] == "at+jwt"
    at_key = jwks.get_signing_key_from_jwt(token["access_token"])
    at = jwt.decode(token["access_token"], at_key.key, algorithms=[header["alg"]], audience=server["client_id"],
                    issuer=server["base"])
    assert at["client_id"] == server["client_id"] and at["sub"] == claims["sub"]

    info = session.get(meta["userinfo_endpoint"]).json()
    # Added on the command line: an operator vouched for the address, and both say so.
    assert claims["email_verified"] is True
    assert info == {"sub": claims["sub"], "email": "py@example.com", "email_verified": True}

    old_refresh = token["refresh_token"]
    new = session.refresh_token(meta["token_endpoint"])
    assert new["refresh_token"] != old_refresh

    auth = (server["client_id"], server["client_secret"])
    active = requests.post(meta["introspection_endpoint"], auth=auth, data={"token": new["access_token"]}).json()
    assert active["active"] is True and active["client_id"] == server["client_id"]

    r = session.revoke_token(meta["revocation_endpoint"], token=new["refresh_token"], token_type_hint="refresh_token")
    assert r.status_code == 200
    after = requests.post(meta["introspection_endpoint"], auth=auth, data={"token": new["access_token"]}).json()
    assert after == {"active": False}

    # Replaying the first refresh token is reuse: refused.
    r = requests.post(meta["token_endpoint"], auth=auth, data={"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
