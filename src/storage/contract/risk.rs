//! Risk: the one read a scored sign-in makes (velocity counts that leave out the form gate's
//! rows, the account-wide row and stale windows), profiles, model versions, labels, and the
//! events training reads.

use time::OffsetDateTime;

use crate::domain::context::RequestContext;
use crate::events::{AuthEvent, EventKind};
use crate::storage::Store;
use crate::storage::risk::{ProfileKey, RiskHistory};

pub(super) async fn risk_contract(store: &Store) {
    history(store).await;
    profiles_models_labels(store).await;
    training_events(store).await;
    stand_in_profiles(store).await;
}

/// The velocity read leaves out form-gate rows, the account-wide row, stale windows.
async fn history(store: &Store) {
    let f = &store.failures;
    let (net, other_net, prefix) = ("net:198.51.100.1", "net:198.51.100.2", "198.51.100.0/24");
    for (account, source, now) in [
        ("user:r1", net, 5000),
        ("user:r1", net, 5001),
        ("user:r2", net, 5002),
        ("form:register", net, 5003),
        ("user:r1", other_net, 5005),
    ] {
        f.count_attempt(account, source, Some(prefix), now, 4000)
            .await
            .unwrap();
    }
    // The account-wide row and a window that started before the cutoff are not counted.
    f.count_attempt("user:r1", "*", None, 5004, 4000)
        .await
        .unwrap();
    f.count_attempt("user:r3", net, Some(prefix), 3000, 0)
        .await
        .unwrap();
    store
        .risk
        .save_profile("r1", r#"{"p":1}"#, 5000)
        .await
        .unwrap();
    let history = store
        .risk
        .history(ProfileKey::User("r1"), "user:r1", net, prefix, 4000)
        .await
        .unwrap();
    assert_eq!(
        history,
        RiskHistory {
            profile: Some(r#"{"p":1}"#.into()),
            source_failures: 3,
            source_accounts: 2,
            prefix_accounts: 2,
            account_sources: 2,
        }
    );
    let nobody = store
        .risk
        .history(
            ProfileKey::User("nobody"),
            "name:x",
            "net:203.0.113.1",
            "203.0.113.0/24",
            4000,
        )
        .await
        .unwrap();
    assert_eq!(nobody, RiskHistory::default());
}

/// Profiles, model versions and labels: the last word wins.
async fn profiles_models_labels(store: &Store) {
    // Profiles: the last save wins, in place (other contracts store profiles of their own).
    let before = store.risk.all_profiles().await.unwrap().len();
    store
        .risk
        .save_profile("r1", r#"{"p":2}"#, 5001)
        .await
        .unwrap();
    assert_eq!(
        store.risk.profile("r1").await.unwrap().as_deref(),
        Some(r#"{"p":2}"#)
    );
    assert_eq!(store.risk.all_profiles().await.unwrap().len(), before);
    // Models get the next version.
    assert_eq!(store.risk.latest_version().await.unwrap(), None);
    let model = |v: i64| format!("model {v}");
    assert_eq!(store.risk.save_model(&model, 6000).await.unwrap(), 1);
    assert_eq!(store.risk.save_model(&model, 6001).await.unwrap(), 2);
    assert_eq!(store.risk.latest_version().await.unwrap(), Some(2));
    let latest = store.risk.latest_model().await.unwrap().unwrap();
    assert_eq!((latest.version, latest.model.as_str()), (2, "model 2"));
    // Labels: the last word wins.
    store.risk.label("e1", true, 6000).await.unwrap();
    store.risk.label("e1", false, 6001).await.unwrap();
    assert_eq!(
        store.risk.labels().await.unwrap(),
        vec![("e1".to_owned(), false)]
    );
}

/// Training reads sign-in outcomes and reports, oldest first, from `since` on.
async fn training_events(store: &Store) {
    // Training reads sign-in outcomes and reports, oldest first, from `since` on (the newest
    // `limit` of them).
    let ctx = RequestContext::new("198.51.100.1".parse().unwrap(), "ua", "r-risk".into());
    let t0 = OffsetDateTime::from_unix_timestamp(2_100_000_000).unwrap();
    let at = |secs| t0 + time::Duration::seconds(secs);
    for e in [
        AuthEvent::new(EventKind::LoginSucceeded, &ctx, at(2)),
        AuthEvent::new(EventKind::Logout, &ctx, at(3)),
        AuthEvent::new(EventKind::LoginFailed, &ctx, at(1)),
        AuthEvent::new(EventKind::LoginFailed, &ctx, at(-1)),
    ] {
        store.events.insert(&e).await.unwrap();
    }
    let kinds: Vec<EventKind> = store
        .risk
        .training_events(t0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![EventKind::LoginFailed, EventKind::LoginSucceeded]
    );
    // Past the limit, the newest are kept (still oldest first).
    let newest: Vec<EventKind> = store
        .risk
        .training_events(t0, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(newest, vec![EventKind::LoginSucceeded]);
}

/// A name with no account borrows the profile of the first account at or after its point
/// (wrapping round), or none when that account has none.
async fn stand_in_profiles(store: &Store) {
    // Ids outside the uuid alphabet's order, so the accounts other suites made cannot fall
    // between them: "0000-…" sorts before every uuid, "zz-…" after.
    for (id, profile) in [
        ("0000-stand-in-first", Some(r#"{"first":1}"#)),
        ("zz-stand-in-a", Some(r#"{"a":1}"#)),
        ("zz-stand-in-b", None),
    ] {
        let mut a = super::account(&format!("{id}@example.com"));
        a.id = id.into();
        store.accounts.insert(&a).await.unwrap();
        if let Some(p) = profile {
            store.risk.save_profile(id, p, 5000).await.unwrap();
        }
    }
    let profile_of = |key| async move {
        store
            .risk
            .history(key, "name:n", "net:192.0.2.1", "192.0.2.0/24", 4000)
            .await
            .unwrap()
            .profile
    };
    for (key, expected) in [
        (ProfileKey::StandIn("zz-stand-in-a"), Some(r#"{"a":1}"#)),
        (ProfileKey::StandIn("zz-stand-in-9"), Some(r#"{"a":1}"#)),
        (ProfileKey::StandIn("zz-stand-in-a0"), None),
        (ProfileKey::StandIn("zz-stand-in-c"), Some(r#"{"first":1}"#)),
        (ProfileKey::User("zz-stand-in-a"), Some(r#"{"a":1}"#)),
        (ProfileKey::User("zz-stand-in-b"), None),
        (ProfileKey::User("zz-stand-in-c"), None),
    ] {
        assert_eq!(profile_of(key).await.as_deref(), expected, "{key:?}");
    }
}
