//! Passkeys: stored with their event in one transaction, listed per account, found by
//! credential id across accounts, a credential registered once, the use recorded, removal
//! scoped to the owner (and its event written only when something was removed).

use crate::domain::context::RequestContext;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::Store;
use crate::storage::error::StoreError;
use crate::storage::passkeys::{PasskeyRecord, Recorded};

fn record(id: &str, account: &str, cred: &str, at: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: id.into(),
        account_id: account.into(),
        credential_id: cred.into(),
        name: format!("key {id}"),
        credential: "v2:sealed".into(),
        created_at: at,
        last_used_at: None,
        // The second key ("k2") was added by a session that passed no factor.
        proven: id != "k2",
    }
}

async fn kinds(store: &Store, user: &str) -> Vec<EventKind> {
    let filter = EventFilter {
        user_id: Some(user.into()),
        limit: 50,
        ..EventFilter::default()
    };
    let events = store.events.list(&filter).await.unwrap();
    events.into_iter().map(|e| e.kind).collect()
}

pub(super) async fn passkeys_contract(store: &Store) {
    let (a, b) = (
        super::account("pk-a@example.com"),
        super::account("pk-b@example.com"),
    );
    store.accounts.insert(&a).await.unwrap();
    store.accounts.insert(&b).await.unwrap();
    let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua", "rid".into());
    let ts = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let enrolled = AuthEvent::new(EventKind::MfaEnrolled, &ctx, ts).user(&a.id);
    let rec = Recorded {
        event: &enrolled,
        mail: None,
    };
    let p = &store.passkeys;
    p.insert_passkey(&record("k1", &a.id, "c1", 10), rec)
        .await
        .unwrap();
    let again = AuthEvent::new(EventKind::MfaEnrolled, &ctx, ts).user(&a.id);
    let rec2 = Recorded {
        event: &again,
        mail: None,
    };
    p.insert_passkey(&record("k2", &a.id, "c2", 20), rec2)
        .await
        .unwrap();
    // One credential, one account: the same credential id for another account conflicts,
    // and neither the row nor its event is written.
    let other = AuthEvent::new(EventKind::MfaEnrolled, &ctx, ts).user(&b.id);
    let rec_b = Recorded {
        event: &other,
        mail: None,
    };
    match p
        .insert_passkey(&record("k3", &b.id, "c1", 30), rec_b)
        .await
    {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        kinds(store, &b.id).await.is_empty(),
        "no event without the row"
    );
    let listed = p.list_passkeys(&a.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.id.as_str(), r.proven))
            .collect::<Vec<_>>(),
        [("k1", true), ("k2", false)]
    );
    assert_eq!(kinds(store, &a.id).await.len(), 2);
    let found = p.find_passkey_by_credential("c2").await.unwrap().unwrap();
    assert_eq!(found.account_id, a.id);
    assert!(
        p.find_passkey_by_credential("nope")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        p.update_passkey_use("k2", "v2:resealed", 5, 99)
            .await
            .unwrap()
    );
    let used = p.find_passkey_by_credential("c2").await.unwrap().unwrap();
    assert_eq!(
        (used.credential.as_str(), used.last_used_at),
        ("v2:resealed", Some(99))
    );
    // The sign count only moves on: a count already used (or behind) writes nothing.
    for (count, moved) in [(5, false), (4, false), (0, false), (6, true)] {
        let wrote = p.update_passkey_use("k2", "v2:again", count, 100 + count);
        assert_eq!(wrote.await.unwrap(), moved, "count {count}");
    }
    let used = p.find_passkey_by_credential("c2").await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(106), "only the count that moved on");
    // A key that keeps no counter (0 every time) is used again and again.
    for at in [200, 201] {
        assert!(p.update_passkey_use("k1", "v1:zero", 0, at).await.unwrap());
    }
    removal_is_scoped_to_the_owner(store, &a.id, &b.id).await;
}

async fn removal_is_scoped_to_the_owner(store: &Store, a: &str, b: &str) {
    let p = &store.passkeys;
    let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua", "rid".into());
    let ts = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let removed = AuthEvent::new(EventKind::MfaRemoved, &ctx, ts).user(b);
    let rec_rm = Recorded {
        event: &removed,
        mail: None,
    };
    assert!(!p.delete_passkey(b, "k1", rec_rm).await.unwrap());
    assert!(
        kinds(store, b).await.is_empty(),
        "no event when nothing was removed"
    );
    let removed = AuthEvent::new(EventKind::MfaRemoved, &ctx, ts).user(a);
    let rec_rm = Recorded {
        event: &removed,
        mail: None,
    };
    assert!(p.delete_passkey(a, "k1", rec_rm).await.unwrap());
    assert_eq!(p.list_passkeys(a).await.unwrap().len(), 1);
    assert_eq!(kinds(store, a).await.first(), Some(&EventKind::MfaRemoved));
}
