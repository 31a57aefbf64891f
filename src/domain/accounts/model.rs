//! Validated account values: an invalid email or password cannot be constructed.

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

/// A normalised (trimmed, lower-cased) and syntactically valid email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Longest address accepted (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses and normalises an email address.
    ///
    /// The whole address is lower-cased: no mainstream provider treats local parts case
    /// sensitively, and two accounts differing only in case are a phishing aid.
    pub fn parse(raw: &str) -> Option<Self> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() || normalised.len() > Self::MAX_LEN {
            return None;
        }
        if normalised
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return None;
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            &normalised,
            email_address::Options::default().without_display_text(),
        )
        .ok()?;
        // Refuse quoted local parts and address literals: legal, but only ever seen in abuse.
        if normalised.contains('"') || parsed.domain().starts_with('[') {
            return None;
        }
        Some(Self(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A candidate password, 8 to 128 characters, with no composition rules (NIST SP 800-63B).
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    /// Fewest characters accepted.
    pub const MIN_CHARS: usize = 8;
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 128;

    /// Checks length (in characters, not bytes) and refuses NUL, which some stacks truncate at.
    pub fn parse(raw: SecretString) -> Result<Self, &'static str> {
        let s = raw.expose_secret();
        if s.contains('\0') {
            return Err("The password contains a character that is not allowed.");
        }
        let n = s.chars().count();
        if n < Self::MIN_CHARS {
            return Err("The password must be at least 8 characters long.");
        }
        if n > Self::MAX_CHARS {
            return Err("The password must be at most 128 characters long.");
        }
        Ok(Self(raw))
    }

    /// The secret, for hashing.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A stored account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Stable id (UUID).
    pub id: String,
    /// Normalised email.
    pub email: String,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Whether the account may use admin features.
    pub is_admin: bool,
    /// When the account was created.
    pub created_at: OffsetDateTime,
    /// The session epoch: sessions from an older one are dead.
    pub session_epoch: i64,
    /// When the address was verified (`None`: not verified; no e-mailed code is offered).
    pub email_verified_at: Option<OffsetDateTime>,
    /// The owner asks for their second factor at every sign-in.
    pub require_mfa: bool,
    /// The owner's name (OIDC `name`), set on `/account`.
    pub name: Option<String>,
    /// When the profile last changed (OIDC `updated_at`, unix seconds; creation until then).
    pub profile_updated_at: i64,
    /// When an operator disabled the account (`None`: enabled).
    pub disabled_at: Option<OffsetDateTime>,
}

impl Account {
    /// The one rule of a disabled account: it may not sign in by any path (password, passkey,
    /// reset link, refresh token, an existing session or access token). Every path asks here;
    /// a refusal is answered exactly like a wrong password where one was typed.
    pub fn may_sign_in(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// The longest name an account holds.
pub const NAME_MAX: usize = 100;

/// Checks a name typed on `/account`: trimmed, 1 to `NAME_MAX` characters, no control
/// characters and no invisible direction or spacing marks (`is_hidden_format`); an empty
/// field clears the name (`None`).
pub fn parse_name(raw: &str) -> Result<Option<String>, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(None);
    }
    let bad = |c: char| c.is_control() || is_hidden_format(c);
    if name.chars().count() > NAME_MAX || name.chars().any(bad) {
        return Err("A name has at most 100 characters and no control or invisible characters.");
    }
    Ok(Some(name.to_owned()))
}

/// Invisible characters that change how the text around them reads without showing: the
/// direction embeddings, overrides and isolates and the direction marks (a name shown in an
/// app as "Support" + U+202E + "moc.elgoog" reads backwards), line and paragraph separators,
/// zero-width and invisible format characters, the soft hyphen, the byte order mark,
/// interlinear annotations, tag characters, and the Hangul fillers and the Braille blank that
/// show as a blank name. (Variation selectors stay: Japanese names use ideographic ones.)
/// The zero-width joiner and non-joiner stay: emoji sequences and Persian and Indic names need
/// them.
fn is_hidden_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(
            parse_name("  Ada Lovelace "),
            Ok(Some("Ada Lovelace".into()))
        );
        assert_eq!(parse_name("   "), Ok(None));
        assert!(parse_name("a\u{7}b").is_err());
        assert!(parse_name("Support\u{202E}moc.elgoog").is_err());
        assert!(parse_name("a\u{200B}b").is_err());
        assert!(
            parse_name("\u{3164}").is_err(),
            "a filler shows as a blank name"
        );
        assert!(parse_name("a\u{2028}b").is_err());
        assert!(
            parse_name("\u{2800}").is_err(),
            "the Braille blank shows as a blank name"
        );
        assert!(parse_name("a\u{E0041}").is_err());
        assert!(parse_name("\u{2067}x\u{2069}").is_err());
        assert!(
            parse_name("می\u{200C}خواهم").is_ok(),
            "the non-joiner stays"
        );
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn bad_emails_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "al ice@example.com",
            "alice@exa\0mple.com",
            "Alice <alice@example.com>",
            "\"a b\"@example.com",
            "a@[127.0.0.1]",
            long.as_str(),
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(128).into()).is_ok());
        assert!(Password::parse("é".repeat(129).into()).is_err());
        assert!(Password::parse("abcd\0efgh".into()).is_err());
    }
}
