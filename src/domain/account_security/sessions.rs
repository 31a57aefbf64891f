//! Sessions and devices: the index of signed-in browser sessions (written at sign-in, its
//! last-seen time at most once a minute) and the account's OAuth grants, listed for the owner
//! under opaque ids (`s-<index row id>`, `g-<grant id>`: never a session id or a token), and
//! ended one by one or all but the current one. Ending a browser session deletes its
//! tower-sessions row, so its cookie stops working at once.

use time::OffsetDateTime;

use crate::domain::account_security::SecurityService;
use crate::domain::account_security::error::SecurityError;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::seal::Legacy;
use crate::domain::signin::alerts::browser_summary;
use crate::domain::throttle::net_of;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};
use crate::storage::user_sessions::{GrantRecord, UserSessionRecord};

/// What a sign-in tells the session index: its `login_succeeded` event, when it had to pass a
/// challenge the risk reasons, and the browser's device cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInNote {
    /// The `login_succeeded` event's id.
    pub event_id: Option<String>,
    /// The risk reasons of a challenged sign-in (empty otherwise).
    pub risk_reasons: Vec<String>,
    /// The id of the device cookie the browser holds after the sign-in (the one it came with
    /// if it counted, else the one issued with the sign-in): "this wasn't me" revokes it.
    pub device: Option<String>,
}

/// A browser session or an app's grant, as the owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The opaque id the page's forms name (`s-…` or `g-…`).
    pub id: String,
    /// A browser session or an app's grant (the client id).
    pub app: Option<String>,
    /// Browser and system, summarised ("Firefox on Linux"); for a grant, its scope.
    pub device: String,
    /// The network signed in from (browser sessions).
    pub network: Option<String>,
    /// The country, when GeoIP is configured.
    pub country: Option<String>,
    /// Signed in (or granted).
    pub first_seen: OffsetDateTime,
    /// Last used (to the minute).
    pub last_seen: OffsetDateTime,
    /// The session this request came in.
    pub current: bool,
    /// Why the sign-in was challenged, if it was.
    pub risk_reasons: Vec<String>,
}

/// What an opaque id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A browser session (the index row's id).
    Browser(String),
    /// An OAuth grant (the family id).
    Grant(String),
}

