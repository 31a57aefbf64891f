//! The built-in CAPTCHA's image: five characters under noise and a wave, as PNG. Drawing and
//! encoding one costs about 17 M instructions, and a sign-in flood meets a challenge on every
//! refused attempt, so nothing is drawn when a challenge is issued: the page links the image
//! (`GET /captcha/image?c=ID`) and it is drawn when a browser fetches it — a bot that posts
//! forms and never loads images costs none. Each challenge's image is drawn once per process
//! (`Drawn`; one noisy rendering of a text, not several to average), on one thread of its own
//! at the hash threads' low priority (`accounts::hash_workers::lower_own_priority`), and a
//! request waits for it without holding a request thread. When that thread's queue is full
//! the fetch gets no image (the proof of work still answers the challenge).

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, OnceLock};

use tokio::sync::oneshot;

use crate::domain::clock::Random;

/// Images waiting to be drawn, at most; beyond it a fetch gets none.
const QUEUE: usize = 256;
/// Characters in an image.
const LENGTH: usize = 5;
/// Challenge ids remembered as drawn, at most (the oldest forgotten first).
const DRAWN_MAX: usize = 65_536;

/// The characters to draw for a new challenge, from the font's own (mixed case; the answer
/// is compared upper-cased), chosen with `random` (two bytes a character: the remainder's
/// bias over the font's few dozen characters is under 0.1 %).
pub fn text(random: &dyn Random) -> String {
    static GLYPHS: OnceLock<Vec<char>> = OnceLock::new();
    let glyphs = GLYPHS.get_or_init(|| captcha::Captcha::new().supported_chars());
    let mut bytes = [0u8; LENGTH * 2];
    random.fill(&mut bytes);
    bytes
        .chunks_exact(2)
        .filter_map(|b| {
            let i = usize::from(u16::from_le_bytes(b.try_into().ok()?));
            glyphs.get(i % glyphs.len().max(1)).copied()
        })
        .collect()
}

/// Draws `text` on the calling thread: PNG bytes, or `None` for a character the font lacks.
pub fn draw(text: &str) -> Option<Vec<u8>> {
    let mut c = captcha::Captcha::new();
    for ch in text.chars() {
        c.set_chars(&[ch]).add_char();
    }
    if c.chars_as_string() != text {
        return None;
    }
    c.apply_filter(captcha::filters::Noise::new(0.2))
        .apply_filter(captcha::filters::Wave::new(2.0, 12.0))
        .view(220, 80);
    c.as_png()
}

/// Which challenges' images were drawn in the last `ttl` seconds, by id (128 bits from its
/// hex), so that each is drawn once per process.
#[derive(Default)]
struct Drawn {
    inner: Mutex<Seen>,
}

/// When each id was drawn, and the same in drawing order (oldest first; an id forgotten and
/// drawn again has a stale entry there, skipped when it comes up).
#[derive(Default)]
struct Seen {
    ids: HashMap<u128, i64>,
    order: VecDeque<(i64, u128)>,
}

impl Drawn {
    /// Records `id` as drawn at `now`; false if it already was (within `ttl` seconds) or is
    /// not a challenge id (32 hex digits).
    fn first(&self, id: &str, now: i64, ttl: i64) -> bool {
        let Some(id) = key(id) else { return false };
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Seen { ids, order } = &mut *guard;
        while let Some(&(at, old)) = order.front()
            && (now - at > ttl || order.len() >= DRAWN_MAX)
        {
            if ids.get(&old) == Some(&at) {
                ids.remove(&old);
            }
            order.pop_front();
        }
        if ids.contains_key(&id) {
            return false;
        }
        ids.insert(id, now);
        order.push_back((now, id));
        true
    }

    /// Forgets `id` (its drawing failed: the page may fetch it again).
    fn forget(&self, id: &str) {
        if let Some(id) = key(id) {
            let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            guard.ids.remove(&id);
        }
    }
}

fn key(id: &str) -> Option<u128> {
    (id.len() == 32).then(|| u128::from_str_radix(id, 16).ok())?
}

/// The process's record of drawn challenges.
fn drawn() -> &'static Drawn {
    static DRAWN: OnceLock<Drawn> = OnceLock::new();
    DRAWN.get_or_init(Drawn::default)
}

/// Draws challenge `id`'s image, showing `text`, unless it was drawn in the last `ttl`
/// seconds; one not drawn after all (the image thread full, or the fetch gone meanwhile) is
/// forgotten, so the page may ask again.
pub async fn draw_once(id: &str, text: &str, now: i64, ttl: i64) -> Option<Vec<u8>> {
    /// Forgets the id when dropped still holding it.
    struct Undrawn<'a>(Option<&'a str>);
    impl Drop for Undrawn<'_> {
        fn drop(&mut self) {
            if let Some(id) = self.0 {
                drawn().forget(id);
            }
        }
    }
    if !drawn().first(id, now, ttl) {
        return None;
    }
    let mut undrawn = Undrawn(Some(id));
    let png = draw_off_thread(text).await;
    if png.is_some() {
        undrawn.0 = None;
    }
    png
}

