//! The account lock's record and the owner's notice outlast a database error: the lock is
//! committed by the attempt that set it, its `account_locked` event, the mail's limits and the
//! lockout mail (with its `alert_sent`) are written after the answer and tried again until the
//! database takes them, each once (a limit spent twice would suppress the one-an-hour notice).

use reqwest::StatusCode;

use authd::config::CaptchaKind;
use authd::domain::tasks::retries;
use authd::events::EventKind;

use crate::helpers::{TestApp, cidrs, new_client, raw_rows, spawn_app_with};

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
    let app = spawn_app_with(|c| {
        c.captcha = CaptchaKind::Test;
        c.captcha_test_answer = Some("open-sesame".into());
        c.trusted_proxies = cidrs(&["127.0.0.1/32"]);
        c.protection.challenge_after = 100;
        c.protection.block_after = 100;
        c.protection.lock_after = 5;
    })
    .await;
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
