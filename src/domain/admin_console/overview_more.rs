//! The overview's further parts (issue #11): sign-in outcomes per hour over the last 24 hours
//! and per day over the last 7 (UTC), the risk score distribution of the last day's sign-ins
//! against the challenge threshold, the mail queue, the model in use, the hostile sources
//! grouped by network (/24, /48) and country (with a GeoIP database), and the newest
//! `attack_detected` text while a wave is on.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use time::Duration;

use crate::domain::admin_console::overview::{Outcome, Overview};
use crate::domain::admin_console::{AdminConsole, ConsoleError};
use crate::domain::risk::model::Metrics;
use crate::domain::risk::service::RiskService;
use crate::events::Risk;
use crate::storage::admin_overview::{AdminOverviewStore, Bucketed, MailQueueState};
use crate::storage::admin_stats::Counted;
use crate::storage::events::ts_millis;

/// Histogram bins over [0, 1].
pub const BINS: usize = 20;
/// Most risk records read (the newest of the day).
const RISKS_READ: i64 = 50_000;
/// Most addresses read to group by network and country.
const SOURCES_READ: i64 = 5_000;
/// Most networks and countries listed.
const TOP: usize = 10;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// What the further parts are read from.
#[derive(Clone)]
pub struct OverviewDeps {
    /// The reads.
    pub store: Arc<dyn AdminOverviewStore>,
    /// The model in use and GeoIP.
    pub risk: RiskService,
    /// `AUTHD_RISK_CHALLENGE_AT`.
    pub challenge_at: f64,
}

/// Outcome counts of one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The bucket's start (unix seconds).
    pub start: i64,
    /// Counts in `Outcome::ALL` order.
    pub counts: [i64; 6],
}

/// The model in use.
#[derive(Debug, Clone)]
pub struct ModelInUse {
    /// Its version (0: the built-in prior).
    pub version: i64,
    /// When it was stored (unix seconds); `None` for the prior.
    pub trained_at: Option<i64>,
    /// Its held-out metrics.
    pub metrics: Metrics,
}

/// The further parts.
#[derive(Debug, Clone)]
pub struct OverviewMore {
    /// The last 24 hours, oldest first (the last one is the current hour).
    pub hours: Vec<Slot>,
    /// The last 7 days, oldest first (the last one is today, UTC).
    pub days: Vec<Slot>,
    /// Last day's sign-ins per risk score bin (`BINS` over [0, 1]).
    pub risk_bins: [i64; BINS],
    /// Scores at or above this are challenged.
    pub challenge_at: f64,
    /// The mail queue now.
    pub mail: MailQueueState,
    /// Seconds the oldest unsent mail has waited.
    pub mail_oldest_age: Option<i64>,
    /// The model in use.
    pub model: ModelInUse,
    /// Hostile sign-ins of the last day per network (/24 IPv4, /48 IPv6), most first.
    pub networks: Vec<Counted>,
    /// The same per country; `None` without a GeoIP database.
    pub countries: Option<Vec<Counted>>,
    /// The newest `attack_detected` text while a wave is on.
    pub wave_detail: Option<String>,
}

/// Buckets `rows` (of `len_ms`) into `n` slots ending with the one holding `now_ms`.
pub fn slots(rows: &[Bucketed], now_ms: i64, len_ms: i64, n: i64) -> Vec<Slot> {
    let last = now_ms.div_euclid(len_ms);
    (last - n + 1..=last)
        .map(|b| Slot {
            start: b * len_ms / 1000,
            counts: Outcome::ALL.map(|o| {
                rows.iter()
                    .filter(|r| r.bucket == b && r.key == o.key())
                    .map(|r| r.n)
                    .sum()
            }),
        })
        .collect()
}

/// The bin of a score in [0, 1] (1.0 falls in the last bin).
pub fn bin_of(score: f64) -> usize {
    let b = (score.clamp(0.0, 1.0) * BINS as f64).floor();
    // In range by the clamp.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (b as usize).min(BINS - 1)
}

