//! The admin overview's hourly rollup (`storage/event_rollup.rs`) never changes its counts:
//! events on both sides of hour and window boundaries, in the current partial hour, written
//! after a catch-up into hours already rolled up, and rolled up by two catch-ups at once are
//! each counted once, against a direct count of the log.

use authd::domain::admin_console::overview::Outcome;
use authd::domain::clock::Clock;
use authd::domain::context::RequestContext;
use authd::events::decision::Decision;
use authd::events::{AuthEvent, EventKind};
use time::{Duration, OffsetDateTime};

use crate::helpers::{TestApp, spawn_app};

const HOUR_MS: i128 = 3_600_000;

const KINDS: [EventKind; 6] = [
    EventKind::LoginSucceeded,
    EventKind::LoginFailed,
    EventKind::LoginChallenged,
    EventKind::ChallengePassed,
    EventKind::LoginBlocked,
    EventKind::RateLimited,
];

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

fn at_ms(ms: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap()
}

/// Events around every boundary the count splits at, as of the clock's now: each window's
/// start and the whole hours next to it, the hour now is in, and now itself.
async fn record_around_boundaries(app: &TestApp, round: usize) {
    let now = ms(app.clock.now());
    let ctx = RequestContext {
        ip: "198.51.100.9".parse().unwrap(),
        user_agent: "rollup".into(),
        request_id: format!("r{round}"),
        app: None,
    };
    let mut times = vec![
        now,
        now - 1,
        now - now.rem_euclid(HOUR_MS),
        now - now.rem_euclid(HOUR_MS) - 1,
    ];
    for span in [HOUR_MS, 24 * HOUR_MS, 168 * HOUR_MS] {
        let since = now - span;
        let floor = since - since.rem_euclid(HOUR_MS);
        for t in [
            since - 1,
            since,
            since + 1,
            floor,
            floor + HOUR_MS - 1,
            floor + HOUR_MS,
        ] {
            times.push(t);
        }
    }
    for (i, t) in times.into_iter().enumerate() {
        let kind = KINDS[(i + round) % KINDS.len()];
        let mut e = AuthEvent::new(kind, &ctx, at_ms(t));
        if kind == EventKind::ChallengePassed && i % 2 == 0 {
            e = e.decision(Decision::FactorEmail);
        }
        app.state.events.record(e).await.unwrap();
    }
}

/// The outcome an event counts as, directly from its kind and decision.
fn outcome(e: &AuthEvent) -> Option<Outcome> {
    let factor = e
        .decision_code
        .is_some_and(|c| c.code().starts_with("factor"));
    match e.kind {
        EventKind::LoginSucceeded => Some(Outcome::Succeeded),
        EventKind::LoginFailed => Some(Outcome::Failed),
        EventKind::LoginChallenged => Some(Outcome::Challenged),
        EventKind::ChallengePassed if factor => Some(Outcome::SteppedUp),
        EventKind::LoginBlocked => Some(Outcome::Blocked),
        EventKind::RateLimited => Some(Outcome::RateLimited),
        _ => None,
    }
}

/// The overview's counts and the direct count of the log, per window and outcome.
async fn overview_and_direct(app: &TestApp) -> (Vec<[i64; 6]>, Vec<[i64; 6]>) {
    let overview = app.state.admin_console.overview().await.unwrap();
    let shown: Vec<[i64; 6]> = overview.windows.iter().map(|w| w.counts).collect();
    let now = ms(app.clock.now());
    let events = app.events().await;
    let direct = [HOUR_MS, 24 * HOUR_MS, 168 * HOUR_MS]
        .map(|span| {
            Outcome::ALL.map(|o| {
                let n = events
                    .iter()
                    .filter(|e| ms(e.ts) >= now - span)
                    .filter(|e| outcome(e) == Some(o))
                    .count();
                i64::try_from(n).unwrap()
            })
        })
        .to_vec();
    (shown, direct)
}

#[tokio::test]
async fn rolled_up_counts_equal_a_direct_count_of_the_log() {
    let app = spawn_app().await;
    record_around_boundaries(&app, 0).await;
    let (shown, direct) = overview_and_direct(&app).await;
    assert_eq!(shown, direct, "all live");
    assert!(direct.iter().flatten().any(|n| *n > 0));

    // Past the lag: the catch-up adds every event written so far.
    app.clock.advance(Duration::minutes(2));
    // (The background job may have done part of it: it runs every minute, on the same mark.)
    app.state.admin_console.roll_up_events().await.unwrap();
    assert_eq!(
        app.state.admin_console.roll_up_events().await.unwrap(),
        0,
        "caught up"
    );
    let (shown, direct) = overview_and_direct(&app).await;
    assert_eq!(shown, direct, "rolled up, windows moved by two minutes");

    // New events, some into hours already rolled up, the rest in the hour now is in.
    record_around_boundaries(&app, 1).await;
    let (shown, direct) = overview_and_direct(&app).await;
    assert_eq!(shown, direct, "rolled up and live together");

    // Two catch-ups at once (as on two instances) add each event once.
    app.clock.advance(Duration::minutes(30));
    record_around_boundaries(&app, 2).await;
    app.clock.advance(Duration::minutes(2));
    let (a, b) = tokio::join!(
        app.state.admin_console.roll_up_events(),
        app.state.admin_console.roll_up_events()
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        app.state.admin_console.roll_up_events().await.unwrap(),
        0,
        "caught up"
    );
    let (shown, direct) = overview_and_direct(&app).await;
    assert_eq!(shown, direct, "after concurrent catch-ups");
}
