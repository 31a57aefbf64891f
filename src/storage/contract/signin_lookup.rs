//! The sign-in lookup (`FailureStore::find_and_count`): the same counter row on both engines,
//! a device cookie only at the account's current session epoch, an account lock read with the
//! count, unknown names on their own row.

use crate::storage::Store;

use super::account;

/// The sign-in lookup: the same counter row on both engines.
pub(super) async fn sign_in_lookup(store: &Store) {
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
    // A browser the owner reported ("this wasn't me") counts as the network while the account
    // stays at the epoch it was reported at; another of the owner's browsers still counts.
    let reported = "device:d-reported";
    let before = f
        .find_and_count(&keys(Some("gate@example.com"), Some((&moved, reported))))
        .await
        .unwrap();
    assert_eq!(before.source.as_str(), reported);
    let sessions = &store.user_sessions;
    assert!(!f.is_revoked_device(reported).await.unwrap());
    sessions.revoke_device(reported, id, 1, 3000).await.unwrap();
    assert!(f.is_revoked_device(reported).await.unwrap());
    sessions.revoke_device(reported, id, 1, 3001).await.unwrap();
    let after = f
        .find_and_count(&keys(Some("gate@example.com"), Some((&moved, reported))))
        .await
        .unwrap();
    assert_eq!(
        after.source.as_str(),
        "net:192.0.2.7",
        "a reported browser's cookie counts as the network"
    );
    let still = f
        .find_and_count(&keys(Some("gate@example.com"), Some((&moved, "device:d1"))))
        .await
        .unwrap();
    assert_eq!(still.source.as_str(), "device:d1");
    let other = f
        .find_and_count(&keys(
            Some("gate@example.com"),
            Some(("someone-else", "device:d2")),
        ))
        .await
        .unwrap();
    assert_eq!(
        (other.source.as_str(), other.state.failures),
        ("net:192.0.2.7", 6),
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
