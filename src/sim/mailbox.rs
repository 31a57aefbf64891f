//! The owners' mailboxes: the server's file outbox (`AUTHD_MAIL_DIR`, one `.eml` file per
//! message), read by the simulated owners only — the attackers of the simulation have no access
//! to their victims' mail (the simulator only looks, without reading it for anyone, so that an
//! attacker's guess is never the mailed code). Each message is handed out once, so an owner
//! never answers with a code mailed for an earlier sign-in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

/// How long to wait for a message the server queued (its mail worker delivers within
/// `AUTHD_MAIL_POLL_MS`).
const WAIT: Duration = Duration::from_secs(30);

/// The outbox directory and the messages already read.
pub(super) struct Mailbox {
    dir: PathBuf,
    read: HashSet<PathBuf>,
}

impl Mailbox {
    /// Reads `dir`.
    pub(super) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            read: HashSet::new(),
        }
    }

    /// The newest unread message to `to` written at or after `since` whose decoded text
    /// contains `marker`, waiting for it (bounded); marked read. `since` keeps an owner from
    /// answering with a code mailed earlier for someone else's attempt on the account (an
    /// attacker's step-up mails the owner too, and nobody reads that one).
    pub(super) async fn wait_for(
        &mut self,
        to: &str,
        marker: &str,
        since: SystemTime,
    ) -> anyhow::Result<String> {
        let (path, text) = self.wait_newest(to, marker, since).await?;
        self.read.insert(path);
        Ok(text)
    }

    /// As [`Self::wait_for`], but the message stays unread: the simulator looks, the owner
    /// still finds it.
    pub(super) async fn peek(
        &self,
        to: &str,
        marker: &str,
        since: SystemTime,
    ) -> anyhow::Result<String> {
        Ok(self.wait_newest(to, marker, since).await?.1)
    }

    async fn wait_newest(
        &self,
        to: &str,
        marker: &str,
        since: SystemTime,
    ) -> anyhow::Result<(PathBuf, String)> {
        let started = std::time::Instant::now();
        loop {
            if let Some(found) = self.newest(to, marker, since)? {
                return Ok(found);
            }
            if started.elapsed() > WAIT {
                bail!("no mail to {to} with {marker:?} within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The newest unread match now, if any.
    fn newest(
        &self,
        to: &str,
        marker: &str,
        since: SystemTime,
    ) -> anyhow::Result<Option<(PathBuf, String)>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(None);
        };
        let header = format!("To: {to}");
        let mut found: Option<(SystemTime, PathBuf, String)> = None;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_none_or(|x| x != "eml") || self.read.contains(&path) {
                continue;
            }
            let modified = std::fs::metadata(&path)?.modified()?;
            if modified < since {
                continue;
            }
            let raw = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let text = decode_qp(&raw);
            if !text.lines().any(|l| l.trim_end() == header) || !text.contains(marker) {
                continue;
            }
            if found.as_ref().is_none_or(|(m, _, _)| modified >= *m) {
                found = Some((modified, path, text));
            }
        }
        Ok(found.map(|(_, p, t)| (p, t)))
    }
}

/// Quoted-printable soft line breaks and `=XX` escapes undone (enough for codes and links).
fn decode_qp(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'=', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The six-digit code after "code is:" in a code mail.
pub(super) fn code_in(mail: &str) -> Option<String> {
    let after = mail.get(mail.find("code is:")?..)?;
    let start = after.find(|c: char| c.is_ascii_digit())?;
    let code: String = after.get(start..)?.chars().take(6).collect();
    (code.len() == 6 && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
}

/// The token of the first `/verify-email?token=` link in a mail.
pub(super) fn verify_token_in(mail: &str) -> Option<String> {
    let marker = "/verify-email?token=";
    let after = mail.get(mail.find(marker)? + marker.len()..)?;
    let token: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '%'))
        .collect();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undoes_quoted_printable() {
        assert_eq!(decode_qp("a=3Db=\r\nc=C3=A9"), "a=bcé");
        assert_eq!(decode_qp("=ZZ="), "=ZZ=");
    }

    #[test]
    fn finds_the_code_and_the_link() {
        assert_eq!(
            code_in("Your sign-in code is:\n\n  042917\n").as_deref(),
            Some("042917")
        );
        assert_eq!(code_in("code is: 12a"), None);
        assert_eq!(
            verify_token_in("go to https://x/verify-email?token=Ab_9-z\" now").as_deref(),
            Some("Ab_9-z")
        );
        assert_eq!(verify_token_in("nothing"), None);
    }
}
