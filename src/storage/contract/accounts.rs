//! Accounts: insert, lookups by email and id, the unique email, the admin flag.

use crate::storage::Store;
use crate::storage::error::StoreError;

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
