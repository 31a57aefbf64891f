//! Second factors: the verified address and the setting on the account, the authenticator app
//! (pending, confirmed, a time step accepted once, removed) and recovery codes (each once).

use crate::storage::Store;

use super::account;

pub(super) async fn mfa_contract(store: &Store) {
    let a = account("mfa@example.com");
    store.accounts.insert(&a).await.unwrap();
    let id = a.id.as_str();
    assert!(store.accounts.mark_email_verified(id, 100).await.unwrap());
    assert!(
        !store.accounts.mark_email_verified(id, 200).await.unwrap(),
        "once"
    );
    store.accounts.set_require_mfa(id, true, 200).await.unwrap();
    let read = store.accounts.find_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (read.email_verified_at, read.require_mfa),
        (Some(100), true)
    );
    let m = &store.mfa;
    assert!(m.totp(id).await.unwrap().is_none());
    assert!(m.start_totp(id, "sealed-1", 10).await.unwrap());
    assert!(
        m.start_totp(id, "sealed-2", 11).await.unwrap(),
        "a pending one is replaced"
    );
    assert!(!m.use_totp_step(id, 5).await.unwrap(), "not confirmed yet");
    assert!(m.confirm_totp(id, 5, 12, false).await.unwrap());
    assert!(
        !m.confirm_totp(id, 6, 12, true).await.unwrap(),
        "confirmed once"
    );
    assert!(
        !m.start_totp(id, "sealed-3", 13).await.unwrap(),
        "a confirmed one stays"
    );
    let t = m.totp(id).await.unwrap().unwrap();
    assert_eq!(
        (t.secret_sealed.as_str(), t.last_step, t.proven),
        ("sealed-2", 5, false)
    );
    assert!(
        !m.use_totp_step(id, 5).await.unwrap(),
        "the same step again"
    );
    assert!(m.use_totp_step(id, 6).await.unwrap());
    assert!(!m.use_totp_step(id, 4).await.unwrap(), "an older step");
    let digests = vec!["d1".to_owned(), "d2".to_owned()];
    m.replace_recovery_codes(id, &digests, 20).await.unwrap();
    assert_eq!(m.recovery_codes_left(id).await.unwrap(), 2);
    assert!(m.use_recovery_code(id, "d1", 21).await.unwrap());
    assert!(!m.use_recovery_code(id, "d1", 22).await.unwrap(), "once");
    assert!(!m.use_recovery_code("someone-else", "d2", 22).await.unwrap());
    assert_eq!(m.recovery_codes_left(id).await.unwrap(), 1);
    // Regenerations at once (two instances, a double submit): one set stands, never two.
    let sets: Vec<Vec<String>> = (0..8)
        .map(|k| (0..10).map(|i| format!("set{k}-code{i}")).collect())
        .collect();
    let all = sets
        .iter()
        .map(|digests| m.replace_recovery_codes(id, digests, 30));
    for done in futures_util::future::join_all(all).await {
        done.unwrap();
    }
    assert_eq!(m.recovery_codes_left(id).await.unwrap(), 10);
    assert!(m.remove_totp(id).await.unwrap());
    assert!(!m.remove_totp(id).await.unwrap());
    assert_eq!(m.recovery_codes_left(id).await.unwrap(), 0);
}
