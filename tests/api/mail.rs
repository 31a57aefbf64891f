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
