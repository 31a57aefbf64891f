//! Password-reset tokens: single use, expiry, and a reset spends every outstanding link of the
//! account (and no other account's); the sealed form of the account's live link, cleared when
//! any of its links is spent.

use crate::storage::Store;

pub(super) async fn resets_contract(store: &Store) {
    let r = &store.resets;
    assert_eq!(r.live_reset("u1", 1000).await.unwrap(), None);
    for (hash, user, expires) in [
        ("h-old", "u1", 1900),
        ("h-new", "u1", 2000),
        ("h-other", "u2", 2000),
    ] {
        let sealed = format!("sealed-{hash}");
        r.insert_reset(hash, &sealed, user, expires, 1000)
            .await
            .unwrap();
    }
    assert_eq!(
        r.live_reset("u1", 1500).await.unwrap().as_deref(),
        Some("sealed-h-new"),
        "the live link that expires last"
    );
    assert_eq!(
        r.live_reset("u1", 2000).await.unwrap(),
        None,
        "none valid by then"
    );
    assert!(r.is_reset_usable("h-old", 1500).await.unwrap());
    assert!(!r.is_reset_usable("h-old", 1900).await.unwrap(), "expired");
    assert_eq!(
        r.consume_reset("h-new", 1500).await.unwrap().as_deref(),
        Some("u1")
    );
    assert_eq!(r.consume_reset("h-new", 1501).await.unwrap(), None, "spent");
    assert!(
        !r.is_reset_usable("h-old", 1501).await.unwrap(),
        "an older link of the account is spent with the reset"
    );
    assert_eq!(r.consume_reset("h-old", 1501).await.unwrap(), None);
    assert_eq!(
        r.live_reset("u1", 1501).await.unwrap(),
        None,
        "spending a link clears the account's sealed links"
    );
    assert_eq!(
        r.live_reset("u2", 1501).await.unwrap().as_deref(),
        Some("sealed-h-other")
    );
    assert_eq!(
        r.consume_reset("h-other", 1502).await.unwrap().as_deref(),
        Some("u2"),
        "another account's link is untouched"
    );
    let late = crate::storage::resets::NewReset {
        token_hash: "h-live",
        sealed_token: "sealed-h-live",
        user_id: "u1",
        expires_at: 9000,
        now: 1600,
    };
    assert!(r.insert_reset_unless_live(late, 2200).await.unwrap());
    let again = crate::storage::resets::NewReset {
        token_hash: "h-again",
        ..late
    };
    assert!(
        !r.insert_reset_unless_live(again, 2200).await.unwrap(),
        "a live link stands: not stored"
    );
    assert!(
        r.insert_reset_unless_live(again, 9000).await.unwrap(),
        "none live then"
    );
    r.delete_reset("h-again").await.unwrap();
    assert!(
        !r.is_reset_usable("h-again", 1601).await.unwrap(),
        "deleted"
    );
    r.insert_reset("h-late", "sealed-h-late", "u1", 9000, 1600)
        .await
        .unwrap();
    assert!(
        r.is_reset_usable("h-late", 1601).await.unwrap(),
        "a link asked for after the reset works"
    );
    one_live_link_under_concurrency(store).await;
}

/// Concurrent requests for one account (two instances, two background mail tasks) store one
/// link between them, never two (PostgreSQL's read committed would, without the lock).
async fn one_live_link_under_concurrency(store: &Store) {
    for round in 0..10 {
        let mut tries = tokio::task::JoinSet::new();
        for i in 0..16 {
            let r = store.resets.clone();
            tries.spawn(async move {
                let (hash, sealed) = (format!("h-race-{round}-{i}"), format!("sealed-{i}"));
                let user = format!("u-race-{round}");
                let n = crate::storage::resets::NewReset {
                    token_hash: &hash,
                    sealed_token: &sealed,
                    user_id: &user,
                    expires_at: 9000,
                    now: 1700,
                };
                r.insert_reset_unless_live(n, 2200).await.unwrap()
            });
        }
        let stored = tries.join_all().await;
        assert_eq!(
            stored.iter().filter(|s| **s).count(),
            1,
            "one live link however many ask at once: {stored:?}"
        );
    }
}
