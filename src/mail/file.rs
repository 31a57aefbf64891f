//! The `.eml` outbox: one file per message, named by its Message-ID, so a retry after a crash
//! overwrites the same file instead of adding a duplicate.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::mail::{MailError, Mailer, OutgoingMail, build_message};

/// Writes mail to a directory.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: lettre::message::Mailbox,
}

impl FileMailer {
    /// A mailer writing into `dir` (created on first use).
    pub fn new(dir: PathBuf, from: lettre::message::Mailbox) -> Self {
        Self { dir, from }
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, mail)?;
        let name: String = mail
            .message_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            .collect();
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MailError::Transport(e.to_string()))?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, message.formatted())
            .await
            .map_err(|e| MailError::Transport(e.to_string()))?;
        tokio::fs::rename(&tmp, self.dir.join(format!("{name}.eml")))
            .await
            .map_err(|e| MailError::Transport(e.to_string()))
    }
}
