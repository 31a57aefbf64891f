//! Storage for the risk engine: the one read a scored sign-in makes (the user's profile and the
//! velocity counters of its source, prefix and account, in one statement), profiles, versioned
//! models, admin labels and the events training reads. The SQL is one text for both engines;
//! the counter keys it reads are told apart by the prefixes in `protection.rs`, bound as
//! parameters.

use async_trait::async_trait;

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::events::{EVENT_COLUMNS, EventRow, ts_millis};
use crate::storage::protection::{ALL_SOURCES, FORM_KEY_PREFIX};
use crate::storage::{Backend, on_pool};

/// A risk profile to store (`RiskStore::save_profile`, or with a successful sign-in's event:
/// `FailureStore::clear_with_event`).
#[derive(Debug, Clone, Copy)]
pub struct ProfileWrite<'a> {
    /// The account.
    pub user_id: &'a str,
    /// The profile, as JSON.
    pub profile: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// The profile's upsert, its three binds (`ProfileWrite`'s fields in order) from `$first`.
pub(crate) fn upsert_profile_sql(first: usize) -> String {
    format!(
        "insert into risk_profile (user_id, profile, updated_at) values (${first}, ${}, ${}) \
         on conflict (user_id) do update set \
         profile = excluded.profile, updated_at = excluded.updated_at",
        first + 1,
        first + 2
    )
}

/// What a scored sign-in reads, in one round trip. Counts cover rows of the current window and
/// include the attempt being scored (it is counted before it is scored).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RiskHistory {
    /// The user's profile (JSON), if any.
    pub profile: Option<String>,
    /// Failures from the source, all accounts.
    pub source_failures: i64,
    /// Accounts with failures from the source.
    pub source_accounts: i64,
    /// Accounts with failures from the prefix.
    pub prefix_accounts: i64,
    /// Sources with failures on the account.
    pub account_sources: i64,
}

/// Whose profile a history read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKey<'a> {
    /// The account's own, by id.
    User(&'a str),
    /// A name with no account: the profile of the first account whose id is at or after this
    /// point (wrapping round to the first account), or none if that account has none.
    StandIn(&'a str),
}

/// A stored model.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ModelRow {
    /// Version (1, 2, …).
    pub version: i64,
    /// The model (JSON).
    pub model: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// An admin label as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LabelRow {
    /// The labelled event's id.
    pub event_id: String,
    /// `true`: an attack.
    pub attack: bool,
    /// When it was labelled (unix seconds).
    pub created_at: i64,
}

/// Risk storage.
#[async_trait]
pub trait RiskStore: Send + Sync {
    /// The history a sign-in is scored against (see `RiskHistory`).
    async fn history(
        &self,
        profile: ProfileKey<'_>,
        account_key: &str,
        source: &str,
        prefix: &str,
        window_cutoff: i64,
    ) -> Result<RiskHistory, StoreError>;
    /// Stores a user's profile.
    async fn save_profile(&self, user_id: &str, profile: &str, now: i64) -> Result<(), StoreError>;
    /// A user's profile.
    async fn profile(&self, user_id: &str) -> Result<Option<String>, StoreError>;
    /// Every profile (training counts the population from them).
    async fn all_profiles(&self) -> Result<Vec<String>, StoreError>;
    /// Stores a new model version (the next number) and returns it.
    async fn save_model(
        &self,
        model_for_version: &(dyn Fn(i64) -> String + Sync),
        now: i64,
    ) -> Result<i64, StoreError>;
    /// The newest model's version.
    async fn latest_version(&self) -> Result<Option<i64>, StoreError>;
    /// The newest model.
    async fn latest_model(&self) -> Result<Option<ModelRow>, StoreError>;
    /// Labels an event as an attack or legitimate (an admin's word; last one wins).
    async fn label(&self, event_id: &str, attack: bool, now: i64) -> Result<(), StoreError>;
    /// Every admin label.
    async fn labels(&self) -> Result<Vec<(String, bool)>, StoreError>;
    /// The version in use: the one an operator selected (`select_model`; 0 when they selected
    /// the built-in prior), else the newest.
    async fn in_use_version(&self) -> Result<Option<i64>, StoreError> {
        self.latest_version().await
    }
    /// The model in use (see `in_use_version`).
    async fn in_use_model(&self) -> Result<Option<ModelRow>, StoreError> {
        self.latest_model().await
    }
    /// Puts stored version `version` (0: the built-in prior) in use on every instance (until
    /// the next one is trained or selected); `false` if no such version is stored.
    async fn select_model(&self, _version: i64, _now: i64) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// The stored models, newest first, at most `limit`.
    async fn models(&self, _limit: i64) -> Result<Vec<ModelRow>, StoreError> {
        Ok(self.latest_model().await?.into_iter().collect())
    }
    /// The newest admin labels (at most `limit`) and how many there are in all.
    async fn recent_labels(&self, _limit: i64) -> Result<(Vec<LabelRow>, i64), StoreError> {
        Ok((Vec::new(), 0))
    }
    /// The events training reads (sign-in outcomes and "wasn't you?" reports) at or after
    /// `since`, oldest first, at most `limit`.
    async fn training_events(
        &self,
        since: time::OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<AuthEvent>, StoreError>;
}

/// The one read a scored sign-in makes. Binds: `$1` user id (or null), `$2` account key, `$3`
/// source, `$4` prefix, `$5` window cutoff, `$6` the pattern of the form gate's keys (they count
/// registrations and resets, not sign-ins), `$7` the account-wide row's source, `$8` the
/// stand-in point (or null): without a user id, the profile is that of the first account at or
/// after it (by the primary key's index), wrapping round.
const HISTORY: &str = "select (select profile from risk_profile where user_id = coalesce($1, \
       (select id from account where id >= $8 order by id limit 1), \
       (select min(id) from account where $8 is not null))) as profile, \
    (select cast(coalesce(sum(failures), 0) as bigint) from login_failure \
       where source = $3 and window_start >= $5 and account_key not like $6) as source_failures, \
    (select count(*) from login_failure where source = $3 and failures > 0 \
       and window_start >= $5 and account_key not like $6) as source_accounts, \
    (select count(distinct account_key) from login_failure where prefix = $4 and failures > 0 \
       and window_start >= $5 and account_key not like $6) as prefix_accounts, \
    (select count(*) from login_failure where account_key = $2 and source <> $7 \
       and failures > 0 and window_start >= $5) as account_sources";

/// The kinds of event training reads (sign-in outcomes and "wasn't you?" reports).
const TRAINING_KINDS: &str = "kind in ('login_succeeded', 'login_failed', 'login_challenged', \
    'login_blocked', 'session_revoked')";

#[async_trait]
impl RiskStore for Backend {
    async fn history(
        &self,
        profile: ProfileKey<'_>,
        account_key: &str,
        source: &str,
        prefix: &str,
        window_cutoff: i64,
    ) -> Result<RiskHistory, StoreError> {
        let form_keys = format!("{FORM_KEY_PREFIX}%");
        let (user_id, stand_in) = match profile {
            ProfileKey::User(id) => (Some(id), None),
            ProfileKey::StandIn(point) => (None, Some(point)),
        };
        Ok(on_pool!(self.counter_reads(), |p| sqlx::query_as(HISTORY)
            .bind(user_id)
            .bind(account_key)
            .bind(source)
            .bind(prefix)
            .bind(window_cutoff)
            .bind(form_keys.as_str())
            .bind(ALL_SOURCES)
            .bind(stand_in)
            .fetch_one(p)
            .await?))
    }

