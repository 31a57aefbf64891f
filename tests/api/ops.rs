//! Health, readiness, metrics, security headers and the bounded hashing pool.

use authd::domain::accounts::password::{HashError, PasswordHasher};
use reqwest::StatusCode;

use crate::helpers::{TestUser, new_client, read, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_ready_and_metrics() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    app.signed_in_user().await;
    let metrics = app.metrics().await;
    for name in [
        "authd_http_requests_total",
        "authd_http_request_duration_seconds_bucket",
        "authd_logins_total",
        "authd_hash_queue_depth",
        "route=\"/login\"",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}");
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/login",
        "/register",
        "/healthz",
        "/static/style.css",
        "/account",
        "/nope",
        "/readyz",
        "/jwks.json",
        "/.well-known/openid-configuration",
        "/userinfo",
    ] {
        let page = app.get(path).await;
        let csp = page
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(page.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(page.headers["referrer-policy"], "no-referrer", "{path}");
        assert!(
            page.headers.get("strict-transport-security").is_none(),
            "no HSTS over http"
        );
        assert!(page.headers.get("x-request-id").is_some(), "{path}");
    }
}

/// The machine routes skip the session and CSRF layers (`http::router`): they answer (no 5xx
/// for a handler that would have needed a layer) and set no cookie whatever the request
/// sends; the browser routes keep theirs.
#[tokio::test]
async fn machine_routes_set_no_cookies_and_browser_routes_still_do() {
    let app = spawn_app().await;
    let client = new_client();
    let stale = "authd_session=not-a-session; authd_csrf=not-a-nonce";
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/jwks.json"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/userinfo"),
        ("POST", "/token"),
        ("POST", "/introspect"),
        ("POST", "/revoke"),
        ("POST", "/risk/evaluate"),
        ("GET", "/admin/api/clients"),
    ] {
        let req = client
            .request(method.parse().unwrap(), app.url(path))
            .header("cookie", stale)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        let page = read(req.send().await.unwrap()).await;
        assert!(
            page.status.as_u16() < 500,
            "{method} {path}: {}",
            page.status
        );
        assert!(
            page.headers.get("set-cookie").is_none(),
            "{method} {path} set {:?}",
            page.headers.get("set-cookie")
        );
    }
    // A page with a form draws its CSRF cookie; a signed-in browser keeps its session.
    let login = app.get("/login").await;
    assert!(
        login
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| { c.to_str().unwrap().starts_with("authd_csrf=") })
    );
    let user = app.signed_in_user().await;
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "{}",
        user.email
    );
}

