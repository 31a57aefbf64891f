//! The metrics (issue #15.3): served on their own listener only, label values from fixed sets,
//! and no counter that moves differently for a real and an unknown account.
//!
//! The `metrics` facade has one recorder per process, shared by every app of this binary, so
//! a test that compares counters before and after runs alone in a child process of this same
//! binary (`run_alone`), where no other test moves them.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use crate::helpers::{TestUser, new_client, spawn_app, spawn_app_with};

/// Set in the child process that runs one isolated test.
const ALONE: &str = "AUTHD_TEST_ALONE";

/// Runs the `#[ignore]`d test `name` of this binary alone in a child process and fails with
/// its output if it fails (or did not run).
fn run_alone(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{name} did not run:\n{stdout}");
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let main = app.get("/metrics").await;
    assert_eq!(main.status, StatusCode::NOT_FOUND, "the main listener");
    assert!(!main.body.contains("authd_http_requests_total"));
    let text = app.metrics().await;
    assert!(text.contains("authd_http_requests_total"));
    // The metrics listener serves nothing else.
    let base = app.metrics_address.clone().unwrap();
    for path in ["/login", "/healthz", "/"] {
        let status = new_client()
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{path} on the metrics listener"
        );
    }
}

#[tokio::test]
async fn no_metrics_listener_when_its_address_is_empty() {
    let app = spawn_app_with(|c| c.metrics_bind = None).await;
    assert!(app.metrics_address.is_none());
    assert_eq!(app.get("/metrics").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_method_is_labelled_other() {
    let app = spawn_app().await;
    for name in ["FOOBAR", "FOOBARBAZ", "X-MADE-UP"] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        let resp = app.client.request(method, app.url("/login")).send().await;
        assert!(resp.unwrap().status().is_client_error(), "{name}");
    }
    let text = app.metrics().await;
    assert!(!text.contains("FOOBAR"), "a method string became a label");
    assert!(!text.contains("MADE-UP"), "a method string became a label");
    assert!(text.contains("method=\"other\""));
}

/// Every counter (and histogram or summary count) of a Prometheus text, by series. Bucket,
/// quantile and sum lines are timings or sizes, gauges are levels: none is a count of what
/// happened. (A histogram without buckets configured is exported as a summary.)
pub(crate) fn counters(text: &str) -> BTreeMap<String, f64> {
    let mut kinds = BTreeMap::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                kinds.insert(name.to_owned(), kind.to_owned());
            }
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        let counted = match kinds.get(name).map(String::as_str) {
            Some("counter") => true,
            _ => name.strip_suffix("_count").is_some_and(|base| {
                kinds
                    .get(base)
                    .is_some_and(|k| k == "histogram" || k == "summary")
            }),
        };
        if counted {
            out.insert(series.to_owned(), value.parse().unwrap());
        }
    }
    out
}

/// What moved between two snapshots (series that did not move are left out).
fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

#[test]
fn forgot_moves_the_same_counters_for_a_real_and_an_unknown_address() {
    run_alone("metrics::forgot_counters_alone");
}

#[tokio::test]
#[ignore = "run alone in a child process by forgot_moves_the_same_counters_for_a_real_and_an_unknown_address"]
async fn forgot_counters_alone() {
    if std::env::var(ALONE).is_err() {
        return;
    }
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let forgot = |email: String| {
        let app = &app;
        async move {
            let csrf = app.get("/password/forgot").await.csrf();
            let page = app
                .post_form(
                    "/password/forgot",
                    &[("email", &email), ("csrf_token", &csrf)],
                )
                .await;
            assert_eq!(page.status, StatusCode::OK);
            // The lookup, the token and the mail run after the answer: let them finish and
            // deliver what they queued before reading the counters.
            app.state.drain_mail().await;
        }
    };
    // Once before the snapshots, so anything done only the first time is done.
    forgot("warm-up@example.com".to_owned()).await;
    let start = counters(&app.metrics().await);
    forgot(user.email.clone()).await;
    let real = counters(&app.metrics().await);
    let mails = app.outbox(1).await;
    assert!(
        mails.iter().any(|m| m.contains("password/reset")),
        "the real address got its reset mail"
    );
    forgot("nobody-here@example.com".to_owned()).await;
    let unknown = counters(&app.metrics().await);
    assert_eq!(
        moved(&start, &real),
        moved(&real, &unknown),
        "the counters tell a real address from an unknown one"
    );
}

#[test]
fn a_known_browser_s_password_check_waits_in_the_known_lane() {
    run_alone("metrics::hash_lanes_alone");
}

