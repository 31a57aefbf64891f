//! Waves across instances: each instance tallies its failed sign-ins in memory (no database
//! work on a sign-in's path) and, every `AUTHD_WAVE_REFRESH_SECS` (sooner when its own failures
//! pile up), adds the tallies to the shared minute buckets, reads the combined signals and the
//! waves on, runs the detector (`wave.rs`), and starts or extends the shared wave row. The
//! sign-in path only asks the cached view, which ends by itself at the wave's end time even if
//! no refresh comes. The instance whose write starts a wave records `attack_detected`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::clock::{Clock, Random};
use crate::domain::error::Unexpected;
use crate::domain::risk::wave::{Signals, WaveKind, WaveSettings, detect};
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::events::{AuthEvent, EventKind};
use crate::storage::waves::{WaveQuery, WaveRow, WaveStore};

/// A wave as this instance last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wave {
    /// Stuffing or spraying.
    pub kind: WaveKind,
    /// When it started (unix seconds).
    pub started_at: i64,
    /// When it ends unless extended (unix seconds).
    pub ends_at: i64,
}

/// Failures tallied in one minute, not yet added to the shared bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    failures: i64,
    sprayed: i64,
}

#[derive(Debug, Default)]
struct Inner {
    pending: BTreeMap<i64, Tally>,
    since_refresh: i64,
    woken: bool,
    waves: Vec<Wave>,
    signals: Signals,
    cleaned_minute: i64,
}

/// The shared wave state, cached per instance. Cheap to clone.
#[derive(Clone)]
pub struct Waves {
    store: Arc<dyn WaveStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    events: EventSink,
    settings: WaveSettings,
    inner: Arc<Mutex<Inner>>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Waves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waves")
    }
}

fn wave_of(row: &WaveRow) -> Option<Wave> {
    Some(Wave {
        kind: WaveKind::parse(&row.kind)?,
        started_at: row.started_at,
        ends_at: row.ends_at,
    })
}

