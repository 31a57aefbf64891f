//! One submit is enough. A form shown while the ladder already has its source (or, for the
//! register and forgot forms, the form from this network) at the challenge rung carries the
//! CAPTCHA up front (`challenge_up_front`: a read that counts no attempt and, having no
//! username, looks at the source only, so it tells nothing about any account; for a browser
//! without a session, which showing it starts, it draws from the network's budget for that). And a passed CAPTCHA
//! whose attempt then failed on something else (a typo in the password, a too-short new
//! password) becomes a *pass* for the next submit of the same form (`hold_pass`,
//! `redeem_pass`): kept in the server-side session (bound to it), single use (spent in the
//! spent-link table, so of concurrent uses exactly one wins, on any instance), valid
//! `PASS_TTL_SECS`. The answered challenge itself is spent there too (`spend_challenge`), and
//! counts only for the form that showed it, and (like the pass, which keeps its level) only on
//! a row that asks no more work than it did (`ChallengeAnswer::at_least`): a puzzle fetched
//! where it is cheap passes no costlier rung. One solved CAPTCHA thus buys at most two checks,
//! never a run of them.

use crate::domain::captcha::PowLevel;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::signin::LoginService;
use crate::domain::signin::forms::Form;
use crate::domain::signin::keys::{CounterKey, Source};
use crate::domain::signin::ladder::ChallengeAnswer;
use crate::domain::signin::links::Purpose;
use crate::domain::signin::settings::work;
use crate::domain::throttle::{Door, ThrottleKey};
use crate::storage::protection::FailureState;

/// How long a held pass can be used (seconds): the rest of one attempt, not a session.
pub const PASS_TTL_SECS: i64 = 600;

/// A form behind the challenge rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// `/login`.
    SignIn,
    /// `/register` or `/password/forgot`.
    Form(Form),
}

impl Gate {
    /// Its name (in session keys and pass subjects).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "login",
            Self::Form(f) => f.as_str(),
        }
    }
}

impl ChallengeAnswer {
    /// Whether the attempt may pass a challenge rung: a right answer now, or a held pass.
    pub fn clears_rung(self) -> bool {
        match self {
            Self::Passed(_) | Self::Held(_) => true,
            Self::Absent | Self::Failed | Self::Short => false,
        }
    }
}

impl LoginService {
    /// The challenge's work when the next submit of `gate` from this request's source would
    /// meet the challenge rung; `None` otherwise. No attempt is counted (a browser without a
    /// session spends one of its network's `Door::ChallengeShown` budget, below). For
    /// the sign-in, the source's busiest live row decides (its network's, and its device's
    /// when the browser carries a valid device cookie), whichever account it counts against:
    /// without a username there is nothing else to go on, and nothing about any account is
    /// told (names with no account have rows too). The rungs that need the username (the
    /// account-wide lock, the account's budget, the risk score) still show their challenge
    /// after the submit, as before. `new_session`: the browser holds no session yet (showing
    /// a challenge starts one, within its network's budget for that).
    pub async fn challenge_up_front(
        &self,
        ctx: &RequestContext,
        gate: Gate,
        device_cookie: Option<&str>,
        new_session: bool,
    ) -> Result<Option<PowLevel>, Unexpected> {
        let ladder = &self.protection.ladder;
        let s = ladder.settings();
        let now = self.clock.now().unix_timestamp();
        let net = Source::net(ctx.ip).encode();
        let row = match gate {
            Gate::SignIn => {
                let device = device_cookie
                    .and_then(|c| self.protection.devices.claim(c))
                    .map(|c| Source::Device(c.device).encode());
                let sources = [net.as_str(), device.as_deref().unwrap_or(&net)];
                let cutoff = now - s.window_secs;
                ladder
                    .store
                    .find_busiest_source_row(sources, cutoff)
                    .await?
            }
            Gate::Form(f) => {
                let cutoff = now - s.form_window_secs;
                let account = CounterKey::Form(f).encode();
                ladder.store.find_live(&account, &net, cutoff).await?
            }
        };
        // No row: nothing counted yet (which meets the rung only with `challenge_after` 0).
        let row = row.unwrap_or(FailureState {
            failures: 0,
            blocked_until: None,
            blocks: 0,
            account_locked_until: None,
        });
        // The next attempt counts first, then meets the rung past `challenge_after`.
        let next = FailureState {
            failures: row.failures + 1,
            ..row
        };
        if next.failures <= s.challenge_after {
            return Ok(None);
        }
        // A browser without a session gets one to keep the challenge in: past the network's
        // budget for those (`Door::ChallengeShown`), the form goes without, and its submit
        // meets the challenge as before the up-front one existed.
        if new_session
            && self
                .new_session_budget(Door::ChallengeShown, ctx.ip)
                .is_err()
        {
            return Ok(None);
        }
        Ok(Some(work(s, &next, now)))
    }

    /// Draws one from `ip`'s network's (and /48's) budget at `door` of sessions started for a
    /// browser that holds none: `Door::ChallengeShown` for an up-front challenge,
    /// `Door::CeremonyStarted` for a passwordless sign-in's ceremony. `Err(retry_after)` once
    /// it is spent, so a flood of cookieless requests writes a bounded number of session rows.
    pub fn new_session_budget(&self, door: Door, ip: std::net::IpAddr) -> Result<(), u64> {
        self.throttle
            .check(door, &ThrottleKey::nets(ip))
            .map_err(|(_, retry_after)| retry_after.max(1))
    }

