//! The `prompt` and `max_age` policy of `/authorize` (OIDC Core §3.1.2.1): sign in (again), ask
//! for consent, or answer the client. The time a re-authentication must follow is kept
//! server-side, in the user's session and bound to the request that asked for it
//! (`ReauthMark`): nothing in the URL can lower the bar.

use serde_json::json;

use crate::domain::clients::scope_string;
use crate::domain::error::Unexpected;
use crate::domain::mfa::{ACR_MFA, acr_of};
use crate::domain::oauth::authorize::AuthorizeRequest;
use crate::domain::oauth::error::OAuthCode;
use crate::domain::oauth::{OAuthService, digest};

impl AuthorizeRequest {
    /// Whether only a sign-in made after authd asked for it answers the request:
    /// `prompt=login`, or `max_age=0`, which OIDC Core §3.1.2.1 makes its equivalent (read
    /// as "at most 0 seconds ago" it would hold only when the return to `/authorize` fell in
    /// the very second of the sign-in).
    pub fn wants_fresh_sign_in(&self) -> bool {
        self.prompt_login || self.max_age == Some(0)
    }

    /// Whether the answer to this request depends on a sign-in authd sent the user to
    /// (`ReauthMark`): `prompt=login` or `max_age=0`, `acr_values`, an `id_token_hint`.
    pub fn needs_mark(&self) -> bool {
        self.wants_fresh_sign_in() || self.acr_mfa || self.hint_sub.is_some()
    }

    /// A digest of everything the request asks for (client, redirect URI, scope, state, nonce,
    /// PKCE challenge, prompt, max_age, login hint): two requests with the same fingerprint
    /// are the same request, however their query strings were encoded.
    pub fn fingerprint(&self) -> String {
        let fields = json!([
            self.client.id,
            self.redirect_uri,
            scope_string(&self.scopes),
            self.state,
            self.nonce,
            self.code_challenge,
            [self.prompt_none, self.prompt_login, self.prompt_consent],
            self.max_age,
            self.login_hint,
            self.acr_mfa,
            self.hint_sub,
        ]);
        digest(&fields.to_string())
    }
}

/// What authd remembers, in the signed-in user's session, when it sends that user to sign in
/// again for `prompt=login` (or `max_age`): which request asked, and the time the new sign-in
/// must follow. A client can forge any URL, but not this; a mark is spent when it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReauthMark {
    fingerprint: String,
    after: i64,
}

impl ReauthMark {
    /// The mark for `req`: only a sign-in at or after `after` (unix seconds) answers it.
    pub fn new(req: &AuthorizeRequest, after: i64) -> Self {
        Self {
            fingerprint: req.fingerprint(),
            after,
        }
    }

    /// The session value.
    pub fn encode(&self) -> String {
        format!("{} {}", self.fingerprint, self.after)
    }

    /// Reads a session value back; `None` if it is not a mark.
    pub fn decode(value: &str) -> Option<Self> {
        let (fingerprint, after) = value.split_once(' ')?;
        Some(Self {
            fingerprint: fingerprint.to_owned(),
            after: after.parse().ok()?,
        })
    }

    /// The time a sign-in must follow for `req`, if this mark was made for `req`.
    pub fn after_for(&self, req: &AuthorizeRequest) -> Option<i64> {
        (self.fingerprint == req.fingerprint()).then_some(self.after)
    }
}

/// What `/authorize` does next with a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeStep {
    /// Send the user to the sign-in form and back here. With `fresh_after`, a re-authentication:
    /// only a sign-in after that time (unix seconds) counts.
    SignIn {
        /// Sign-ins before this are too old for the request.
        fresh_after: Option<i64>,
        /// `acr_values` asks for a second factor the session has not shown: the sign-in must
        /// step up (when the account has a factor).
        step_up: bool,
    },
    /// Ask the user to consent.
    Consent,
    /// Back to the client: the `Location` carrying a code, or an error (`prompt=none`).
    Redirect(String),
}