#[tokio::test]
async fn pages_have_no_inline_script_or_style_and_no_external_assets() {
    let app = spawn_app().await;
    for path in ["/login", "/register"] {
        let body = app.get(path).await.body;
        assert!(
            !body.contains("style=") && !body.contains("<style"),
            "{path} has inline style"
        );
        // Scripts only as the server's own files, never inline.
        for script in body.split("<script").skip(1) {
            let (head, rest) = script.split_once('>').unwrap_or_default();
            assert!(
                head.contains(" src=\"/static/"),
                "{path} has an inline script"
            );
            assert!(
                rest.starts_with("</script>"),
                "{path} has an inline script body"
            );
        }
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} loads something external"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_hash_pool_answers_503_quickly() {
    let app = spawn_app_with(|c| {
        c.hash_workers = 1;
        c.hash_queue = 1;
        c.hash_params.memory_kib = 65_536;
        c.hash_params.iterations = 3;
    })
    .await;
    let user = TestUser::generate();
    app.register(&user).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let client = new_client();
        let url = app.url("/login");
        let email = user.email.clone();
        tasks.push(tokio::spawn(async move {
            let csrf = read(client.get(&url).send().await.unwrap()).await.csrf();
            let resp = client
                .post(&url)
                .form(&[
                    ("username", email.as_str()),
                    ("password", "wrong password"),
                    ("csrf_token", &csrf),
                ])
                .send()
                .await
                .unwrap();
            (resp.status(), resp.headers().get("retry-after").is_some())
        }));
    }
    let mut busy = 0;
    for t in tasks {
        let (status, retry_after) = t.await.unwrap();
        match status {
            // A wrong password, or (when a loaded machine spreads the attempts out so that
            // more of them reach a hash) the account's failure budget spent: both answers,
            // neither a fault.
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after, "503 without Retry-After");
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy > 0,
        "12 parallel logins on 1 worker + 1 queue slot were never refused"
    );
    // Every shed request is counted: refused by the full queue or given up waiting (the
    // counters are the process's, which other tests only ever raise).
    let c = crate::metrics::counters(&app.metrics().await);
    let shed = [
        "authd_hash_jobs_refused_total",
        "authd_hash_jobs_given_up_total",
    ]
    .map(|name| c.get(name).copied().unwrap_or(0.0));
    assert!(
        shed.iter().sum::<f64>() >= f64::from(busy),
        "{shed:?} < {busy}"
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.state.accounts.hasher().depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_the_full_hash_queue_refuses_is_refused_before_any_database_write() {
    let app = spawn_app_with(one_slow_place).await;
    let csrf = app.get_login().await.csrf();
    let hasher = app.state.accounts.hasher().clone();
    let holders = hold_both_places(&hasher).await;
    let counted = app.count_rows("login_failure").await;
    let resp = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("username", "nobody-while-busy@example.com"),
            ("password", "a wrong guess"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let retry_after = resp.headers().get("retry-after").is_some();
    // Still both places held: the answer came from the full queue, not from a free place.
    assert_eq!(
        hasher.depth(),
        2,
        "a hash ended before the sign-in was answered"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after, "503 without Retry-After");
    // The attempt was not counted (the count is the sign-in's first database write).
    assert_eq!(app.count_rows("login_failure").await, counted);
    // The second may have given up waiting (`Busy`); its place is freed once a thread
    // reaches it.
    for h in holders {
        let _ = h.await.unwrap();
    }
    wait_for_depth(&hasher, |d| d == 0).await;
    // With room again, the same attempt is checked and counted.
    let page = app
        .post_login("nobody-while-busy@example.com", "a wrong guess")
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(app.count_rows("login_failure").await > counted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_reusing_one_device_cookie_loses_the_known_lane_and_its_owner_does_not() {
    let app = spawn_app_with(|c| {
        one_slow_place(c);
        c.rate_limits.login_per_device = 1;
    })
    .await;
    // The flooder's own account gives its browser a validly signed device cookie, and its
    // sign-in with that cookie (the device's one attempt a minute) confirms the cookie for
    // the account's name.
    let user = app.user().await;
    let flooder = new_client();
    let ip = "192.0.2.10";
    let page = app
        .sign_in_from(&flooder, ip, &user.email, &user.password, None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = app
        .sign_in_again(&flooder, ip, &user.email, &user.password)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let hasher = app.state.accounts.hasher().clone();
    let holders = hold_both_places(&hasher).await;
    // Past the device's budget, the cookie on another name meets the full queue at the
    // door like any other attempt: refused before any database write.
    let counted = app.count_rows("login_failure").await;
    let page = app
        .sign_in_again(&flooder, ip, "someone-else@example.com", "a guess")
        .await;
    assert_eq!(
        hasher.depth(),
        2,
        "a hash ended before the attempt was answered"
    );
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.headers.get("retry-after").is_some());
    assert_eq!(app.count_rows("login_failure").await, counted);
    // On its own account's name the same browser keeps the known lane's place: it waits
    // ahead of the queued hash and gets in.
    let page = app
        .sign_in_again(&flooder, ip, &user.email, &user.password)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    for h in holders {
        let _ = h.await.unwrap();
    }
    wait_for_depth(&hasher, |d| d == 0).await;
}

/// A hash pool of one thread and one queued place, two seconds or more per hash: the two
/// hashes of `hold_both_places` hold both places while a sign-in comes and is held (half a
/// second) before its answer.
fn one_slow_place(c: &mut authd::config::Config) {
    c.hash_workers = 1;
    c.hash_queue = 1;
    c.hash_params.iterations = 300;
}

/// Two long hashes taking both places of a `one_slow_place` pool, once both are taken.
async fn hold_both_places(
    hasher: &PasswordHasher,
) -> Vec<tokio::task::JoinHandle<Result<String, HashError>>> {
    let holders = (0..2)
        .map(|_| {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&"a long hash".into()).await })
        })
        .collect();
    wait_for_depth(hasher, |d| d == 2).await;
    holders
}

/// Polls the hash queue's depth until `done` holds; fails after 30 s rather than hanging.
async fn wait_for_depth(hasher: &PasswordHasher, done: impl Fn(i64) -> bool) {
    let wait = async {
        while !done(hasher.depth()) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("hash queue depth stuck at {}", hasher.depth()));
}

#[tokio::test]
async fn a_database_outage_is_503_on_readyz_and_a_generic_500_elsewhere() {
    let app = spawn_app().await;
    // A signed-in browser (its session is in the database) and an anonymous one holding a
    // sign-in form (its CSRF token needs no database).
    app.signed_in_user().await;
    let anonymous = new_client();
    let form = read(anonymous.get(app.url("/login")).send().await.unwrap()).await;
    if !app.db.take_down().await {
        eprintln!("SQLite: no outage to simulate; covered by the PostgreSQL run");
        return;
    }
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let csrf = form.csrf();
    let sign_in = anonymous.post(app.url("/login")).form(&[
        ("username", "someone@example.com"),
        ("password", "some password"),
        ("csrf_token", csrf.as_str()),
    ]);
    for page in [
        app.get("/account").await,
        read(sign_in.send().await.unwrap()).await,
    ] {
        assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(page.body.contains("Something went wrong on our side"));
        for leak in ["sqlx", "database", "postgres", "panicked", "src/"] {
            assert!(
                !page.body.to_lowercase().contains(leak),
                "500 page mentions {leak}"
            );
        }
    }
}

/// README, "PostgreSQL connections are pinged only after a second idle": a connection the
/// server closes under traffic (`pg_terminate_backend`, a restart) fails the one request that
/// meets it, with the generic 500 page, and the pool opens a new one for the next: at most one
/// 500 per closed connection, then every request is answered again.
#[tokio::test]
async fn connections_closed_under_traffic_fail_one_request_each_and_are_replaced() {
    let app = spawn_app().await;
    if !app.db.is_postgres() {
        eprintln!("SQLite: no server to close connections; covered by the PostgreSQL run");
        return;
    }
    app.signed_in_user().await;
    // Several requests at once, so the pool holds several connections.
    let warm = (0..16).map(|_| app.get("/account"));
    for page in futures_util::future::join_all(warm).await {
        assert_eq!(page.status, StatusCode::OK);
    }
    let admin = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and pid <> pg_backend_pid()) t",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert!(closed >= 2, "the app held {closed} connections");
    let mut failed = 0;
    let mut statuses = Vec::new();
    for _ in 0..(closed + 10) {
        let page = app.get("/account").await;
        statuses.push(page.status.as_u16());
        if page.status == StatusCode::INTERNAL_SERVER_ERROR {
            failed += 1;
            assert!(page.body.contains("Something went wrong on our side"));
            for leak in ["sqlx", "database", "postgres", "terminat", "panicked"] {
                assert!(
                    !page.body.to_lowercase().contains(leak),
                    "500 page mentions {leak}"
                );
            }
        } else {
            assert_eq!(page.status, StatusCode::OK, "{statuses:?}");
        }
    }
    assert!(
        failed <= closed,
        "{failed} failures for {closed} closed connections: {statuses:?}"
    );
    assert!(
        statuses.iter().rev().take(10).all(|s| *s == 200),
        "answered again once the pool replaced them: {statuses:?}"
    );
}

/// A table retention cannot prune (here: gone) is reported, and the tables after it, the
/// event log among them, are still pruned. Before, the first failing table ended the run.
#[tokio::test]
async fn retention_goes_on_past_a_table_that_fails() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    assert!(!app.events().await.is_empty());
    let count = "select cast(count(*) as text) from event";
    app.clock.advance(time::Duration::days(100));
    let store = authd::storage::connect(&app.db.url, 1)
        .await
        .unwrap()
        .retention;
    crate::helpers::raw_execute(&app.db, "drop table mail_budget", &[]).await;
    let clock: std::sync::Arc<dyn authd::domain::clock::Clock> = app.clock.clone();
    let keep = authd::domain::retention::Keep {
        event_days: 90,
        session_idle_secs: 3_600,
        failure_window_secs: 900,
    };
    let run = authd::domain::retention::prune(&store, &clock, keep).await;
    assert!(run.is_err(), "the failing table is reported");
    assert_eq!(crate::helpers::raw_rows(&app.db, count).await[0][0], "0");
}
