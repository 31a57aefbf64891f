//! Retention (run last: it also deletes the old rows the other parts left): expired reset links, spent links and idle counters go; a blocked counter, an
//! unexpired link and recent events stay; old events go unless labelled.

use time::OffsetDateTime;

use crate::domain::context::RequestContext;
use crate::events::{AuthEvent, EventFilter, EventKind};
use crate::storage::Store;
use crate::storage::retention::Cutoffs;

const DAY: i64 = 86_400;

pub(super) async fn retention_contract(store: &Store) {
    let now = 2_000_000_000;
    let day = DAY;
    let (labelled, recent) = seed(store, now).await;
    let cutoffs = Cutoffs {
        now,
        expired: now - day,
        sessions_before: now - day,
        failures_before: now - day,
        escalations_before: now - 7 * day,
        events_before_ms: Some((now - 90 * day) * 1000),
        // Three old events to delete, two at a time: the pruning goes on past a full batch.
        batch: 2,
    };
    let pruned = store.retention.prune(&cutoffs).await.unwrap();
    // Other parts of the contract ran before and left old rows too: at least ours went.
    let of = |t: &str| pruned.iter().find(|(n, _)| *n == t).map_or(0, |(_, n)| *n);
    for table in ["password_reset", "spent_link", "login_failure"] {
        assert!(of(table) >= 1, "{table}: {pruned:?}");
    }
    assert!(of("revoked_device") >= 2, "{pruned:?}");
    assert!(
        of("event") >= 3,
        "three old ones, in two batches: {pruned:?}"
    );
    let f = &store.failures;
    let idle = f
        .count_attempt("user:ret-idle", "net:1", None, now, 0)
        .await
        .unwrap();
    assert_eq!(
        idle.failures, 1,
        "the idle counter was deleted: a fresh row"
    );
    let blocked = f
        .count_attempt("user:ret-blocked", "net:2", None, now, 0)
        .await
        .unwrap();
    assert!(
        blocked.blocked_until.is_some_and(|u| u > now),
        "the blocked counter stays"
    );
    let escalated = f
        .count_attempt("user:ret-escalated", "net:3", None, now, 0)
        .await
        .unwrap();
    assert_eq!(escalated.blocks, 1, "a block two days ago is remembered");
    let forgiven = f
        .count_attempt("user:ret-forgiven", "net:4", None, now, 0)
        .await
        .unwrap();
    assert_eq!(forgiven.blocks, 0, "a block eight days ago is forgotten");
    still_reported(store, now).await;
    assert!(store.resets.is_reset_usable("r-live", now).await.unwrap());
    assert!(store.spent_links.is_link_spent("l-live").await.unwrap());
    assert!(!store.spent_links.is_link_spent("l-old").await.unwrap());
    let left: Vec<String> = store
        .events
        .list(&EventFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.username.as_deref() == Some("ret@x"))
        .map(|e| e.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&labelled) && left.contains(&recent));
    // Keeping every event: nothing more goes.
    let again = store
        .retention
        .prune(&Cutoffs {
            events_before_ms: None,
            ..cutoffs
        })
        .await
        .unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

/// The browser the sign-in lookup's part reported stays reported: its account is still at the
/// epoch of the report, however old the report (the seeded reports of a gone account and of
/// an epoch before went: `revoked_device` counted at least those two).
async fn still_reported(store: &Store, now: i64) {
    let gate = store.accounts.find_by_email("gate@example.com").await;
    let gate = gate.unwrap().expect("the sign-in lookup's account");
    let owner = format!("{}:{}", gate.id, gate.session_epoch);
    let reported = store
        .failures
        .find_and_count(&crate::storage::protection::SignInKeys {
            email: Some("gate@example.com"),
            unknown_account: "name:nobody",
            device: Some((owner.as_str(), "device:d-reported")),
            net: "net:192.0.2.99",
            prefix: "192.0.2.0/24",
            now,
            window_cutoff: now - DAY,
        })
        .await
        .unwrap();
    assert_eq!(reported.source, "net:192.0.2.99", "still reported");
}

/// Expired and live reset links and spent links, an idle and a blocked counter, and three
/// events (old, old but labelled, recent); the ids of the labelled and the recent one.
async fn seed(store: &Store, now: i64) -> (String, String) {
    let day = DAY;
    store
        .resets
        .insert_reset("r-old", "sealed-old", "u9", now - 3 * day, now - 4 * day)
        .await
        .unwrap();
    // Reports about an account that is gone and about an epoch the account has left: moot,
    // and old.
    let gate = store.accounts.find_by_email("gate@example.com").await;
    let gate = gate.unwrap().expect("the sign-in lookup's account");
    for (source, user, epoch) in [
        ("device:ret-gone", "ret-no-such-account", 0),
        ("device:ret-moved", gate.id.as_str(), gate.session_epoch - 1),
    ] {
        store
            .user_sessions
            .revoke_device(source, user, epoch, now - 3 * day)
            .await
            .unwrap();
    }
    store
        .resets
        .insert_reset("r-live", "sealed-live", "u9", now + 600, now)
        .await
        .unwrap();
    store
        .spent_links
        .spend_link("l-old", "unlock", now - 3 * day, now - 4 * day)
        .await
        .unwrap();
    store
        .spent_links
        .spend_link("l-live", "unlock", now + day, now - 4 * day)
        .await
        .unwrap();
    let f = &store.failures;
    f.count_attempt("user:ret-idle", "net:1", None, now - 3 * day, 0)
        .await
        .unwrap();
    f.count_attempt("user:ret-blocked", "net:2", None, now - 3 * day, 0)
        .await
        .unwrap();
    f.block("user:ret-blocked", "net:2", now + 600)
        .await
        .unwrap();
    // Blocked once, the block over for two days: the next block's doubling is remembered.
    f.count_attempt("user:ret-escalated", "net:3", None, now - 3 * day, 0)
        .await
        .unwrap();
    f.block("user:ret-escalated", "net:3", now - 2 * day)
        .await
        .unwrap();
    // Blocked once, the block over for eight days: gone.
    f.count_attempt("user:ret-forgiven", "net:4", None, now - 9 * day, 0)
        .await
        .unwrap();
    f.block("user:ret-forgiven", "net:4", now - 8 * day)
        .await
        .unwrap();
    let ctx = RequestContext::new("192.0.2.9".parse().unwrap(), "ua/9", "req-9".into());
    let at = |secs: i64| OffsetDateTime::from_unix_timestamp(secs).unwrap();
    let old =
        || AuthEvent::new(EventKind::LoginFailed, &ctx, at(now - 100 * day)).username("ret@x");
    let labelled =
        AuthEvent::new(EventKind::LoginFailed, &ctx, at(now - 100 * day)).username("ret@x");
    let recent = AuthEvent::new(EventKind::LoginFailed, &ctx, at(now - day)).username("ret@x");
    for e in [&old(), &old(), &old(), &labelled, &recent] {
        store.events.insert(e).await.unwrap();
    }
    store.risk.label(&labelled.id, true, now).await.unwrap();
    (labelled.id, recent.id)
}