impl OAuthService {
    /// The `prompt`, `max_age` and `acr_values` policy (OIDC Core §3.1.2.1, RFC 9470) for a
    /// valid request, given who is signed in (`user`: id, sign-in time and `amr`) and, when
    /// authd itself sent the user to sign in again, the time that sign-in must follow
    /// (`auth_after`, from the session's `ReauthMark` for this request, never from the URL):
    /// sign in (again, maybe with the step-up), ask for consent, or go back to the client with
    /// a code or, under `prompt=none`, an error. After the step-up authd asked for, the code
    /// carries whatever `acr` the sign-in reached (an account without a factor stays `pwd`):
    /// `acr_values` is a wish, and the ID token says the truth.
    pub async fn authorize_step(
        &self,
        req: &AuthorizeRequest,
        user: Option<(&str, i64, &[String])>,
        auth_after: Option<i64>,
    ) -> Result<AuthorizeStep, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        // `id_token_hint` names another user than the one signed in (OIDC Core §3.1.2.1):
        // never answered for that one. Under `prompt=none`, or after the sign-in authd asked
        // for, `login_required`; else a sign-in (as the hinted user, one hopes) first.
        if let (Some(sub), Some((uid, at, _))) = (req.hint_sub.as_deref(), user)
            && sub != uid
        {
            if req.prompt_none || auth_after.is_some_and(|t| at >= t) {
                let why = "the signed-in user is not the one id_token_hint names";
                let location = self.error_redirect(req, OAuthCode::LoginRequired, why);
                return Ok(AuthorizeStep::Redirect(location));
            }
            let step_up = req.acr_mfa;
            return Ok(AuthorizeStep::SignIn {
                fresh_after: Some(now),
                step_up,
            });
        }
        let weak = |amr: &[String]| req.acr_mfa && acr_of(amr) != ACR_MFA;
        let fresh = |at: i64, amr: &[String]| {
            is_fresh(req.wants_fresh_sign_in(), req.max_age, at, auth_after, now)
                && !(weak(amr) && auth_after.is_none_or(|t| at < t))
        };
        let Some((user_id, auth_at, amr)) = user.filter(|(_, at, amr)| fresh(*at, amr)) else {
            // Signed out, a request that wants a fresh sign-in is answered by the one it is
            // sent to now (without the mark, that sign-in would be "before" and asked again).
            let (why, fresh_after) = match user {
                None => ("sign-in required", req.wants_fresh_sign_in().then_some(now)),
                Some(_) => ("fresh sign-in required", Some(now)),
            };
            // The step-up is asked for once: its sign-in, whatever it reached, answers the
            // request (the mark), so an account without a factor is not sent round forever.
            let step_up = req.acr_mfa && user.is_none_or(|(_, _, amr)| weak(amr));
            return Ok(if req.prompt_none {
                AuthorizeStep::Redirect(self.error_redirect(req, OAuthCode::LoginRequired, why))
            } else {
                AuthorizeStep::SignIn {
                    fresh_after: if step_up { Some(now) } else { fresh_after },
                    step_up,
                }
            });
        };
        if self.needs_consent(user_id, req).await? {
            return Ok(if req.prompt_none {
                let why = "consent required";
                AuthorizeStep::Redirect(self.error_redirect(req, OAuthCode::ConsentRequired, why))
            } else {
                AuthorizeStep::Consent
            });
        }
        let location = self.issue_code(req, user_id, auth_at, amr).await?;
        Ok(AuthorizeStep::Redirect(location))
    }

    /// Whether a sign-in at `auth_at` still meets `req`'s positive `max_age` now (the consent
    /// page may have stayed open past it: the answer then signs in again first).
    pub fn within_max_age(&self, req: &AuthorizeRequest, auth_at: i64) -> bool {
        let now = self.clock.now().unix_timestamp();
        is_fresh(false, req.max_age, auth_at, None, now)
    }
}

/// Whether a sign-in at `auth_at` is recent enough at `now`: `prompt=login` (and `max_age=0`,
/// `wants_fresh`) wants one after the request (after `auth_after`, which authd sets when it
/// sends the user to sign in again; without it, no earlier sign-in counts), and a positive
/// `max_age` one at most that many seconds old.
fn is_fresh(
    wants_fresh: bool,
    max_age: Option<i64>,
    auth_at: i64,
    auth_after: Option<i64>,
    now: i64,
) -> bool {
    let stale = (wants_fresh && auth_after.is_none_or(|t| auth_at < t))
        || max_age.is_some_and(|m| m > 0 && now - auth_at > m);
    !stale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reauth_mark_round_trips_and_answers_only_its_request() {
        let mark = ReauthMark {
            fingerprint: "abc".into(),
            after: 42,
        };
        assert_eq!(ReauthMark::decode(&mark.encode()), Some(mark));
        assert_eq!(ReauthMark::decode("abc"), None);
        assert_eq!(ReauthMark::decode("abc x"), None);
    }

    const NOW: i64 = 1_000_000;

    #[test]
    fn any_sign_in_is_fresh_without_prompt_or_max_age() {
        assert!(is_fresh(false, None, 0, None, NOW));
        assert!(is_fresh(false, None, NOW, Some(NOW + 5), NOW));
    }

    #[test]
    fn prompt_login_wants_a_sign_in_after_authd_asked_for_it() {
        // First visit: no earlier sign-in counts.
        assert!(!is_fresh(true, None, NOW - 1, None, NOW));
        assert!(!is_fresh(true, None, NOW, None, NOW));
        // Back from the sign-in form authd sent the user to at `NOW - 10`.
        assert!(is_fresh(true, None, NOW - 10, Some(NOW - 10), NOW));
        assert!(is_fresh(true, None, NOW - 5, Some(NOW - 10), NOW));
        assert!(!is_fresh(true, None, NOW - 11, Some(NOW - 10), NOW));
    }

    #[test]
    fn max_age_bounds_the_age_of_the_sign_in() {
        assert!(is_fresh(false, Some(60), NOW - 60, None, NOW));
        assert!(!is_fresh(false, Some(60), NOW - 61, None, NOW));
        // max_age=0 is prompt=login (`wants_fresh`): a sign-in after authd asked, whatever
        // second the user comes back in.
        assert!(!is_fresh(true, Some(0), NOW, None, NOW));
        assert!(is_fresh(true, Some(0), NOW - 3, Some(NOW - 10), NOW));
        assert!(!is_fresh(true, Some(0), NOW - 11, Some(NOW - 10), NOW));
        // Both: each must hold.
        assert!(!is_fresh(true, Some(60), NOW - 61, Some(NOW - 100), NOW));
        assert!(!is_fresh(true, Some(600), NOW - 101, Some(NOW - 100), NOW));
        assert!(is_fresh(true, Some(600), NOW - 99, Some(NOW - 100), NOW));
    }
}
