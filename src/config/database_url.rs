//! `DatabaseUrl`: `AUTHD_DATABASE_URL`, which may carry the database's password
//! (`postgres://authd:pw@db/authd`, or a `password=` parameter). It reads as the text it is
//! (`Deref<Target = str>`), but its `Debug` — what a `{config:?}` in a log or a panic would
//! print — shows the address with every password replaced by `***`. It has no `Display`.

use std::fmt;
use std::ops::Deref;

/// The database's address; `Debug` without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The whole address, password included (for the connection only).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with its password (user info or `password` parameter) replaced by `***`;
    /// an address that does not parse as a URL is not shown at all.
    pub fn redacted(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.0) else {
            return "<unparsable database URL>".to_owned();
        };
        if url.password().is_some() {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = url.set_password(Some("***"));
        }
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let secret = k.to_ascii_lowercase().contains("password");
                    let v = if secret { "***".into() } else { v.into_owned() };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

impl Deref for DatabaseUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_password() {
        for (url, shown) in [
            (
                "postgres://authd:s3cret@db.example:5432/authd",
                "postgres://authd:***@db.example:5432/authd",
            ),
            (
                "postgres://db.example/authd?user=authd&password=s3cret&sslmode=require",
                "postgres://db.example/authd?user=authd&password=***&sslmode=require",
            ),
            ("sqlite://authd.db?mode=rwc", "sqlite://authd.db?mode=rwc"),
            ("postgres://[bad", "<unparsable database URL>"),
        ] {
            let u = DatabaseUrl::from(url);
            assert_eq!(u.redacted(), shown);
            let debug = format!("{u:?}");
            assert!(!debug.contains("s3cret"), "{debug}");
            assert_eq!(
                u.as_str(),
                url,
                "the connection still gets the whole address"
            );
        }
    }
}
