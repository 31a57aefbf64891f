//! The risk engine's hot path with criterion: scoring one sign-in attempt, features included
//! (user-agent parsing, prefix, the Freeman ratios against a 30-sign-in profile, velocity,
//! the model's dot product), plus decoding the stored profile (what the one database read
//! returns). Run with `cargo bench --bench risk`.

use std::hint::black_box;

use authd::domain::risk::features::{Observed, Velocity, agent_tag, parse_agent, prefix_of};
use authd::domain::risk::geo::Place;
use authd::domain::risk::model::Model;
use authd::domain::risk::profile::Profile;
use authd::domain::risk::score::{Inputs, score};
use criterion::{Criterion, criterion_main};

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const HOME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn observe(ip: &str, ua: &str, at: i64) -> Observed {
    let ip = ip.parse().unwrap_or(std::net::IpAddr::from([192, 0, 2, 1]));
    Observed {
        prefix: prefix_of(ip),
        place: Place::default(),
        agent: parse_agent(ua),
        agent_tag: agent_tag(ua),
        hour: 10,
        at,
    }
}

fn bench(c: &mut Criterion) {
    let mut profile = Profile::default();
    for day in 0..30 {
        let home = format!("198.51.100.{}", 10 + day % 5);
        profile.observe(&observe(&home, HOME_UA, day * 86_400));
    }
    let json = serde_json::to_string(&profile).unwrap_or_default();
    let model = Model::prior();
    let velocity = Velocity {
        source_failures: 4,
        source_accounts: 2,
        ..Velocity::default()
    };
    c.bench_function("score one sign-in (features included)", |b| {
        b.iter(|| {
            let o = observe(black_box("203.0.113.9"), black_box(UA), 31 * 86_400);
            score(
                &model,
                &Inputs {
                    observed: &o,
                    profile: Some(&profile),
                    velocity,
                    known_device: false,
                },
            )
        });
    });
    c.bench_function("decode the stored profile", |b| {
        b.iter(|| serde_json::from_str::<Profile>(black_box(&json)).ok());
    });
    c.bench_function("model dot product only", |b| {
        let x = [0.5; authd::domain::risk::features::FEATURES];
        b.iter(|| model.score(black_box(&x)));
    });
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
