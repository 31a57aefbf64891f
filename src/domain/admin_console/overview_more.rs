//! The overview's further parts (issue #11): sign-in outcomes per hour over the last 24 hours
//! and per day over the last 7 (UTC), the risk score distribution of the last day's sign-ins
//! against the challenge threshold, the mail queue, the model in use, the hostile sources
//! grouped by network (/24, /48), country and ASN (with GeoIP databases), and the newest
//! `attack_detected` text while a wave is on; and the whole page's data in one call
//! (`overview_page`), its reads run at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use time::Duration;

use crate::domain::admin_console::overview::{Outcome, Overview, TOP as TOP_LISTED, windows};
use crate::domain::admin_console::{AdminConsole, ConsoleError};
use crate::domain::risk::geo::Place;
use crate::domain::risk::model::Metrics;
use crate::domain::risk::service::RiskService;
use crate::storage::admin_overview::{AdminOverviewStore, MailQueueState};
use crate::storage::admin_stats::Counted;
use crate::storage::error::StoreError;
use crate::storage::event_rollup::{Bucketed, RISK_BINS, RiskBin};
use crate::storage::events::ts_millis;

/// Histogram bins over [0, 1] (the rollup's).
pub const BINS: usize = RISK_BINS;
/// Most addresses read to group by network, country and ASN (the top sources are the first).
const SOURCES_READ: i64 = 5_000;
/// Most networks, countries and ASNs listed.
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

/// Hostile sign-ins from one autonomous system.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AsnCount {
    /// The AS number; `None` for addresses no database places.
    pub asn: Option<u32>,
    /// Its organisation, where the database names it.
    pub organisation: Option<String>,
    /// How many events.
    pub n: i64,
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
    /// The same per autonomous system; `None` without an ASN database (and no ASN from the
    /// GeoIP database).
    pub asns: Option<Vec<AsnCount>>,
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

