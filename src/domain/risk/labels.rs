//! The event log's own labels: which successful sign-ins their owners reported ("wasn't
//! you?" within a day), and which refused attempts belong to a detected campaign (a source
//! that was blocked in the window, or tried five or more usernames in it). Reports and known
//! devices are read from the events' decision codes (`Decision`, matched exhaustively in
//! `signal`), never from their wording.

use std::collections::{HashMap, HashSet};

use time::Duration;

use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};

/// Usernames tried from one address in a window that make it a campaign.
const CAMPAIGN_USERNAMES: usize = 5;

/// What an event's decision tells the trainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// A sign-in from a known device: never the one a report is about.
    KnownDevice,
    /// The owner reported a sign-in ("wasn't you?"): the label for recent unknown-device ones.
    ReportedNotMe,
    /// Nothing for the labels.
    Nothing,
}

/// Every decision is placed here but an operator's acts from the console or the admin API
/// (the catch-all: they say nothing about a sign-in): a new one must be given a meaning for
/// the labels, or explicitly none.
fn signal(d: Decision) -> Signal {
    match d {
        Decision::AllowKnownDevice => Signal::KnownDevice,
        Decision::ReportedNotMe => Signal::ReportedNotMe,
        Decision::Allow
        | Decision::Deny
        | Decision::HighRiskRightPassword
        | Decision::ChallengedRightPassword
        | Decision::HighRiskWrongPassword
        | Decision::Captcha
        | Decision::AccountLocked
        | Decision::RepeatedFailures
        | Decision::HighRisk
        | Decision::Blocked
        | Decision::UnknownSources
        | Decision::FormRegister
        | Decision::FormForgot
        | Decision::RateLimitedIp
        | Decision::RateLimitedAccount
        | Decision::RateLimitedClient
        | Decision::AlertLockout
        | Decision::AlertNewDevice
        | Decision::AlertAttack
        | Decision::AttackStuffing
        | Decision::AttackSpraying
        | Decision::Reauth
        | Decision::RevokedByOwner
        | Decision::RevokedOthers
        | Decision::RevokedByCli
        | Decision::PasswordChangedByOwner
        | Decision::UnlockedByCli
        | Decision::UnlockedByLink
        | Decision::UnlockedByAdmin
        | Decision::AdminUnlock
        | Decision::SignedOut
        | Decision::EndSession
        | Decision::PasswordChanged
        | Decision::IdleTimeout
        | Decision::LifetimeExceeded
        | Decision::ResetMailed
        | Decision::ResetSuppressedMailLimit
        | Decision::ResetUnknownAccount
        | Decision::ResetInvalidEmail
        | Decision::PasswordReset
        | Decision::IssuedAuthorizationCode
        | Decision::IssuedClientCredentials
        | Decision::RefreshRotated
        | Decision::RefreshFamilyRevoked
        | Decision::CodeReuse
        | Decision::RevokedRefreshToken
        | Decision::RevokedAccessToken
        | Decision::ClientChangedByCli
        | Decision::ProfileChangedByOwner
        | Decision::TokenRequestRefused
        | Decision::BearerRejected
        | Decision::TokenUseAllow
        | Decision::TokenUseChallenge
        | Decision::TokenUseBlock
        | Decision::StepUpRequired
        | Decision::FactorEmail
        | Decision::FactorTotp
        | Decision::FactorRecoveryCode
        | Decision::FactorWebauthn
        | Decision::VerificationMailed
        | Decision::VerifiedByLink
        | Decision::MfaResetByCli
        | Decision::RiskApiInvalidToken
        | Decision::Passkey
        | Decision::RequireMfaOn
        | Decision::RequireMfaOff
        | Decision::AccountCreated
        | Decision::AccountsListed
        | Decision::AccountShown
        | Decision::AccountDisabled
        | Decision::AccountEnabled
        | Decision::AccountDeleted => Signal::Nothing,
        // An operator's acts on accounts, clients, keys and the model.
        _ => Signal::Nothing,
    }
}

/// What the log says about campaigns and reports, gathered once.
pub(super) struct LogFacts<'a> {
    /// "Wasn't you?" reports: (user, when).
    reports: Vec<(&'a str, time::OffsetDateTime)>,
    /// Blocks: (source address, when).
    blocked: Vec<(&'a str, time::OffsetDateTime)>,
    /// Usernames refused per (address, window bucket).
    names: HashMap<(&'a str, i64), HashSet<&'a str>>,
    window: Duration,
}

impl<'a> LogFacts<'a> {
    pub(super) fn gather(events: &'a [AuthEvent], window: Duration) -> Self {
        let reports = events
            .iter()
            .filter(|e| {
                e.kind == EventKind::SessionRevoked
                    && e.decision_code.map(signal) == Some(Signal::ReportedNotMe)
            })
            .filter_map(|e| Some((e.user_id.as_deref()?, e.ts)))
            .collect();
        let blocked = events
            .iter()
            .filter(|e| e.kind == EventKind::LoginBlocked)
            .filter_map(|e| Some((e.ip.as_deref()?, e.ts)))
            .collect();
        let mut facts = Self {
            reports,
            blocked,
            names: HashMap::new(),
            window,
        };
        // Every refused attempt tried a username: failed, challenged or blocked.
        for e in events.iter().filter(|e| refused(e)) {
            if let (Some(ip), Some(u)) = (e.ip.as_deref(), e.username.as_deref()) {
                let key = (ip, facts.bucket(e.ts));
                facts.names.entry(key).or_default().insert(u);
            }
        }
        facts
    }

    fn bucket(&self, t: time::OffsetDateTime) -> i64 {
        t.unix_timestamp() / self.window.whole_seconds().max(1)
    }

    /// The log's own label of an event: `Some((attack, labelled))`, `labelled` false for an
    /// owner's unreported sign-in (the self-supervised negative); `None`: no label.
    pub(super) fn label(&self, e: &AuthEvent) -> Option<(bool, bool)> {
        match e.kind {
            EventKind::LoginSucceeded => {
                let from_known = e.decision_code.map(signal) == Some(Signal::KnownDevice);
                let reported = !from_known
                    && e.user_id.as_deref().is_some_and(|u| {
                        self.reports.iter().any(|(ru, at)| {
                            *ru == u && *at >= e.ts && *at - e.ts <= Duration::days(1)
                        })
                    });
                Some((reported, reported))
            }
            _ if refused(e) => {
                let ip = e.ip.as_deref().unwrap_or_default();
                let was_blocked = self
                    .blocked
                    .iter()
                    .any(|(bip, at)| *bip == ip && (*at - e.ts).abs() <= self.window);
                let stuffing = self
                    .names
                    .get(&(ip, self.bucket(e.ts)))
                    .is_some_and(|s| s.len() >= CAMPAIGN_USERNAMES);
                (was_blocked || stuffing).then_some((true, true))
            }
            _ => None,
        }
    }
}

/// A refused sign-in attempt: failed, challenged or blocked.
fn refused(e: &AuthEvent) -> bool {
    matches!(
        e.kind,
        EventKind::LoginFailed | EventKind::LoginChallenged | EventKind::LoginBlocked
    )
}
