//! Fuzz targets for every parser an attacker reaches (issue 15): form bodies, JWT headers and
//! payloads, redirect URIs, `X-Forwarded-For` and the authorize query. Each target is a
//! proptest property run against the real server, with a fixed budget and a fixed seed so a CI
//! run is reproducible; a failure prints the seed and the shrunk input.
//!
//! Budget: `AUTHD_FUZZ_CASES` cases per target (default 256); `AUTHD_FUZZ_SEED` (a number,
//! default 0) picks another deterministic sequence, e.g. for a longer local campaign:
//! `AUTHD_FUZZ_CASES=5000 AUTHD_FUZZ_SEED=7 cargo test --test api fuzz`.

use std::collections::BTreeMap;

use authd::config::{CaptchaKind, Config};
use std::future::Future;

use proptest::prelude::{Strategy, any, prop_oneof};
use proptest::sample::select;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};
use sha2::Digest;

use crate::helpers::{Page, TestApp, read, spawn_app_with};

mod authorize;
mod forms;
mod forwarded;
mod jwt;
mod misc;
mod redirects;

/// Cases per target unless `AUTHD_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 256;

fn cases() -> u32 {
    std::env::var("AUTHD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CASES)
}

/// The 32-byte ChaCha seed of `target`: fixed per target name and `AUTHD_FUZZ_SEED`.
fn seed(target: &str) -> [u8; 32] {
    let base = std::env::var("AUTHD_FUZZ_SEED").unwrap_or_else(|_| "0".into());
    sha2::Sha256::digest(format!("authd-fuzz/{base}/{target}").as_bytes()).into()
}

/// A server on its own multi-threaded runtime, so proptest's synchronous runner can drive
/// async requests with `block_on` (and shrink a failure against the same live server).
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub app: TestApp,
    /// A client without cookies and without redirects: an anonymous browser or a script.
    pub plain: reqwest::Client,
}

impl Harness {
    /// Starts a server configured for fuzzing (see [`fuzz_config`]) plus `adjust`.
    pub fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(spawn_app_with(|v| {
            fuzz_config(v);
            adjust(v);
        }));
        // No pooled connections: after an over-limit body the server closes the connection,
        // and reusing it would race that close (a spurious "connection closed" on the next case).
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .user_agent("authd-fuzz/1.0")
            .build()
            .unwrap();
        Self { rt, app, plain }
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Runs `check` on `cases()` values of `strategy`, deterministically seeded by `target`.
    /// A failure panics with the target, the seed and the shrunk input.
    pub fn run<S>(&self, target: &str, strategy: S, check: impl Fn(&Self, S::Value) -> Verdict)
    where
        S: Strategy,
        S::Value: std::fmt::Debug,
    {
        let config = ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            max_shrink_iters: 256,
            max_global_rejects: 100_000,
            ..ProptestConfig::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed(target));
        let mut runner = TestRunner::new_with_rng(config, rng);
        let started = std::time::Instant::now();
        if let Err(e) = runner.run(&strategy, |value| check(self, value)) {
            panic!(
                "fuzz target {target} failed (AUTHD_FUZZ_SEED={}): {}",
                std::env::var("AUTHD_FUZZ_SEED").unwrap_or_else(|_| "0".into()),
                shorten_lines(&e.to_string())
            );
        }
        if verbose() {
            let seen = std::mem::take(&mut *STATUSES.lock().unwrap());
            eprintln!(
                "fuzz target {target}: {} cases in {:?}; statuses {seen:?}",
                cases(),
                started.elapsed()
            );
        }
    }
}

/// What a check returns: `Err(TestCaseError::fail(..))` fails the property.
pub type Verdict = Result<(), TestCaseError>;

/// Fails the case with `msg` unless `cond` holds.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Verdict {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(msg()))
    }
}

/// `AUTHD_FUZZ_VERBOSE=1`: print each target's time and the statuses it saw (to check that
/// the inputs get past the outer checks).
fn verbose() -> bool {
    std::env::var("AUTHD_FUZZ_VERBOSE").is_ok()
}

/// (what, status) → count, for `AUTHD_FUZZ_VERBOSE` (shared by the targets running at once).
static STATUSES: std::sync::Mutex<BTreeMap<(String, u16), u32>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Every response: never a 5xx, never a stack trace or panic text in the body.
pub fn no_server_error(what: &str, page: &Page) -> Verdict {
    if verbose() {
        *STATUSES
            .lock()
            .unwrap()
            .entry((what.to_owned(), page.status.as_u16()))
            .or_default() += 1;
    }
    ensure(!page.status.is_server_error(), || {
        format!("{what}: {} {}", page.status, truncate(&page.body))
    })?;
    ensure(
        !page.body.contains("panicked at") && !page.body.contains("at src/"),
        || format!("{what}: internals in the body: {}", truncate(&page.body)),
    )
}

