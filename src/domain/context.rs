//! The context in which a request reached authd, resolved by the HTTP layer (trusted proxies
//! included) and carried into every event.

use std::net::IpAddr;

/// Who is asking, from where, in which request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The client IP (socket peer, or `X-Forwarded-For` from a trusted proxy).
    pub ip: IpAddr,
    /// The `User-Agent` header, truncated to a sane length.
    pub user_agent: String,
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// The application a sign-in is for (its registered name), when the sign-in page knows
    /// it: the new-sign-in mail names it.
    pub app: Option<String>,
}

impl RequestContext {
    /// Longest user agent kept; longer ones are cut (they are attacker-controlled).
    pub const MAX_USER_AGENT: usize = 512;

    /// Builds a context, truncating an oversized user agent at a char boundary.
    pub fn new(ip: IpAddr, user_agent: &str, request_id: String) -> Self {
        let user_agent: String = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(Self::MAX_USER_AGENT)
            .collect();
        Self {
            ip,
            user_agent,
            request_id,
            app: None,
        }
    }

    /// The same context, for a sign-in to the application `app`.
    pub fn for_app(mut self, app: Option<String>) -> Self {
        self.app = app;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_truncated_and_cleaned() {
        let ua = format!("a\u{0}b{}", "x".repeat(2000));
        let ctx = RequestContext::new("127.0.0.1".parse().unwrap(), &ua, "r".into());
        assert!(ctx.user_agent.starts_with("ab"));
        assert_eq!(
            ctx.user_agent.chars().count(),
            RequestContext::MAX_USER_AGENT
        );
    }
}
