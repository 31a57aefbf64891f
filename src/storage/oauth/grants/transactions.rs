//! The grant writes of several statements. Each is one transaction whose first statement is a
//! conditional `update`, so concurrent callers on any number of instances are serialised by the
//! database and exactly one sees `rows_affected() == 1`.

use crate::storage::error::StoreError;
use crate::storage::oauth::grants::{
    CodeRecord, CodeRedemption, FamilyRecord, RefreshRecord, Rotation,
};
use crate::storage::{Backend, on_pool};

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, \
    code_challenge, auth_time, expires_at, family_id, used_at, created_at";

const INSERT_REFRESH: &str = "insert into refresh_token \
    (token_hash, family_id, expires_at, used_at, created_at) values ($1, $2, $3, null, $4)";

/// `GrantStore::redeem_code`: spends the code, then reads it in the same transaction.
pub(super) async fn redeem_code(
    db: &Backend,
    code_hash: &str,
    now: i64,
) -> Result<CodeRedemption, StoreError> {
    let find = format!("select {CODE_COLUMNS} from auth_code where code_hash = $1");
    let (won, row): (bool, Option<CodeRecord>) = on_pool!(db.pool(), |p| {
        let mut tx = p.begin().await?;
        let won = sqlx::query(
            "update auth_code set used_at = $2 where code_hash = $1 and used_at is null",
        )
        .bind(code_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
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

/// `GrantStore::insert_family`: the family, its first refresh token, the link from its code.
pub(super) async fn insert_family(
    db: &Backend,
    f: &FamilyRecord,
    refresh: Option<&RefreshRecord>,
    code_hash: Option<&str>,
) -> Result<(), StoreError> {
    on_pool!(db.pool(), |p| {
        let mut tx = p.begin().await?;
        sqlx::query(
            "insert into token_family (id, client_id, user_id, scope, auth_time, expires_at, \
             revoked_at, created_at) values ($1, $2, $3, $4, $5, $6, null, $7)",
        )
        .bind(&f.id)
        .bind(&f.client_id)
        .bind(&f.user_id)
        .bind(&f.scope)
        .bind(f.auth_time)
        .bind(f.expires_at)
        .bind(f.created_at)
        .execute(&mut *tx)
        .await?;
        if let Some(r) = refresh {
            sqlx::query(INSERT_REFRESH)
                .bind(&r.token_hash)
                .bind(&r.family_id)
                .bind(r.expires_at)
                .bind(r.created_at)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(code) = code_hash {
            sqlx::query("update auth_code set family_id = $2 where code_hash = $1")
                .bind(code)
                .bind(&f.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// `GrantStore::rotate_refresh`: spends the old token and stores the new one; a loser learns
/// whether the old token exists at all.
pub(super) async fn rotate_refresh(
    db: &Backend,
    old_hash: &str,
    new: &RefreshRecord,
    now: i64,
) -> Result<Rotation, StoreError> {
    Ok(on_pool!(db.pool(), |p| {
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