/// The rollup's bins as the histogram (bins outside `0..BINS` are not the rollup's: dropped).
pub fn histogram(rows: &[RiskBin]) -> [i64; BINS] {
    let mut bins = [0; BINS];
    for r in rows {
        if let Some(b) = usize::try_from(r.bin).ok().and_then(|b| bins.get_mut(b)) {
            *b += r.n;
        }
    }
    bins
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

/// Sums placed sources by AS number (an organisation from any address of it), most first
/// then by number (unplaced last among equals), at most `TOP`.
pub fn by_asn(placed: &[(Place, i64)]) -> Vec<AsnCount> {
    let mut sums: HashMap<Option<u32>, AsnCount> = HashMap::new();
    for (place, n) in placed {
        let e = sums.entry(place.asn).or_insert_with(|| AsnCount {
            asn: place.asn,
            organisation: None,
            n: 0,
        });
        e.n += n;
        if e.organisation.is_none() {
            e.organisation.clone_from(&place.as_org);
        }
    }
    let mut out: Vec<AsnCount> = sums.into_values().collect();
    out.sort_by(|a, b| {
        b.n.cmp(&a.n)
            .then_with(|| a.asn.is_none().cmp(&b.asn.is_none()))
            .then_with(|| a.asn.cmp(&b.asn))
    });
    out.truncate(TOP);
    out
}

/// The sources by country (with the GeoIP database) and by ASN (with the ASN database, or
/// where the GeoIP database gave any AS number): one lookup per address.
fn by_place(
    risk: &RiskService,
    sources: &[Counted],
) -> (Option<Vec<Counted>>, Option<Vec<AsnCount>>) {
    let placed: Vec<(Place, i64)> = sources
        .iter()
        .filter_map(|s| Some((risk.place(s.key.parse().ok()?)?, s.n)))
        .collect();
    let countries = risk.has_geoip().then(|| {
        let rows: Vec<Counted> = placed
            .iter()
            .map(|(p, n)| Counted {
                key: p.country.clone().unwrap_or_else(|| "unknown".to_owned()),
                n: *n,
            })
            .collect();
        grouped(&rows, |k| Some(k.to_owned()))
    });
    let any_asn = risk.has_asn_db() || placed.iter().any(|(p, _)| p.asn.is_some());
    (countries, any_asn.then(|| by_asn(&placed)))
}

impl AdminConsole {
    /// The whole overview page's data, as of now: the first slice's counts and lists and the
    /// further parts. Its reads are independent and run at once (each on its own pooled
    /// connection); the hostile sources are read once, for the top list and the groupings.
    pub async fn overview_page(&self) -> Result<(Overview, OverviewMore), ConsoleError> {
        let d = &self.more;
        let now = self.now();
        let now_ms = ts_millis(now);
        let since = |span: Duration| ts_millis(now - span);
        let day = since(Duration::days(1));
        let wave = self.waves.on();
        let model = d.risk.model();
        let wave_detail = async {
            match wave {
                Some(_) => d.store.latest_decision("attack_detected", day).await,
                None => Ok::<_, StoreError>(None),
            }
        };
        let (
            hour,
            day_counts,
            week,
            top_accounts,
            sources,
            hours,
            days,
            risks,
            mail,
            trained_at,
            wave_detail,
        ) = tokio::try_join!(
            self.stats.kind_counts(since(Duration::hours(1))),
            self.stats.kind_counts(day),
            self.stats.kind_counts(since(Duration::weeks(1))),
            self.stats.top_accounts(day, TOP_LISTED),
            self.stats.top_sources(day, SOURCES_READ),
            d.store
                .kind_buckets((now_ms.div_euclid(HOUR_MS) - 23) * HOUR_MS, HOUR_MS),
            d.store
                .kind_buckets((now_ms.div_euclid(DAY_MS) - 6) * DAY_MS, DAY_MS),
            d.store.risk_bins(day),
            d.store.mail_queue(now.unix_timestamp()),
            d.store.model_stored_at(model.version),
            wave_detail,
        )?;
        let (countries, asns) = by_place(&d.risk, &sources);
        let more = OverviewMore {
            hours: slots(&hours, now_ms, HOUR_MS, 24),
            days: slots(&days, now_ms, DAY_MS, 7),
            risk_bins: histogram(&risks),
            challenge_at: d.challenge_at,
            mail_oldest_age: mail.oldest.map(|t| (now.unix_timestamp() - t).max(0)),
            mail,
            model: ModelInUse {
                version: model.version,
                trained_at,
                metrics: model.metrics.clone(),
            },
            networks: grouped(&sources, network_of),
            countries,
            asns,
            wave_detail,
        };
        let overview = Overview {
            windows: windows([hour, day_counts, week]),
            top_accounts,
            top_sources: sources
                .into_iter()
                .take(usize::try_from(TOP_LISTED).unwrap_or(TOP))
                .collect(),
            wave,
        };
        Ok((overview, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!(network_of("203.0.113.9").unwrap(), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2::5").unwrap(), "2001:db8:1::/48");
        assert_eq!(network_of("nonsense"), None);
    }

    #[test]
    fn histogram_takes_the_rollups_bins() {
        let rows = [
            RiskBin { bin: 0, n: 2 },
            RiskBin { bin: 19, n: 5 },
            RiskBin { bin: 20, n: 9 },
            RiskBin { bin: -1, n: 9 },
        ];
        let h = histogram(&rows);
        assert_eq!((h[0], h[19], h.iter().sum::<i64>()), (2, 5, 7));
    }

    #[test]
    fn asns_are_summed_with_an_organisation_most_first() {
        let at = |asn: Option<u32>, org: Option<&str>| Place {
            asn,
            as_org: org.map(Into::into),
            ..Place::default()
        };
        let placed = vec![
            (at(Some(64_500), None), 3),
            (at(Some(64_500), Some("Example AS")), 4),
            (at(None, None), 7),
            (at(Some(64_501), Some("Other")), 9),
        ];
        let rows = by_asn(&placed);
        let view: Vec<(Option<u32>, Option<&str>, i64)> = rows
            .iter()
            .map(|r| (r.asn, r.organisation.as_deref(), r.n))
            .collect();
        assert_eq!(
            view,
            [
                (Some(64_501), Some("Other"), 9),
                (Some(64_500), Some("Example AS"), 7),
                (None, None, 7),
            ]
        );
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
