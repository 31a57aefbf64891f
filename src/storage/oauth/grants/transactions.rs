//! The grant writes of several statements. Each is one transaction whose first statement is a
//! conditional `update`, so concurrent callers on any number of instances are serialised by the
//! database and exactly one sees `rows_affected() == 1`; and a user's revocation, whose grants
//! and unexchanged codes go together.

use crate::storage::error::StoreError;
use crate::storage::oauth::grants::{
    CodeRecord, CodeRedemption, GrantStart, RefreshRecord, Rotation,
};
use crate::storage::{Backend, on_pool};

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, \
    code_challenge, auth_time, amr, expires_at, family_id, used_at, created_at";

/// Stores a refresh token (`$1` hash, `$2` family, `$3` expiry, `$4` now).
pub(super) const INSERT_REFRESH: &str = "insert into refresh_token \
    (token_hash, family_id, expires_at, used_at, created_at) values ($1, $2, $3, null, $4)";

/// The grant a redeemed code starts, from the code's own row (`$1` code hash, `$2` family id,
/// `$3` its end, `$4` now).
const START_GRANT: &str = "insert into token_family (id, client_id, user_id, scope, auth_time, \
    amr, expires_at, revoked_at, created_at) \
    select $2, client_id, user_id, scope, auth_time, amr, $3, null, $4 \
    from auth_code where code_hash = $1";

/// `GrantStore::redeem_code`: spends the code and, if this caller won, creates the grant it
/// starts from the code's own row; then reads the code, all in one transaction.
pub(super) async fn redeem_code(
    db: &Backend,
    code_hash: &str,
    now: i64,
    start: &GrantStart,
) -> Result<CodeRedemption, StoreError> {
    let find = format!("select {CODE_COLUMNS} from auth_code where code_hash = $1");
    let (won, row): (bool, Option<CodeRecord>) = on_pool!(db.writer(), |p| {
        let mut tx = p.begin().await?;
        let won = sqlx::query(
            "update auth_code set used_at = $2, family_id = $3 \
             where code_hash = $1 and used_at is null",
        )
        .bind(code_hash)
        .bind(now)
        .bind(&start.family_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if won {
            // The grant exists from the moment the code is spent: a replay arriving while the
            // first exchange is still issuing tokens has something to revoke.
            sqlx::query(START_GRANT)
                .bind(code_hash)
                .bind(&start.family_id)
                .bind(start.expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query_as(&find)
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        (won, row)
    });
    Ok(match row {
        None => CodeRedemption::NotFound,
        Some(r) if won => CodeRedemption::Redeemed(r),
        Some(r) => CodeRedemption::AlreadyUsed(r),
    })
}

/// `GrantStore::rotate_refresh`: spends the old token and stores the new one; a loser learns
/// whether the old token exists at all.
pub(super) async fn rotate_refresh(
    db: &Backend,
    old_hash: &str,
    new: &RefreshRecord,
    now: i64,
) -> Result<Rotation, StoreError> {
    Ok(on_pool!(db.writer(), |p| {
        let mut tx = p.begin().await?;
        let won = sqlx::query(
            "update refresh_token set used_at = $2 where token_hash = $1 and used_at is null",
        )
        .bind(old_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if won {
            sqlx::query(INSERT_REFRESH)
                .bind(&new.token_hash)
                .bind(&new.family_id)
                .bind(new.expires_at)
                .bind(new.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Rotation::Rotated
        } else {
            let exists: Option<String> =
                sqlx::query_scalar("select token_hash from refresh_token where token_hash = $1")
                    .bind(old_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            if exists.is_some() {
                Rotation::Reused
            } else {
                Rotation::NotFound
            }
        }
    }))
}

/// `GrantStore::revoke_user_families` (`since` = `i64::MIN`) and the security page's report
/// (`UserSessionStore::revoke_grants_since`): revokes the user's live grants made at or after
/// `since` and spends the user's codes made since and not yet exchanged, in one transaction;
/// how many grants.
pub(crate) async fn revoke_user_since(
    db: &Backend,
    user_id: &str,
    since: i64,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(on_pool!(db.writer(), |p| {
        let mut tx = p.begin().await?;
        // The codes first: a code being redeemed now holds its row until its new grant
        // commits; this statement waits for it, and the grants' statement after it (a
        // snapshot of its own under PostgreSQL's read committed) sees and revokes that grant.
        // The other order missed it.
        sqlx::query(
            "update auth_code set used_at = $3 \
             where user_id = $1 and created_at >= $2 and used_at is null",
        )
        .bind(user_id)
        .bind(since)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let revoked = sqlx::query(
            "update token_family set revoked_at = $3 \
             where user_id = $1 and created_at >= $2 and revoked_at is null",
        )
        .bind(user_id)
        .bind(since)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        revoked
    }))
}
