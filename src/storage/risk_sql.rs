//! The risk SQL for both engines (see `common.rs`).

macro_rules! impl_risk_stores {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::risk::RiskStore for $store {
            async fn history(
                &self,
                user_id: Option<&str>,
                account_key: &str,
                source: &str,
                prefix: &str,
                window_cutoff: i64,
            ) -> Result<$crate::storage::risk::RiskHistory, $crate::storage::error::StoreError> {
                Ok(sqlx::query_as(
                    "select (select profile from risk_profile where user_id = $1) as profile, \
                     (select cast(coalesce(sum(failures), 0) as bigint) from login_failure \
                        where source = $3 and window_start >= $5 and account_key not like 'form:%') as source_failures, \
                     (select count(*) from login_failure where source = $3 and failures > 0 \
                        and window_start >= $5 and account_key not like 'form:%') as source_accounts, \
                     (select count(distinct account_key) from login_failure where prefix = $4 and failures > 0 \
                        and window_start >= $5 and account_key not like 'form:%') as prefix_accounts, \
                     (select count(*) from login_failure where account_key = $2 and source <> '*' \
                        and failures > 0 and window_start >= $5) as account_sources",
                )
                .bind(user_id)
                .bind(account_key)
                .bind(source)
                .bind(prefix)
                .bind(window_cutoff)
                .fetch_one(self.counter_pool())
                .await?)
            }

            async fn save_profile(
                &self,
                user_id: &str,
                profile: &str,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into risk_profile (user_id, profile, updated_at) values ($1, $2, $3) \
                     on conflict (user_id) do update set profile = excluded.profile, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(profile)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn profile(&self, user_id: &str) -> Result<Option<String>, $crate::storage::error::StoreError> {
                Ok(sqlx::query_scalar("select profile from risk_profile where user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn all_profiles(&self) -> Result<Vec<String>, $crate::storage::error::StoreError> {
                Ok(sqlx::query_scalar("select profile from risk_profile")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn save_model(
                &self,
                model_for_version: &(dyn Fn(i64) -> String + Sync),
                now: i64,
            ) -> Result<i64, $crate::storage::error::StoreError> {
                // Two trainers racing get distinct versions: the loser's insert conflicts and
                // it retries with the next number.
                for _ in 0..5 {
                    let next: i64 = sqlx::query_scalar(
                        "select cast(coalesce(max(version), 0) + 1 as bigint) from risk_model",
                    )
                    .fetch_one(&self.pool)
                    .await?;
                    let done = sqlx::query(
                        "insert into risk_model (version, model, created_at) values ($1, $2, $3) \
                         on conflict (version) do nothing",
                    )
                    .bind(next)
                    .bind(model_for_version(next))
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    if done == 1 {
                        return Ok(next);
                    }
                }
                Err($crate::storage::error::StoreError::Conflict {
                    constraint: "risk_model.version".into(),
                })
            }

            async fn latest_version(&self) -> Result<Option<i64>, $crate::storage::error::StoreError> {
                Ok(sqlx::query_scalar("select max(version) from risk_model")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn latest_model(
                &self,
            ) -> Result<Option<$crate::storage::risk::ModelRow>, $crate::storage::error::StoreError> {
                Ok(sqlx::query_as(
                    "select version, model, created_at from risk_model order by version desc limit 1",
                )
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn label(
                &self,
                event_id: &str,
                attack: bool,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into risk_label (event_id, attack, created_at) values ($1, $2, $3) \
                     on conflict (event_id) do update set attack = excluded.attack, created_at = excluded.created_at",
                )
                .bind(event_id)
                .bind(attack)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn training_events(
                &self,
                since: time::OffsetDateTime,
                limit: i64,
            ) -> Result<Vec<$crate::events::AuthEvent>, $crate::storage::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::common::EventRow>(
                    "select id, ts, kind, ip, user_agent, user_id, username, client_id, risk, decision, request_id, decision_code \
                     from event where kind in ('login_succeeded', 'login_failed', 'login_challenged', \
                     'login_blocked', 'session_revoked') and ts >= $1 order by ts limit $2",
                )
                .bind($crate::storage::common::ts_millis(since))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::events::AuthEvent::try_from)
                .collect()
            }

            async fn labels(&self) -> Result<Vec<(String, bool)>, $crate::storage::error::StoreError> {
                Ok(sqlx::query_as("select event_id, attack from risk_label")
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_risk_stores;