impl Waves {
    /// The state over `store`, empty until the first refresh.
    pub fn new(
        store: Arc<dyn WaveStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        events: EventSink,
        settings: WaveSettings,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            events,
            settings,
            inner: Arc::new(Mutex::new(Inner::default())),
            wake: Arc::new(Notify::new()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings.
    pub fn settings(&self) -> &WaveSettings {
        &self.settings
    }

    /// The wave on now, if any, from the cached view (no database work): the sign-in's check.
    pub fn on(&self) -> Option<Wave> {
        let now = self.clock.now().unix_timestamp();
        self.inner()
            .waves
            .iter()
            .filter(|w| w.ends_at > now)
            .max_by_key(|w| w.ends_at)
            .copied()
    }

    /// The signals of the last refresh.
    pub fn signals(&self) -> Signals {
        self.inner().signals
    }

    /// A failed sign-in (in memory; `sprayed`: its password had failed on two or more other
    /// accounts). Wakes the refresh early once a third of `min_failures` piled up since the last.
    pub fn failed(&self, sprayed: bool) {
        let minute = self.clock.now().unix_timestamp().div_euclid(60);
        let mut inner = self.inner();
        let t = inner.pending.entry(minute).or_default();
        t.failures += 1;
        t.sprayed += i64::from(sprayed);
        inner.since_refresh += 1;
        if !inner.woken && inner.since_refresh >= (self.settings.min_failures / 3).max(1) {
            inner.woken = true;
            drop(inner);
            self.wake.notify_one();
        }
    }

    /// Resolves when failures piled up since the last refresh (the wave job waits on it).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Adds this instance's tallies to the shared buckets, reads the combined signals and the
    /// waves on, starts or extends a wave when the detector sees one, and caches the result.
    /// Returns the wave this call started, if any.
    pub async fn refresh(&self) -> Result<Option<Wave>, Unexpected> {
        let now = self.clock.now();
        let at = now.unix_timestamp();
        let minute = at.div_euclid(60);
        self.flush(at).await?;
        let s = &self.settings;
        let window_from = minute - s.window_minutes() + 1;
        let q = WaveQuery {
            rows_since: at - s.window_secs,
            window_from,
            baseline_from: window_from - s.baseline_minutes(),
            now: at,
        };
        let (counts, rows) = self.store.read(&q).await?;
        let signals = Signals {
            failures: counts.failures,
            sprayed: counts.sprayed,
            accounts: counts.accounts,
            unknown_accounts: counts.unknown_accounts,
            sources: counts.sources,
            source_failures: counts.source_failures,
            baseline_failures: counts.baseline_failures,
            baseline_minutes: (s.baseline_minutes() - counts.baseline_wave_minutes).max(0),
        };
        let mut waves: Vec<Wave> = rows.iter().filter_map(wave_of).collect();
        let mut started = None;
        if let Some(kind) = detect(s, &signals) {
            let (wave, fresh) = self.raise(kind, &signals, now).await?;
            // The window's minutes are the wave's: keep them out of later baselines.
            self.store.flag_minutes(window_from).await?;
            waves.retain(|w| w.kind != kind);
            waves.push(wave);
            started = fresh.then_some(wave);
        }
        let clean = {
            let mut inner = self.inner();
            inner.waves = waves;
            inner.signals = signals;
            std::mem::replace(&mut inner.cleaned_minute, minute) != minute
        };
        if clean {
            self.store.forget_before(q.baseline_from - 1).await?;
        }
        Ok(started)
    }

    /// Adds the pending tallies to the shared buckets; on a failure they are kept for the next.
    async fn flush(&self, at: i64) -> Result<(), Unexpected> {
        let (pending, wave_on) = {
            let mut inner = self.inner();
            inner.since_refresh = 0;
            inner.woken = false;
            let on = inner.waves.iter().any(|w| w.ends_at > at);
            (std::mem::take(&mut inner.pending), on)
        };
        let mut left = pending.clone();
        for (minute, t) in pending {
            if let Err(e) = self
                .store
                .add_failures(minute, t.failures, t.sprayed, wave_on)
                .await
            {
                let mut inner = self.inner();
                for (m, t) in left {
                    let e = inner.pending.entry(m).or_default();
                    e.failures += t.failures;
                    e.sprayed += t.sprayed;
                }
                return Err(e.into());
            }
            left.remove(&minute);
        }
        Ok(())
    }

    /// Starts or extends the shared wave of `kind`; `true` when this call started it (and then
    /// recorded `attack_detected`).
    async fn raise(
        &self,
        kind: WaveKind,
        x: &Signals,
        now: OffsetDateTime,
    ) -> Result<(Wave, bool), Unexpected> {
        let at = now.unix_timestamp();
        let mine = WaveRow {
            kind: kind.as_str().to_owned(),
            wave_id: self.random.token(16),
            started_at: at,
            ends_at: at + self.settings.hold_secs,
            failures: x.failures,
            accounts: x.accounts,
            sources: x.sources,
        };
        let stored = self.store.raise(&mine).await?;
        let wave = wave_of(&stored).unwrap_or(Wave {
            kind,
            started_at: at,
            ends_at: mine.ends_at,
        });
        let fresh = stored.wave_id == mine.wave_id;
        if fresh {
            self.record(kind, x, now).await?;
        }
        Ok((wave, fresh))
    }

    /// The `attack_detected` event: the kind (its decision), the start, the size and the
    /// sources, in its decision text. It has no request, so no address, agent or request id.
    async fn record(
        &self,
        kind: WaveKind,
        x: &Signals,
        now: OffsetDateTime,
    ) -> Result<(), Unexpected> {
        let decision = match kind {
            WaveKind::Stuffing => Decision::AttackStuffing,
            WaveKind::Spraying => Decision::AttackSpraying,
        };
        let start = now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let detail = format!("start {start}; size {}", x.describe(&self.settings));
        let ctx = crate::domain::context::RequestContext::new(
            std::net::IpAddr::from([0, 0, 0, 0]),
            "",
            String::new(),
        );
        let mut e =
            AuthEvent::new(EventKind::AttackDetected, &ctx, now).decision_detail(decision, &detail);
        (e.ip, e.user_agent, e.request_id) = (None, None, None);
        self.events.record(e).await?;
        tracing::warn!(kind = kind.as_str(), signals = %detail, "attack wave detected");
        metrics::counter!("authd_attack_waves_total", "kind" => kind.as_str()).increment(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::{FakeClock, OsRandom};
    use crate::events::EventFilter;
    use crate::storage::Store;

    struct World {
        store: Store,
        clock: Arc<FakeClock>,
        _dir: tempfile::TempDir,
    }

    async fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        World {
            store: crate::storage::connect(&url, 2).await.unwrap(),
            clock: Arc::new(FakeClock::new(
                time::macros::datetime!(2026-11-30 10:00 UTC),
            )),
            _dir: dir,
        }
    }

    impl World {
        /// An instance's view of the shared state.
        fn instance(&self) -> Waves {
            Waves::new(
                self.store.waves.clone(),
                self.clock.clone(),
                Arc::new(OsRandom),
                EventSink::new(self.store.events.clone(), self.clock.clone()),
                WaveSettings::default(),
            )
        }

        fn now(&self) -> i64 {
            self.clock.now().unix_timestamp()
        }

        /// One failed sign-in on `account` from `net`, as the ladder counts it, tallied on `on`.
        async fn fail(&self, on: &Waves, account: &str, net: &str) {
            let now = self.now();
            self.store
                .failures
                .count_attempt(account, net, Some("x"), now, now - 900)
                .await
                .unwrap();
            on.failed(false);
        }

        async fn detected(&self) -> usize {
            let filter = EventFilter {
                kind: Some(EventKind::AttackDetected),
                limit: 100,
                ..EventFilter::default()
            };
            self.store.events.list(&filter).await.unwrap().len()
        }
    }

    #[tokio::test]
    async fn a_wave_seen_by_one_instance_is_on_for_the_other_once_and_ends_by_itself() {
        let w = world().await;
        let (a, b) = (w.instance(), w.instance());
        // Stuffing through A: 20 networks, two leaked names each.
        for i in 0..20 {
            for j in 0..2 {
                w.fail(
                    &a,
                    &format!("name:leak-{i}-{j}@example.org"),
                    &format!("net:45.{i}.0.7"),
                )
                .await;
            }
        }
        assert_eq!(
            b.refresh().await.unwrap(),
            None,
            "A's tallies are not added yet"
        );
        assert_eq!(b.on(), None);
        let started = a.refresh().await.unwrap().expect("A starts the wave");
        assert_eq!(started.kind, WaveKind::Stuffing);
        assert_eq!(a.on(), Some(started));
        assert_eq!(b.on(), None, "B has not refreshed yet");
        assert_eq!(b.refresh().await.unwrap(), None, "B did not start it");
        assert_eq!(b.on().map(|x| x.started_at), Some(started.started_at));
        assert_eq!(w.detected().await, 1, "one attack_detected for the wave");
        // Seen again (still in the window): extended, not started again.
        w.clock.advance(time::Duration::seconds(30));
        assert_eq!(a.refresh().await.unwrap(), None);
        assert_eq!(w.detected().await, 1);
        let ends = a.on().unwrap().ends_at;
        assert_eq!(ends, w.now() + a.settings().hold_secs);
        // No more failures: both views end by themselves, without a refresh.
        w.clock
            .advance(time::Duration::seconds(a.settings().hold_secs + 1));
        assert_eq!((a.on(), b.on()), (None, None));
        assert_eq!(a.refresh().await.unwrap(), None);
        assert_eq!(a.on(), None, "the window is past: no wave");
        // A new run later is a new wave, recorded again.
        for i in 0..20 {
            for j in 0..2 {
                w.fail(
                    &b,
                    &format!("name:again-{i}-{j}@example.org"),
                    &format!("net:46.{i}.0.7"),
                )
                .await;
            }
        }
        assert!(b.refresh().await.unwrap().is_some());
        assert_eq!(w.detected().await, 2);
    }

    #[tokio::test]
    async fn a_busy_sites_steady_typos_make_no_wave_but_an_attack_on_top_does() {
        let w = world().await;
        let a = w.instance();
        // An hour of typos at 20 a minute, as other instances added them.
        let minute = w.now().div_euclid(60);
        for m in 1..=60 {
            w.store
                .waves
                .add_failures(minute - 4 - m, 20, 0, false)
                .await
                .unwrap();
        }
        // The window at the same rate: 100 typos on real accounts from 90 networks.
        for i in 0..100 {
            w.fail(
                &a,
                &format!("user:u{i}"),
                &format!("net:10.{}.{}.1", i % 90, i % 7),
            )
            .await;
        }
        assert_eq!(a.refresh().await.unwrap(), None);
        let s = a.signals();
        assert_eq!((s.failures, s.accounts, s.unknown_accounts), (100, 100, 0));
        assert!(
            (s.baseline_rate() - 20.0).abs() < 1e-9,
            "{}",
            s.baseline_rate()
        );
        // A stuffing run on top, five times the site's rate: 400 leaked names from 200
        // networks, two each.
        for i in 0..200 {
            for j in 0..2 {
                w.fail(
                    &a,
                    &format!("name:leak-{i}-{j}"),
                    &format!("net:45.{i}.0.7"),
                )
                .await;
            }
        }
        let wave = a
            .refresh()
            .await
            .unwrap()
            .expect("a wave over the baseline");
        assert_eq!(wave.kind, WaveKind::Stuffing);
    }

    #[tokio::test]
    async fn tallies_survive_a_failed_flush_and_checks_are_in_memory() {
        let w = world().await;
        let a = w.instance();
        a.failed(true);
        a.failed(false);
        // `on` and `failed` are synchronous: they cannot wait on the database.
        assert_eq!(a.on(), None);
        a.refresh().await.unwrap();
        let s = a.signals();
        assert_eq!((s.failures, s.sprayed), (2, 1));
    }

    #[tokio::test]
    async fn during_a_wave_only_contexts_new_to_the_account_are_challenged() {
        use crate::domain::context::RequestContext;
        use crate::domain::risk::service::{RiskService, SignInFacts};
        use crate::domain::risk::{RiskSettings, Verdict};
        use crate::domain::signin::keys::{CounterKey, Pair, Source};
        let w = world().await;
        let waves = w.instance();
        // Only the wave challenges here, not the score.
        let settings = RiskSettings {
            challenge_at: 0.999,
            block_at: 0.9999,
            ..RiskSettings::default()
        };
        let risk = RiskService::new(w.store.risk.clone(), None, w.clock.clone(), b"k", settings)
            .with_waves(waves.clone());
        // The owner signed in from home before.
        let home = RequestContext::new("198.51.100.20".parse().unwrap(), "ua", "r".into());
        let mut profile = crate::domain::risk::profile::Profile::default();
        profile.observe(&risk.observe(&home, w.clock.now()));
        let json = serde_json::to_string(&profile).unwrap();
        w.store
            .risk
            .save_profile("u1", &json, w.now())
            .await
            .unwrap();
        let verdict = |ip: &'static str, device: bool| {
            let risk = risk.clone();
            async move {
                let ctx = RequestContext::new(ip.parse().unwrap(), "ua", "r".into());
                let source = if device {
                    Source::Device("d1".into())
                } else {
                    Source::net(ctx.ip)
                };
                let pair = Pair::new(CounterKey::User("u1".into()), source);
                let facts = SignInFacts {
                    profile: crate::storage::risk::ProfileKey::User("u1"),
                    pair: &pair,
                    pair_failures: 1,
                    password: b"pw",
                };
                let a = risk.assess_sign_in(&ctx, &facts).await.unwrap();
                (a.verdict, a.reasons.first().cloned().unwrap_or_default())
            }
        };
        assert_eq!(
            verdict("203.0.113.9", false).await.0,
            Verdict::Allow,
            "no wave yet"
        );
        for i in 0..20 {
            for j in 0..2 {
                w.fail(
                    &waves,
                    &format!("name:leak-{i}-{j}"),
                    &format!("net:45.{i}.0.7"),
                )
                .await;
            }
        }
        waves.refresh().await.unwrap();
        let (v, why) = verdict("203.0.113.9", false).await;
        assert_eq!(v, Verdict::Challenge);
        assert!(why.contains("stuffing wave"), "{why}");
        assert_eq!(
            verdict("198.51.100.77", false).await.0,
            Verdict::Allow,
            "the owner's network"
        );
        assert_eq!(
            verdict("203.0.113.9", true).await.0,
            Verdict::Allow,
            "the owner's known device"
        );
    }
}
