//! The durable mail queue (claimed with a lease, so one worker on any instance sends each
//! mail) and the per-recipient mail budget: records, the `MailStore` trait and its SQL, one
//! text for both engines.

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use crate::storage::error::StoreError;
use crate::storage::{Backend, on_pool};

/// A queued mail, rendered at enqueue time (a restart never depends on templates or state);
/// its bodies are sealed (`domain::seal`) and blanked once sent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MailRecord {
    /// Row id.
    pub id: String,
    /// Stable `Message-ID`: a retry after a crash is recognisable as the same message.
    pub message_id: String,
    /// What it is (`password_reset`, `password_changed`, ...), for per-kind alert limits.
    pub kind: String,
    /// The recipient address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text_body: String,
    /// HTML part.
    pub html_body: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Not before (unix seconds).
    pub next_attempt_at: i64,
    /// A worker holds it until then.
    pub locked_until: Option<i64>,
    /// When delivered.
    pub sent_at: Option<i64>,
    /// The last delivery error (no secrets: SMTP replies only).
    pub last_error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The mail queue.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Claims up to `limit` due mails for `lease` seconds; a claimed mail is invisible to
    /// other workers (on any instance) until delivered or the lease ends.
    async fn claim_due(
        &self,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<MailRecord>, StoreError>;
    /// Extends the lease this worker holds on a claimed mail (`held`, its `locked_until` as
    /// claimed) to `until`, right before sending it: `false` when the lease is not this
    /// worker's any more (it ran out during a slow batch and another worker claimed the mail),
    /// and the mail must not be sent here.
    async fn renew_lease(&self, id: &str, held: i64, until: i64) -> Result<bool, StoreError>;
    /// Marks a mail delivered and blanks its bodies (they may carry one-time links).
    async fn mark_sent(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Gives up a mail that outlived its use (its code or link expired while it waited): done
    /// as a sent one is (bodies blanked, never tried again, pruned with them), `reason` kept.
    async fn abandon(&self, id: &str, now: i64, reason: &str) -> Result<(), StoreError>;
    /// Records a failed attempt and when to try again.
    async fn mark_failed(
        &self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Spends one mail of `kind` to `recipient` from the budget of the current window (which
    /// starts with its first mail and lasts `window_secs`) and returns how many the window has
    /// spent, this one included. `kind` names the budget: a mail kind, or a finer share of one
    /// (`password_reset from <network>`). One atomic upsert: concurrent callers serialise.
    async fn spend_budget(
        &self,
        recipient: &str,
        kind: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<i64, StoreError>;

    /// Forgets `recipient`'s budgets named `kind` or `kind` followed by a space and more (its
    /// per-network and per-device budgets): they start again empty. Returns the rows deleted.
    async fn clear_budgets(&self, recipient: &str, kind: &str) -> Result<u64, StoreError>;
}

/// Queues a mail (binds: see `bind_mail`). Events that cause a mail insert it in their own
/// transaction (`EventStore::insert_with_mail`).
pub(crate) const INSERT_MAIL: &str = "insert into mail_queue (id, message_id, kind, recipient, subject, \
    text_body, html_body, attempts, next_attempt_at, locked_until, sent_at, last_error, created_at) \
    values ($1, $2, $3, $4, $5, $6, $7, 0, $8, null, null, null, $9)";

/// Binds a mail to `INSERT_MAIL`'s `$1`–`$9` (id, message_id, kind, recipient, subject, text,
/// html, next_attempt_at, created_at), on either engine.
pub(crate) fn bind_mail<'q, DB>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    m: &'q MailRecord,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    q.bind(m.id.as_str())
        .bind(m.message_id.as_str())
        .bind(m.kind.as_str())
        .bind(m.recipient.as_str())
        .bind(m.subject.as_str())
        .bind(m.text_body.as_str())
        .bind(m.html_body.as_str())
        .bind(m.next_attempt_at)
        .bind(m.created_at)
}

/// Due mail in three tiers, oldest first within each: e-mailed sign-in codes (they live ten
/// minutes, and only a right password sends one: no flood can queue them), then every other
/// kind (reset links, security alerts, notices), and last the address verifications, which
/// anyone can queue by registering — so a registration flood's backlog delays neither a code
/// an owner waits for nor an alert. The kinds are `notify::kinds::EMAIL_CODE` and
/// `VERIFY_EMAIL`'s words; the tier expression is `mail_queue_claim`'s (migration 0040),
/// character for character, so that each tier is read through that index, oldest first up to
/// the limit: a claim reads at most three limits' worth of rows however large the backlog
/// (and mail waiting for a retry in an earlier tier is not walked past); only those are sorted.
const DUE_MAIL: &str = "select id from (\
    select * from (select id, 0 as tier, next_attempt_at from mail_queue where sent_at is null \
        and (case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end) = 0 \
        and next_attempt_at <= $1 and (locked_until is null or locked_until <= $1) \
        order by next_attempt_at limit $2) t0 \
    union all select * from (select id, 1 as tier, next_attempt_at from mail_queue where sent_at is null \
        and (case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end) = 1 \
        and next_attempt_at <= $1 and (locked_until is null or locked_until <= $1) \
        order by next_attempt_at limit $2) t1 \
    union all select * from (select id, 2 as tier, next_attempt_at from mail_queue where sent_at is null \
        and (case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end) = 2 \
        and next_attempt_at <= $1 and (locked_until is null or locked_until <= $1) \
        order by next_attempt_at limit $2) t2\
    ) due order by tier, next_attempt_at limit $2";

/// Takes the lease if nobody holds it: exactly one concurrent claimer sees one row affected.
const LEASE_MAIL: &str = "update mail_queue set locked_until = $2 where id = $1 and sent_at is null \
    and (locked_until is null or locked_until <= $3)";

const FIND_MAIL: &str = "select id, message_id, kind, recipient, subject, text_body, html_body, \
    attempts, next_attempt_at, locked_until, sent_at, last_error, created_at \
    from mail_queue where id = $1";

/// Restarts the window when it began at or before `$4` (now − window).
const SPEND_BUDGET: &str = "insert into mail_budget (recipient, kind, window_start, sent) \
    values ($1, $2, $3, 1) \
    on conflict (recipient, kind) do update set \
    sent = case when mail_budget.window_start <= $4 then 1 else mail_budget.sent + 1 end, \
    window_start = case when mail_budget.window_start <= $4 then $3 else mail_budget.window_start end \
    returning sent";

#[async_trait]
impl MailStore for Backend {
    async fn claim_due(
        &self,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<MailRecord>, StoreError> {
        Ok(on_pool!(self.writer(), |p| {
            let ids: Vec<String> = sqlx::query_scalar(DUE_MAIL)
                .bind(now)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut claimed = Vec::new();
            for id in ids {
                let won = sqlx::query(LEASE_MAIL)
                    .bind(&id)
                    .bind(now + lease)
                    .bind(now)
                    .execute(p)
                    .await?
                    .rows_affected()
                    == 1;
                if won {
                    claimed.push(sqlx::query_as(FIND_MAIL).bind(&id).fetch_one(p).await?);
                }
            }
            claimed
        }))
    }

    async fn renew_lease(&self, id: &str, held: i64, until: i64) -> Result<bool, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "update mail_queue set locked_until = $3 \
             where id = $1 and sent_at is null and locked_until = $2",
        )
        .bind(id)
        .bind(held)
        .bind(until)
        .execute(p)
        .await?
        .rows_affected()
            == 1))
    }

    async fn mark_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update mail_queue set sent_at = $2, locked_until = null, \
                 text_body = '', html_body = '' where id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn abandon(&self, id: &str, now: i64, reason: &str) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update mail_queue set sent_at = $2, locked_until = null, text_body = '', \
                 html_body = '', last_error = $3 where id = $1 and sent_at is null",
            )
            .bind(id)
            .bind(now)
            .bind(reason)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self.writer(), |p| {
            sqlx::query(
                "update mail_queue set attempts = attempts + 1, next_attempt_at = $2, \
                 locked_until = null, last_error = $3 where id = $1",
            )
            .bind(id)
            .bind(next_attempt_at)
            .bind(error)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    async fn spend_budget(
        &self,
        recipient: &str,
        kind: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<i64, StoreError> {
        Ok(on_pool!(self.writer(), |p| sqlx::query_scalar(
            SPEND_BUDGET
        )
        .bind(recipient)
        .bind(kind)
        .bind(now)
        .bind(now - window_secs)
        .fetch_one(p)
        .await?))
    }

    async fn clear_budgets(&self, recipient: &str, kind: &str) -> Result<u64, StoreError> {
        let prefix = format!("{kind} ");
        let len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        Ok(on_pool!(self.writer(), |p| sqlx::query(
            "delete from mail_budget where recipient = $1 \
             and (kind = $2 or substr(kind, 1, $3) = $4)"
        )
        .bind(recipient)
        .bind(kind)
        .bind(len)
        .bind(prefix.as_str())
        .execute(p)
        .await?
        .rows_affected()))
    }
}

#[cfg(test)]
mod tests {
    use super::DUE_MAIL;
    use crate::storage::sqlite::scratch;

    #[tokio::test]
    async fn a_claim_reads_each_tier_through_its_index_not_the_whole_backlog() {
        let (_dir, pool) = scratch::pool().await;
        let sql = format!("explain query plan {DUE_MAIL}");
        let steps = scratch::plan(&pool, &sql, &["1900000000", "10"]).await;
        // Each tier's rows come in index order (no scan, no sort of the backlog); only the at
        // most three limits' worth of rows they give are sorted.
        assert_eq!(steps.matches("mail_queue_claim").count(), 3, "{steps}");
        assert!(!steps.contains("SCAN mail_queue"), "{steps}");
        assert_eq!(steps.matches("TEMP B-TREE").count(), 1, "{steps}");
    }
}
