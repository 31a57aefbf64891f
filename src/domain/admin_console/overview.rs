//! The console's overview: sign-in outcomes over the last hour, day and week, the accounts and
//! addresses most failed against in the last day, and the attack wave on now.

use time::Duration;

use crate::domain::admin_console::{AdminConsole, ConsoleError};
use crate::domain::risk::wave_state::Wave;
use crate::storage::admin_stats::Counted;
use crate::storage::events::ts_millis;

/// Most accounts and addresses listed.
pub(crate) const TOP: i64 = 10;
/// Events younger than this stay out of the hourly rollup (counted live instead), so every
/// event before the newest one rolled up has been committed.
const ROLLUP_LAG: Duration = Duration::minutes(1);
/// Events added to the rollup per transaction. Each batch is one transaction on the write
/// connection (SQLite's only one), which every event write waits behind meanwhile: small
/// batches keep that wait short (docs/benchmarks.md, "Background jobs and the writer").
const ROLLUP_BATCH: i64 = 2_000;

/// A sign-in outcome the overview counts, with the event kind it is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `login_succeeded`.
    Succeeded,
    /// `login_failed`.
    Failed,
    /// `login_challenged` (a CAPTCHA or a step-up was asked for).
    Challenged,
    /// `challenge_passed` with a second factor.
    SteppedUp,
    /// `login_blocked`.
    Blocked,
    /// `rate_limited`.
    RateLimited,
}

impl Outcome {
    /// Every outcome, in the overview's order.
    pub const ALL: [Self; 6] = [
        Self::Succeeded,
        Self::Failed,
        Self::Challenged,
        Self::SteppedUp,
        Self::Blocked,
        Self::RateLimited,
    ];

    /// The counted key (`admin_stats::kind_counts`).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Succeeded => "login_succeeded",
            Self::Failed => "login_failed",
            Self::Challenged => "login_challenged",
            Self::SteppedUp => "stepped_up",
            Self::Blocked => "login_blocked",
            Self::RateLimited => "rate_limited",
        }
    }

    /// The label shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Challenged => "challenged",
            Self::SteppedUp => "stepped up",
            Self::Blocked => "blocked",
            Self::RateLimited => "rate limited",
        }
    }
}

/// The outcome counts of one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// `hour`, `day`, `week`.
    pub name: &'static str,
    /// Counts in `Outcome::ALL` order.
    pub counts: [i64; 6],
}

/// The overview.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The last hour, day and week.
    pub windows: Vec<Window>,
    /// Accounts (emails) most failed against in the last day.
    pub top_accounts: Vec<Counted>,
    /// Client addresses most failing in the last day.
    pub top_sources: Vec<Counted>,
    /// The wave on now, if any.
    pub wave: Option<Wave>,
}

impl AdminConsole {
    /// Brings the overview's hourly counts up to date (the catch-up job in `app/jobs.rs`; safe
    /// to run on several instances at once); the event `seq` values passed.
    pub async fn roll_up_events(&self) -> Result<u64, ConsoleError> {
        let cutoff = ts_millis(self.now() - ROLLUP_LAG);
        let mut total = 0;
        loop {
            let n = self.stats.roll_up_events(cutoff, ROLLUP_BATCH).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// The overview's first slice, as of now (the page reads it with the further parts in
    /// `overview_page`). Its five reads are independent and run at once (each on its own
    /// pooled connection), so it waits for the slowest, not for their sum.
    pub async fn overview(&self) -> Result<Overview, ConsoleError> {
        let now = self.now();
        let since = |span: Duration| ts_millis(now - span);
        let day = since(Duration::days(1));
        let (hour_rows, day_rows, week_rows, top_accounts, top_sources) = tokio::try_join!(
            self.stats.kind_counts(since(Duration::hours(1))),
            self.stats.kind_counts(day),
            self.stats.kind_counts(since(Duration::weeks(1))),
            self.stats.top_accounts(day, TOP),
            self.stats.top_sources(day, TOP),
        )?;
        Ok(Overview {
            windows: windows([hour_rows, day_rows, week_rows]),
            top_accounts,
            top_sources,
            wave: self.waves.on(),
        })
    }
}

/// The last hour's, day's and week's counts per key as windows.
pub(crate) fn windows(rows: [Vec<Counted>; 3]) -> Vec<Window> {
    ["hour", "day", "week"]
        .into_iter()
        .zip(rows)
        .map(|(name, rows)| {
            let count = |o: Outcome| rows.iter().find(|r| r.key == o.key()).map_or(0, |r| r.n);
            Window {
                name,
                counts: Outcome::ALL.map(count),
            }
        })
        .collect()
}
