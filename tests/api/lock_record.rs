//! The account lock's record and the owner's notice outlast a database error: the lock is
//! committed by the attempt that set it, its `account_locked` event, the mail's limits and the
//! lockout mail (with its `alert_sent`) are written after the answer and tried again until the
//! database takes them, each once (a limit spent twice would suppress the one-an-hour notice).
//! The same holds for a lock set inside a step-up's answer (which still answers) and for the
//! attack alert of a blocked source.

use reqwest::StatusCode;

use authd::config::CaptchaKind;
use authd::domain::tasks::retries;
use authd::events::EventKind;

use crate::helpers::{TestApp, TestUser, cidrs, new_client, raw_rows, spawn_app_with};

const ANSWER: &str = "open-sesame";

/// Makes the database refuse new rows of `table` whose `kind` is `kind` (a trigger), or take
/// them again.
async fn refuse(app: &TestApp, table: &str, kind: &str, on: bool) {
    let name = format!("refuse_{table}_{kind}");
    let sql = match (app.db.is_postgres(), on) {
        (false, true) => vec![format!(
            "create trigger {name} before insert on {table} when new.kind = '{kind}' \
             begin select raise(abort, 'refused for the test'); end"
        )],
        (true, true) => vec![
            "create or replace function refuse_for_test() returns trigger language plpgsql \
             as $$ begin raise exception 'refused for the test'; end $$"
                .to_owned(),
            format!(
                "create trigger {name} before insert on {table} for each row \
                 when (new.kind = '{kind}') execute function refuse_for_test()"
            ),
        ],
        (false, false) => vec![format!("drop trigger {name}")],
        (true, false) => vec![format!("drop trigger {name} on {table}")],
    };
    for statement in sql {
        app.execute_sql(&statement).await;
    }
}

/// A server with the test CAPTCHA, no challenge from the ladder, a source blocked after
/// `block_after` failures and the account locked after `lock_after`.
async fn app_with(block_after: i64, lock_after: i64) -> TestApp {
    spawn_app_with(|c| {
        c.captcha = CaptchaKind::Test;
        c.captcha_test_answer = Some(ANSWER.into());
        c.trusted_proxies = cidrs(&["127.0.0.1/32"]);
        c.protection.challenge_after = 100;
        c.protection.block_after = block_after;
        c.protection.lock_after = lock_after;
    })
    .await
}

/// Waits (at most ten seconds) until a try of `what` failed after `before` had (the counts are
/// the whole test process's).
async fn until_retried(what: &str, before: u64) {
    for _ in 0..500 {
        if retries(what) > before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no try of {what} failed");
}

#[tokio::test]
async fn the_lock_s_event_and_mail_outlast_a_database_error() {
    let app = app_with(/* block_after */ 100, /* lock_after */ 5).await;
    let user = app.user().await;
    // The lock's event, the lockout notice's second limit (the attack alerts' hour, spent
    // after its own) and the alert's event are refused for a moment each, in that order.
    refuse(&app, "event", "account_locked", true).await;
    refuse(&app, "mail_budget", "attack", true).await;
    refuse(&app, "event", "alert_sent", true).await;
    let before = [
        retries("account_locked"),
        retries("mail budget"),
        retries("alert_sent"),
    ];
    let c = new_client();
    for i in 0..5 {
        let ip = format!("203.0.113.{i}");
        let page = app.sign_in_from(&c, &ip, &user.email, "spray password", None);
        // The answer does not wait for (or fail with) the lock's record.
        assert_eq!(page.await.status, StatusCode::UNAUTHORIZED);
    }
    for ((table, kind, what), before) in [
        ("event", "account_locked", "account_locked"),
        ("mail_budget", "attack", "mail budget"),
        ("event", "alert_sent", "alert_sent"),
    ]
    .into_iter()
    .zip(before)
    {
        until_retried(what, before).await;
        refuse(&app, table, kind, false).await;
    }
    let events = app.events().await;
    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(EventKind::AccountLocked), 1);
    assert_eq!(count(EventKind::AlertSent), 1);
    assert_eq!(count(EventKind::AlertSkipped), 0, "its budget spent once");
    let mails = raw_rows(
        &app.db,
        "select kind from mail_queue where kind = 'lockout'",
    )
    .await;
    assert_eq!(mails.len(), 1, "the owner's lockout mail, once");
}