    /// Spends the shown challenge `id` (issued at `issued_at`) once its answer checked out:
    /// `true` for the first use. The session that keeps a challenge is read whole by each
    /// request and written back at its end, so submits sent at once (or to two instances)
    /// all found it there; of those, only the one that spends it here passes.
    pub async fn spend_challenge(&self, id: &str, issued_at: i64) -> Result<bool, Unexpected> {
        // A `test` or provider challenge shown before challenges had ids (an upgrade, a rolling
        // deploy: for its five minutes) has none to spend: taken from the session, as then.
        if id.is_empty() {
            return Ok(true);
        }
        let until = issued_at.saturating_add(crate::domain::captcha::CHALLENGE_TTL_SECS + 60);
        self.protection
            .links
            .spend_marker("captcha", &format!("captcha|{id}"), until)
            .await
    }

    /// A new pass for the next submit of `gate`, from a challenge of `level` work (the caller
    /// keeps it in the session; the pass passes no rung that asks for more).
    pub fn hold_pass(&self, gate: Gate, level: PowLevel) -> String {
        let nonce = self.protection.random.token(16);
        let subject = format!("{}~{nonce}~{}", gate.as_str(), level.get());
        self.protection
            .links
            .issue(Purpose::ChallengePass, &subject)
    }

    /// Whether `pass` is an unspent, unexpired pass for `gate` (spends nothing).
    pub async fn pass_holds(&self, gate: Gate, pass: &str) -> Result<bool, Unexpected> {
        let subject = self
            .protection
            .links
            .usable(Purpose::ChallengePass, pass)
            .await?;
        Ok(subject.is_some_and(|s| is_for(&s, gate)))
    }

    /// Spends `pass`: the work of the challenge it was held for if it was an unspent,
    /// unexpired pass for `gate` and this call spent it (of concurrent calls exactly one does).
    pub async fn redeem_pass(
        &self,
        gate: Gate,
        pass: &str,
    ) -> Result<Option<PowLevel>, Unexpected> {
        let subject = self
            .protection
            .links
            .redeem(Purpose::ChallengePass, pass)
            .await?;
        Ok(subject.filter(|s| is_for(s, gate)).map(|s| level_of(&s)))
    }
}

/// The work a pass's subject (`<gate>~<nonce>~<level>`) was held for; the first level for a
/// pass held before passes carried one.
fn level_of(subject: &str) -> PowLevel {
    subject
        .splitn(3, '~')
        .nth(2)
        .and_then(|l| l.parse::<u8>().ok())
        .map_or(PowLevel::FIRST, PowLevel::from_number)
}

/// Whether a pass's subject (`<gate>~<nonce>~<level>`; without the level before passes kept
/// one) names `gate`.
fn is_for(subject: &str, gate: Gate) -> bool {
    subject
        .split_once('~')
        .is_some_and(|(g, _)| g == gate.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_names_its_form_only() {
        assert!(is_for("login~abc", Gate::SignIn));
        assert!(!is_for("login~abc", Gate::Form(Form::Register)));
        assert!(is_for("register~x", Gate::Form(Form::Register)));
        assert!(!is_for("register", Gate::Form(Form::Register)));
        assert!(is_for("login~abc~2", Gate::SignIn));
        assert!(ChallengeAnswer::Held(PowLevel::FIRST).clears_rung());
        assert!(!ChallengeAnswer::Failed.clears_rung());
    }

    #[test]
    fn a_pass_keeps_the_work_it_was_held_for() {
        assert_eq!(level_of("login~abc~2"), PowLevel::from_number(2));
        assert_eq!(level_of("register~x-_9~3"), PowLevel::TOP);
        assert_eq!(level_of("login~abc"), PowLevel::FIRST, "held before levels");
        assert_eq!(level_of("login~abc~junk"), PowLevel::FIRST);
    }

    #[test]
    fn an_answer_counts_only_where_it_did_the_work_asked() {
        let (one, two) = (PowLevel::from_number(1), PowLevel::from_number(2));
        let required =
            |answered, held| crate::domain::signin::settings::Required { answered, held };
        let at_two = required(two, two);
        assert_eq!(
            ChallengeAnswer::Passed(one).at_least(at_two),
            ChallengeAnswer::Short,
            "a cheaper puzzle, fetched elsewhere"
        );
        assert_eq!(
            ChallengeAnswer::Held(one).at_least(at_two),
            ChallengeAnswer::Short
        );
        assert_eq!(
            ChallengeAnswer::Passed(two).at_least(required(one, one)),
            ChallengeAnswer::Passed(two)
        );
        assert_eq!(
            ChallengeAnswer::Held(two).at_least(at_two),
            ChallengeAnswer::Held(two)
        );
        // A pass is weighed against the row before the attempt that held it.
        assert_eq!(
            ChallengeAnswer::Held(one).at_least(required(two, one)),
            ChallengeAnswer::Held(one)
        );
        assert_eq!(
            ChallengeAnswer::Passed(one).at_least(required(two, one)),
            ChallengeAnswer::Short
        );
        assert_eq!(
            ChallengeAnswer::Failed.at_least(at_two),
            ChallengeAnswer::Failed
        );
        assert_eq!(
            ChallengeAnswer::Absent.at_least(required(PowLevel::FIRST, PowLevel::FIRST)),
            ChallengeAnswer::Absent
        );
    }
}
