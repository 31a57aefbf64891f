//! The OAuth SQL, written once for both engines (see `common.rs` for why). Multi-step writes
//! (code redemption, refresh rotation, key rotation) are single transactions whose first
//! statement is a conditional `update`, so concurrent callers on any number of instances are
//! serialised by the database: exactly one sees `rows_affected() == 1`.

/// Instantiates `ClientStore`, `KeyStore` and `GrantStore` for a backend struct with `pool`.
macro_rules! impl_oauth_stores {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::oauth::ClientStore for $store {
            async fn insert(
                &self,
                c: &$crate::storage::oauth::ClientRecord,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into client (id, secret_hash, redirect_uris, post_logout_redirect_uris, \
                     scopes, grants, is_public, is_first_party, created_at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&c.id)
                .bind(&c.secret_hash)
                .bind(&c.redirect_uris)
                .bind(&c.post_logout_redirect_uris)
                .bind(&c.scopes)
                .bind(&c.grants)
                .bind(c.is_public)
                .bind(c.is_first_party)
                .bind(c.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_by_id(
                &self,
                id: &str,
            ) -> Result<Option<$crate::storage::oauth::ClientRecord>, $crate::storage::error::StoreError>
            {
                Ok(sqlx::query_as(
                    "select id, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, \
                     grants, is_public, is_first_party, created_at from client where id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::oauth::KeyStore for $store {
            async fn list_published(
                &self,
                now: i64,
            ) -> Result<Vec<$crate::storage::oauth::KeyRecord>, $crate::storage::error::StoreError>
            {
                Ok(sqlx::query_as(
                    "select kid, alg, private_key, public_jwk, created_at, retire_after \
                     from signing_key where retire_after is null or retire_after > $1 \
                     order by created_at desc, kid",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn rotate(
                &self,
                new: &[$crate::storage::oauth::KeyRecord],
                retire_after: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("update signing_key set retire_after = $1 where retire_after is null")
                    .bind(retire_after)
                    .execute(&mut *tx)
                    .await?;
                for k in new {
                    sqlx::query(
                        "insert into signing_key (kid, alg, private_key, public_jwk, created_at, retire_after) \
                         values ($1, $2, $3, $4, $5, null)",
                    )
                    .bind(&k.kid)
                    .bind(&k.alg)
                    .bind(&k.private_key)
                    .bind(&k.public_jwk)
                    .bind(k.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::storage::oauth::GrantStore for $store {
            async fn insert_code(
                &self,
                c: &$crate::storage::oauth::CodeRecord,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into auth_code (code_hash, client_id, user_id, redirect_uri, scope, nonce, \
                     code_challenge, auth_time, expires_at, family_id, used_at, created_at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, null, null, $10)",
                )
                .bind(&c.code_hash)
                .bind(&c.client_id)
                .bind(&c.user_id)
                .bind(&c.redirect_uri)
                .bind(&c.scope)
                .bind(&c.nonce)
                .bind(&c.code_challenge)
                .bind(c.auth_time)
                .bind(c.expires_at)
                .bind(c.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn redeem_code(
                &self,
                code_hash: &str,
                now: i64,
            ) -> Result<$crate::storage::oauth::CodeRedemption, $crate::storage::error::StoreError>
            {
                use $crate::storage::oauth::CodeRedemption;
                let mut tx = self.pool.begin().await?;
                let won = sqlx::query(
                    "update auth_code set used_at = $2 where code_hash = $1 and used_at is null",
                )
                .bind(code_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let row: Option<$crate::storage::oauth::CodeRecord> = sqlx::query_as(
                    "select code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
                     auth_time, expires_at, family_id, used_at, created_at from auth_code where code_hash = $1",
                )
                .bind(code_hash)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(match row {
                    None => CodeRedemption::NotFound,
                    Some(r) if won => CodeRedemption::Redeemed(r),
                    Some(r) => CodeRedemption::AlreadyUsed(r),
                })
            }

            async fn insert_family(
                &self,
                f: &$crate::storage::oauth::FamilyRecord,
                refresh: Option<&$crate::storage::oauth::RefreshRecord>,
                code_hash: Option<&str>,
            ) -> Result<(), $crate::storage::error::StoreError> {
                let mut tx = self.pool.begin().await?;
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
                    sqlx::query(
                        "insert into refresh_token (token_hash, family_id, expires_at, used_at, created_at) \
                         values ($1, $2, $3, null, $4)",
                    )
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
                Ok(())
            }

            async fn find_refresh(
                &self,
                token_hash: &str,
            ) -> Result<
                Option<($crate::storage::oauth::RefreshRecord, $crate::storage::oauth::FamilyRecord)>,
                $crate::storage::error::StoreError,
            > {
                let refresh: Option<$crate::storage::oauth::RefreshRecord> = sqlx::query_as(
                    "select token_hash, family_id, expires_at, used_at, created_at \
                     from refresh_token where token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(refresh) = refresh else { return Ok(None) };
                let family = $crate::storage::oauth::GrantStore::find_family(self, &refresh.family_id).await?;
                Ok(family.map(|f| (refresh, f)))
            }

            async fn rotate_refresh(
                &self,
                old_hash: &str,
                new: &$crate::storage::oauth::RefreshRecord,
                now: i64,
            ) -> Result<$crate::storage::oauth::Rotation, $crate::storage::error::StoreError> {
                use $crate::storage::oauth::Rotation;
                let mut tx = self.pool.begin().await?;
                let won = sqlx::query(
                    "update refresh_token set used_at = $2 where token_hash = $1 and used_at is null",
                )
                .bind(old_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !won {
                    let exists: Option<(String,)> =
                        sqlx::query_as("select token_hash from refresh_token where token_hash = $1")
                            .bind(old_hash)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.commit().await?;
                    return Ok(if exists.is_some() { Rotation::Reused } else { Rotation::NotFound });
                }
                sqlx::query(
                    "insert into refresh_token (token_hash, family_id, expires_at, used_at, created_at) \
                     values ($1, $2, $3, null, $4)",
                )
                .bind(&new.token_hash)
                .bind(&new.family_id)
                .bind(new.expires_at)
                .bind(new.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Rotation::Rotated)
            }

            async fn find_family(
                &self,
                id: &str,
            ) -> Result<Option<$crate::storage::oauth::FamilyRecord>, $crate::storage::error::StoreError>
            {
                Ok(sqlx::query_as(
                    "select id, client_id, user_id, scope, auth_time, expires_at, revoked_at, created_at \
                     from token_family where id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn revoke_user_families(
                &self,
                user_id: &str,
                now: i64,
            ) -> Result<u64, $crate::storage::error::StoreError> {
                Ok(sqlx::query(
                    "update token_family set revoked_at = $2 where user_id = $1 and revoked_at is null",
                )
                .bind(user_id)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn revoke_family(
                &self,
                id: &str,
                now: i64,
            ) -> Result<bool, $crate::storage::error::StoreError> {
                Ok(sqlx::query(
                    "update token_family set revoked_at = $2 where id = $1 and revoked_at is null",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn revoke_jti(
                &self,
                jti: &str,
                expires_at: i64,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into revoked_token (jti, expires_at, created_at) values ($1, $2, $3) \
                     on conflict (jti) do nothing",
                )
                .bind(jti)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn bearer_state(
                &self,
                sub: &str,
                jti: &str,
                sid: Option<&str>,
            ) -> Result<$crate::storage::oauth::BearerState, $crate::storage::error::StoreError> {
                Ok(sqlx::query_as(
                    "select (select email from account where id = $1) as email, \
                     exists(select 1 from revoked_token where jti = $2) as jti_revoked, \
                     (select count(*) from token_family where id = $3 and revoked_at is null) as family_active",
                )
                .bind(sub)
                .bind(jti)
                .bind(sid)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn find_consent(
                &self,
                user_id: &str,
                client_id: &str,
            ) -> Result<Option<String>, $crate::storage::error::StoreError> {
                let row: Option<(String,)> = sqlx::query_as(
                    "select scopes from consent where user_id = $1 and client_id = $2",
                )
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| r.0))
            }

            async fn upsert_consent(
                &self,
                user_id: &str,
                client_id: &str,
                scopes: &str,
                now: i64,
            ) -> Result<(), $crate::storage::error::StoreError> {
                sqlx::query(
                    "insert into consent (user_id, client_id, scopes, created_at) values ($1, $2, $3, $4) \
                     on conflict (user_id, client_id) do update set scopes = excluded.scopes",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(scopes)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_oauth_stores;