#[tokio::test]
#[ignore = "run alone in a child process by a_known_browser_s_password_check_waits_in_the_known_lane"]
async fn hash_lanes_alone() {
    if std::env::var(ALONE).is_err() {
        return;
    }
    // Three checks a minute of one account in the known lane.
    let app = spawn_app_with(|c| c.rate_limits.login_per_account = 3).await;
    let user = app.user().await;
    let lanes = |text: String| {
        let c = counters(&text);
        let of = |lane: &str| {
            let series = format!("authd_hash_jobs_total{{lane=\"{lane}\"}}");
            c.get(&series).copied().unwrap_or(0.0)
        };
        (of("ordinary"), of("known"))
    };
    let sign_in = |browser: reqwest::Client, password: String| {
        let (app, email) = (&app, user.email.clone());
        async move {
            let page = app.sign_in_again(&browser, "192.0.2.1", &email, &password);
            page.await.status
        }
    };
    let home = new_client();
    let start = lanes(app.metrics().await);
    let first = sign_in(home.clone(), user.password.clone()).await;
    assert_eq!(first, StatusCode::SEE_OTHER);
    let known = lanes(app.metrics().await);
    assert_eq!(
        (known.0 - start.0, known.1 - start.1),
        (1.0, 0.0),
        "a new browser"
    );
    // The same browser again, now with its device cookie: right and wrong passwords alike.
    assert_eq!(
        sign_in(home.clone(), user.password.clone()).await,
        StatusCode::SEE_OTHER
    );
    let wrong = sign_in(home.clone(), "not the password at all".to_owned()).await;
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    let again = lanes(app.metrics().await);
    assert_eq!(
        (again.0 - known.0, again.1 - known.1),
        (0.0, 2.0),
        "the known browser"
    );
    // Another browser is ordinary again.
    let other = sign_in(new_client(), "not the password at all".to_owned()).await;
    assert_eq!(other, StatusCode::UNAUTHORIZED);
    let last = lanes(app.metrics().await);
    assert_eq!(
        (last.0 - again.0, last.1 - again.1),
        (1.0, 0.0),
        "another browser"
    );
    // The known browser's third check of the minute is known, the fourth ordinary: an
    // attacker's own accounts, signed in over and over, take a bounded share of the lane.
    for _ in 0..2 {
        let page = sign_in(home.clone(), user.password.clone()).await;
        assert_eq!(page, StatusCode::SEE_OTHER);
    }
    let past = lanes(app.metrics().await);
    assert_eq!(
        (past.0 - last.0, past.1 - last.1),
        (1.0, 1.0),
        "past the account's budget"
    );
}

#[test]
fn password_checks_are_left_to_the_helpers_while_machine_requests_come() {
    run_alone("metrics::hash_yields_alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run alone in a child process by password_checks_are_left_to_the_helpers_while_machine_requests_come"]
async fn hash_yields_alone() {
    if std::env::var(ALONE).is_err() {
        return;
    }
    // The steady thread and one helper: while machine requests come, the steady thread leaves
    // each job to the helper (or passes over it, if the helper is slow to take it).
    let app = spawn_app_with(|c| {
        c.hash_workers = 2;
        // Up to 41 sign-ins from one address and new browsers, on a clock that stands still.
        c.rate_limits.login_per_ip = 1000;
        c.rate_limits.login_per_account = 1000;
    })
    .await;
    let user = app.user().await;
    let yields = |text: String| {
        let c = counters(&text);
        c.get("authd_hash_steady_yields_total")
            .copied()
            .unwrap_or(0.0)
    };
    let sign_in = || async {
        let browser = new_client();
        let page = app.sign_in_again(&browser, "192.0.2.1", &user.email, &user.password);
        assert_eq!(page.await.status, StatusCode::SEE_OTHER);
    };
    // Sign-ins alone: the steady thread takes them.
    let start = yields(app.metrics().await);
    sign_in().await;
    assert_eq!(yields(app.metrics().await), start, "no machine request yet");
    // The same while a resource server keeps asking about tokens: first risk evaluation (a
    // refused caller is a request all the same), then the JWKS. Risk comes first, so that no
    // JWKS request's moment can still be running when its sign-ins are checked.
    let mut before = start;
    for (path, status) in [
        ("/risk/evaluate", StatusCode::UNAUTHORIZED),
        ("/jwks.json", StatusCode::OK),
    ] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let asking = {
            let (stop, url, client) = (stop.clone(), app.url(path), new_client());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = if path == "/jwks.json" {
                        client.get(&url).send().await.unwrap()
                    } else {
                        client
                            .post(&url)
                            .json(&serde_json::json!({}))
                            .send()
                            .await
                            .unwrap()
                    };
                    assert_eq!(res.status(), status, "{path}");
                }
            })
        };
        // A loaded machine (the whole suite at once) can space the asker's requests past the
        // yield window for a few sign-ins; it cannot for twenty, unless yielding is broken.
        let mut after = before;
        for _ in 0..20 {
            sign_in().await;
            after = yields(app.metrics().await);
            if after > before {
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        asking.await.unwrap();
        assert!(
            after > before,
            "the steady thread left the checks to the helper while {path} was asked"
        );
        before = after;
    }
}
