//! The `.eml` outbox: one file per message, named by its Message-ID, so a retry after a crash
//! overwrites the same file instead of adding a duplicate. Mail carries one-time links, so the
//! directory is created `0700` (an existing one is left as the operator made it) and each file
//! `0600`.

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
        let io = |e: std::io::Error| MailError::Transport(e.to_string());
        let mut dir = tokio::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        dir.mode(0o700);
        dir.create(&self.dir).await.map_err(io)?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        // A leftover from a crash may carry an older mode: start afresh.
        let _ = tokio::fs::remove_file(&tmp).await;
        let mut open = tokio::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        open.mode(0o600);
        let mut file = open.open(&tmp).await.map_err(io)?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &message.formatted())
            .await
            .map_err(io)?;
        file.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, self.dir.join(format!("{name}.eml")))
            .await
            .map_err(io)
    }
}
