//! The session events around a sign-in: created, ended (sign-out, expiry, a password change),
//! and the user's own recent events for the account page.

use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventFilter, EventKind};

impl LoginService {
    /// Records that a session was created for `user_id` after sign-in.
    pub async fn session_created(
        &self,
        ctx: &RequestContext,
        user_id: &str,
    ) -> Result<(), Unexpected> {
        let event = AuthEvent::new(EventKind::SessionCreated, ctx, self.clock.now()).user(user_id);
        Ok(self.events.record(event).await?)
    }

    /// Records a sign-out (`logout`) or an expired session (`session_revoked`).
    pub async fn session_ended(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        kind: EventKind,
        reason: Decision,
    ) -> Result<(), Unexpected> {
        let event = AuthEvent::new(kind, ctx, self.clock.now())
            .user(user_id)
            .decision(reason);
        Ok(self.events.record(event).await?)
    }

    /// The user's own recent security events, newest first (for `/account`).
    pub async fn recent_events(
        &self,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<AuthEvent>, Unexpected> {
        let filter = EventFilter {
            user_id: Some(user_id.to_owned()),
            limit,
            ..EventFilter::default()
        };
        Ok(self.events.list(&filter).await?)
    }
}
