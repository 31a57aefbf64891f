//! Where raw values come from, in order: the key table's defaults → the TOML file
//! (`--config`) → `AUTHD_*` environment → `*_FILE` secrets (the file's content, trailing
//! whitespace trimmed, the way container secrets are mounted). Produces [`Values`], the
//! parser's only view of the sources; knows no typed field.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use secrecy::SecretString;

use super::ConfigError;
use super::keys::{self, FILE_SUFFIX, Key, Shown};

/// The TOML file (if any), then the `AUTHD_*` environment laid on top.
pub(crate) fn gather(file: Option<&Path>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut values = match file {
        Some(path) => read_toml(path)?,
        None => BTreeMap::new(),
    };
    layer(&mut values, env_values()?);
    Ok(values)
}

/// `AUTHD_*` variables, keyed by their lower-cased names without the prefix.
fn env_values() -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, value) in std::env::vars_os() {
        let Some(key) = name.to_str().and_then(|n| n.strip_prefix("AUTHD_")) else {
            continue;
        };
        let value = value.into_string().map_err(|_| ConfigError::Invalid {
            var: keys::var_name(key),
            reason: "not valid UTF-8".into(),
        })?;
        out.insert(key.to_lowercase(), value);
    }
    Ok(out)
}

/// Lays `over` on `base`: a key that `over` sets, or its `_FILE` variant, replaces both in
/// `base`, so `AUTHD_MASTER_KEY_FILE` in the environment wins over the file's `master_key`.
pub(crate) fn layer(base: &mut BTreeMap<String, String>, over: BTreeMap<String, String>) {
    for name in over.keys() {
        let family = name.strip_suffix(FILE_SUFFIX).unwrap_or(name);
        base.remove(family);
        base.remove(&format!("{family}{FILE_SUFFIX}"));
    }
    base.extend(over);
}

/// A TOML file of `key = value` lines; arrays become comma-separated lists.
pub(crate) fn read_toml(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_err = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.message().to_owned()))?;
    table
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => return Err(file_err(format!("unsupported value for {k}: {other}"))),
            };
            Ok((k.to_lowercase(), s))
        })
        .collect()
}

/// Raw values by key name with the `_FILE` secrets read; every lookup goes through a [`Key`]
/// of the table, and an empty value counts as unset.
pub(crate) struct Values {
    map: BTreeMap<String, String>,
    /// Keys whose value came from a `_FILE`, so that errors name where it came from.
    from_file: Vec<&'static str>,
    unknown: Vec<String>,
    /// Keys set explicitly to the empty value (for most keys the same as unset; a key whose
    /// empty value means "off" asks with [`Values::is_off`]).
    emptied: Vec<&'static str>,
    /// Every key the parser asked for (the test that the table and the parser agree).
    #[cfg(test)]
    pub(crate) read: std::cell::RefCell<std::collections::BTreeSet<&'static str>>,
}

impl Values {
    /// Reads the `_FILE` secrets of `raw` and sets aside unknown keys.
    pub(crate) fn resolve(raw: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut values = Self {
            map: BTreeMap::new(),
            from_file: Vec::new(),
            unknown: Vec::new(),
            emptied: Vec::new(),
            #[cfg(test)]
            read: std::cell::RefCell::default(),
        };
        for (name, value) in raw {
            if let Some(base) = name.strip_suffix(FILE_SUFFIX) {
                let key = secret_of_file_key(base)?;
                if raw.get(base).is_some_and(|v| !v.is_empty()) {
                    return Err(ConfigError::Invalid {
                        var: key.file_var(),
                        reason: format!("{} is set too; give one of them", key.var()),
                    });
                }
                values
                    .map
                    .insert(key.name.to_owned(), read_secret(key, value)?);
                values.from_file.push(key.name);
            } else if keys::find(name).is_none() {
                values.unknown.push(keys::var_name(name));
            } else if !value.is_empty() {
                values.map.insert(name.clone(), value.clone());
            } else if let Some(key) = keys::find(name) {
                values.emptied.push(key.name);
            }
        }
        Ok(values)
    }

    /// `AUTHD_*` names given but not in the key table, to warn about.
    pub(crate) fn unknown_keys(&self) -> Vec<String> {
        self.unknown.clone()
    }

    /// Whether `key` was set to the empty value (which turns its feature off).
    pub(crate) fn is_off(&self, key: &Key) -> bool {
        #[cfg(test)]
        self.read.borrow_mut().insert(key.name);
        self.emptied.contains(&key.name)
    }