    async fn save_profile(&self, user_id: &str, profile: &str, now: i64) -> Result<(), StoreError> {
        let sql = upsert_profile_sql(1);
        on_pool!(self.writer(), |p| {
            sqlx::query(&sql)
                .bind(user_id)
                .bind(profile)
                .bind(now)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    async fn profile(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select profile from risk_profile where user_id = $1"
        )
        .bind(user_id)
        .fetch_optional(p)
        .await?))
    }

    async fn all_profiles(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select profile from risk_profile"
        )
        .fetch_all(p)
        .await?))
    }

    async fn save_model(
        &self,
        model_for_version: &(dyn Fn(i64) -> String + Sync),
        now: i64,
    ) -> Result<i64, StoreError> {
        // Two trainers racing get distinct versions: the loser's insert conflicts and it
        // retries with the next number.
        for _ in 0..5 {
            let saved: Option<i64> = on_pool!(self.writer(), |p| {
                let next: i64 = sqlx::query_scalar(
                    "select cast(coalesce(max(version), 0) + 1 as bigint) from risk_model",
                )
                .fetch_one(p)
                .await?;
                let done = sqlx::query(
                    "insert into risk_model (version, model, created_at) values ($1, $2, $3) \
                     on conflict (version) do nothing",
                )
                .bind(next)
                .bind(model_for_version(next))
                .bind(now)
                .execute(p)
                .await?
                .rows_affected();
                (done == 1).then_some(next)
            });
            if let Some(version) = saved {
                // A newly trained model is in use: an operator's earlier selection ends.
                self.clear_model_selection().await?;
                return Ok(version);
            }
        }
        Err(StoreError::Conflict {
            constraint: "risk_model.version".into(),
        })
    }

    async fn latest_version(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select max(version) from risk_model"
        )
        .fetch_one(p)
        .await?))
    }

    async fn latest_model(&self) -> Result<Option<ModelRow>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select version, model, created_at from risk_model order by version desc limit 1",
        )
        .fetch_optional(p)
        .await?))
    }

    async fn label(&self, event_id: &str, attack: bool, now: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "insert into risk_label (event_id, attack, created_at) values ($1, $2, $3) \
                 on conflict (event_id) do update set \
                 attack = excluded.attack, created_at = excluded.created_at",
            )
            .bind(event_id)
            .bind(attack)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn labels(&self) -> Result<Vec<(String, bool)>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select event_id, attack from risk_label"
        )
        .fetch_all(p)
        .await?))
    }

    async fn in_use_version(&self) -> Result<Option<i64>, StoreError> {
        self.model_in_use_version().await
    }

    async fn in_use_model(&self) -> Result<Option<ModelRow>, StoreError> {
        self.model_in_use().await
    }

    async fn select_model(&self, version: i64, now: i64) -> Result<bool, StoreError> {
        self.select_model_version(version, now).await
    }

    async fn models(&self, limit: i64) -> Result<Vec<ModelRow>, StoreError> {
        self.model_rows(limit).await
    }

    async fn recent_labels(&self, limit: i64) -> Result<(Vec<LabelRow>, i64), StoreError> {
        self.label_rows(limit).await
    }

    async fn training_events(
        &self,
        since: time::OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<AuthEvent>, StoreError> {
        // The newest `limit`, oldest first: a flood of old outcomes filling the window must
        // not keep the latest sign-ins and reports out of training.
        let sql = format!(
            "select {EVENT_COLUMNS} from event where {TRAINING_KINDS} and ts >= $1 \
             order by ts desc limit $2"
        );
        let rows: Vec<EventRow> = on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .bind(ts_millis(since))
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter().rev().map(AuthEvent::try_from).collect()
    }
}
