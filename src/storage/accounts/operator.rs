//! The operator's side of the account table: the listing with each account's status (its
//! account-wide lock read from `login_failure` beside it), and the three acts that change an
//! account's standing — disable, enable, delete — each one transaction with the event that
//! records it.
//!
//! What a delete removes: the account row and everything stored under its id — passkeys, the
//! authenticator app and recovery codes, pending reset links, consents, authorization codes,
//! grants (`token_family`) and their refresh tokens, the index of browser sessions, the risk
//! profile and the account's failure counters. The event log keeps its history (rows name the
//! id, which now resolves to nothing); revoked access-token ids stay until they expire.

use crate::events::AuthEvent;
use crate::storage::error::StoreError;
use crate::storage::events::{INSERT_EVENT, bind_event, risk_json};
use crate::storage::protection::{ACCOUNT_KEY_PREFIX, ALL_SOURCES};
use crate::storage::{AccountRecord, Backend, on_pool};

/// What the operator's listing selects (every filter optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountQuery {
    /// Only this (normalised) email.
    pub email: Option<String>,
    /// Only addresses containing this text (matched literally, not as a pattern).
    pub contains: Option<String>,
    /// Only disabled accounts (`Some(true)`) or only enabled ones (`Some(false)`).
    pub disabled: Option<bool>,
    /// Only accounts under an account-wide lock now.
    pub locked: bool,
    /// Only administrators.
    pub admin: bool,
    /// Only emails after this one (paging).
    pub after: Option<String>,
    /// At most this many rows.
    pub limit: i64,
}

/// An account as the operator's listing reads it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListedAccount {
    /// The account.
    #[sqlx(flatten)]
    pub account: AccountRecord,
    /// Until when its account-wide lock holds (unix seconds), if it ever had one.
    pub locked_until: Option<i64>,
}

/// What a delete removed, row counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Grants (each with its refresh tokens).
    pub grants: u64,
    /// Indexed browser sessions.
    pub sessions: u64,
    /// Passkeys.
    pub passkeys: u64,
    /// Authenticator app and recovery-code rows.
    pub factors: u64,
    /// Pending reset links.
    pub reset_links: u64,
}

/// The listing: the account columns and the lock of its account-wide counter row (`$1` the
/// account-key prefix, `$2` the all-sources key).
const LISTED: &str = "select id, email, password_hash, is_admin, created_at, updated_at, \
    session_epoch, email_verified_at, require_mfa, disabled_at, \
    (select l.blocked_until from login_failure l \
        where l.account_key = $1 || account.id and l.source = $2) as locked_until \
    from account";

/// Builds the listing's SQL; the binds after `$1`, `$2` follow in the order now (when
/// `locked`), email, contains, after, then the limit.
fn list_sql(q: &AccountQuery) -> String {
    let mut sql = format!("select * from ({LISTED}) a where 1 = 1");
    let mut n = 2;
    let mut bind = || {
        n += 1;
        n
    };
    match q.disabled {
        Some(true) => sql.push_str(" and a.disabled_at is not null"),
        Some(false) => sql.push_str(" and a.disabled_at is null"),
        None => {}
    }
    if q.admin {
        sql.push_str(" and a.is_admin = true");
    }
    if q.locked {
        sql.push_str(&format!(" and a.locked_until > ${}", bind()));
    }
    if q.email.is_some() {
        sql.push_str(&format!(" and a.email = ${}", bind()));
    }
    if q.contains.is_some() {
        sql.push_str(&format!(" and a.email like ${} escape '\\'", bind()));
    }
    if q.after.is_some() {
        sql.push_str(&format!(" and a.email > ${}", bind()));
    }
    sql.push_str(&format!(" order by a.email limit ${}", bind()));
    sql
}

/// `contains` as a `like` pattern: its `%`, `_` and `\` matched literally.
fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(super) async fn list(
    db: &Backend,
    q: &AccountQuery,
    now: i64,
) -> Result<Vec<ListedAccount>, StoreError> {
    let sql = list_sql(q);
    let pattern = q.contains.as_deref().map(like_pattern);
    Ok(on_pool!(db.pool(), |p| {
        let mut query = sqlx::query_as(&sql)
            .bind(ACCOUNT_KEY_PREFIX)
            .bind(ALL_SOURCES);
        if q.locked {
            query = query.bind(now);
        }
        if let Some(email) = &q.email {
            query = query.bind(email);
        }
        if let Some(pattern) = &pattern {
            query = query.bind(pattern);
        }
        if let Some(after) = &q.after {
            query = query.bind(after);
        }
        query.bind(q.limit).fetch_all(p).await?
    }))
}