/// A failure report with each line cut to a readable length (inputs can be 80 000 chars).
fn shorten_lines(report: &str) -> String {
    report
        .lines()
        .map(|l| match l.char_indices().nth(400) {
            Some((cut, _)) => format!("{}… ({} chars)", &l[..cut], l.chars().count()),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Limits and costs out of the way, so the inputs reach the parsers behind them rather than a
/// 429 or a challenge; argon2 as cheap as the config allows (each case may hash once).
fn fuzz_config(c: &mut Config) {
    c.hash_params.memory_kib = 64;
    c.hash_params.iterations = 1;
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some("fuzz-answer".into());
    c.protection.challenge_after = 1_000_000;
    c.protection.block_after = 1_000_000;
    c.protection.lock_after = 1_000_000;
    c.rate_limits.login_per_ip = 1_000_000;
    c.rate_limits.login_per_account = 1_000_000;
    c.rate_limits.register_per_ip = 1_000_000;
    c.rate_limits.token_per_client = 1_000_000;
    c.risk.challenge_at = 1.0;
    c.risk.block_at = 1.0;
    c.protection.step_up_at = 1.0;
}

/// The `Location` header as the browser reads it (raw UTF-8 included).
pub fn location(page: &Page) -> String {
    page.headers
        .get("location")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// A `Location` that stays on this site: a single leading `/`, no scheme, no backslash and no
/// control characters (which browsers strip, turning `/\t/x` into `//x`).
pub fn is_local(location: &str) -> bool {
    location.starts_with('/')
        && !location.starts_with("//")
        && !location
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// Strings an attacker sends: arbitrary Unicode (control characters and NUL included),
/// plausible values, injection classics, and now and then a huge one.
pub fn nasty() -> impl Strategy<Value = String> + Clone {
    let classic = select(vec![
        "",
        "\0",
        "%00",
        "a\0b",
        "\u{202e}",
        "\u{feff}",
        "\r\n",
        "\t",
        "../../etc/passwd",
        "' OR 1=1--",
        "\"; DROP TABLE account;--",
        "<script>alert(1)</script>",
        "{{7*7}}",
        "${jndi:ldap://x}",
        "%",
        "%zz",
        "%ff%fe",
        "+",
        "&",
        "=",
        "é",
        "\u{1d54f}",
        "\u{fffd}",
        "null",
        "[]",
        "{}",
        "-1",
        "18446744073709551616",
        "NaN",
    ]);
    prop_oneof![
        4 => any::<String>(),
        3 => "[a-zA-Z0-9@._%+=&-]{0,40}",
        2 => classic.clone().prop_map(str::to_owned),
        2 => proptest::collection::vec(classic, 1..6).prop_map(|v| v.concat()),
        1 => (select(vec!["a", "\0", "é", "%", "\u{1d54f}"]), 1_000usize..80_000)
            .prop_map(|(c, n)| c.repeat(n)),
    ]
}

/// Arbitrary bytes, sometimes shaped like a form (`k=v&…` with stray `%` escapes).
pub fn raw_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(
            select(vec![
                &b"a"[..],
                b"=",
                b"&",
                b"%",
                b"%ff",
                b"%00",
                b"%C3%28",
                b"+",
                b"\xff\xfe",
                b"\xc3\x28",
                b"\x00",
                b"username",
                b"password",
                b"csrf_token",
                b"email",
                b"token",
            ]),
            0..64
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// The `Cookie` header a browser would send after `page` (its `Set-Cookie` name=value pairs),
/// so each case can be a fresh browser on the shared cookie-less client.
pub fn cookies_of(page: &Page) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The server's body limit (`authd::http::MAX_BODY`, 64 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// Sends `req` whose body (or, for header targets, headers) is `body_len` bytes. `None`:
/// nothing to judge, because the request could not be built (a URI over 64 KiB, a header value
/// with a NUL: nothing was sent) or the connection was closed before a response was read, which is acceptable only for a body over
/// the limit (the server answers 413 or 431 without reading the rest; a client still writing
/// may see a reset or a broken pipe instead).
pub async fn send(
    req: reqwest::RequestBuilder,
    body_len: usize,
) -> Result<Option<Page>, TestCaseError> {
    match req.send().await {
        Ok(resp) => Ok(Some(read(resp).await)),
        Err(e) if e.is_builder() || body_len > MAX_BODY => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!("request failed: {e:?}"))),
    }
}
