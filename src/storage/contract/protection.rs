//! Protection: counting, windows, blocks, the account-wide lock, the clear that rides on the
//! success event, the sign-in lookup's choice of row (the same on both engines), the owner's
//! unlock of chosen sources, spent links, secrets.

use crate::storage::Store;

use super::account;

pub(super) async fn protection_contract(store: &Store) {
    counting(store).await;
    clearing(store).await;
    unlocking(store).await;
    sign_in_lookup(store).await;
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

/// The sign-in lookup: the same counter row on both engines.
async fn sign_in_lookup(store: &Store) {
    let f = &store.failures;
    // The sign-in lookup picks the same row on both engines (`counter_row!`).
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
    let owner = format!("{id}:0");
    let device = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some((owner.as_str(), "device:d1")),
        ))
        .await
        .unwrap();
    assert_eq!(
        (device.source.as_str(), device.state.failures),
        ("device:d1", 1)
    );
    sign_in_lookup_epochs(store, &id).await;
    sign_in_lookup_locked_and_unknown(store, &id).await;
}

/// The sign-in lookup, continued: a device cookie counts only at the account's current session
/// epoch, and only for its own account.
async fn sign_in_lookup_epochs(store: &Store, id: &str) {
    let f = &store.failures;
    let keys = |email, device| crate::storage::protection::SignInKeys {
        email,
        unknown_account: "name:nobody",
        device,
        net: "net:192.0.2.7",
        prefix: "192.0.2.0/24",
        now: 3000,
        window_cutoff: 2000,
    };
    let owner = format!("{id}:0");
    // A claim without the epoch counts as the network; once the epoch moves on (a reset or
    // "wasn't you?"), so does a cookie of the epoch before; a cookie of the new epoch counts.
    let stale = f
        .find_and_count(&keys(Some("gate@example.com"), Some((id, "device:d1"))))
        .await
        .unwrap();
    assert_eq!(
        (stale.source.as_str(), stale.state.failures),
        ("net:192.0.2.7", 3),
        "a cookie without the epoch counts as the network"
    );
    store.accounts.end_sessions(id, 3000).await.unwrap();
    let after_reset = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some((owner.as_str(), "device:d1")),
        ))
        .await
        .unwrap();
    assert_eq!(
        (after_reset.source.as_str(), after_reset.state.failures),
        ("net:192.0.2.7", 4),
        "the epoch moved on: the device no longer counts"
    );
    let moved = format!("{id}:1");
    let current = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some((moved.as_str(), "device:d1")),
        ))
        .await
        .unwrap();
    assert_eq!(current.source.as_str(), "device:d1");
    let other = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some(("someone-else", "device:d2")),
        ))
        .await
        .unwrap();
    assert_eq!(
        (other.source.as_str(), other.state.failures),
        ("net:192.0.2.7", 5),
        "another account's device cookie counts as the network"
    );
}

/// The sign-in lookup, continued: an account lock is read with the count, and unknown names
/// count on their own row.
async fn sign_in_lookup_locked_and_unknown(store: &Store, id: &str) {
    let f = &store.failures;
    let keys = |email| crate::storage::protection::SignInKeys {
        email,
        unknown_account: "name:nobody",
        device: None,
        net: "net:192.0.2.7",
        prefix: "192.0.2.0/24",
        now: 3000,
        window_cutoff: 2000,
    };
    f.count_attempt(&format!("user:{id}"), "*", None, 3000, 2000)
        .await
        .unwrap();
    f.block(&format!("user:{id}"), "*", 9999).await.unwrap();
    let locked = f
        .find_and_count(&keys(Some("gate@example.com")))
        .await
        .unwrap();
    assert_eq!(locked.state.account_locked_until, Some(9999));
    for email in [Some("nobody@example.com"), None] {
        let unknown = f.find_and_count(&keys(email)).await.unwrap();
        assert!(unknown.account.is_none());
        assert_eq!(
            (unknown.account_key.as_str(), unknown.source.as_str()),
            ("name:nobody", "net:192.0.2.7")
        );
    }
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