pub(super) async fn disable(
    db: &Backend,
    id: &str,
    now: i64,
    event: &(dyn Fn(u64) -> AuthEvent + Send + Sync),
) -> Result<Option<u64>, StoreError> {
    Ok(on_pool!(db.writer(), |p| {
        let mut tx = p.begin().await?;
        let changed = sqlx::query(
            "update account set disabled_at = $2, updated_at = $2, \
             session_epoch = session_epoch + 1 where id = $1 and disabled_at is null",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            None
        } else {
            // Codes first (`oauth/grants/transactions.rs::revoke_user` says why).
            sqlx::query("update auth_code set used_at = $2 where user_id = $1 and used_at is null")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let grants = sqlx::query(
                "update token_family set revoked_at = $2 where user_id = $1 and revoked_at is null",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("delete from password_reset where user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let e = event(grants);
            let risk = risk_json(&e)?;
            bind_event(sqlx::query(INSERT_EVENT), &e, risk.as_deref())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Some(grants)
        }
    }))
}

pub(super) async fn enable(
    db: &Backend,
    id: &str,
    now: i64,
    event: &AuthEvent,
) -> Result<bool, StoreError> {
    let risk = risk_json(event)?;
    Ok(on_pool!(db.writer(), |p| {
        let mut tx = p.begin().await?;
        let changed = sqlx::query(
            "update account set disabled_at = null, updated_at = $2 \
             where id = $1 and disabled_at is not null",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            bind_event(sqlx::query(INSERT_EVENT), event, risk.as_deref())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        changed == 1
    }))
}

/// The rows stored under an account's id, deleted in this order (children first); `$1` the
/// id, `$2` its failure counters' key.
const DELETES: [(&str, Part); 12] = [
    ("delete from passkey where account_id = $1", Part::Passkeys),
    ("delete from mfa_totp where user_id = $1", Part::Factors),
    (
        "delete from mfa_recovery_code where user_id = $1",
        Part::Factors,
    ),
    (
        "delete from password_reset where user_id = $1",
        Part::ResetLinks,
    ),
    ("delete from consent where user_id = $1", Part::Other),
    ("delete from auth_code where user_id = $1", Part::Other),
    (
        "delete from refresh_token where family_id in \
         (select id from token_family where user_id = $1)",
        Part::Other,
    ),
    ("delete from token_family where user_id = $1", Part::Grants),
    (
        "delete from user_session where user_id = $1",
        Part::Sessions,
    ),
    // The pair before the profile: a successful sign-in clears its pair and then writes the
    // profile in one transaction, and two transactions taking the same rows in opposite orders
    // could deadlock on PostgreSQL.
    (
        "delete from login_failure where account_key = $2",
        Part::Other,
    ),
    ("delete from risk_profile where user_id = $1", Part::Other),
    ("delete from account where id = $1", Part::Other),
];

/// Which count of `Removed` a delete adds to.
#[derive(Debug, Clone, Copy)]
enum Part {
    Grants,
    Sessions,
    Passkeys,
    Factors,
    ResetLinks,
    Other,
}

impl Removed {
    fn add(&mut self, part: Part, n: u64) {
        match part {
            Part::Grants => self.grants += n,
            Part::Sessions => self.sessions += n,
            Part::Passkeys => self.passkeys += n,
            Part::Factors => self.factors += n,
            Part::ResetLinks => self.reset_links += n,
            Part::Other => {}
        }
    }
}

pub(super) async fn delete(
    db: &Backend,
    id: &str,
    event: &(dyn Fn(Removed) -> AuthEvent + Send + Sync),
) -> Result<Option<Removed>, StoreError> {
    let counters = format!("{ACCOUNT_KEY_PREFIX}{id}");
    Ok(on_pool!(db.writer(), |p| {
        let mut tx = p.begin().await?;
        // The account row first, locked by the update: a concurrent sign-in cannot add a grant
        // or a session under the id while its rows are deleted.
        let exists = sqlx::query("update account set updated_at = updated_at where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if exists {
            let mut removed = Removed::default();
            for (sql, part) in DELETES {
                let q = sqlx::query(sql).bind(id);
                let q = if sql.contains("$2") {
                    q.bind(&counters)
                } else {
                    q
                };
                let n = q.execute(&mut *tx).await?.rows_affected();
                removed.add(part, n);
            }
            let e = event(removed);
            let risk = risk_json(&e)?;
            bind_event(sqlx::query(INSERT_EVENT), &e, risk.as_deref())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Some(removed)
        } else {
            None
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_binds_in_order_and_matches_text_literally() {
        let q = AccountQuery {
            locked: true,
            contains: Some("a_b".into()),
            limit: 5,
            ..AccountQuery::default()
        };
        let sql = list_sql(&q);
        assert!(sql.contains("a.locked_until > $3"), "{sql}");
        assert!(sql.contains("a.email like $4"), "{sql}");
        assert!(sql.ends_with("limit $5"), "{sql}");
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
