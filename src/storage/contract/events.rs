//! Events: an exact round trip (risk JSON, millisecond times), newest first, every filter.

use time::OffsetDateTime;

use crate::domain::context::RequestContext;
use crate::events::decision::Decision;
use crate::events::group_commit::GroupWriter;
use crate::events::{AuthEvent, EventFilter, EventKind, Risk};
use crate::storage::Store;

pub(super) async fn events_contract(store: &Store) {
    let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let [first, second, third] = three_events(t0);
    for e in [&first, &second, &third] {
        store.events.insert(e).await.unwrap();
    }
    let all = store
        .events
        .list(&EventFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all,
        vec![third.clone(), second.clone(), first.clone()],
        "newest first, exact round trip"
    );
    let by_user = store
        .events
        .list(&EventFilter {
            user_id: Some("u1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_user.len(), 2);
    let by_kind = store
        .events
        .list(&EventFilter {
            kind: Some(EventKind::LoginFailed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_kind, vec![first.clone()]);
    let by_ip = store
        .events
        .list(&EventFilter {
            ip: Some("2001:db8::1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ip, vec![third.clone()]);
    let since = store
        .events
        .list(&EventFilter {
            since: Some(t0 + time::Duration::seconds(1)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    let limited = store
        .events
        .list(&EventFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited, vec![third.clone()]);
    let combined = store
        .events
        .list(&EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some("u1".into()),
            ip: Some("192.0.2.1".into()),
            since: Some(t0),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(combined, vec![second.clone()]);
    newer_filters_and_pages(store, t0, [first, second, third]).await;
}

/// `until`, `decision`, `client_id`, and pages that follow one another by their cursor.
async fn newer_filters_and_pages(
    store: &Store,
    t0: OffsetDateTime,
    [first, second, third]: [AuthEvent; 3],
) {
    let list = |f: EventFilter| async move { store.events.list(&f).await.unwrap() };
    let until = list(EventFilter {
        until: Some(t0 + time::Duration::seconds(60)),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(
        until,
        vec![second.clone(), first.clone()],
        "until is exclusive"
    );
    let decided = list(EventFilter {
        decision: Some(Decision::AllowKnownDevice),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(decided, vec![second.clone()]);
    let mut by_client = third.clone();
    by_client.id = "client-event".into();
    by_client.client_id = Some("app-1".into());
    store.events.insert(&by_client).await.unwrap();
    let client = list(EventFilter {
        client_id: Some("app-1".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(client, vec![by_client.clone()]);
    // Pages of two: the cursor of the last row starts the next page; the last page has none.
    let mut filter = EventFilter {
        limit: 2,
        ..Default::default()
    };
    let page = store.events.page(&filter).await.unwrap();
    assert_eq!(page.events, vec![by_client, third]);
    filter.before = page.next;
    let page = store.events.page(&filter).await.unwrap();
    assert_eq!(page.events, vec![second, first]);
    assert_eq!(page.next, None, "nothing older");
}

/// A failure with a risk (JSON round trip), a success 1.5 s later (milliseconds kept) and a
/// logout from another address a minute later.
fn three_events(t0: OffsetDateTime) -> [AuthEvent; 3] {
    let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua/1", "req-1".into());
    let mut first = AuthEvent::new(EventKind::LoginFailed, &ctx, t0).username("x@example.com");
    first.risk = Some(Risk {
        score: 0.25,
        reasons: vec!["new device".into()],
        features: Some(vec![0.5, 1.0]),
    });
    let second = AuthEvent::new(
        EventKind::LoginSucceeded,
        &ctx,
        t0 + time::Duration::milliseconds(1500),
    )
    .user("u1")
    .decision(Decision::AllowKnownDevice);
    let other_ip = RequestContext::new("2001:db8::1".parse().unwrap(), "ua/2", "req-2".into());
    let third = AuthEvent::new(
        EventKind::Logout,
        &other_ip,
        t0 + time::Duration::seconds(60),
    )
    .user("u1");
    [first, second, third]
}

/// `insert_many` writes all or none; the group writer stores every one of many concurrent
/// events (in shared transactions) and fails only the one the database refuses.
pub(super) async fn batch_contract(store: &Store) {
    let t0 = OffsetDateTime::from_unix_timestamp(1_800_100_000).unwrap();
    let ctx = RequestContext::new("192.0.2.77".parse().unwrap(), "ua/1", "req-b".into());
    let made = |n: i64| {
        AuthEvent::new(
            EventKind::LoginFailed,
            &ctx,
            t0 + time::Duration::seconds(n),
        )
        .username("batch@example.com")
    };
    let stored = |limit| async move {
        store
            .events
            .list(&EventFilter {
                ip: Some("192.0.2.77".into()),
                limit,
                ..Default::default()
            })
            .await
            .unwrap()
    };
    let (a, b) = (made(1), made(2));
    store.events.insert_many(&[&a, &b]).await.unwrap();
    assert_eq!(stored(10).await, vec![b.clone(), a.clone()]);
    // A batch holding an event already stored (same id) is refused whole.
    let c = made(3);
    assert!(store.events.insert_many(&[&c, &a]).await.is_err());
    assert_eq!(stored(10).await.len(), 2, "nothing of a refused batch");

    let writer = GroupWriter::start(store.events.clone());
    let many: Vec<AuthEvent> = (10..74).map(made).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for e in many.iter().cloned().chain(std::iter::once(b.clone())) {
        let writer = writer.clone();
        tasks.spawn(async move { (e.id.clone(), writer.insert(&e).await) });
    }
    let results = tasks.join_all().await;
    let (dup, fresh): (Vec<_>, Vec<_>) = results.into_iter().partition(|(id, _)| *id == b.id);
    let fresh: Vec<_> = fresh.into_iter().map(|(_, r)| r).collect();
    let dup = &dup[0].1;
    assert!(fresh.iter().all(Result::is_ok), "{fresh:?}");
    assert!(dup.is_err(), "the one refused event fails alone");
    assert_eq!(stored(1000).await.len(), 2 + many.len());
}