    /// The value set, else the table's literal default; `None` when neither.
    pub(crate) fn text(&self, key: &Key) -> Option<&str> {
        #[cfg(test)]
        self.read.borrow_mut().insert(key.name);
        match (self.map.get(key.name), key.default) {
            (Some(v), _) => Some(v),
            (None, Shown::Value(v)) => Some(v),
            (None, Shown::Empty | Shown::Computed(_)) => None,
        }
    }

    /// As a secret.
    pub(crate) fn secret(&self, key: &Key) -> Option<SecretString> {
        self.text(key).map(SecretString::from)
    }

    /// Parsed (surrounding whitespace ignored); `None` when unset without a default.
    pub(crate) fn parse<T: FromStr>(&self, key: &Key) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(key)
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|e: T::Err| self.invalid(key, format!("{s:?}: {e}")))
            })
            .transpose()
    }

    /// Parsed; a key without a literal default must then be set.
    pub(crate) fn require<T: FromStr>(&self, key: &Key) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.parse(key)?
            .ok_or_else(|| self.invalid(key, "must be set".into()))
    }

    /// `require`d, and within `lo..=hi` (a value outside stops start-up, as any bad one:
    /// a huge count or number of seconds would overflow the arithmetic that uses it and turn
    /// the protection it sets off).
    pub(crate) fn within<T>(&self, key: &Key, lo: T, hi: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
        T::Err: std::fmt::Display,
    {
        let n: T = self.require(key)?;
        if n < lo || n > hi {
            return Err(self.invalid(key, format!("must be between {lo} and {hi}")));
        }
        Ok(n)
    }

    /// The text as given (not trimmed); a key without a literal default must then be set.
    pub(crate) fn required_text(&self, key: &Key) -> Result<String, ConfigError> {
        self.text(key)
            .map(str::to_owned)
            .ok_or_else(|| self.invalid(key, "must be set".into()))
    }

    /// One of the named `options`.
    pub(crate) fn choice<T: Copy>(
        &self,
        key: &Key,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let raw = self.text(key).unwrap_or_default();
        options
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                self.invalid(key, format!("{raw:?} is not one of {}", names.join(", ")))
            })
    }

    /// An error naming the key, and its `_FILE` when the value came from one.
    pub(crate) fn invalid(&self, key: &Key, reason: String) -> ConfigError {
        let var = if self.from_file.contains(&key.name) {
            format!("{} (read from {})", key.var(), key.file_var())
        } else {
            key.var()
        };
        ConfigError::Invalid { var, reason }
    }
}

/// The secret that `<base>_FILE` stands for; any other `_FILE` is refused, naming it.
fn secret_of_file_key(base: &str) -> Result<&'static Key, ConfigError> {
    let refuse = |why: String| {
        let secrets: Vec<String> = keys::ALL
            .iter()
            .filter(|k| k.secret)
            .map(Key::var)
            .collect();
        ConfigError::Invalid {
            var: keys::var_name(&format!("{base}{FILE_SUFFIX}")),
            reason: format!("{why}; only {} can be read from a file", secrets.join(", ")),
        }
    };
    match keys::find(base) {
        Some(key) if key.secret => Ok(key),
        Some(key) => Err(refuse(format!("{} is not a secret", key.var()))),
        None => Err(refuse("unknown variable".into())),
    }
}

