//! The builtin CAPTCHA's proof of work as an attacker's native solver sees it: the SHA-256
//! candidates per second a plain Rust search (the `sha2` crate, one core) runs, and the
//! expected time per answer at each work level (half of `max`). The browser's side is
//! `node benches/pow-worker.mjs` (the page's own worker code under V8).
//! Run with `cargo bench --bench pow`.

use std::io::Write;
use std::time::Instant;

use authd::domain::captcha::PowLevel;
use sha2::{Digest, Sha256};

fn solve(salt: &str, target: &[u8], max: u64) -> Option<u64> {
    let mut buf = Vec::with_capacity(64);
    (0..=max).find(|n| {
        buf.clear();
        buf.extend_from_slice(salt.as_bytes());
        let _ = write!(&mut buf, "{n}");
        Sha256::digest(&buf).as_slice() == target
    })
}

fn main() {
    let salt = "5f1c0e7a9b3d2c4e6f8a0b1c2d3e4f50";
    let n = 5_000_000u64;
    let target = Sha256::digest(format!("{salt}{n}").as_bytes());
    let started = Instant::now();
    assert_eq!(solve(salt, &target, n), Some(n));
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "native search: {:.2} M SHA-256 candidates/s (one core)",
        rate / 1e6
    );
    for level in 0..=3 {
        let l = PowLevel::for_history(2 * i64::from(level), 0, false);
        println!(
            "level {}: max {:>10}, expected native time per answer {:>8.1} ms",
            l.get(),
            l.max(),
            l.max() as f64 / 2.0 / rate * 1e3
        );
    }
}
