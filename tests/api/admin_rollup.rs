//! The admin overview's hourly rollup (`storage/event_rollup.rs`) never changes its counts:
//! events on both sides of hour, day and window boundaries, in the current partial hour,
//! written after a catch-up into hours already rolled up, and rolled up by two catch-ups at
//! once are each counted once — in the outcome windows, the hour and day series and the risk
//! histogram — against a direct count of the log.

use authd::domain::admin_console::overview::Outcome;
use authd::domain::clock::Clock;
use authd::domain::context::RequestContext;
use authd::events::decision::Decision;
use authd::events::{AuthEvent, EventKind, Risk};
use time::{Duration, OffsetDateTime};

use crate::helpers::{TestApp, spawn_app};

const HOUR_MS: i128 = 3_600_000;
const DAY_MS: i128 = 24 * HOUR_MS;

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
        now - now.rem_euclid(DAY_MS),
        now - now.rem_euclid(DAY_MS) - 1,
        now - now.rem_euclid(DAY_MS) - 6 * DAY_MS,
        now - now.rem_euclid(DAY_MS) - 6 * DAY_MS - 1,
        now - now.rem_euclid(HOUR_MS) - 23 * HOUR_MS,
        now - now.rem_euclid(HOUR_MS) - 23 * HOUR_MS - 1,
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
        // Scores on bins' edges (0.05 steps, 1.0 included); every fourth event none.
        if i % 4 != 3 {
            let score = ((i + round * 5) % 21) as f64 * 0.05;
            e = e.risk(Some(Risk {
                score: (score * 10_000.0).round() / 10_000.0,
                reasons: vec![],
                features: None,
            }));
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

/// Rows in `table` (the rollup's tables are not otherwise visible).
async fn rows(app: &TestApp, table: &str) -> i64 {
    let sql = format!("select count(*) from {table}");
    if app.db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
        sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
        sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap()
    }
}

/// The risk bin of a stored score, directly: 20 bins of 0.05, 1.0 in the last.
fn bin(score: f64) -> usize {
    (((score * 10_000.0).round() as usize) / 500).min(19)
}

/// What the page shows and the same read directly from the log: the outcome windows, the
/// hour and day series (one row per slot) and the risk histogram (one row).
async fn overview_and_direct(app: &TestApp) -> (Vec<Vec<i64>>, Vec<Vec<i64>>) {
    let (overview, more) = app.state.admin_console.overview_page().await.unwrap();
    let mut shown: Vec<Vec<i64>> = overview.windows.iter().map(|w| w.counts.to_vec()).collect();
    shown.extend(
        more.hours
            .iter()
            .chain(&more.days)
            .map(|s| s.counts.to_vec()),
    );
    shown.push(more.risk_bins.to_vec());
    let now = ms(app.clock.now());
    let events = app.events().await;
    let count = |from: i128, to: i128, o: Outcome| {
        let n = events
            .iter()
            .filter(|e| (from..to).contains(&ms(e.ts)) && outcome(e) == Some(o))
            .count();
        i64::try_from(n).unwrap()
    };
    let mut direct: Vec<Vec<i64>> = [HOUR_MS, DAY_MS, 7 * DAY_MS]
        .map(|span| {
            Outcome::ALL
                .map(|o| count(now - span, i128::MAX, o))
                .to_vec()
        })
        .to_vec();
    for (len, n) in [(HOUR_MS, 24), (DAY_MS, 7)] {
        let last = now.div_euclid(len);
        for b in last - n + 1..=last {
            direct.push(
                Outcome::ALL
                    .map(|o| count(b * len, (b + 1) * len, o))
                    .to_vec(),
            );
        }
    }
    let mut bins = vec![0; 20];
    for e in &events {
        let sign_in = matches!(
            e.kind,
            EventKind::LoginSucceeded
                | EventKind::LoginFailed
                | EventKind::LoginChallenged
                | EventKind::LoginBlocked
        );
        if let (true, true, Some(r)) = (sign_in, ms(e.ts) >= now - DAY_MS, &e.risk) {
            bins[bin(r.score)] += 1;
        }
    }
    direct.push(bins);
    (shown, direct)
}

#[tokio::test]
async fn rolled_up_counts_equal_a_direct_count_of_the_log() {
    let app = spawn_app().await;
    record_around_boundaries(&app, 0).await;
    let (shown, direct) = overview_and_direct(&app).await;
    assert_eq!(shown, direct, "all live");
    assert!(direct.iter().flatten().any(|n| *n > 0));
    let bins = direct.last().unwrap();
    assert!(bins.iter().filter(|n| **n > 0).count() >= 4, "{bins:?}");

    // Past the lag: the catch-up adds every event written so far.
    app.clock.advance(Duration::minutes(2));
    // (The background job may have done part of it: it runs every minute, on the same mark.)
    app.state.admin_console.roll_up_events().await.unwrap();
    assert_eq!(
        app.state.admin_console.roll_up_events().await.unwrap(),
        0,
        "caught up"
    );
    assert!(rows(&app, "event_hourly").await > 0);
    assert!(rows(&app, "event_risk_hourly").await > 0);
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

/// A run of missing `seq` values longer than a catch-up's batch (the retention job deleting the
/// oldest events of a long-running log before the rollup first ran, an operator's purge, a
/// sequence moved on) does not stop the rollup for ever: it goes on from the next event there
/// is. Before, a batch's `seq` window past the mark held no event and the mark never moved.
#[tokio::test]
async fn the_rollup_goes_on_past_a_gap_in_the_log() {
    let app = spawn_app().await;
    record_around_boundaries(&app, 0).await;
    app.clock.advance(Duration::minutes(2));
    app.state.admin_console.roll_up_events().await.unwrap();
    let gap = if app.db.is_postgres() {
        "select setval(pg_get_serial_sequence('event', 'seq'), \
         (select max(seq) from event) + 10000)"
    } else {
        "update sqlite_sequence set seq = seq + 10000 where name = 'event'"
    };
    crate::helpers::raw_execute(&app.db, gap, &[]).await;
    record_around_boundaries(&app, 1).await;
    app.clock.advance(Duration::minutes(2));
    let passed = app.state.admin_console.roll_up_events().await.unwrap();
    assert!(passed > 10_000, "the mark moved past the gap: {passed}");
    assert_eq!(app.state.admin_console.roll_up_events().await.unwrap(), 0);
    let (shown, direct) = overview_and_direct(&app).await;
    assert_eq!(shown, direct, "the events after the gap are counted once");
}