type Job = (String, oneshot::Sender<Option<Vec<u8>>>);

/// The image thread's queue, the thread started on first use; `None` if it could not start.
fn queue() -> Option<&'static SyncSender<Job>> {
    static QUEUE_TX: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    QUEUE_TX
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            std::thread::Builder::new()
                .name("authd-captcha".into())
                .spawn(move || {
                    crate::domain::accounts::hash_workers::lower_own_priority();
                    for (text, reply) in rx {
                        // A request that went away meanwhile is not drawn for.
                        if !reply.is_closed() {
                            let _ = reply.send(draw(&text));
                        }
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Draws `text` on the image thread, waiting without holding the caller's thread. `None`
/// when the queue is full or drawing failed; on the calling thread when the image thread
/// could not be started.
async fn draw_off_thread(text: &str) -> Option<Vec<u8>> {
    draw_via(queue(), text).await
}

/// `draw_off_thread` on the given queue (a test's own).
async fn draw_via(tx: Option<&SyncSender<Job>>, text: &str) -> Option<Vec<u8>> {
    let Some(tx) = tx else {
        return draw(text);
    };
    let (reply, image) = oneshot::channel();
    match tx.try_send((text.to_owned(), reply)) {
        Ok(()) => image.await.ok().flatten(),
        Err(TrySendError::Full(_)) => {
            metrics::counter!("authd_captcha_images_skipped_total").increment(1);
            None
        }
        Err(TrySendError::Disconnected(_)) => draw(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

    #[tokio::test]
    async fn a_full_queue_skips_the_image_and_a_gone_thread_draws_here() {
        // A queue of one that nobody drains, already holding a request: full.
        let (tx, rx) = sync_channel::<Job>(1);
        let (waiting, _answer) = oneshot::channel();
        tx.try_send(("ABCDE".into(), waiting)).unwrap();
        assert!(
            draw_via(Some(&tx), "ABCDE").await.is_none(),
            "no image: the proof of work only"
        );
        // The image thread gone (its queue disconnected): drawn on the calling thread.
        drop(rx);
        let png = draw_via(Some(&tx), "ABCDE").await.expect("drawn here");
        assert!(png.starts_with(PNG));
        assert!(
            draw_via(None, "ABCDE").await.is_some(),
            "no thread at all: drawn here"
        );
    }

    #[test]
    fn the_text_is_the_fonts_and_only_it_is_drawn() {
        let fonts = captcha::Captcha::new().supported_chars();
        let a = text(&crate::domain::clock::OsRandom);
        assert_eq!(a.chars().count(), LENGTH);
        assert!(a.chars().all(|c| fonts.contains(&c)), "{a}");
        assert_ne!(
            a,
            text(&crate::domain::clock::OsRandom),
            "fresh characters each time"
        );
        assert!(draw(&a).is_some_and(|png| png.starts_with(PNG)));
        assert!(draw("AB€DE").is_none(), "a character the font lacks");
    }

    #[test]
    fn each_challenge_is_drawn_once_until_it_expires() {
        let drawn = Drawn::default();
        let id = |n: u32| format!("{n:032x}");
        assert!(drawn.first(&id(1), 100, 300));
        assert!(!drawn.first(&id(1), 150, 300), "a second fetch");
        assert!(drawn.first(&id(2), 150, 300));
        assert!(!drawn.first("not-an-id", 150, 300));
        // A drawing that failed is forgotten: the page may ask again.
        drawn.forget(&id(2));
        assert!(drawn.first(&id(2), 200, 300));
        // Past its lifetime the id is forgotten (its challenge no longer answers anyway).
        assert!(drawn.first(&id(1), 401, 300));
        // The forgotten drawing's old entry expiring does not forget the second drawing.
        assert!(drawn.first(&id(3), 451, 300));
        assert!(
            !drawn.first(&id(2), 451, 300),
            "drawn at 200, within its lifetime"
        );
        // The record stays bounded: the oldest go first, expired or not.
        for i in 0..DRAWN_MAX as u32 {
            assert!(drawn.first(&id(1000 + i), 500, 300));
        }
        let Seen { ids, order } = &*drawn.inner.lock().unwrap();
        assert_eq!((ids.len(), order.len()), (DRAWN_MAX, DRAWN_MAX));
        assert!(
            !ids.contains_key(&1),
            "evicted by the bound, not expired (drawn at 401)"
        );
    }

    #[tokio::test]
    async fn images_are_drawn_on_their_own_low_priority_thread() {
        let png = draw_off_thread("XY3ab").await.expect("an image");
        assert!(png.starts_with(PNG));
        // The same text twice differs (fresh noise each time): hence drawn once per challenge.
        let other = draw_off_thread("XY3ab").await.expect("an image");
        assert_ne!(png, other);
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
