"""A Flask app that signs its users in through authd (OpenID Connect, authorization code + PKCE,
with Authlib), shows who they are and how they signed in (`amr`, `acr`), calls its JSON API
(`examples/risk_api.rs`) with the user's access token, and signs out through authd's
`end_session_endpoint`.

    pip install -r examples/flask_app/requirements.txt
    AUTHD_URL=http://127.0.0.1:8080 CLIENT_ID=shop CLIENT_SECRET=... flask --app examples/flask_app/app run -p 5000

Configuration (environment): AUTHD_URL (authd's issuer), CLIENT_ID and CLIENT_SECRET (a
confidential client whose redirect URI is http://127.0.0.1:5000/callback and whose post-logout
redirect URI is http://127.0.0.1:5000/), APP_SECRET_KEY (signs Flask's session cookie; random per
start when unset), API_URL (where risk_api listens, default http://127.0.0.1:8090), APP_URL (the
app's public URL: under https the session cookie is `Secure`), TRUSTED_PROXY_HOPS (behind a
reverse proxy, how many `X-Forwarded-For` hops to believe: the user's address the risk check
sees; unset, the peer's address, which is the proxy's when there is one).

Tokens and the signed-in user stay on the server (an in-memory dict keyed by a random id in the
session cookie): Flask's default session is signed, not encrypted, and lives in the cookie, so
a copy of a cookie taken before sign-out would still say "signed in" if the user were kept
there; an access token must not travel in a cookie at all. A record ends at sign-out and when
its access token expires.
"""

import os
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, render_template_string, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

AUTHD_URL = os.environ.get("AUTHD_URL", "http://127.0.0.1:8080").rstrip("/")
API_URL = os.environ.get("API_URL", "http://127.0.0.1:8090").rstrip("/")
if AUTHD_URL.startswith("http://"):
    # Authlib refuses plain http unless told; only for a local authd.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

app = Flask(__name__)
app.secret_key = os.environ.get("APP_SECRET_KEY") or secrets.token_hex(32)
app.config.update(
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    SESSION_COOKIE_SECURE=os.environ.get("APP_URL", "").startswith("https://"),
    PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
)
if os.environ.get("TRUSTED_PROXY_HOPS"):
    # Believe that many X-Forwarded-For hops (the proxy's own), never more.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(os.environ["TRUSTED_PROXY_HOPS"]), x_proto=1)

oauth = OAuth(app)
oauth.register(
    "authd",
    server_metadata_url=f"{AUTHD_URL}/.well-known/openid-configuration",
    client_id=os.environ["CLIENT_ID"],
    client_secret=os.environ["CLIENT_SECRET"],
    client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
)

# Server-side store: session id -> {"token": token response, "user": claims shown}; a real app
# would use its database.
TOKENS = {}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tea shop</title></head>
<body>
<h1>Tea shop</h1>
{% if user %}
  <p data-user-email>Signed in as <strong>{{ user.email }}</strong></p>
  <p>How you signed in: <span data-amr>{{ user.amr | join(" ") }}</span>
     (<span data-acr>{{ user.acr }}</span>)</p>
  <p><a href="{{ url_for('orders') }}">Your orders</a> (asks the API)</p>
  <form method="post" action="{{ url_for('logout') }}"><button>Sign out</button></form>
{% else %}
  <p data-signed-out>You are not signed in.</p>
  <p><a href="{{ url_for('login') }}">Sign in</a></p>
{% endif %}
{% if api %}<h2>API answer ({{ api.status }})</h2><pre data-api-status="{{ api.status }}">{{ api.body }}</pre>{% endif %}
</body></html>"""


def signed_in():
    """The server-side record of this browser's sign-in, if it is still live: the only truth (a
    session cookie copied before sign-out finds nothing here)."""
    sid = session.get("sid", "")
    rec = TOKENS.get(sid)
    if rec and rec["token"].get("expires_at", 0) <= time.time():
        TOKENS.pop(sid, None)
        rec = None
    return rec


def current_user():
    rec = signed_in()
    return rec and rec["user"]


@app.get("/")
def home():
    return render_template_string(PAGE, user=current_user(), api=None)


@app.get("/login")
def login():
    return oauth.authd.authorize_redirect(url_for("callback", _external=True))


@app.get("/callback")
def callback():
    token = oauth.authd.authorize_access_token()
    claims = token["userinfo"]  # the verified ID token's claims (signature, iss, aud, nonce)
    session.clear()
    sid = secrets.token_urlsafe(32)
    TOKENS[sid] = {
        "token": token,
        "user": {
            "sub": claims["sub"],
            "email": claims.get("email"),
            "amr": claims.get("amr", []),
            "acr": claims.get("acr"),
        },
    }
    session["sid"] = sid
    return redirect(url_for("home"))


@app.get("/orders")
def orders():
    rec = signed_in()
    if not rec:
        return redirect(url_for("login"))
    token = rec["token"]
    # The API believes X-Forwarded-For from this app only (API_TRUSTED_PROXY): pass on where the
    # user really is and which browser they use, so the risk check sees the user's context.
    r = requests.get(
        f"{API_URL}/orders",
        headers={
            "Authorization": f"Bearer {token['access_token']}",
            "User-Agent": request.headers.get("User-Agent", ""),
            "X-Forwarded-For": request.remote_addr or "",
        },
        timeout=10,
    )
    return render_template_string(PAGE, user=current_user(), api={"status": r.status_code, "body": r.text}), (
        200 if r.ok else 502 if r.status_code >= 500 else r.status_code
    )


@app.post("/logout")
def logout():
    rec = TOKENS.pop(session.get("sid", ""), None)
    token = rec and rec["token"]
    session.clear()
    meta = oauth.authd.load_server_metadata()
    params = {"post_logout_redirect_uri": url_for("home", _external=True)}
    if token and token.get("id_token"):
        params["id_token_hint"] = token["id_token"]
    return redirect(f"{meta['end_session_endpoint']}?{urlencode(params)}")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
