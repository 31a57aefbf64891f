//! The simulated owners' mailboxes: the mail the server really delivered through its file
//! transport (`AUTHD_MAIL_DIR`, one `.eml` per message), read the way each owner reads their
//! own — the address-verification link after registering, the step-up's code after a risky
//! sign-in. Only owners read it: the simulator's attackers have the password, never the
//! victim's mailbox.
//!
//! Delivery is the server's: against a running server the mailbox polls the directory for a
//! few seconds; in tests a hook first lets the server deliver its queue (`Deliver`). Mail a
//! victim got while attackers tried the password (their step-up codes, the alerts) is marked
//! read in bulk (`catch_up`) before the owners sign in again, so an owner's code is the newest
//! unread one, arrived after their own attempt.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Lets the server deliver the mail it queued (tests drain the queue); `None`: the server's
/// worker delivers on its own and the mailbox polls.
pub type Deliver =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Every simulated address's mail.
pub(super) struct Mailbox {
    dir: PathBuf,
    deliver: Option<Deliver>,
    /// Files already read.
    seen: HashSet<std::ffi::OsString>,
    /// Recipient → its mails (decoded), in arrival order, and how many of them were read.
    inbox: HashMap<String, (Vec<String>, usize)>,
}

/// Quoted-printable soft breaks and the encoded `=` undone (what a mail client shows).
fn decode_qp(s: &str) -> String {
    s.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The recipient of a raw message (its `To:` header), lower-cased.
fn recipient(raw: &str) -> Option<String> {
    let line = raw
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("to:"))?;
    let addr = line.get(3..)?.trim();
    let addr = match (addr.find('<'), addr.rfind('>')) {
        (Some(a), Some(b)) if a < b => addr.get(a + 1..b)?,
        _ => addr,
    };
    Some(addr.trim().to_ascii_lowercase())
}

/// The path and query of the verification link in a mail.
pub(super) fn verify_link(mail: &str) -> Option<String> {
    let at = mail.find("/verify-email?token=")?;
    let link: String = mail
        .get(at..)?
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>'))
        .collect();
    Some(link)
}

/// The code of a step-up mail: its body's line holding six digits and nothing else (how the
/// mail shows it), in a mail that speaks of a code.
pub(super) fn sign_in_code(mail: &str) -> Option<String> {
    let body = mail.split_once("\r\n\r\n").map_or(mail, |(_, b)| b);
    if !body.to_ascii_lowercase().contains("code") {
        return None;
    }
    body.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

impl Mailbox {
    /// The mailbox of the server writing into `dir`.
    pub(super) fn new(dir: PathBuf, deliver: Option<Deliver>) -> Self {
        Self {
            dir,
            deliver,
            seen: HashSet::new(),
            inbox: HashMap::new(),
        }
    }

    /// Reads the files delivered since the last look.
    fn scan(&mut self) -> anyhow::Result<()> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            // Nothing delivered yet: the transport creates the directory with the first mail.
            return Ok(());
        };
        let mut new: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "eml")
                && !self.seen.contains(&entry.file_name())
            {
                self.seen.insert(entry.file_name());
                new.push((entry.metadata()?.modified()?, path));
            }
        }
        new.sort();
        for (_, path) in new {
            let raw = std::fs::read_to_string(&path)?;
            if let Some(to) = recipient(&raw) {
                self.inbox.entry(to).or_default().0.push(decode_qp(&raw));
            }
        }
        Ok(())
    }

    /// Lets the server deliver, then reads what arrived.
    async fn fetch(&mut self) -> anyhow::Result<()> {
        if let Some(d) = &self.deliver {
            d().await;
        }
        self.scan()
    }

    /// Marks every mail delivered so far as read (what attackers caused while the owners were
    /// away).
    pub(super) async fn catch_up(&mut self) -> anyhow::Result<()> {
        self.fetch().await?;
        for (mails, read) in self.inbox.values_mut() {
            *read = mails.len();
        }
        Ok(())
    }

    /// The newest unread mail to `to` from which `pick` reads something, waiting for the
    /// server to deliver it (a few seconds against a running server); marks `to`'s mail read.
    pub(super) async fn newest(
        &mut self,
        to: &str,
        pick: fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<String>> {
        let to = to.to_ascii_lowercase();
        for _ in 0..40 {
            self.fetch().await?;
            if let Some((mails, read)) = self.inbox.get_mut(&to) {
                let found = mails
                    .get(*read..)
                    .and_then(|m| m.iter().rev().find_map(|x| pick(x)));
                if found.is_some() {
                    *read = mails.len();
                    return Ok(found);
                }
            }
            if self.deliver.is_some() {
                // Delivered and still not there: it will not come.
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_recipient_the_link_and_the_code() {
        let raw = "From: authd <a@b>\r\nTo: Sim1@Example.com\r\nSubject: x\r\n\r\n";
        assert_eq!(recipient(raw).as_deref(), Some("sim1@example.com"));
        assert_eq!(recipient("To: <o@x.org>\r\n").as_deref(), Some("o@x.org"));
        let verify = decode_qp("open http://h/verify-email?token=3Dab=\r\ncd\r\n\r\nbye");
        assert_eq!(
            verify_link(&verify).as_deref(),
            Some("/verify-email?token=abcd")
        );
        let code = "Subject: Your sign-in code\r\nX-Id: <123456@h>\r\n\r\nYour sign-in code is:\r\n\r\n042917\r\n\r\nvalid for 10 minutes";
        assert_eq!(sign_in_code(code).as_deref(), Some("042917"));
        assert_eq!(sign_in_code("H: x\r\n\r\nConfirm it:\r\n123456\r\n"), None);
    }
}
