//! Who performs an operator's act on clients, keys or the model: the command line, an admin
//! signed in to the console, or a client holding the `admin` scope (the admin JSON API). The
//! same domain call serves all three; only the `admin_action` event says who acted.

use crate::domain::context::RequestContext;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

/// The actor of an operator's act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator<'a> {
    /// `authd …` on the command line.
    Cli,
    /// An admin account on the console (its id).
    Admin(&'a str),
    /// A client on the admin JSON API (its client_id).
    Client(&'a str),
}

impl Operator<'_> {
    /// The `admin_action` event of an act by this operator: the admin as `user_id`, or the API
    /// client as `client_id`; the decision is `<what>; target <target>`.
    pub fn event(
        self,
        ctx: &RequestContext,
        at: time::OffsetDateTime,
        what: Decision,
        target: &str,
    ) -> AuthEvent {
        let mut e = AuthEvent::new(EventKind::AdminAction, ctx, at);
        match self {
            Self::Cli => {}
            Self::Admin(id) => e = e.user(id),
            Self::Client(id) => e.client_id = Some(id.to_owned()),
        }
        e.decision_detail(what, &format!("target {target}"))
    }
}
