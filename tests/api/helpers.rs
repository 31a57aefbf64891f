//! Test harness: `spawn_app()` and a cookie-keeping client with one method per endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use authd::app::state::AppState;
use authd::app::{Application, Deps};
use authd::config::Config;
use authd::domain::clock::{FakeClock, OsRandom};
use authd::events::{AuthEvent, EventFilter};
use reqwest::StatusCode;
use tokio::sync::oneshot;

/// The fields INTERFACE.md says every auth event has ("Auth events").
pub const EVENT_FIELDS: [&str; 11] = [
    "id",
    "ts",
    "kind",
    "ip",
    "user_agent",
    "user_id",
    "username",
    "client_id",
    "risk",
    "decision",
    "request_id",
];

/// The master key the harness gives every instance on PostgreSQL, where one is required (on
/// SQLite each test database gets the key generated beside it, the default).
pub const TEST_MASTER_KEY: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// A database for one test: a SQLite file in a temp dir, or a scratch PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
    _dir: Arc<tempfile::TempDir>,
    owner: bool,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())
        {
            Some(base) => {
                let (url, name) = authd::storage::postgres::create_scratch_database(&base)
                    .await
                    .expect("create scratch database");
                Self {
                    url,
                    pg: Some((base, name)),
                    _dir: Arc::new(dir),
                    owner: true,
                }
            }
            None => Self::sqlite(),
        }
    }
}

impl TestDb {
    /// A SQLite database in a temp dir, whatever `TEST_POSTGRES_URL` says (for what only
    /// SQLite has: files and their modes).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authd.db");
        Self {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            pg: None,
            _dir: Arc::new(dir),
            owner: true,
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self.pg
            .is_none()
            .then(|| authd::storage::sqlite::database_file(&self.url))
            .flatten()
    }

    /// The same database, for a second app instance; only the original drops it.
    pub fn share(&self) -> Self {
        Self {
            url: self.url.clone(),
            pg: self.pg.clone(),
            _dir: self._dir.clone(),
            owner: false,
        }
    }