/// The content of the file at `path` for `key`, trailing newline and whitespace trimmed. An
/// empty path or file is refused: an operator who names a file expects its secret used.
fn read_secret(key: &Key, path: &str) -> Result<String, ConfigError> {
    let fail = |reason: String| ConfigError::SecretFile {
        var: key.file_var(),
        path: path.to_owned(),
        reason,
    };
    if path.is_empty() {
        return Err(fail("no file named".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    match text.trim_end() {
        "" => Err(fail("the file is empty".into())),
        value => Ok(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::Config;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A file holding `content` in a fresh temp dir (kept alive by the returned guard).
    fn secret_file(content: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, content).unwrap();
        (dir, path.display().to_string())
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        let e = Config::from_values(&map(pairs)).unwrap_err().to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    const KEY_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    #[test]
    fn every_secret_is_read_from_its_file_with_the_trailing_newline_trimmed() {
        let (_a, key) = secret_file(&format!("{KEY_B64}\n"));
        let (_b, smtp) = secret_file("smtp://mail.example:2525 \r\n");
        let (_c, captcha) = secret_file("s3cret\n\n");
        let (_d, db) = secret_file("postgres://authd:pw@db/authd\n");
        let c = Config::from_values(&map(&[
            ("master_key_file", &key),
            ("smtp_url_file", &smtp),
            ("captcha", "turnstile"),
            ("captcha_site_key", "site"),
            ("captcha_secret_file", &captcha),
            ("database_url_file", &db),
        ]))
        .unwrap();
        assert!(c.master_key.is_some(), "the signing keys will be sealed");
        assert_eq!(
            c.smtp_url.unwrap().expose_secret(),
            "smtp://mail.example:2525"
        );
        assert_eq!(c.captcha_secret.unwrap().expose_secret(), "s3cret");
        assert_eq!(c.database_url, "postgres://authd:pw@db/authd");
        assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
    }

    #[test]
    fn a_bad_value_in_a_file_names_the_variable_and_the_file_variable() {
        let (_d, path) = secret_file("c2hvcnQ=\n");
        let e = err(&[("master_key_file", &path)]);
        assert!(
            e.contains("AUTHD_MASTER_KEY (read from AUTHD_MASTER_KEY_FILE)"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_unreadable_or_empty_file_names_the_variable_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope").display().to_string();
        let (_e, empty) = secret_file(" \n");
        let here = dir.path().display().to_string(); // a directory: unreadable as a file
        for path in [&missing, &empty, &here] {
            let e = err(&[("master_key_file", path)]);
            assert!(e.contains("AUTHD_MASTER_KEY_FILE"), "{e}");
            assert!(e.contains(path.as_str()), "{e}");
        }
        assert!(err(&[("smtp_url_file", "")]).contains("AUTHD_SMTP_URL_FILE"));
    }

    #[test]
    fn a_file_for_a_key_that_is_not_a_secret_or_unknown_is_refused_naming_it() {
        let (_d, path) = secret_file("127.0.0.1:9\n");
        let e = err(&[("bind_file", &path)]);
        assert!(e.contains("AUTHD_BIND_FILE"), "{e}");
        assert!(e.contains("AUTHD_BIND is not a secret"), "{e}");
        assert!(e.contains("AUTHD_MASTER_KEY"), "says which may: {e}");
        let e = err(&[("bogus_file", &path)]);
        assert!(e.contains("AUTHD_BOGUS_FILE"), "{e}");
    }

    #[test]
    fn a_secret_and_its_file_together_are_refused_naming_both() {
        let (_d, path) = secret_file(KEY_B64);
        let e = err(&[("master_key", KEY_B64), ("master_key_file", &path)]);
        assert!(e.contains("AUTHD_MASTER_KEY_FILE"), "{e}");
        assert!(e.contains("AUTHD_MASTER_KEY is set too"), "{e}");
        // An empty value is unset, as everywhere.
        assert!(
            Config::from_values(&map(&[("master_key", ""), ("master_key_file", &path)]))
                .unwrap()
                .master_key
                .is_some()
        );
    }

    #[test]
    fn a_toml_file_names_secret_files_too() {
        let (dir, key) = secret_file(&format!("{KEY_B64}\n"));
        let toml = dir.path().join("authd.toml");
        std::fs::write(&toml, format!("master_key_file = {key:?}\n")).unwrap();
        let c = Config::from_values(&read_toml(&toml).unwrap()).unwrap();
        assert!(c.master_key.is_some());
    }

    #[test]
    fn the_environment_replaces_a_secret_of_the_file_whichever_form_each_uses() {
        let mut base = map(&[("master_key", "from-toml"), ("bind", "127.0.0.1:1")]);
        layer(&mut base, map(&[("master_key_file", "/run/secrets/key")]));
        assert_eq!(
            base,
            map(&[
                ("bind", "127.0.0.1:1"),
                ("master_key_file", "/run/secrets/key")
            ])
        );
        let mut base = map(&[("smtp_url_file", "/x")]);
        layer(&mut base, map(&[("smtp_url", "smtp://h")]));
        assert_eq!(base, map(&[("smtp_url", "smtp://h")]));
        // Both in one source stay both, and are refused.
        let mut base = BTreeMap::new();
        layer(
            &mut base,
            map(&[("master_key", "a"), ("master_key_file", "/b")]),
        );
        assert_eq!(base.len(), 2);
    }
}