/// Signs `client` in from `ip` with the right password, answering the CAPTCHA if one is shown
/// first: the e-mailed code's step-up page.
async fn at_email_step_up(app: &TestApp, client: &reqwest::Client, ip: &str, user: &TestUser) {
    let mut page = app
        .sign_in_from(client, ip, &user.email, &user.password, None)
        .await;
    if page.body.contains("name=\"captcha_answer\"") {
        page = app
            .sign_in_from(client, ip, &user.email, &user.password, Some(ANSWER))
            .await;
    }
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(
        page.body.contains("data-challenge=\"email\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_step_up_that_locks_still_answers_and_its_record_outlasts_a_database_error() {
    let app = app_with(/* block_after */ 100, /* lock_after */ 3).await;
    let user = app.user().await;
    // The owner asked for the mailed code at every sign-in.
    let id = app.user_id(&user.email).await;
    app.state.accounts.set_require_mfa(&id, true).await.unwrap();
    // Two guesses from elsewhere, then a thief with the password meets the mailed code and
    // guesses it: the third failure locks the account, inside the step-up's answer.
    let c = new_client();
    for i in 0..2 {
        let page = app
            .sign_in_from(&c, &format!("203.0.113.{i}"), &user.email, "spray", None)
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let (thief, ip) = (new_client(), "198.51.100.79");
    at_email_step_up(&app, &thief, ip, &user).await;
    refuse(&app, "event", "account_locked", true).await;
    let before = retries("account_locked");
    let code: u32 = app.last_code().await.parse().unwrap();
    let guess = format!("{:06}", (code + 1) % 1_000_000);
    let page = app.send_email_code(&thief, ip, &guess).await;
    // The lock committed; its record's failure is not this answer's.
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    until_retried("account_locked", before).await;
    refuse(&app, "event", "account_locked", false).await;
    let events = app.events().await;
    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(EventKind::AccountLocked), 1);
    assert_eq!(count(EventKind::AlertSent), 1, "the lockout notice");
    let mails = raw_rows(
        &app.db,
        "select kind from mail_queue where kind = 'lockout'",
    )
    .await;
    assert_eq!(mails.len(), 1, "the owner's lockout mail, once");
}

#[tokio::test]
async fn the_attack_alert_outlasts_a_database_error() {
    let app = app_with(/* block_after */ 3, /* lock_after */ 100).await;
    let user = app.user().await;
    // The owner's network is known, so the ladder alone decides (no risk challenge).
    let owner = new_client();
    let page = app
        .sign_in_from(&owner, "192.0.2.10", &user.email, &user.password, None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    refuse(&app, "mail_budget", "attack", true).await;
    refuse(&app, "event", "alert_sent", true).await;
    let before = [retries("mail budget"), retries("alert_sent")];
    let (attacker, ip) = (new_client(), "192.0.2.66");
    let mut blocked = false;
    for _ in 0..6 {
        let page = app
            .sign_in_from(&attacker, ip, &user.email, "guess-password", None)
            .await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            blocked = true;
            break;
        }
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    }
    assert!(blocked, "the source is blocked");
    until_retried("mail budget", before[0]).await;
    refuse(&app, "mail_budget", "attack", false).await;
    until_retried("alert_sent", before[1]).await;
    refuse(&app, "event", "alert_sent", false).await;
    let events = app.events().await;
    let alerts: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::AlertSent)
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].decision.as_deref(), Some("attack"));
    assert!(
        !events.iter().any(|e| e.kind == EventKind::AlertSkipped),
        "its budget spent once"
    );
    let mails = raw_rows(&app.db, "select kind from mail_queue where kind = 'attack'").await;
    assert_eq!(mails.len(), 1, "the owner's attack alert, once");
}
