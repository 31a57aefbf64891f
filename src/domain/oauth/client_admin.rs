//! What an operator does to registered clients (`authd client add|list|update|rotate-secret|
//! delete|disable|enable`): each change is checked by the registration rules, takes effect on
//! this process's CORS origins at once, and is one `admin_action` event (actor `cli`, the
//! command and client as its decision's detail). A rotated secret replaces the old digest (the
//! old secret is refused from then on); a deleted client's grants are revoked with it, so its
//! refresh tokens are refused, and its access tokens fail the bearer check (its client is gone).
//! Disabling revokes the same way but keeps the client: it is refused at `/token` and
//! `/authorize` and every access token issued to it until then stays refused; enabling it lets
//! it ask for new tokens, and revives no grant, code or token.

use crate::domain::clients::{Client, NewClient, client_from, digest, record_of};
use crate::domain::context::RequestContext;
use crate::domain::oauth::OAuthService;
use crate::domain::oauth::error::ClientError;
use crate::domain::operator::Operator;
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::storage::error::StoreError;
use crate::storage::oauth::ClientDisabled;

/// What `authd client update` changes; `None` keeps the current value. For the optional
/// profile fields, an empty string clears the value.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    /// Replaces the redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Replaces the allowed scopes.
    pub scopes: Option<Vec<String>>,
    /// Replaces the allowed grants.
    pub grants: Option<Vec<String>>,
    /// Sets whether the client skips consent.
    pub first_party: Option<bool>,
    /// `--name`.
    pub name: Option<String>,
    /// `--logo-uri`.
    pub logo_uri: Option<String>,
    /// `--client-uri`.
    pub client_uri: Option<String>,
    /// `--policy-uri`.
    pub policy_uri: Option<String>,
    /// `--tos-uri`.
    pub tos_uri: Option<String>,
}

/// `Some(new)` (empty: cleared) replaces `current`.
fn replace(current: Option<String>, new: Option<String>) -> Option<String> {
    match new {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v),
        None => current,
    }
}

impl ClientChanges {
    /// `client`'s settings with these changes applied.
    fn applied_to(self, c: Client) -> NewClient {
        let p = c.profile;
        NewClient {
            id: c.id,
            redirect_uris: self.redirect_uris.unwrap_or(c.redirect_uris),
            post_logout_redirect_uris: self
                .post_logout_redirect_uris
                .unwrap_or(c.post_logout_redirect_uris),
            is_public: c.is_public,
            is_first_party: self.first_party.unwrap_or(c.is_first_party),
            pkce_optional: c.pkce_optional,
            scopes: self
                .scopes
                .unwrap_or_else(|| c.scopes.into_iter().collect()),
            grants: self
                .grants
                .unwrap_or_else(|| c.grants.into_iter().collect()),
            name: replace(p.name, self.name),
            logo_uri: replace(p.logo_uri, self.logo_uri),
            client_uri: replace(p.client_uri, self.client_uri),
            policy_uri: replace(p.policy_uri, self.policy_uri),
            tos_uri: replace(p.tos_uri, self.tos_uri),
        }
    }
}

impl OAuthService {
    /// Every registered client, by id.
    pub async fn client_list(&self) -> Result<Vec<Client>, ClientError> {
        let records = self.clients.store.list().await?;
        Ok(records
            .into_iter()
            .map(client_from)
            .collect::<Result<_, _>>()?)
    }

    async fn existing(&self, id: &str) -> Result<Client, ClientError> {
        self.clients.find(id).await?.ok_or(ClientError::NotFound)
    }

    async fn admin_event(
        &self,
        ctx: &RequestContext,
        id: &str,
        what: &str,
    ) -> Result<(), ClientError> {
        let e = self
            .event(EventKind::AdminAction, ctx, id, None)
            .decision_detail(Decision::ClientChangedByCli, &format!("{what} {id}"));
        Ok(self.events.record(e).await?)
    }

