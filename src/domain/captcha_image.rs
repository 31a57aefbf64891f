//! The built-in CAPTCHA's image: five characters under noise and a wave, as a PNG data URI.
//! Drawing and encoding one costs milliseconds of CPU, and a sign-in flood asks for one per
//! refused attempt: drawn on a request thread, they held the token endpoint's and userinfo's
//! requests queued behind them. So images are drawn on one thread of their own, at the hash
//! threads' low priority (`accounts::hash_workers::lower_own_priority`), and a request waits
//! for its image without holding a request thread. When that thread's queue is full, the
//! challenge goes without an image (the proof of work still answers it).

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use tokio::sync::oneshot;

/// Images waiting to be drawn, at most; beyond it a challenge has no image.
const QUEUE: usize = 256;

/// A drawn challenge image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The characters, upper case.
    pub answer: String,
    /// `data:image/png;base64,…`.
    pub data_uri: String,
}

/// Draws one on the calling thread.
pub fn draw() -> Option<Image> {
    let mut c = captcha::Captcha::new();
    c.add_chars(5)
        .apply_filter(captcha::filters::Noise::new(0.2))
        .apply_filter(captcha::filters::Wave::new(2.0, 12.0))
        .view(220, 80);
    let answer = c.chars_as_string().to_uppercase();
    let b64 = c.as_base64()?;
    Some(Image {
        answer,
        data_uri: format!("data:image/png;base64,{b64}"),
    })
}

type Reply = oneshot::Sender<Option<Image>>;

/// The image thread's queue, the thread started on first use; `None` if it could not start.
fn queue() -> Option<&'static SyncSender<Reply>> {
    static QUEUE_TX: OnceLock<Option<SyncSender<Reply>>> = OnceLock::new();
    QUEUE_TX
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Reply>(QUEUE);
            std::thread::Builder::new()
                .name("authd-captcha".into())
                .spawn(move || {
                    crate::domain::accounts::hash_workers::lower_own_priority();
                    for reply in rx {
                        // A request that went away meanwhile is not drawn for.
                        if !reply.is_closed() {
                            let _ = reply.send(draw());
                        }
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Draws one on the image thread, waiting without holding the caller's thread. `None` when
/// the queue is full or drawing failed; on the calling thread when the image thread could
/// not be started.
pub async fn draw_off_thread() -> Option<Image> {
    draw_via(queue()).await
}

/// `draw_off_thread` on the given queue (a test's own).
async fn draw_via(tx: Option<&SyncSender<Reply>>) -> Option<Image> {
    let Some(tx) = tx else {
        return draw();
    };
    let (reply, image) = oneshot::channel();
    match tx.try_send(reply) {
        Ok(()) => image.await.ok().flatten(),
        Err(TrySendError::Full(_)) => {
            metrics::counter!("authd_captcha_images_skipped_total").increment(1);
            None
        }
        Err(TrySendError::Disconnected(_)) => draw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_skips_the_image_and_a_gone_thread_draws_here() {
        // A queue of one that nobody drains, already holding a request: full.
        let (tx, rx) = sync_channel::<Reply>(1);
        let (waiting, _answer) = oneshot::channel();
        tx.try_send(waiting).unwrap();
        assert!(
            draw_via(Some(&tx)).await.is_none(),
            "no image: the proof of work only"
        );
        // The image thread gone (its queue disconnected): drawn on the calling thread.
        drop(rx);
        let image = draw_via(Some(&tx)).await.expect("drawn here");
        assert_eq!(image.answer.len(), 5);
        assert!(
            draw_via(None).await.is_some(),
            "no thread at all: drawn here"
        );
    }

    #[tokio::test]
    async fn images_are_drawn_on_their_own_low_priority_thread() {
        let image = draw_off_thread().await.expect("an image");
        assert_eq!(image.answer.len(), 5);
        assert!(image.data_uri.starts_with("data:image/png;base64,"));
        // Two draws differ (fresh characters each time).
        let other = draw_off_thread().await.expect("an image");
        assert_ne!(image.data_uri, other.data_uri);
        #[cfg(target_os = "linux")]
        {
            let thread = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(Result::ok)
                .find(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "authd-captcha")
                })
                .expect("the image thread");
            let tid: i32 = thread.file_name().to_string_lossy().parse().unwrap();
            let pid = rustix::process::Pid::from_raw(tid).unwrap();
            let nice = rustix::process::getpriority_process(Some(pid)).unwrap();
            assert!(nice >= 10, "{nice}");
        }
    }
}