    /// Drops the PostgreSQL database under a running app (a database outage); `false` on
    /// SQLite, whose open connections survive the file's removal.
    pub async fn take_down(&self) -> bool {
        match &self.pg {
            Some((base, name)) => {
                authd::storage::postgres::drop_database(base, name)
                    .await
                    .unwrap();
                true
            }
            None => false,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        if let Some((base, name)) = self.pg.take() {
            // Drop runs outside async context: use a private runtime on a plain thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(authd::storage::postgres::drop_database(&base, &name))
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener's base URL (`None` when the test turned it off).
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub clock: Arc<FakeClock>,
    pub state: AppState,
    pub mail_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    pub db: TestDb,
}

/// The test configuration: the only place tests spell keys as strings (and a typo there is
/// refused as an unknown key). Tests change typed fields of the result.
pub fn base_config(db: &TestDb, mail_dir: &std::path::Path) -> Config {
    let values: BTreeMap<String, String> = [
        ("bind", "127.0.0.1:0".to_owned()),
        // Every test app has its metrics listener, on a port of its own (never 9464).
        ("metrics_bind", "127.0.0.1:0".to_owned()),
        ("database_url", db.url.clone()),
        ("database_max_connections", "4".to_owned()),
        ("mail_dir", mail_dir.display().to_string()),
        ("mail_poll_ms", "20".to_owned()),
        // The delay rung holds failed answers in real time; tests of other things skip it.
        ("failure_delay_ms", "0".to_owned()),
    ]
    .into_iter()
    .chain(
        db.pg
            .is_some()
            .then(|| ("master_key", TEST_MASTER_KEY.to_owned())),
    )
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_values(&values).expect("valid base test config");
    assert!(config.unknown_keys.is_empty(), "{:?}", config.unknown_keys);
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(TestDb::new().await, adjust).await
}

/// Starts an app on a given database (a second instance sharing it, for example).
pub async fn spawn_app_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_test_logging();
    let mail_dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = base_config(&db, mail_dir.path());
    config.issuer = format!("http://{addr}").parse().unwrap();
    adjust(&mut config);
    config.validate().expect("valid test config");
    // The fake clock starts at the real time, so tokens also satisfy libraries that read the
    // wall clock themselves (openidconnect, PyJWT).
    let clock = Arc::new(FakeClock::new(authd::domain::clock::Clock::now(
        &authd::domain::clock::SystemClock,
    )));
    let deps = Deps {
        clock: clock.clone(),
        random: Arc::new(OsRandom),
    };
    let app = Application::build_with_listener(config, deps, listener)
        .await
        .expect("build app");
    let address = format!("http://{}", app.local_addr().unwrap());
    let metrics_address = app.metrics_addr().map(|a| format!("http://{a}"));
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        metrics_address,
        client: new_client(),
        clock,
        state,
        mail_dir,
        shutdown: Some(tx),
        db,
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent("authd-tests/1.0")
        .build()
        .unwrap()
}

fn init_test_logging() {
    if std::env::var("TEST_LOG").is_ok() {
        authd::app::telemetry::init_logging(authd::config::LogFormat::Pretty);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read fully.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn csrf(&self) -> String {
        csrf_from(&self.body)
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("authd_session="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    }
}

/// `AUTHD_TRUSTED_PROXIES`-style CIDRs, typed.
pub fn cidrs(list: &[&str]) -> Vec<ipnet::IpNet> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

pub fn csrf_from(body: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker).expect("csrf_token input in page") + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_owned()
}

pub async fn read(resp: reqwest::Response) -> Page {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap();
    Page {
        status,
        headers,
        body,
    }
}

pub struct TestUser {
    pub email: String,
    pub password: String,
}

impl TestUser {
    pub fn generate() -> Self {
        Self {
            email: format!("user-{}@example.com", uuid::Uuid::new_v4().simple()),
            password: format!("pw-{}", uuid::Uuid::new_v4()),
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Page {
        read(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// GETs `path` with a fresh client and parses the JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        new_client()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The Prometheus text from the metrics listener.
    pub async fn metrics(&self) -> String {
        let base = self.metrics_address.as_ref().expect("a metrics listener");
        let resp = new_client()
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }

    /// Runs one statement on the test's database directly (e.g. to stand in for retention).
    pub async fn execute_sql(&self, sql: &str) {
        let url = &self.db.url;
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    /// How many rows `table` holds (a name from the schema, not from input).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let url = &self.db.url;
        let sql = format!("select count(*) from {table}");
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }

    /// How many rows the session table holds (every session, expired or not).
    pub async fn session_rows(&self) -> i64 {
        if self.db.url.starts_with("sqlite:") {
            self.count_rows("tower_sessions").await
        } else {
            self.count_rows("\"tower_sessions\".\"session\"").await
        }
    }

    pub async fn get_login(&self) -> Page {
        self.get("/login").await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Page {
        read(
            self.client
                .post(self.url(path))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Fetches a fresh CSRF token from the login page and posts the form there.
    pub async fn post_login(&self, username: &str, password: &str) -> Page {
        self.post_login_to("/login", username, password).await
    }

    pub async fn post_login_to(&self, path: &str, username: &str, password: &str) -> Page {
        let csrf = self.get_login().await.csrf();
        self.post_credentials(path, username, password, &csrf).await
    }

    /// Posts the sign-in form with an explicit CSRF token.
    pub async fn post_credentials(
        &self,
        path: &str,
        username: &str,
        password: &str,
        csrf: &str,
    ) -> Page {
        self.post_form(
            path,
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", csrf),
            ],
        )
        .await
    }

    /// The reason recorded on the first `session_revoked` event.
    pub async fn session_revoked_reason(&self) -> Option<String> {
        self.events()
            .await
            .into_iter()
            .find(|e| e.kind == authd::events::EventKind::SessionRevoked)
            .and_then(|e| e.decision)
    }

    pub async fn register(&self, user: &TestUser) -> Page {
        let csrf = self.get("/register").await.csrf();
        self.post_form(
            "/register",
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// A user whose address is not verified: no second factor, so a CAPTCHA is the last step
    /// of a challenged sign-in (registered through the form, by a browser of its own).
    pub async fn user_without_factor(&self) -> TestUser {
        let user = TestUser::generate();
        let b = new_client();
        let csrf = read(b.get(self.url("/register")).send().await.unwrap())
            .await
            .csrf();
        let form = [
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ];
        let page = read(
            b.post(self.url("/register"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        user
    }

    /// One sign-in through the form as `client` from `ip`, whether or not the browser is signed
    /// in already (the CSRF token comes from the forgot page, which is a form even for a
    /// signed-in browser).
    pub async fn sign_in_again(
        &self,
        client: &reqwest::Client,
        ip: &str,
        email: &str,
        password: &str,
    ) -> Page {
        let forgot = client.get(self.url("/password/forgot")).send().await;
        let csrf = read(forgot.unwrap()).await.csrf();
        let form = [
            ("username", email),
            ("password", password),
            ("csrf_token", &csrf),
        ];
        let post = client
            .post(self.url("/login"))
            .header("x-forwarded-for", ip)
            .form(&form);
        read(post.send().await.unwrap()).await
    }

    /// One sign-in through the form as the browser `client` from network `ip` (both the form's
    /// `GET` and the `POST` carry the address), with the CAPTCHA's answer when given.
    pub async fn sign_in_from(
        &self,
        client: &reqwest::Client,
        ip: &str,
        email: &str,
        password: &str,
        answer: Option<&str>,
    ) -> Page {
        let get = client.get(self.url("/login")).header("x-forwarded-for", ip);
        let csrf = read(get.send().await.unwrap()).await.csrf();
        let login = (email, password);
        self.post_sign_in_from(client, ip, &csrf, login, answer)
            .await
    }

    /// The sign-in form's `POST` alone, as the browser `client` from network `ip`, with the
    /// CSRF token of a page it already holds (no new `GET`, which could show a new challenge),
    /// and the CAPTCHA's answer when given.
    pub async fn post_sign_in_from(
        &self,
        client: &reqwest::Client,
        ip: &str,
        csrf: &str,
        (email, password): (&str, &str),
        answer: Option<&str>,
    ) -> Page {
        let mut form = vec![
            ("username", email),
            ("password", password),
            ("csrf_token", csrf),
        ];
        form.extend(answer.map(|a| ("captcha_answer", a)));
        let post = client
            .post(self.url("/login"))
            .header("x-forwarded-for", ip)
            .form(&form);
        read(post.send().await.unwrap()).await
    }

    /// Answers the pending step-up of `client`'s session, from `ip`, with `code` (the e-mailed
    /// code's field).
    pub async fn send_email_code(&self, client: &reqwest::Client, ip: &str, code: &str) -> Page {
        let get = client.get(self.url("/login")).header("x-forwarded-for", ip);
        let csrf = read(get.send().await.unwrap()).await.csrf();
        let form = [("email_code", code), ("csrf_token", csrf.as_str())];
        let post = client
            .post(self.url("/login"))
            .header("x-forwarded-for", ip)
            .form(&form);
        read(post.send().await.unwrap()).await
    }

    /// The owner's answer to a pending e-mail step-up: the newest mailed code.
    pub async fn pass_email_step_up(&self, client: &reqwest::Client, ip: &str) -> Page {
        let code = self.last_code().await;
        self.send_email_code(client, ip, &code).await
    }

    /// Registers and signs in a fresh user.
    pub async fn signed_in_user(&self) -> TestUser {
        let user = TestUser::generate();
        assert_eq!(self.register(&user).await.status, StatusCode::SEE_OTHER);
        let page = self.post_login(&user.email, &user.password).await;
        assert_redirect_to(&page, "/account");
        user
    }

    pub async fn post_logout(&self) -> Page {
        let csrf = self.get("/account").await.csrf();
        self.post_form("/logout", &[("csrf_token", &csrf)]).await
    }

    /// Every event so far (after the work requests left running has settled: the events it
    /// records are there too).
    pub async fn events(&self) -> Vec<AuthEvent> {
        self.state_events(EventFilter {
            limit: 1000,
            ..EventFilter::default()
        })
        .await
    }

    pub async fn state_events(&self, filter: EventFilter) -> Vec<AuthEvent> {
        self.state.background.settled().await;
        self.state.login_events(&filter).await
    }
}

trait LoginEvents {
    async fn login_events(&self, filter: &EventFilter) -> Vec<AuthEvent>;
}

impl LoginEvents for AppState {
    async fn login_events(&self, filter: &EventFilter) -> Vec<AuthEvent> {
        self.events.list(filter).await.unwrap()
    }
}

pub fn assert_redirect_to(page: &Page, location: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "body: {}", page.body);
    assert_eq!(page.location(), location);
}

/// A registered OAuth client.
#[derive(Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub const REDIRECT_URI: &str = "http://127.0.0.1:7777/callback";

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The value of query parameter `name` in a URL.
pub fn query_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl TestApp {
    pub async fn add_client(
        &self,
        public: bool,
        first_party: bool,
        grants: &[&str],
        scopes: &[&str],
    ) -> TestClient {
        let id = format!("client-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let spec = authd::domain::clients::NewClient {
            id: id.clone(),
            redirect_uris: vec![
                REDIRECT_URI.to_owned(),
                "http://127.0.0.1:7777/other?x=1".to_owned(),
            ],
            post_logout_redirect_uris: vec!["http://127.0.0.1:7777/bye".to_owned()],
            is_public: public,
            is_first_party: first_party,
            pkce_optional: false,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            grants: grants.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        let (_, secret) = self.state.oauth.clients().create(spec).await.unwrap();
        TestClient {
            id,
            secret,
            redirect_uri: REDIRECT_URI.to_owned(),
        }
    }

    /// A first-party confidential client with authorization_code + refresh_token.
    pub async fn web_client(&self) -> TestClient {
        self.add_client(false, true, &["authorization_code", "refresh_token"], &[])
            .await
    }

    /// Follows `/authorize?query` through the real sign-in form as `user`; returns the last
    /// response (normally the redirect back to the client).
    pub async fn authorize(&self, query: &[(&str, &str)], user: &TestUser) -> Page {
        let qs = serde_urlencoded::to_string(query).unwrap();
        let mut page = self.get(&format!("/authorize?{qs}")).await;
        if page.status == StatusCode::SEE_OTHER && page.location().starts_with("/login") {
            let login = page.location().to_owned();
            let signed_in = self
                .post_login_to(&login, &user.email, &user.password)
                .await;
            assert_eq!(
                signed_in.status,
                StatusCode::SEE_OTHER,
                "sign-in failed: {}",
                signed_in.body
            );
            page = self.get(signed_in.location()).await;
        }
        page
    }

    /// Authorization code for `client` with PKCE; returns (code, verifier).
    pub async fn code_for(
        &self,
        client: &TestClient,
        user: &TestUser,
        scope: &str,
    ) -> (String, String) {
        let (verifier, challenge) = pkce();
        let page = self
            .authorize(
                &[
                    ("response_type", "code"),
                    ("client_id", &client.id),
                    ("redirect_uri", &client.redirect_uri),
                    ("scope", scope),
                    ("state", "st-1"),
                    ("nonce", "n-1"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
                user,
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert!(
            page.location().starts_with(&client.redirect_uri),
            "{}",
            page.location()
        );
        assert_eq!(
            query_param(page.location(), "state").as_deref(),
            Some("st-1")
        );
        (
            query_param(page.location(), "code").expect("a code"),
            verifier,
        )
    }

    /// POSTs to /token with client_secret_basic (or client_id for public clients).
    pub async fn token(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        let mut req = self.client.post(self.url("/token"));
        let mut form: Vec<(&str, &str)> = form.to_vec();
        match &client.secret {
            Some(s) => req = req.basic_auth(&client.id, Some(s)),
            None => form.push(("client_id", &client.id)),
        }
        let resp = req.form(&form).send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Code + PKCE exchanged for tokens.
    pub async fn tokens_for(
        &self,
        client: &TestClient,
        user: &TestUser,
        scope: &str,
    ) -> serde_json::Value {
        let (code, verifier) = self.code_for(client, user, scope).await;
        let (status, body) = self
            .token(
                client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &client.redirect_uri),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn userinfo(&self, token: &str) -> (StatusCode, serde_json::Value) {
        let resp = new_client()
            .get(self.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn introspect(&self, client: &TestClient, token: &str) -> serde_json::Value {
        let resp = new_client()
            .post(self.url("/introspect"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    pub async fn revoke(&self, client: &TestClient, token: &str) -> StatusCode {
        new_client()
            .post(self.url("/revoke"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A registered user (not signed in).
    /// The account registered under `email`.
    pub async fn account(&self, email: &str) -> authd::domain::accounts::model::Account {
        self.state
            .accounts
            .find_by_email(email)
            .await
            .unwrap()
            .expect("an account")
    }

    /// The id of the account registered under `email`.
    pub async fn user_id(&self, email: &str) -> String {
        self.account(email).await.id
    }

    pub async fn user(&self) -> TestUser {
        let user = TestUser::generate();
        self.state
            .accounts
            .create(
                &user.email,
                user.password.clone().into(),
                false,
                authd::domain::accounts::service::Origin::Cli,
            )
            .await
            .unwrap();
        user
    }
}

pub fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The value of the hidden input `name` in a page.
pub fn input_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} input"))
        + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_owned()
}

/// The newest sign-in code any of `apps` delivered: instances on one database share the mail
/// queue, and whichever drains first delivers a mail into its own outbox.
pub async fn last_code_in(apps: &[&TestApp]) -> String {
    // Bounded real-time wait: another instance's worker may be writing the mail it claimed.
    let mut found = None;
    for _ in 0..200 {
        let mut mails = Vec::new();
        for app in apps {
            app.drain_mail().await;
            mails.extend(app.outbox_files());
        }
        mails.sort_by_key(|(modified, _)| *modified);
        found = mails
            .iter()
            .map(|(_, m)| crate::smtp::decode_qp(m))
            .rfind(|m| m.contains("Your sign-in code"));
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let mail = found.expect("a code mail");
    let after = &mail[mail.find("code is:").expect("code text")..];
    let start = after.find(|c: char| c.is_ascii_digit()).unwrap();
    after[start..start + 6].to_owned()
}

pub fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl TestApp {
    /// Lets the work requests left running settle (reset mails, the alert after a risk
    /// challenge), then delivers every mail due now, without waiting for the worker; returns
    /// how many were sent. Call it before asserting that no mail went out.
    pub async fn drain_mail(&self) -> usize {
        self.state.drain_mail().await
    }

    /// The `.eml` files the outbox wrote so far, after draining the queue. Waits (bounded,
    /// real time) for `n` only for mail queued by work the drain cannot see.
    pub async fn outbox(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            self.drain_mail().await;
            let files = self.outbox_now();
            if files.len() >= n {
                return files;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.outbox_now()
    }

    /// The newest sign-in code mailed so far (a step-up's code mail is queued with the answer
    /// that showed the step-up, so draining the queue delivers it).
    pub async fn last_code(&self) -> String {
        last_code_in(&[self]).await
    }

    fn outbox_now(&self) -> Vec<String> {
        self.outbox_files().into_iter().map(|(_, m)| m).collect()
    }

    /// The `.eml` files written so far, with their times, oldest first.
    fn outbox_files(&self) -> Vec<(Option<std::time::SystemTime>, String)> {
        let Ok(dir) = std::fs::read_dir(self.mail_dir.path()) else {
            return Vec::new();
        };
        let mut files: Vec<_> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| {
                let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
                (modified, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort_by_key(|(modified, _)| *modified);
        files
    }
}

/// Every row `sql` selects, its columns as text, read straight from the test database: for
/// what no API shows (how things are stored). Select text columns only.
pub async fn raw_rows(db: &TestDb, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    if db.is_postgres() {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
            .collect()
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
            .collect()
    }
}

/// Runs one statement with text binds straight on the test database (to set up a state an
/// older version left behind).
pub async fn raw_execute(db: &TestDb, sql: &str, binds: &[&str]) {
    if db.is_postgres() {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// A JWT's claims, unverified (signatures are checked by the OIDC tests).
pub fn claims_of(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The claims of the ID token in a token response.
pub fn id_claims(tokens: &serde_json::Value) -> serde_json::Value {
    claims_of(str_of(tokens, "id_token"))
}
