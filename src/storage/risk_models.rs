//! The SQL behind choosing the risk model in use (`risk_model_use`, migrations 0031 and 0034):
//! at most one row naming the version an operator put in use (a null version: the built-in
//! prior, version 0); with none, the newest stored version is in use. Listing the stored models and the newest labels for the console. One text for both
//! engines; `RiskStore` (in `risk.rs`) calls these.

use crate::storage::error::StoreError;
use crate::storage::risk::{LabelRow, ModelRow};
use crate::storage::{Backend, on_pool};

/// The version in use: the selected one (0 when the prior is selected), else the newest.
const IN_USE_VERSION: &str = "case when exists (select 1 from risk_model_use where id = 1) \
     then coalesce((select version from risk_model_use where id = 1), 0) \
     else (select max(version) from risk_model) end";

impl Backend {
    pub(crate) async fn model_in_use_version(&self) -> Result<Option<i64>, StoreError> {
        let sql = format!("select cast({IN_USE_VERSION} as bigint)");
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(&sql)
            .fetch_one(p)
            .await?))
    }

    pub(crate) async fn model_in_use(&self) -> Result<Option<ModelRow>, StoreError> {
        let sql = format!(
            "select version, model, created_at from risk_model where version = {IN_USE_VERSION}"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(&sql)
            .fetch_optional(p)
            .await?))
    }

    pub(crate) async fn select_model_version(
        &self,
        version: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        if version == 0 {
            // The built-in prior is in no row: a null version selects it.
            on_pool!(self.writer(), |p| {
                sqlx::query(
                    "insert into risk_model_use (id, version, changed_at) values (1, null, $1) \
                     on conflict (id) do update set \
                     version = excluded.version, changed_at = excluded.changed_at",
                )
                .bind(now)
                .execute(p)
                .await?;
            });
            return Ok(true);
        }
        let done = on_pool!(self.writer(), |p| sqlx::query(
            "insert into risk_model_use (id, version, changed_at) \
             select 1, version, $2 from risk_model where version = $1 \
             on conflict (id) do update set \
             version = excluded.version, changed_at = excluded.changed_at",
        )
        .bind(version)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    pub(crate) async fn clear_model_selection(&self) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query("delete from risk_model_use").execute(p).await?;
        });
        Ok(())
    }

    pub(crate) async fn model_rows(&self, limit: i64) -> Result<Vec<ModelRow>, StoreError> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "select version, model, created_at from risk_model order by version desc limit $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await?))
    }

    pub(crate) async fn label_rows(&self, limit: i64) -> Result<(Vec<LabelRow>, i64), StoreError> {
        let rows = on_pool!(self.pool(), |p| sqlx::query_as(
            "select event_id, attack, created_at from risk_label \
             order by created_at desc, event_id limit $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await?);
        let count: i64 = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "select count(*) from risk_label"
        )
        .fetch_one(p)
        .await?);
        Ok((rows, count))
    }
}
