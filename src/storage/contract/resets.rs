//! Password-reset tokens: single use, expiry, and a reset spends every outstanding link of the
//! account (and no other account's).

use crate::storage::Store;

pub(super) async fn resets_contract(store: &Store) {
    let r = &store.resets;
    for (hash, user) in [("h-old", "u1"), ("h-new", "u1"), ("h-other", "u2")] {
        r.insert_reset(hash, user, 2000, 1000).await.unwrap();
    }
    assert!(r.is_reset_usable("h-old", 1500).await.unwrap());
    assert!(!r.is_reset_usable("h-old", 2000).await.unwrap(), "expired");
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
        r.consume_reset("h-other", 1502).await.unwrap().as_deref(),
        Some("u2"),
        "another account's link is untouched"
    );
    r.insert_reset("h-late", "u1", 9000, 1600).await.unwrap();
    assert!(
        r.is_reset_usable("h-late", 1601).await.unwrap(),
        "a link asked for after the reset works"
    );
}