    /// The `admin_action` of `by`'s act `what` on client `id` (the command line's as before:
    /// `cli:client; <command> <id>`).
    async fn act_event(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
        what: Decision,
    ) -> Result<(), ClientError> {
        if by == Operator::Cli {
            let command = match what {
                Decision::OpsClientAdded => "add",
                Decision::OpsClientSecretRotated => "rotate-secret",
                Decision::OpsClientDisabled => "disable",
                Decision::OpsClientEnabled => "enable",
                _ => "delete",
            };
            return self.admin_event(ctx, id, command).await;
        }
        let e = by.event(ctx, self.clock.now(), what, id);
        Ok(self.events.record(e).await?)
    }

    /// `authd client add` (and the console's and admin API's): registers the client
    /// (`ClientService::create`) and records it as `by`'s act.
    pub async fn client_add(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        spec: NewClient,
    ) -> Result<(Client, Option<String>), ClientError> {
        let made = self.clients.create(spec).await?;
        self.act_event(ctx, by, &made.0.id, Decision::OpsClientAdded)
            .await?;
        Ok(made)
    }

    /// `authd client update`: applies `changes` under the registration rules; the client.
    pub async fn client_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        changes: ClientChanges,
    ) -> Result<Client, ClientError> {
        let current = self.existing(id).await?;
        let (secret_hash, created_at) = (current.secret_hash.clone(), current.created_at);
        let disabled_at = current.disabled_at;
        let mut record = record_of(changes.applied_to(current), secret_hash, created_at)?;
        record.disabled_at = disabled_at;
        match self.clients.store.update(&record).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(ClientError::NotFound),
            Err(e) => return Err(e.into()),
        }
        self.clients.origins.invalidate();
        self.admin_event(ctx, id, "update").await?;
        Ok(client_from(record)?)
    }

    /// `authd client rotate-secret`: a new secret (returned once; only its digest is kept);
    /// the old one is refused from now on.
    pub async fn client_rotate_secret(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<String, ClientError> {
        let client = self.existing(id).await?;
        if client.is_public {
            return Err(ClientError::Invalid(
                "a public client has no secret to rotate",
            ));
        }
        let secret = self.random.token(32);
        match self
            .clients
            .store
            .set_secret_hash(id, &digest(&secret))
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(ClientError::NotFound),
            Err(e) => return Err(e.into()),
        }
        self.act_event(ctx, by, id, Decision::OpsClientSecretRotated)
            .await?;
        Ok(secret)
    }

    /// `authd client delete`: removes the client and revokes its grants; how many grants.
    pub async fn client_delete(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<u64, ClientError> {
        let now = self.clock.now().unix_timestamp();
        let revoked = self
            .clients
            .store
            .delete(id, now)
            .await?
            .ok_or(ClientError::NotFound)?;
        self.bearer_cache.clear();
        self.clients.origins.invalidate();
        self.act_event(ctx, by, id, Decision::OpsClientDeleted)
            .await?;
        Ok(revoked)
    }

    /// `authd client disable` (and the console's and admin API's): the client is refused from
    /// now on; its grants are revoked, its unused codes spent and every access token issued to
    /// it refused, in one transaction. Its settings, secret and consents stay, for `enable`.
    pub async fn client_disable(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<ClientDisabled, ClientError> {
        self.existing(id).await?;
        let now = self.clock.now().unix_timestamp();
        let done = self
            .clients
            .store
            .disable(id, now)
            .await?
            .ok_or(ClientError::NotFound)?;
        self.bearer_cache.clear();
        self.clients.origins.invalidate();
        self.act_event(ctx, by, id, Decision::OpsClientDisabled)
            .await?;
        Ok(done)
    }

    /// `authd client enable`: a disabled client may ask for tokens again (what disabling it
    /// revoked stays revoked); `true` if it was disabled.
    pub async fn client_enable(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<bool, ClientError> {
        self.existing(id).await?;
        let changed = self
            .clients
            .store
            .enable(id)
            .await?
            .ok_or(ClientError::NotFound)?;
        self.clients.origins.invalidate();
        self.act_event(ctx, by, id, Decision::OpsClientEnabled)
            .await?;
        Ok(changed)
    }
}
