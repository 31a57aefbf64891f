//! Mail through a real SMTP listener: the alert arrives with the right recipient and link;
//! with the listener down it waits in the queue and arrives once the listener is back; a restart
//! of authd in between loses nothing.

use crate::helpers::{TestDb, new_client, read, spawn_app_on};
use crate::smtp::{SmtpSink, reset_link};

async fn ask_reset(app: &crate::helpers::TestApp, email: &str) {
    let client = new_client();
    let csrf = read(
        client
            .get(app.url("/password/forgot"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .csrf();
    let page = read(
        client
            .post(app.url("/password/forgot"))
            .form(&[("email", email), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, reqwest::StatusCode::OK);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn mail_goes_through_smtp_with_recipient_and_link() {
    let sink = SmtpSink::start(0).await;
    let app = spawn_app_on(TestDb::new().await, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port).into());
        c.mail_from = "authd <security@example.org>".parse().unwrap();
    })
    .await;
    let user = app.user().await;
    ask_reset(&app, &user.email).await;
    app.drain_mail().await;
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, vec![user.email.clone()]);
    assert!(got[0].data.contains("From: authd <security@example.org>"));
    assert!(got[0].data.contains("Message-ID: <") && got[0].data.contains("@example.org>"));
    let link = reset_link(&got[0].data).expect("a reset link");
    assert!(link.starts_with(&format!("{}/password/reset?token=", app.address)));
    assert!(
        app.outbox(0).await.is_empty(),
        "with SMTP set, no .eml files"
    );
}

#[tokio::test]
async fn mail_waits_out_an_smtp_outage_and_an_authd_restart() {
    let port = free_port();
    let db = TestDb::new().await;
    let smtp = format!("smtp://127.0.0.1:{port}");
    let first = spawn_app_on(db.share(), |c| {
        c.smtp_url = Some(smtp.clone().into());
    })
    .await;
    let user = first.user().await;
    ask_reset(&first, &user.email).await;
    // The listener is down: the worker tries, fails, and backs off; nothing is lost.
    assert_eq!(first.drain_mail().await, 0, "nothing can be delivered");
    drop(first);

    let sink = SmtpSink::start(port).await;
    assert!(sink.messages().is_empty());
    let second = spawn_app_on(db.share(), |c| {
        c.smtp_url = Some(smtp.clone().into());
    })
    .await;
    // Past the backoff, the new instance delivers what the old one queued.
    second.clock.advance(time::Duration::minutes(2));
    second.drain_mail().await;
    let got = sink.messages();
    assert_eq!(
        got.len(),
        1,
        "the queued mail survived the outage and the restart"
    );
    assert_eq!(got[0].rcpt, vec![user.email.clone()]);
    assert!(reset_link(&got[0].data).is_some());
    // Delivered once, not again.
    second.clock.advance(time::Duration::minutes(10));
    second.drain_mail().await;
    assert_eq!(sink.messages().len(), 1);
    drop(db);
}

/// A reset mail that waited out its link's 30 minutes (an SMTP outage) is given up, not sent
/// late: the row is done, its bodies blanked, and it is never tried again.
#[tokio::test]
async fn a_reset_mail_that_outlived_its_link_is_given_up_not_sent_late() {
    let port = free_port();
    let app = spawn_app_on(TestDb::new().await, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await;
    let user = app.user().await;
    ask_reset(&app, &user.email).await;
    assert_eq!(app.drain_mail().await, 0, "the listener is down");
    let sink = SmtpSink::start(port).await;
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(app.drain_mail().await, 0, "expired: not sent");
    app.clock.advance(time::Duration::hours(2));
    app.drain_mail().await;
    assert!(sink.messages().is_empty(), "never sent late");
    let rows = crate::helpers::raw_rows(
        &app.db,
        "select coalesce(last_error, ''), text_body, html_body, \
         cast(case when sent_at is null then 0 else 1 end as text) from mail_queue \
         where kind = 'password_reset'",
    )
    .await;
    assert_eq!(
        rows,
        [["expired before delivery", "", "", "1"]
            .map(str::to_owned)
            .to_vec()]
    );
    // A fresh request is sent at once (by this drain or by the server's own delivery job,
    // which runs beside it on a real-time tick: either may take the row).
    ask_reset(&app, &user.email).await;
    for _ in 0..200 {
        app.drain_mail().await;
        if !sink.messages().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(sink.messages().len(), 1);
}

/// Fails sign-ins on `email` from `ip` (wrong answers once challenged) until the pair is
/// blocked.
async fn attack_until_blocked(app: &crate::helpers::TestApp, ip: &str, email: &str) {
    let client = new_client();
    for _ in 0..20 {
        let csrf = read(client.get(app.url("/login")).send().await.unwrap())
            .await
            .csrf();
        let page = read(
            client
                .post(app.url("/login"))
                .header("x-forwarded-for", ip)
                .form(&[
                    ("username", email),
                    ("password", "Summer2026!"),
                    ("csrf_token", &csrf),
                    ("captcha_answer", "wrong answer"),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        if page.status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return;
        }
    }
    panic!("{ip} was never blocked");
}

const ATTACK_SUBJECT: &str = "Subject: Sign-in attempts on your account were blocked by authd";

#[tokio::test]
async fn the_owner_gets_one_attack_alert_per_window_with_what_happened_and_no_secret() {
    let sink = SmtpSink::start(0).await;
    let app = spawn_app_on(TestDb::new().await, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port).into());
        c.captcha = authd::config::CaptchaKind::Test;
        c.captcha_test_answer = Some("open-sesame".into());
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
        c.protection.challenge_after = 3;
        c.protection.block_after = 6;
        c.risk.challenge_at = 0.999;
        c.risk.block_at = 0.9999;
    })
    .await;
    let user = app.user().await;
    // Two networks get blocked on the account within the hour: one mail.
    attack_until_blocked(&app, "203.0.113.66", &user.email).await;
    attack_until_blocked(&app, "203.0.113.77", &user.email).await;
    app.drain_mail().await;
    let alerts: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| crate::smtp::decode_qp(&m.data))
        .filter(|d| d.contains(ATTACK_SUBJECT))
        .collect();
    assert_eq!(alerts.len(), 1, "one attack mail per window");
    let mail = &alerts[0];
    assert!(mail.contains(&format!("To: {}", user.email)));
    let count: i64 = mail
        .split(" failed sign-in attempts")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count in {mail}"));
    assert!(count >= 6, "{count}");
    assert!(mail.contains("the network 203.0.113.0/24"), "{mail}");
    let now = authd::domain::clock::Clock::now(app.clock.as_ref());
    let when = format!("today at {:02}:{:02} UTC", now.hour(), now.minute());
    assert!(mail.contains(&when), "a time people read ({when}): {mail}");
    assert!(
        !mail.contains(&format!("{}T", now.date())),
        "not RFC 3339: {mail}"
    );
    assert!(mail.contains("Your account is safe"), "{mail}");
    assert!(!mail.contains("/not-me?token="), "nobody got in: no link");
    assert!(!mail.contains("Summer2026!") && !mail.contains(&user.password));

    // Someone gets in with the password from a new browser; in the next window, a new block
    // mails again, now with the "wasn't you?" link.
    let intruder = new_client();
    let csrf = read(intruder.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let page = read(
        intruder
            .post(app.url("/login"))
            .header("x-forwarded-for", "198.51.100.9")
            .form(&[
                ("username", user.email.as_str()),
                ("password", user.password.as_str()),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, reqwest::StatusCode::SEE_OTHER, "{}", page.body);
    app.clock.advance(time::Duration::minutes(61));
    attack_until_blocked(&app, "203.0.113.88", &user.email).await;
    app.drain_mail().await;
    let alerts: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| crate::smtp::decode_qp(&m.data))
        .filter(|d| d.contains(ATTACK_SUBJECT))
        .collect();
    assert_eq!(alerts.len(), 2, "a new window, a new mail");
    assert!(alerts[1].contains("Someone did sign in"), "{}", alerts[1]);
    assert!(
        alerts[1].contains(&format!("{}/not-me?token=", app.address)),
        "{}",
        alerts[1]
    );
    assert!(!alerts[1].contains(&user.password));
}
