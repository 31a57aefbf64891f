//! Sessions: only creation inserts; a save never brings back a session that was deleted
//! (issue #15.4: a request in flight when the user signed out re-inserted the row).

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

use crate::storage::Store;

// The published stores' load compares the expiry with the real clock, so the record's must be
// real time too.
#[allow(clippy::disallowed_methods)]
fn record(value: &str) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([("uid".to_owned(), serde_json::json!(value))]),
        expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
    }
}

pub(super) async fn sessions_contract(store: &Store) {
    let sessions = &store.sessions;
    let mut r = record("a");
    sessions.create(&mut r).await.unwrap();
    assert_eq!(sessions.load(&r.id).await.unwrap().unwrap().data, r.data);

    // A save updates the existing row.
    let mut changed = r.clone();
    changed.data.insert("seen".into(), serde_json::json!(2));
    sessions.save(&changed).await.unwrap();
    assert_eq!(
        sessions.load(&r.id).await.unwrap().unwrap().data,
        changed.data
    );

    // Deleted (sign-out) while a request held it: that request's save is a no-op.
    sessions.delete(&r.id).await.unwrap();
    sessions.save(&changed).await.unwrap();
    assert!(
        sessions.load(&r.id).await.unwrap().is_none(),
        "a save resurrected a deleted session"
    );

    // A save of an id never created inserts nothing either.
    let never = record("b");
    sessions.save(&never).await.unwrap();
    assert!(sessions.load(&never.id).await.unwrap().is_none());

    // Creation with an id already taken draws a new one instead of overwriting.
    let mut first = record("c");
    sessions.create(&mut first).await.unwrap();
    let mut clash = record("d");
    clash.id = first.id;
    sessions.create(&mut clash).await.unwrap();
    assert_ne!(clash.id, first.id);
    assert_eq!(
        sessions.load(&first.id).await.unwrap().unwrap().data,
        first.data
    );
    assert_eq!(
        sessions.load(&clash.id).await.unwrap().unwrap().data,
        clash.data
    );
}
