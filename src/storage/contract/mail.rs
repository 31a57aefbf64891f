//! Mail: an event and its mail written together, the leased queue, the budget per recipient
//! and kind.

use time::OffsetDateTime;

use crate::domain::context::RequestContext;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::Store;

fn mail(id: &str, message_id: &str, now: i64) -> crate::storage::mail::MailRecord {
    crate::storage::mail::MailRecord {
        id: id.into(),
        message_id: message_id.into(),
        kind: "password_reset".into(),
        recipient: "a@example.com".into(),
        subject: "s".into(),
        text_body: "t".into(),
        html_body: "<p>h</p>".into(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        sent_at: None,
        last_error: None,
        created_at: now,
    }
}

pub(super) async fn mail_contract(store: &Store) {
    event_with_mail(store).await;
    queue(store).await;
    urgent_first(store).await;
    budget(store).await;
}

/// A backlog does not hold up an e-mailed code (claimed first) or an alert (before the
/// address verifications a registration flood can queue).
async fn urgent_first(store: &Store) {
    let ctx = RequestContext::new("192.0.2.9".parse().unwrap(), "ua", "r".into());
    let now = 1_900_100_000;
    let at = OffsetDateTime::from_unix_timestamp(now).unwrap();
    // The kinds as the mail module names them: `DUE_MAIL`'s tiers spell the same words.
    use crate::domain::notify::kinds;
    for (id, kind, due) in [
        ("u-alert", "attack", now - 30),
        ("u-verify", kinds::VERIFY_EMAIL, now - 20),
        ("u-reset", kinds::PASSWORD_RESET, now - 10),
        ("u-code", kinds::EMAIL_CODE, now),
    ] {
        let mut m = mail(id, &format!("<{id}@x>"), due);
        m.kind = kind.into();
        let e = AuthEvent::new(EventKind::AlertSent, &ctx, at);
        store.events.insert_with_mail(&e, &m).await.unwrap();
    }
    let mut order = Vec::new();
    while let Some(m) = store.mail.claim_due(now, 60, 1).await.unwrap().pop() {
        store.mail.mark_sent(&m.id, now).await.unwrap();
        // (Other parts' mail may be due too; only ours are compared.)
        if m.id.starts_with("u-") {
            order.push(m.id);
        }
    }
    assert_eq!(order, ["u-code", "u-alert", "u-reset", "u-verify"]);
}

/// An event and its mail are written together or not at all.
async fn event_with_mail(store: &Store) {
    let ctx = RequestContext::new("192.0.2.9".parse().unwrap(), "ua", "r".into());
    let now = 1_900_000_000;
    let at = OffsetDateTime::from_unix_timestamp(now).unwrap();
    let e1 = AuthEvent::new(EventKind::PasswordResetRequested, &ctx, at);
    store
        .events
        .insert_with_mail(&e1, &mail("m1", "<m1@x>", now))
        .await
        .unwrap();
    // A mail that cannot be written (same Message-ID) takes its event down with it.
    let e2 = AuthEvent::new(EventKind::AlertSent, &ctx, at);
    assert!(
        store
            .events
            .insert_with_mail(&e2, &mail("m2", "<m1@x>", now))
            .await
            .is_err()
    );
    let kinds: Vec<EventKind> = store
        .events
        .list(&EventFilter {
            since: Some(at),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![EventKind::PasswordResetRequested],
        "atomic: no event without its mail"
    );
}

/// The queue: claimed once, by one worker; failure backs off; sent leaves it.
async fn queue(store: &Store) {
    let now = 1_900_000_000;
    // Claimed once, by one worker; failure backs off; sent leaves the queue.
    let claimed = store.mail.claim_due(now, 60, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store.mail.claim_due(now, 60, 10).await.unwrap().is_empty(),
        "leased"
    );
    store
        .mail
        .mark_failed("m1", now + 30, "421 try later")
        .await
        .unwrap();
    assert!(
        store
            .mail
            .claim_due(now + 29, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.mail.claim_due(now + 30, 60, 10).await.unwrap();
    assert_eq!(again.first().map(|m| m.attempts), Some(1));
    // A worker whose lease ran out during a slow batch: another claims the mail, and the
    // first one's renewal before sending is refused (it must not send it too).
    let held_a = again[0].locked_until.unwrap();
    assert_eq!(held_a, now + 90);
    let b = store.mail.claim_due(now + 91, 60, 10).await.unwrap();
    let held_b = b[0].locked_until.unwrap();
    assert!(
        !store
            .mail
            .renew_lease("m1", held_a, now + 200)
            .await
            .unwrap()
    );
    assert!(
        store
            .mail
            .renew_lease("m1", held_b, now + 200)
            .await
            .unwrap()
    );
    assert!(
        store
            .mail
            .claim_due(now + 152, 60, 10)
            .await
            .unwrap()
            .is_empty(),
        "renewed: still leased"
    );
    store.mail.mark_sent("m1", now + 31).await.unwrap();
    assert!(
        store
            .mail
            .claim_due(now + 10_000, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The budget: counted per recipient and kind, restarted after the window.
async fn budget(store: &Store) {
    let now = 1_900_000_000;
    // The budget: counted per recipient and kind, restarted after the window.
    let m = &store.mail;
    assert_eq!(
        m.spend_budget("a@example.com", "password_reset", now, 3600)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        m.spend_budget("a@example.com", "password_reset", now + 10, 3600)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        m.spend_budget("a@example.com", "lockout", now + 10, 3600)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        m.spend_budget("b@example.com", "password_reset", now + 10, 3600)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        m.spend_budget("a@example.com", "password_reset", now + 3600, 3600)
            .await
            .unwrap(),
        1
    );
    // Cleared: the kind and its narrower budgets ("kind …"), for that recipient only.
    for (to, kind) in [
        ("a@example.com", "email_code"),
        ("a@example.com", "email_code from 192.0.2.0/24"),
        ("a@example.com", "email_code device:d1"),
        ("a@example.com", "email_codes"),
        ("b@example.com", "email_code"),
    ] {
        m.spend_budget(to, kind, now, 3600).await.unwrap();
    }
    assert_eq!(
        m.clear_budgets("a@example.com", "email_code")
            .await
            .unwrap(),
        3
    );
    let spent = |to: &'static str, kind: &'static str| async move {
        m.spend_budget(to, kind, now + 1, 3600).await.unwrap()
    };
    assert_eq!(
        spent("a@example.com", "email_code").await,
        1,
        "started again"
    );
    assert_eq!(spent("a@example.com", "email_code device:d1").await, 1);
    assert_eq!(
        spent("a@example.com", "email_codes").await,
        2,
        "another kind"
    );
    assert_eq!(
        spent("b@example.com", "email_code").await,
        2,
        "another recipient"
    );
    assert_eq!(spent("a@example.com", "lockout").await, 2, "untouched");
}
