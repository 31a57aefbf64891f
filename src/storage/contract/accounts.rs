//! Accounts: insert, lookups by email and id, the unique email, the admin flag; the
//! operator's listing (filters, the account-wide lock), disable, enable and delete.

use crate::domain::context::RequestContext;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::Store;
use crate::storage::accounts::AccountQuery;
use crate::storage::error::StoreError;
use crate::storage::protection::{ACCOUNT_KEY_PREFIX, ALL_SOURCES};

use super::account;

pub(super) async fn accounts_contract(store: &Store) {
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

fn admin_event(user_id: &str, what: &str) -> AuthEvent {
    let ctx = RequestContext::new([127, 0, 0, 1].into(), "authd-cli", "cli".into());
    let ts = time::OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
    let mut e = AuthEvent::new(EventKind::AdminAction, &ctx, ts).user(user_id);
    e.decision = Some(what.to_owned());
    e
}

async fn events_of(store: &Store, user_id: &str) -> Vec<AuthEvent> {
    let filter = EventFilter {
        user_id: Some(user_id.to_owned()),
        kind: Some(EventKind::AdminAction),
        limit: 100,
        ..EventFilter::default()
    };
    store.events.list(&filter).await.unwrap()
}

pub(super) async fn operator_contract(store: &Store) {
    let now = 1_700_000_100;
    let a = account("op-alice@example.com");
    let b = account("op-bob_x@example.com");
    for r in [&a, &b] {
        store.accounts.insert(r).await.unwrap();
    }
    let q = |f: fn(&mut AccountQuery)| {
        let mut q = AccountQuery {
            contains: Some("op-".into()),
            limit: 10,
            ..AccountQuery::default()
        };
        f(&mut q);
        q
    };
    let emails = |rows: Vec<crate::storage::accounts::ListedAccount>| {
        rows.into_iter()
            .map(|r| r.account.email)
            .collect::<Vec<_>>()
    };
    let all = store.accounts.list(&q(|_| {}), now).await.unwrap();
    assert_eq!(
        emails(all),
        ["op-alice@example.com", "op-bob_x@example.com"]
    );
    // `_` is matched literally, not as "any character".
    let literal = q(|q| q.contains = Some("b_x".into()));
    let literal = store.accounts.list(&literal, now).await.unwrap();
    assert_eq!(emails(literal), ["op-bob_x@example.com"]);
    let paged = store.accounts.list(&q(|q| q.limit = 1), now).await.unwrap();
    assert_eq!(emails(paged), ["op-alice@example.com"]);
    let after = q(|q| q.after = Some("op-alice@example.com".into()));
    assert_eq!(
        emails(store.accounts.list(&after, now).await.unwrap()),
        ["op-bob_x@example.com"]
    );

    // Bob's account-wide lock holds until now + 60: listed as locked now, not after it.
    let key = format!("{ACCOUNT_KEY_PREFIX}{}", b.id);
    store
        .failures
        .count_attempt(&key, ALL_SOURCES, None, now, 0)
        .await
        .unwrap();
    store
        .failures
        .block(&key, ALL_SOURCES, now + 60)
        .await
        .unwrap();
    let locked = store
        .accounts
        .list(&q(|q| q.locked = true), now)
        .await
        .unwrap();
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].locked_until, Some(now + 60));
    let later = store
        .accounts
        .list(&q(|q| q.locked = true), now + 61)
        .await
        .unwrap();
    assert!(later.is_empty());

    operator_acts_contract(store, &a, &b, now).await;
}

/// Disable, enable, delete (after the listing above: `a` enabled, `b` locked).
async fn operator_acts_contract(
    store: &Store,
    a: &crate::storage::AccountRecord,
    b: &crate::storage::AccountRecord,
    now: i64,
) {
    let key = format!("{ACCOUNT_KEY_PREFIX}{}", b.id);
    let q = |f: fn(&mut AccountQuery)| {
        let mut q = AccountQuery {
            contains: Some("op-".into()),
            limit: 10,
            ..AccountQuery::default()
        };
        f(&mut q);
        q
    };
    let emails = |rows: Vec<crate::storage::accounts::ListedAccount>| {
        rows.into_iter()
            .map(|r| r.account.email)
            .collect::<Vec<_>>()
    };
    // Disable: the epoch moves on, grants and reset links go, the event is stored with it.
    store
        .resets
        .insert_reset("op-hash", "sealed", &a.id, now + 600, now)
        .await
        .unwrap();
    let revoked = store
        .accounts
        .disable(&a.id, now, &|g| admin_event(&a.id, &format!("disable {g}")))
        .await
        .unwrap();
    assert_eq!(revoked, Some(0));
    assert_eq!(
        store.accounts.session_standing(&a.id).await.unwrap(),
        Some((1, Some(now)))
    );
    assert!(!store.resets.is_reset_usable("op-hash", now).await.unwrap());
    let again = store
        .accounts
        .disable(&a.id, now, &|_| admin_event(&a.id, "x"))
        .await
        .unwrap();
    assert_eq!(again, None, "already disabled: nothing written");
    let disabled = store
        .accounts
        .list(&q(|q| q.disabled = Some(true)), now)
        .await
        .unwrap();
    assert_eq!(emails(disabled), ["op-alice@example.com"]);
    let found = store
        .accounts
        .find_by_email(&a.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.disabled_at, Some(now));

    // Enable, once.
    let e = admin_event(&a.id, "enable");
    assert!(store.accounts.enable(&a.id, now, &e).await.unwrap());
    assert!(
        !store
            .accounts
            .enable(&a.id, now, &admin_event(&a.id, "x"))
            .await
            .unwrap()
    );
    let decisions: Vec<_> = events_of(store, &a.id)
        .await
        .into_iter()
        .filter_map(|e| e.decision)
        .collect();
    assert_eq!(
        decisions,
        ["enable", "disable 0"],
        "newest first, no event without a change"
    );

    delete_contract(store, b, &key).await;
}

/// Delete: the account and its rows go; its events stay.
async fn delete_contract(store: &Store, b: &crate::storage::AccountRecord, key: &str) {
    let removed = store
        .accounts
        .delete(&b.id, &|r| {
            admin_event(&b.id, &format!("delete {}", r.grants))
        })
        .await
        .unwrap();
    assert!(removed.is_some());
    assert_eq!(store.accounts.find_by_id(&b.id).await.unwrap(), None);
    assert_eq!(store.failures.find(key, ALL_SOURCES).await.unwrap(), None);
    assert_eq!(events_of(store, &b.id).await.len(), 1);
    let gone = store
        .accounts
        .delete(&b.id, &|_| admin_event(&b.id, "x"))
        .await
        .unwrap();
    assert_eq!(gone, None);
}
