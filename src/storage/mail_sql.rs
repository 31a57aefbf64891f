//! The mail-queue and reset-token SQL, written once for both engines (see `common.rs`).

/// Queues a mail (binds: id, message_id, kind, recipient, subject, text, html, next_attempt_at,
/// created_at).
pub(crate) const INSERT_MAIL: &str = "insert into mail_queue (id, message_id, kind, recipient, subject, \
    text_body, html_body, attempts, next_attempt_at, locked_until, sent_at, last_error, created_at) \
    values ($1, $2, $3, $4, $5, $6, $7, 0, $8, null, null, null, $9)";

/// Binds a mail row to `INSERT_MAIL`.
macro_rules! bind_mail {
    ($q:expr, $m:expr) => {
        $q.bind(&$m.id)
            .bind(&$m.message_id)
            .bind(&$m.kind)
            .bind(&$m.recipient)
            .bind(&$m.subject)
            .bind(&$m.text_body)
            .bind(&$m.html_body)
            .bind($m.next_attempt_at)
            .bind($m.created_at)
    };
}

pub(crate) use bind_mail;

macro_rules! impl_mail_stores {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::mail::MailStore for $store {
            async fn claim_due(
                &self,
                now: i64,
                lease: i64,
                limit: i64,
            ) -> Result<Vec<$crate::storage::mail::MailRecord>, $crate::storage::error::StoreError> {
                let ids: Vec<(String,)> = sqlx::query_as(
                    "select id from mail_queue where sent_at is null and next_attempt_at <= $1 \
                     and (locked_until is null or locked_until <= $1) order by next_attempt_at limit $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut claimed = Vec::new();
                for (id,) in ids {
                    let won = sqlx::query(
                        "update mail_queue set locked_until = $2 where id = $1 and sent_at is null \
                         and (locked_until is null or locked_until <= $3)",
                    )
                    .bind(&id)
                    .bind(now + lease)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                        == 1;
                    if won {
                        let row: $crate::storage::mail::MailRecord = sqlx::query_as(
                            "select id, message_id, kind, recipient, subject, text_body, html_body, attempts, \
                             next_attempt_at, locked_until, sent_at, last_error, created_at from mail_queue where id = $1",
                        )
                        .bind(&id)
                        .fetch_one(&self.pool)
                        .await?;
                        claimed.push(row);
                    }
                }
                Ok(claimed)
            }

            async fn mark_sent(&self, id: &str, now: i64) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query("update mail_queue set sent_at = $2, locked_until = null where id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn mark_failed(
                &self,
                id: &str,
                next_attempt_at: i64,
                error: &str,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "update mail_queue set attempts = attempts + 1, next_attempt_at = $2, locked_until = null, \
                     last_error = $3 where id = $1",
                )
                .bind(id)
                .bind(next_attempt_at)
                .bind(error)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn spend_budget(
                &self,
                recipient: &str,
                kind: &str,
                now: i64,
                window_secs: i64,
            ) -> Result<i64, $crate::storage::error::StoreError> {
                let (n,): (i64,) = sqlx::query_as(
                    "insert into mail_budget (recipient, kind, window_start, sent) values ($1, $2, $3, 1) \
                     on conflict (recipient, kind) do update set \
                     sent = case when mail_budget.window_start <= $4 then 1 else mail_budget.sent + 1 end, \
                     window_start = case when mail_budget.window_start <= $4 then $3 else mail_budget.window_start end \
                     returning sent",
                )
                .bind(recipient)
                .bind(kind)
                .bind(now)
                .bind(now - window_secs)
                .fetch_one(&self.pool)
                .await?;
                Ok(n)
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::mail::ResetStore for $store {
            async fn insert_reset(
                &self,
                token_hash: &str,
                user_id: &str,
                expires_at: i64,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into password_reset (token_hash, user_id, expires_at, used_at, created_at) \
                     values ($1, $2, $3, null, $4)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn consume_reset(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<String>, $crate::storage::error::StoreError> {
                let mut tx = self.pool.begin().await?;
                let won = sqlx::query(
                    "update password_reset set used_at = $2 where token_hash = $1 and used_at is null and expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let user: Option<(String,)> = if won {
                    sqlx::query_as("select user_id from password_reset where token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&mut *tx)
                        .await?
                } else {
                    None
                };
                tx.commit().await?;
                Ok(user.map(|u| u.0))
            }

            async fn is_reset_usable(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<bool, $crate::storage::error::StoreError> {
                let row: Option<(String,)> = sqlx::query_as(
                    "select token_hash from password_reset where token_hash = $1 and used_at is null and expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.is_some())
            }
        }
    };
}

pub(crate) use impl_mail_stores;
