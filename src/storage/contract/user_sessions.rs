//! The session index and the account's grants as the security page lists them.

use crate::domain::context::RequestContext;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::Store;
use crate::storage::user_sessions::UserSessionRecord;

fn created(user: &str, at: i64) -> AuthEvent {
    let ctx = RequestContext::new("203.0.113.9".parse().unwrap(), "contract", "r-s".into());
    let at = time::OffsetDateTime::from_unix_timestamp(at).unwrap();
    AuthEvent::new(EventKind::SessionCreated, &ctx, at).user(user)
}

fn row(id: &str, user: &str, epoch: i64, seen: i64) -> UserSessionRecord {
    UserSessionRecord {
        id: id.into(),
        user_id: user.into(),
        session_sealed: format!("sealed-{id}"),
        epoch,
        network: "203.0.113.9".into(),
        country: Some("FR".into()),
        device: "Firefox on Linux".into(),
        sign_in_event: Some("ev-1".into()),
        risk_reasons: None,
        device_id: Some(format!("dev-{id}")),
        last_seen_at: seen,
        created_at: seen,
    }
}

pub(super) async fn user_sessions_contract(store: &Store) {
    let s = &store.user_sessions;
    let user = uuid::Uuid::new_v4().to_string();
    let events: Vec<_> = [1000, 2000, 3000].map(|t| created(&user, t)).into();
    for ((id, epoch, seen), e) in [("a", 1, 1000), ("b", 1, 2000), ("old-epoch", 0, 3000)]
        .into_iter()
        .zip(&events)
    {
        s.insert_with_event(&row(id, &user, epoch, seen), e)
            .await
            .unwrap();
    }
    // Each row's event is stored with it; a row whose insert fails (its id is taken) stores
    // no event, and the writer is usable afterwards.
    let again = created(&user, 4000);
    assert!(
        s.insert_with_event(&row("a", &user, 1, 4000), &again)
            .await
            .is_err()
    );
    // A new row whose event fails (the event's id is taken): the row is rolled back with it.
    assert!(
        s.insert_with_event(&row("z", &user, 1, 4000), &events[0])
            .await
            .is_err()
    );
    assert!(
        s.find_by_id("z").await.unwrap().is_none(),
        "no index row without its event"
    );
    let stored = store
        .events
        .list(&EventFilter {
            user_id: Some(user.clone()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut expected = events.clone();
    expected.reverse();
    assert_eq!(
        stored, expected,
        "one event per indexed row, and none for the failed one"
    );
    let listed: Vec<_> = s.list_by_user(&user).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["old-epoch", "b", "a"], "most recently seen first");
    assert_eq!(listed.last().unwrap(), &row("a", &user, 1, 1000));

    s.update_seen("a", 5000).await.unwrap();
    s.update_binding("a", "resealed", 2).await.unwrap();
    let a = s.find_by_id("a").await.unwrap().unwrap();
    assert_eq!(
        (a.last_seen_at, a.session_sealed.as_str(), a.epoch),
        (5000, "resealed", 2)
    );

    // Stale: another epoch than 2, or seen before 1500.
    s.delete_stale(&user, 2, 1500).await.unwrap();
    let ids: Vec<_> = s
        .list_by_user(&user)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["a"]);
    assert!(s.delete("a").await.unwrap());
    assert!(!s.delete("a").await.unwrap());
    assert!(s.find_by_id("a").await.unwrap().is_none());
    // Deleting a tower-sessions row that does not exist is fine.
    s.delete_browser_session("no-such-session").await.unwrap();
    assert!(!s.has_browser_session("no-such-session").await.unwrap());
    assert!(s.list_grants(&user, 0).await.unwrap().is_empty());
    assert_eq!(s.revoke_grants_since(&user, 0, 10).await.unwrap(), 0);
}
