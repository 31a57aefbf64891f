//! `next` targets after sign-in: only paths on this site are accepted, so a crafted link can
//! never turn authd into an open redirector.

/// A path on this site, safe to put in a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    /// Parses `raw`; `None` unless it is a plain absolute path on this origin.
    ///
    /// Refused: anything not starting with a single `/` (`//host` and `/\host` are
    /// protocol-relative in browsers), schemes, control characters and whitespace (browsers strip
    /// tabs and newlines, which can turn `/\t/evil` into `//evil`), and over-long values.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > 8192 || !raw.starts_with('/') {
            return None;
        }
        if raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        if raw.starts_with("//") {
            return None;
        }
        Some(Self(raw.to_owned()))
    }

    /// `/account`, where a sign-in without `next` lands.
    pub fn account() -> Self {
        Self("/account".to_owned())
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_local_paths() {
        for ok in [
            "/",
            "/account",
            "/authorize?client_id=a&state=b",
            "/a/b#frag",
        ] {
            assert_eq!(LocalPath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_offsite_targets() {
        for bad in [
            "",
            "//evil.example",
            "///evil.example",
            "https://evil.example",
            "http:/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "evil.example",
            "javascript:alert(1)",
            " /account",
        ] {
            assert!(LocalPath::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
}
