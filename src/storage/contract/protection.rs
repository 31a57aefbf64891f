//! Protection: counting, windows, blocks, the account-wide lock, the clear that rides on the
//! success event, the owner's unlock of chosen sources, spent links, secrets (the sign-in
//! lookup's choice of row is `signin_lookup.rs`).

use crate::storage::Store;

pub(super) async fn protection_contract(store: &Store) {
    counting(store).await;
    clearing(store).await;
    unlocking(store).await;
    super::signin_lookup::sign_in_lookup(store).await;
    owner_unlock(store).await;
    busiest_source_row(store).await;
    spent_links(store).await;
    secrets(store).await;
}

/// The unlock link clears the named sources only: the attackers' rows stay.
async fn owner_unlock(store: &Store) {
    let f = &store.failures;
    for source in ["*", "net:192.0.2.50", "net:203.0.113.6", "device:own"] {
        f.count_attempt("user:9", source, None, 4000, 3000)
            .await
            .unwrap();
        f.block("user:9", source, 9000).await.unwrap();
    }
    f.count_attempt("user:10", "*", None, 4000, 3000)
        .await
        .unwrap();
    let owners = ["*".to_owned(), "net:192.0.2.50".into(), "device:own".into()];
    assert_eq!(f.clear_sources("user:9", &owners).await.unwrap(), 3);
    for gone in ["*", "net:192.0.2.50", "device:own"] {
        assert!(f.find("user:9", gone).await.unwrap().is_none(), "{gone}");
    }
    assert_eq!(
        f.find("user:9", "net:203.0.113.6")
            .await
            .unwrap()
            .and_then(|s| s.blocked_until),
        Some(9000),
        "the attacking network stays blocked"
    );
    assert!(
        f.find("user:10", "*").await.unwrap().is_some(),
        "other accounts untouched"
    );
    assert_eq!(f.clear_sources("user:9", &owners).await.unwrap(), 0);
}

/// The read-only reads a form makes before its submit: the source's busiest live sign-in row
/// (form rows and stale windows left out), and one pair's live row; nothing is counted.
async fn busiest_source_row(store: &Store) {
    let f = &store.failures;
    let (net, dev) = ("net:198.18.0.1", "device:busy");
    for _ in 0..3 {
        f.count_attempt("user:busy1", net, None, 5000, 4000)
            .await
            .unwrap();
    }
    f.count_attempt("name:busy2", net, None, 5000, 4000)
        .await
        .unwrap();
    for _ in 0..5 {
        // Busier, but a form's row, and an old window.
        f.count_attempt("form:register", net, None, 5000, 4000)
            .await
            .unwrap();
        f.count_attempt("user:busy3", net, None, 1000, 0)
            .await
            .unwrap();
    }
    let busiest = f.find_busiest_source_row([net, net], 4000).await.unwrap();
    assert_eq!(busiest.map(|s| s.failures), Some(3));
    let again = f.find_busiest_source_row([net, net], 4000).await.unwrap();
    assert_eq!(again.map(|s| s.failures), Some(3), "reading counts nothing");
    for _ in 0..4 {
        f.count_attempt("user:busy1", dev, None, 5000, 4000)
            .await
            .unwrap();
    }
    let both = f.find_busiest_source_row([net, dev], 4000).await.unwrap();
    assert_eq!(both.map(|s| s.failures), Some(4), "the device's row");
    let none = f.find_busiest_source_row(["net:198.18.0.2", "net:198.18.0.2"], 0);
    assert!(none.await.unwrap().is_none());
    let form = f.find_live("form:register", net, 4000).await.unwrap();
    assert_eq!(form.map(|s| s.failures), Some(5));
    let stale = f.find_live("user:busy3", net, 4000).await.unwrap();
    assert!(stale.is_none(), "a window started before the cutoff");
}

/// A link is spent exactly once; expired rows are forgotten.
async fn spent_links(store: &Store) {
    let l = &store.spent_links;
    assert!(!l.is_link_spent("d1").await.unwrap());
    assert!(l.spend_link("d1", "unlock", 5000, 4000).await.unwrap());
    assert!(
        !l.spend_link("d1", "unlock", 5000, 4001).await.unwrap(),
        "replay"
    );
    assert!(l.is_link_spent("d1").await.unwrap());
    assert!(l.spend_link("d2", "not_me", 4500, 4002).await.unwrap());
    // Once both expired, a later spend forgets them (their signatures refuse them anyway).
    assert!(l.spend_link("d3", "unlock", 9000, 5001).await.unwrap());
    assert!(!l.is_link_spent("d1").await.unwrap() && !l.is_link_spent("d2").await.unwrap());
    assert!(l.is_link_spent("d3").await.unwrap());
}

/// Counting, the account lock read in the same statement, windows, taking back.
async fn counting(store: &Store) {
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
}

/// A success clears its pair with its event and the profile, atomically.
async fn clearing(store: &Store) {
    let f = &store.failures;
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
    .decision(crate::events::decision::Decision::Allow);
    let profile = crate::storage::risk::ProfileWrite {
        user_id: "1",
        profile: r#"{"n":1}"#,
        now: 2001,
    };
    f.clear_with_event("user:1", "net:192.0.2.9", &ok, Some(profile))
        .await
        .unwrap();
    assert_eq!(
        store.risk.profile("1").await.unwrap().as_deref(),
        Some(r#"{"n":1}"#),
        "the profile is stored with the event"
    );
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
        f.clear_with_event(
            "user:1",
            "net:192.0.2.9",
            &ok,
            Some(crate::storage::risk::ProfileWrite {
                profile: r#"{"n":2}"#,
                ..profile
            })
        )
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
    assert_eq!(
        store.risk.profile("1").await.unwrap().as_deref(),
        Some(r#"{"n":1}"#),
        "nor the profile written"
    );
}

/// Unlock clears every failure of the account: the one `clearing` left and three on a second pair.
async fn unlocking(store: &Store) {
    let f = &store.failures;
    for _ in 0..3 {
        f.count_attempt("user:1", "net:192.0.2.8", None, 2003, 1000)
            .await
            .unwrap();
    }
    assert_eq!(f.clear_account("user:1").await.unwrap(), 4);
}

/// Server secrets: the first writer wins.
async fn secrets(store: &Store) {
    let f = &store.failures;
    let s1 = f.secret("k", "first", 1).await.unwrap();
    let s2 = f.secret("k", "second", 2).await.unwrap();
    assert_eq!(
        (s1.as_str(), s2.as_str()),
        ("first", "first"),
        "first writer wins"
    );
    // Resealing is conditional on the value read: of two instances, one rewrites it.
    assert!(!f.replace_secret("k", "stale", "x").await.unwrap());
    assert!(f.replace_secret("k", "first", "sealed").await.unwrap());
    assert!(
        !f.replace_secret("k", "first", "sealed again")
            .await
            .unwrap()
    );
    assert_eq!(f.secret("k", "third", 3).await.unwrap(), "sealed");
}