impl Target {
    /// Reads an opaque id from a form; `None` for anything else.
    pub(crate) fn parse(id: &str) -> Option<Self> {
        let ok = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(is_id_byte);
        match id.split_at_checked(2)? {
            ("s-", rest) if ok(rest) => Some(Self::Browser(rest.to_owned())),
            ("g-", rest) if ok(rest) => Some(Self::Grant(rest.to_owned())),
            _ => None,
        }
    }
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn time_of(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn context_of(row_id: &str) -> String {
    format!("user_session:{row_id}")
}

impl SecurityService {
    /// Records a new signed-in session of `user_id` (`session_created`) and indexes it:
    /// `session_key` is its tower-sessions id (kept sealed), `epoch` the account's session
    /// epoch. Returns the index row's id, for the session to keep.
    pub async fn session_started(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        epoch: i64,
        session_key: &str,
        note: SignInNote,
    ) -> Result<String, Unexpected> {
        let now = self.clock.now();
        let id = self.random.token(16);
        let reasons = (!note.risk_reasons.is_empty())
            .then(|| serde_json::to_string(&note.risk_reasons).unwrap_or_default());
        let record = UserSessionRecord {
            session_sealed: self.sealer.seal(&context_of(&id), session_key.as_bytes())?,
            id,
            user_id: user_id.to_owned(),
            epoch,
            network: net_of(ctx.ip).to_string(),
            country: self.risk.observe(ctx, now).place.country,
            device: browser_summary(&ctx.user_agent),
            sign_in_event: note.event_id,
            risk_reasons: reasons,
            device_id: note.device,
            last_seen_at: now.unix_timestamp(),
            created_at: now.unix_timestamp(),
        };
        let event = AuthEvent::new(EventKind::SessionCreated, ctx, now).user(user_id);
        self.sessions.insert_with_event(&record, &event).await?;
        crate::events::sink::trace(&event);
        Ok(record.id)
    }

    /// The session was used (the caller writes at most once a minute).
    pub async fn session_seen(&self, row_id: &str) -> Result<(), Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(self.sessions.update_seen(row_id, now).await?)
    }

    /// The session's id was cycled (and the epoch maybe moved on): index the new id.
    pub async fn session_renewed(
        &self,
        row_id: &str,
        session_key: &str,
        epoch: i64,
    ) -> Result<(), Unexpected> {
        let sealed = self
            .sealer
            .seal(&context_of(row_id), session_key.as_bytes())?;
        Ok(self.sessions.update_binding(row_id, &sealed, epoch).await?)
    }

    /// The account's live browser sessions and app grants, the current one (`current`, the
    /// index row's id this request came with) marked. Rows of dead sessions (an older epoch,
    /// idle past the timeout) are dropped first.
    pub async fn sessions(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionView>, Unexpected> {
        let now = self.clock.now();
        let Some(epoch) = self.accounts.session_epoch(user_id).await? else {
            return Ok(Vec::new());
        };
        // A remembered session idles (and lives) longer: its row stays that long.
        let (idle, lifetime) = self.policy.longest();
        let idle_since = now - idle;
        self.sessions
            .delete_stale(user_id, epoch, idle_since.unix_timestamp())
            .await?;
        let mut browsers = Vec::new();
        for row in self.sessions.list_by_user(user_id).await? {
            // Signed out, expired or revoked by a path that did not touch the index.
            if self
                .sessions
                .has_browser_session(&self.session_key(&row)?)
                .await?
            {
                browsers.push(row);
            } else {
                self.sessions.delete(&row.id).await?;
            }
        }
        let grants = self
            .sessions
            .list_grants(user_id, now.unix_timestamp())
            .await?;
        let lifetime_start = (now - lifetime).unix_timestamp();
        Ok(browsers
            .into_iter()
            .filter(|r| r.created_at > lifetime_start)
            .map(|r| browser_view(r, current))
            .chain(grants.into_iter().map(grant_view))
            .collect())
    }

    /// Ends one browser session or grant of `user_id` named by its opaque id (`session_revoked`,
    /// decision `owner`); the record of what ended. `UnknownSession` for an id that is not (or no
    /// longer) one of theirs.
    pub async fn sign_out(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        target: &str,
    ) -> Result<Ended, SecurityError> {
        let ended = self.end_one(user_id, target).await?;
        let event = AuthEvent::new(EventKind::SessionRevoked, ctx, self.clock.now())
            .user(user_id)
            .decision_detail(Decision::RevokedByOwner, &ended.what());
        self.events.record(event).await?;
        Ok(ended)
    }

    /// Ends every browser session of `user_id` but `current` (an index row id), and every
    /// grant (`session_revoked`, decision `owner:others`, with the counts).
    pub async fn sign_out_others(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<(), Unexpected> {
        let now = self.clock.now();
        let sessions = self.end_browsers(user_id, current).await?;
        let grants = self
            .grants
            .revoke_user_families(user_id, now.unix_timestamp())
            .await?;
        self.bearer_cache.now();
        let event = AuthEvent::new(EventKind::SessionRevoked, ctx, now)
            .user(user_id)
            .decision_detail(
                Decision::RevokedOthers,
                &format!("{sessions} sessions, {grants} grants"),
            );
        Ok(self.events.record(event).await?)
    }

    /// Ends the indexed browser sessions of `user_id` but `keep`; how many.
    pub(crate) async fn end_browsers(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<usize, Unexpected> {
        let mut ended = 0;
        for row in self.sessions.list_by_user(user_id).await? {
            if Some(row.id.as_str()) != keep {
                self.end_browser(&row).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Deletes a browser session: its tower-sessions row (the cookie is dead at once), then
    /// its index row.
    pub(super) async fn end_browser(&self, row: &UserSessionRecord) -> Result<(), Unexpected> {
        self.sessions
            .delete_browser_session(&self.session_key(row)?)
            .await?;
        self.sessions.delete(&row.id).await?;
        Ok(())
    }

    /// The tower-sessions id an index row keeps sealed.
    fn session_key(&self, row: &UserSessionRecord) -> Result<String, Unexpected> {
        let opened = self
            .sealer
            .open(&context_of(&row.id), &row.session_sealed, Legacy::Text)
            .map_err(|e| Unexpected(e.into()))?;
        String::from_utf8(opened.plain).map_err(|e| Unexpected(e.into()))
    }

    /// The index row `id` if it is one of `user_id`'s sessions.
    pub(super) async fn owned_browser(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<UserSessionRecord, SecurityError> {
        let row = self.sessions.find_by_id(id).await?;
        row.filter(|r| r.user_id == user_id)
            .ok_or(SecurityError::UnknownSession)
    }

    /// Ends the session or grant `target` of `user_id`, without an event.
    pub(crate) async fn end_one(
        &self,
        user_id: &str,
        target: &str,
    ) -> Result<Ended, SecurityError> {
        let now = self.clock.now().unix_timestamp();
        match Target::parse(target).ok_or(SecurityError::UnknownSession)? {
            Target::Browser(id) => {
                let row = self.owned_browser(user_id, &id).await?;
                self.end_browser(&row).await?;
                Ok(Ended::Browser(Box::new(row)))
            }
            Target::Grant(id) => {
                let family = self
                    .grants
                    .find_family(&id)
                    .await?
                    .filter(|f| f.user_id == user_id && f.revoked_at.is_none())
                    .ok_or(SecurityError::UnknownSession)?;
                self.grants.revoke_family(&family.id, now).await?;
                self.bearer_cache.now();
                Ok(Ended::Grant {
                    client_id: family.client_id,
                    created_at: family.created_at,
                })
            }
        }
    }
}

/// What a sign-out ended.
#[derive(Debug, Clone)]
pub enum Ended {
    /// A browser session (its index row, gone now).
    Browser(Box<UserSessionRecord>),
    /// An app's grant.
    Grant {
        /// The client it was granted to.
        client_id: String,
        /// Unix seconds.
        created_at: i64,
    },
}

impl Ended {
    /// The event's detail: what ended, without ids.
    pub(crate) fn what(&self) -> String {
        match self {
            Self::Browser(r) => format!("browser session: {} from {}", r.device, r.network),
            Self::Grant { client_id, .. } => format!("app grant: {client_id}"),
        }
    }

    /// Whether this was the index row `current`.
    pub fn is(&self, current: Option<&str>) -> bool {
        matches!(self, Self::Browser(r) if Some(r.id.as_str()) == current)
    }
}

fn browser_view(r: UserSessionRecord, current: Option<&str>) -> SessionView {
    let reasons = r
        .risk_reasons
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    SessionView {
        current: Some(r.id.as_str()) == current,
        id: format!("s-{}", r.id),
        app: None,
        device: r.device,
        network: Some(r.network),
        country: r.country,
        first_seen: time_of(r.created_at),
        last_seen: time_of(r.last_seen_at),
        risk_reasons: reasons,
    }
}

fn grant_view(g: GrantRecord) -> SessionView {
    SessionView {
        id: format!("g-{}", g.id),
        app: Some(g.client_id),
        device: g.scope,
        network: None,
        country: None,
        first_seen: time_of(g.created_at),
        last_seen: time_of(g.last_used_at),
        current: false,
        risk_reasons: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_ids_name_a_browser_session_or_a_grant_and_nothing_else() {
        assert_eq!(
            Target::parse("s-abc_1"),
            Some(Target::Browser("abc_1".into()))
        );
        assert_eq!(
            Target::parse("g-0193-ab"),
            Some(Target::Grant("0193-ab".into()))
        );
        let long = format!("s-{}", "a".repeat(65));
        for bad in ["", "s-", "x-abc", "s-a b", "s-a'--", "abc", long.as_str()] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }
}