/// The network an address is in: `a.b.c.0/24` or the /48 of an IPv6 address.
pub fn network_of(ip: &str) -> Option<String> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

/// Sums `rows` by `group`, most first then by name, at most `TOP`.
fn grouped(rows: &[Counted], group: impl Fn(&str) -> Option<String>) -> Vec<Counted> {
    let mut sums: HashMap<String, i64> = HashMap::new();
    for r in rows {
        if let Some(k) = group(&r.key) {
            *sums.entry(k).or_default() += r.n;
        }
    }
    let mut out: Vec<Counted> = sums
        .into_iter()
        .map(|(key, n)| Counted { key, n })
        .collect();
    out.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.key.cmp(&b.key)));
    out.truncate(TOP);
    out
}

impl AdminConsole {
    /// The whole overview page's data: the counts and the further parts (one call per page).
    pub async fn overview_page(&self) -> Result<(Overview, OverviewMore), ConsoleError> {
        Ok((self.overview().await?, self.overview_more().await?))
    }

    /// The overview's further parts, as of now.
    pub async fn overview_more(&self) -> Result<OverviewMore, ConsoleError> {
        let d = &self.more;
        let now = self.now();
        let now_ms = ts_millis(now);
        let hour_rows = d
            .store
            .kind_buckets((now_ms.div_euclid(HOUR_MS) - 23) * HOUR_MS, HOUR_MS)
            .await?;
        let day_rows = d
            .store
            .kind_buckets((now_ms.div_euclid(DAY_MS) - 6) * DAY_MS, DAY_MS)
            .await?;
        let day_ago = ts_millis(now - Duration::days(1));
        let mut risk_bins = [0; BINS];
        for text in d.store.sign_in_risks(day_ago, RISKS_READ).await? {
            let score = serde_json::from_str::<Risk>(&text).map(|r| r.score);
            if let Some(b) = score.ok().and_then(|s| risk_bins.get_mut(bin_of(s))) {
                *b += 1;
            }
        }
        let mail = d.store.mail_queue(now.unix_timestamp()).await?;
        let model = d.risk.model();
        let sources = self.stats.top_sources(day_ago, SOURCES_READ).await?;
        let countries = d.risk.has_geoip().then(|| {
            grouped(&sources, |ip| {
                let place = d.risk.place(ip.parse().ok()?)?;
                Some(place.country.unwrap_or_else(|| "unknown".to_owned()))
            })
        });
        let wave_detail = match self.waves.on() {
            Some(_) => d.store.latest_decision("attack_detected", day_ago).await?,
            None => None,
        };
        Ok(OverviewMore {
            hours: slots(&hour_rows, now_ms, HOUR_MS, 24),
            days: slots(&day_rows, now_ms, DAY_MS, 7),
            risk_bins,
            challenge_at: d.challenge_at,
            mail_oldest_age: mail.oldest.map(|t| (now.unix_timestamp() - t).max(0)),
            mail,
            model: ModelInUse {
                version: model.version,
                trained_at: d.store.model_stored_at(model.version).await?,
                metrics: model.metrics.clone(),
            },
            networks: grouped(&sources, network_of),
            countries,
            wave_detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_bins() {
        assert_eq!(network_of("203.0.113.9").unwrap(), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2::5").unwrap(), "2001:db8:1::/48");
        assert_eq!(network_of("nonsense"), None);
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.05), 1);
        assert_eq!(bin_of(0.049), 0);
        assert_eq!(bin_of(1.0), BINS - 1);
    }

    #[test]
    fn slots_end_with_the_current_bucket() {
        let rows = vec![Bucketed {
            bucket: 9,
            key: "login_failed".into(),
            n: 4,
        }];
        let s = slots(&rows, 10 * HOUR_MS + 5, HOUR_MS, 3);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].start, 8 * 3600);
        assert_eq!(s[1].counts, [0, 4, 0, 0, 0, 0]);
    }
}
