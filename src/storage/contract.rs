//! One contract suite, run against SQLite always and against PostgreSQL when
//! `TEST_POSTGRES_URL` is set (a fresh database per run, dropped afterwards). It stands in for
//! the compile-time query checks we do not use (see `common.rs`).

use time::OffsetDateTime;

use crate::domain::context::RequestContext;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventFilter, EventKind, Risk};
use crate::storage::error::StoreError;
use crate::storage::{AccountRecord, Store};

fn account(email: &str) -> AccountRecord {
    AccountRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        is_admin: false,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
        session_epoch: 0,
    }
}

async fn accounts_contract(store: &Store) {
    let a = account("a@example.com");
    store.accounts.insert(&a).await.unwrap();
    assert_eq!(
        store.accounts.find_by_email("a@example.com").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.accounts.find_by_id(&a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.accounts.find_by_email("b@example.com").await.unwrap(),
        None
    );
    let dup = account("a@example.com");
    match store.accounts.insert(&dup).await {
        Err(StoreError::Conflict { constraint }) => {
            assert!(constraint.contains("email"), "{constraint}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut admin = account("root@example.com");
    admin.is_admin = true;
    store.accounts.insert(&admin).await.unwrap();
    assert!(
        store
            .accounts
            .find_by_id(&admin.id)
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
}

async fn events_contract(store: &Store) {
    let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua/1", "req-1".into());
    let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let mut first = AuthEvent::new(EventKind::LoginFailed, &ctx, t0).username("x@example.com");
    first.risk = Some(Risk {
        score: 0.25,
        reasons: vec!["new device".into()],
        features: Some(vec![0.5, 1.0]),
    });
    let second = AuthEvent::new(
        EventKind::LoginSucceeded,
        &ctx,
        t0 + time::Duration::milliseconds(1500),
    )
    .user("u1")
    .decision(Decision::AllowKnownDevice);
    let other_ip = RequestContext::new("2001:db8::1".parse().unwrap(), "ua/2", "req-2".into());
    let third = AuthEvent::new(
        EventKind::Logout,
        &other_ip,
        t0 + time::Duration::seconds(60),
    )
    .user("u1");
    for e in [&first, &second, &third] {
        store.events.insert(e).await.unwrap();
    }
    let all = store
        .events
        .list(&EventFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all,
        vec![third.clone(), second.clone(), first.clone()],
        "newest first, exact round trip"
    );
    let by_user = store
        .events
        .list(&EventFilter {
            user_id: Some("u1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_user.len(), 2);
    let by_kind = store
        .events
        .list(&EventFilter {
            kind: Some(EventKind::LoginFailed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_kind, vec![first.clone()]);
    let by_ip = store
        .events
        .list(&EventFilter {
            ip: Some("2001:db8::1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ip, vec![third.clone()]);
    let since = store
        .events
        .list(&EventFilter {
            since: Some(t0 + time::Duration::seconds(1)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    let limited = store
        .events
        .list(&EventFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited, vec![third]);
    let combined = store
        .events
        .list(&EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some("u1".into()),
            ip: Some("192.0.2.1".into()),
            since: Some(t0),
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(combined, vec![second]);
}

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

async fn mail_contract(store: &Store) {
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
    store.mail.mark_sent("m1", now + 31).await.unwrap();
    assert!(
        store
            .mail
            .claim_due(now + 10_000, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
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
}

async fn protection_contract(store: &Store) {
    let f = &store.failures;
    let a = f
        .count_attempt("user:1", "net:192.0.2.1", None, 100, 0)
        .await
        .unwrap();
    let b = f
        .count_attempt("user:1", "net:192.0.2.1", None, 101, 0)
        .await
        .unwrap();
    assert_eq!((a.failures, b.failures), (1, 2));
    f.count_attempt("user:1", "*", None, 101, 0).await.unwrap();
    f.block("user:1", "*", 500).await.unwrap();
    let c = f
        .count_attempt("user:1", "net:192.0.2.1", None, 102, 0)
        .await
        .unwrap();
    assert_eq!(
        c.account_locked_until,
        Some(500),
        "the account lock is read in the same statement"
    );
    // A window that started before the cutoff restarts at 1.
    let d = f
        .count_attempt("user:1", "net:192.0.2.1", None, 2000, 1000)
        .await
        .unwrap();
    assert_eq!(d.failures, 1);
    f.uncount("user:1", "net:192.0.2.1").await.unwrap();
    assert_eq!(
        f.find("user:1", "net:192.0.2.1")
            .await
            .unwrap()
            .map(|s| s.failures),
        Some(0)
    );
    // A success clears its pair and writes its event together; other pairs stay.
    f.count_attempt("user:1", "net:192.0.2.9", None, 2001, 1000)
        .await
        .unwrap();
    let ctx = crate::domain::context::RequestContext::new(
        "192.0.2.9".parse().unwrap(),
        "contract",
        "r-clear".into(),
    );
    let ok = crate::events::AuthEvent::new(
        crate::events::EventKind::LoginSucceeded,
        &ctx,
        time::OffsetDateTime::from_unix_timestamp(2001).unwrap(),
    )
    .user("1")
    .decision(Decision::Allow);
    f.clear_with_event("user:1", "net:192.0.2.9", &ok)
        .await
        .unwrap();
    assert!(f.find("user:1", "net:192.0.2.9").await.unwrap().is_none());
    assert!(f.find("user:1", "net:192.0.2.1").await.unwrap().is_some());
    let stored = store
        .events
        .list(&crate::events::EventFilter {
            user_id: Some("1".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(stored.iter().any(|e| e.id == ok.id), "the event is stored");
    assert_eq!(
        stored.iter().find(|e| e.id == ok.id),
        Some(&ok),
        "with its decision text and code"
    );
    // The same event id again fails (primary key): the clear is rolled back with it and the
    // connection is usable afterwards.
    f.count_attempt("user:1", "net:192.0.2.9", None, 2002, 1000)
        .await
        .unwrap();
    assert!(
        f.clear_with_event("user:1", "net:192.0.2.9", &ok)
            .await
            .is_err()
    );
    assert_eq!(
        f.find("user:1", "net:192.0.2.9")
            .await
            .unwrap()
            .map(|s| s.failures),
        Some(1),
        "nothing cleared when the event write failed"
    );
    for _ in 0..3 {
        f.count_attempt("user:1", "net:192.0.2.8", None, 2003, 1000)
            .await
            .unwrap();
    }
    assert_eq!(f.clear_account("user:1").await.unwrap(), 4);
    // The sign-in lookup picks the same row on both engines (`SignInKeys::pick`).
    store
        .accounts
        .insert(&account("gate@example.com"))
        .await
        .unwrap();
    let id = store
        .accounts
        .find_by_email("gate@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let keys = |email, device| crate::storage::protection::SignInKeys {
        email,
        unknown_account: "name:nobody",
        device,
        net: "net:192.0.2.7",
        prefix: "192.0.2.0/24",
        now: 3000,
        window_cutoff: 2000,
    };
    let known = f
        .find_and_count(&keys(Some("gate@example.com"), None))
        .await
        .unwrap();
    assert_eq!(
        known.account.as_ref().map(|a| a.id.as_str()),
        Some(id.as_str())
    );
    assert_eq!(
        (
            known.account_key.as_str(),
            known.source.as_str(),
            known.state.failures
        ),
        (format!("user:{id}").as_str(), "net:192.0.2.7", 1)
    );
    let again = f
        .find_and_count(&keys(Some("gate@example.com"), None))
        .await
        .unwrap();
    assert_eq!(again.state.failures, 2, "counted on the same row");
    let device = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some((id.as_str(), "device:d1")),
        ))
        .await
        .unwrap();
    assert_eq!(
        (device.source.as_str(), device.state.failures),
        ("device:d1", 1)
    );
    let other = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some(("someone-else", "device:d2")),
        ))
        .await
        .unwrap();
    assert_eq!(
        (other.source.as_str(), other.state.failures),
        ("net:192.0.2.7", 3),
        "another account's device cookie counts as the network"
    );
    f.count_attempt(&format!("user:{id}"), "*", None, 3000, 2000)
        .await
        .unwrap();
    f.block(&format!("user:{id}"), "*", 9999).await.unwrap();
    let locked = f
        .find_and_count(&keys(Some("gate@example.com"), None))
        .await
        .unwrap();
    assert_eq!(locked.state.account_locked_until, Some(9999));
    for email in [Some("nobody@example.com"), None] {
        let unknown = f.find_and_count(&keys(email, None)).await.unwrap();
        assert!(unknown.account.is_none());
        assert_eq!(
            (unknown.account_key.as_str(), unknown.source.as_str()),
            ("name:nobody", "net:192.0.2.7")
        );
    }
    let s1 = f.secret("k", "first", 1).await.unwrap();
    let s2 = f.secret("k", "second", 2).await.unwrap();
    assert_eq!(
        (s1.as_str(), s2.as_str()),
        ("first", "first"),
        "first writer wins"
    );
}

async fn run_contract(store: Store) {
    assert!(store.health.is_reachable().await);
    accounts_contract(&store).await;
    events_contract(&store).await;
    mail_contract(&store).await;
    protection_contract(&store).await;
}

#[tokio::test]
async fn sqlite_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    run_contract(crate::storage::connect(&url, 2).await.unwrap()).await;
    // Migrations are idempotent: connecting again is fine.
    crate::storage::connect(&url, 2).await.unwrap();
}

#[tokio::test]
async fn postgres_contract() {
    let Some(base) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("TEST_POSTGRES_URL not set: PostgreSQL contract not run");
        return;
    };
    let (url, name) = crate::storage::postgres::create_scratch_database(&base)
        .await
        .unwrap();
    let store = crate::storage::connect(&url, 2).await.unwrap();
    run_contract(store.clone()).await;
    // Two instances migrating the same database at once both succeed.
    let (a, b) = tokio::join!(
        crate::storage::connect(&url, 2),
        crate::storage::connect(&url, 2)
    );
    a.unwrap();
    b.unwrap();
    crate::storage::postgres::drop_database(&base, &name)
        .await
        .unwrap();
}
