//! Waves: minute tallies from several instances add up, the detector's read counts only the
//! sign-in rows of networks in the window, and a wave row starts once and then only grows until
//! it has ended.

use crate::storage::Store;
use crate::storage::waves::{WaveCounts, WaveQuery, WaveRow};

pub(super) async fn waves_contract(store: &Store) {
    tallies_and_read(store).await;
    raise(store).await;
}

async fn tallies_and_read(store: &Store) {
    let (w, f) = (&store.waves, &store.failures);
    // Minutes 40..=99 are the baseline; 45 was inside a wave (flagged when it started), 47
    // too (added during it); two instances add to minute 100.
    w.add_failures(45, 50, 0, false).await.unwrap();
    w.flag_minutes(45).await.unwrap();
    w.add_failures(46, 1, 0, false).await.unwrap();
    w.add_failures(47, 30, 0, true).await.unwrap();
    w.add_failures(47, 30, 0, false).await.unwrap();
    w.add_failures(90, 7, 0, false).await.unwrap();
    w.add_failures(100, 3, 1, false).await.unwrap();
    w.add_failures(100, 2, 2, false).await.unwrap();
    w.add_failures(10, 99, 0, false).await.unwrap();
    // Rows in the window: two names and one account from two networks; a device, the
    // account-wide row, a form and a stale window are left out.
    for (account, source, now) in [
        ("name:a", "net:192.0.2.1", 6000),
        ("name:a", "net:192.0.2.1", 6001),
        ("name:b", "net:192.0.2.2", 6002),
        ("user:u1", "net:192.0.2.2", 6003),
        ("user:u1", "device:d1", 6004),
        ("user:u1", "*", 6005),
        ("form:register", "net:192.0.2.3", 6006),
        ("user:u2", "net:192.0.2.4", 100),
    ] {
        f.count_attempt(account, source, None, now, now - 900)
            .await
            .unwrap();
    }
    let q = WaveQuery {
        rows_since: 5800,
        window_from: 100,
        baseline_from: 40,
        now: 6010,
    };
    let (counts, waves) = w.read(&q).await.unwrap();
    assert_eq!(
        counts,
        WaveCounts {
            accounts: 3,
            unknown_accounts: 2,
            sources: 2,
            source_failures: 4,
            failures: 5,
            sprayed: 3,
            baseline_failures: 8,
            baseline_wave_minutes: 2,
        }
    );
    assert!(waves.is_empty());
    assert_eq!(w.forget_before(46).await.unwrap(), 2);
    let (after, _) = w.read(&q).await.unwrap();
    assert_eq!(
        (after.baseline_failures, after.baseline_wave_minutes),
        (8, 1)
    );
}

async fn raise(store: &Store) {
    let w = &store.waves;
    let row = |id: &str, at: i64, failures: i64| WaveRow {
        kind: "stuffing".into(),
        wave_id: id.into(),
        started_at: at,
        ends_at: at + 600,
        failures,
        accounts: 20,
        sources: 10,
    };
    let first = w.raise(&row("w1", 1000, 30)).await.unwrap();
    assert_eq!(first, row("w1", 1000, 30));
    // Another instance while it is on: same wave, later end, larger size.
    let second = w.raise(&row("w2", 1100, 80)).await.unwrap();
    assert_eq!(
        (
            second.wave_id.as_str(),
            second.started_at,
            second.ends_at,
            second.failures
        ),
        ("w1", 1000, 1700, 80)
    );
    // A smaller reading does not shrink it.
    let third = w.raise(&row("w3", 1200, 40)).await.unwrap();
    assert_eq!((third.wave_id.as_str(), third.failures), ("w1", 80));
    let q = |now| WaveQuery {
        rows_since: 0,
        window_from: 0,
        baseline_from: 0,
        now,
    };
    assert_eq!(w.read(&q(1799)).await.unwrap().1.len(), 1);
    assert!(w.read(&q(1800)).await.unwrap().1.is_empty(), "ended");
    // After its end, a new wave starts.
    let again = w.raise(&row("w4", 1900, 25)).await.unwrap();
    assert_eq!(again, row("w4", 1900, 25));
}
