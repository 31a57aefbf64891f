//! Per-instance rate limits (governor, GCRA): bursts are cut at the door, before any password
//! hash or token work. Keys are the client network (IPv4 address, IPv6 /64 — one subscriber's
//! prefix — and, in aggregate, the IPv6 /48 — one site, which holds 65 536 /64s), the attempted
//! account, and the OAuth client. Counters that must hold across instances (failures per account
//! and source, locks) live in the database instead.
//!
//! The per-account budget never answers `429` by itself: the sign-in asks for a passed
//! challenge beyond it (and a known device does not draw from it), so an attacker spending it
//! cannot lock the owner out (`signin/mod.rs`).

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::Clock as GovernorClock;

use crate::domain::clock::{Clock, RateClock};
use crate::events::decision::Decision;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// What a limit is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A client network: the IPv4 address or the IPv6 /64.
    Net(IpAddr),
    /// An IPv6 /48 (a site): the aggregate of its /64s, so rotating /64s inside one site does
    /// not multiply the budget (`Limits::ipv6_48_factor` times a network's).
    Site(IpAddr),
    /// An attempted account (the normalised or typed username).
    Account(String),
    /// An account's own password checks on the security page (re-authentication, a change's
    /// current password), by account id: a key of its own, so no typed username (`Account`)
    /// can spend the owner's budget.
    Reauth(String),
    /// An OAuth client id.
    Client(String),
    /// A public OAuth client from one network: anyone can present a public client's id, so its
    /// budget is kept per network.
    ClientNet(String, IpAddr),
}

/// The network an address belongs to: the IPv4 address itself, or the IPv6 /64.
pub fn net_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            for s in seg.iter_mut().skip(4) {
                *s = 0;
            }
            IpAddr::from(seg)
        }
        v4 => v4,
    }
}

/// The /48 an IPv6 address belongs to; `None` for IPv4 (an IPv4 address is already scarce).
pub fn site_of(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            for s in seg.iter_mut().skip(3) {
                *s = 0;
            }
            Some(IpAddr::from(seg))
        }
        IpAddr::V4(_) => None,
    }
}

impl ThrottleKey {
    /// The network key of `ip`: IPv6 addresses are cut to their /64.
    pub fn net(ip: IpAddr) -> Self {
        Self::Net(net_of(ip))
    }

    /// Every network key of `ip`: its network, and for IPv6 also its /48 aggregate (checked
    /// first, so a refusal there spends nothing of the /64's budget).
    pub fn nets(ip: IpAddr) -> Vec<Self> {
        site_of(ip)
            .map(Self::Site)
            .into_iter()
            .chain([Self::net(ip)])
            .collect()
    }

    /// Which dimension, as the refusal event's decision.
    pub fn dimension(&self) -> Decision {
        match self {
            Self::Net(_) | Self::Site(_) => Decision::RateLimitedIp,
            Self::Account(_) | Self::Reauth(_) => Decision::RateLimitedAccount,
            Self::Client(_) | Self::ClientNet(..) => Decision::RateLimitedClient,
        }
    }
}

/// Which door a request knocks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `POST /login`.
    Login,
    /// `POST /register`.
    Register,
    /// `POST /token`.
    Token,
    /// A CAPTCHA shown up front on a form page to a browser without a session (showing it
    /// starts the session it lives in): per network (and IPv6 /48), a sign-in's budget of its
    /// own, so a flood of cookieless page loads writes a bounded number of session rows.
    ChallengeShown,
    /// A passwordless sign-in's ceremony started for a browser without a session (`POST
    /// /login/passkey/start`; it lives in the session it starts): per network (and /48), a
    /// budget apart from the CAPTCHA's, so a flood of one does not spend the other.
    CeremonyStarted,
}

/// Limits, in requests per minute with a burst.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sign-in attempts per network per minute (burst the same).
    pub login_per_ip: u32,
    /// Sign-in attempts per account per minute (burst the same); also the account's password
    /// checks a minute from its own devices that wait in the known lane (`known_lane_within`).
    pub login_per_account: u32,
    /// Sign-in attempts per minute with device cookies of one account, on names the cookie is
    /// not confirmed for, that take the hash pool's known lane's room at the door; beyond it
    /// they wait like anyone's (never refused for it).
    pub login_per_device: u32,
    /// Registrations per network per minute.
    pub register_per_ip: u32,
    /// Token requests per authenticated client per minute (public clients: per network).
    pub token_per_client: u32,
    /// Failed client authentications per client id and network per minute.
    pub token_auth_failures: u32,
    /// An IPv6 /48's budget at the sign-in, reset and register doors, in all its /64s: this
    /// many times a network's.
    pub ipv6_48_factor: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_ip: 30,
            login_per_account: 30,
            login_per_device: 30,
            register_per_ip: 10,
            token_per_client: 6000,
            token_auth_failures: 10,
            ipv6_48_factor: 4,
        }
    }
}

type Keyed<C, K = ThrottleKey> = RateLimiter<
    K,
    DefaultKeyedStateStore<K>,
    C,
    governor::middleware::NoOpMiddleware<<C as GovernorClock>::Instant>,
>;

/// A device cookie's device and a typed name, as a keyed hash (`Throttle::device_pair`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicePair(u64);

/// How many confirmed pairs a generation holds: at most twice this many are kept.
const PAIRS_PER_GENERATION: usize = 4096;

/// Device-and-name pairs the sign-in lookup confirmed, as 64-bit hashes under a per-process
/// random key (`Throttle::pair_hasher`), in two generations: when the current one is full it becomes the previous one
/// (the older is dropped), so the newest pairs are always kept and memory stays bounded.
#[derive(Default)]
struct KnownPairs {
    current: std::collections::HashSet<u64>,
    previous: std::collections::HashSet<u64>,
}

impl KnownPairs {
    fn contains(&self, pair: u64) -> bool {
        self.current.contains(&pair) || self.previous.contains(&pair)
    }

    fn remove(&mut self, pair: u64) {
        self.current.remove(&pair);
        self.previous.remove(&pair);
    }

    fn insert(&mut self, pair: u64) {
        if self.current.contains(&pair) {
            return;
        }
        if self.current.len() >= PAIRS_PER_GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(pair);
    }
}

/// The limiters. Cheap to clone. The buckets run on the injected clock (`RateClock`), so a test
/// with a `FakeClock` sees a budget refill only when it advances the clock, whatever the speed
/// of the machine.
#[derive(Clone)]
pub struct Throttle<C: GovernorClock = RateClock> {
    login_ip: Arc<Keyed<C>>,
    login_account: Arc<Keyed<C>>,
    login_site: Arc<Keyed<C>>,
    /// The known lane's budget at the door of a validly signed device cookie's account and
    /// epoch (`DeviceClaim::owner_at_epoch`), on names it is not confirmed for.
    login_device: Arc<Keyed<C, String>>,
    /// The known lane's budget after the lookup, per account id (`known_lane_within`).
    known_lane: Arc<Keyed<C, String>>,
    /// Device-and-name pairs the lookup confirmed (they skip the budget).
    pairs: Arc<std::sync::Mutex<KnownPairs>>,
    pair_hasher: std::hash::RandomState,
    register_ip: Arc<Keyed<C>>,
    register_site: Arc<Keyed<C>>,
    token_client: Arc<Keyed<C>>,
    shown_ip: Arc<Keyed<C>>,
    shown_site: Arc<Keyed<C>>,
    ceremony_ip: Arc<Keyed<C>>,
    ceremony_site: Arc<Keyed<C>>,
    clock: C,
}

impl<C: GovernorClock> std::fmt::Debug for Throttle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle")
    }
}

impl Throttle {
    /// Builds the limiters on the injected clock.
    pub fn new(limits: Limits, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self::with_clock(limits, RateClock(clock))
    }
}

impl<C: GovernorClock + Clone> Throttle<C> {
    /// Builds the limiters on `clock`.
    pub fn with_clock(limits: Limits, clock: C) -> Self {
        let quota = |per_minute: u32| {
            Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
        };
        let limiter = |per_minute: u32| {
            Arc::new(RateLimiter::new(
                quota(per_minute),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ))
        };
        Self {
            login_ip: limiter(limits.login_per_ip),
            login_account: limiter(limits.login_per_account),
            login_site: limiter(limits.login_per_ip.saturating_mul(limits.ipv6_48_factor)),
            login_device: Arc::new(RateLimiter::new(
                quota(limits.login_per_device),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            )),
            known_lane: Arc::new(RateLimiter::new(
                quota(limits.login_per_account),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            )),
            pairs: Arc::default(),
            pair_hasher: std::hash::RandomState::new(),
            register_ip: limiter(limits.register_per_ip),
            register_site: limiter(limits.register_per_ip.saturating_mul(limits.ipv6_48_factor)),
            token_client: limiter(limits.token_per_client),
            shown_ip: limiter(limits.login_per_ip),
            shown_site: limiter(limits.login_per_ip.saturating_mul(limits.ipv6_48_factor)),
            ceremony_ip: limiter(limits.login_per_ip),
            ceremony_site: limiter(limits.login_per_ip.saturating_mul(limits.ipv6_48_factor)),
            clock,
        }
    }

    /// Spends one request at `door` for every key; on refusal, the key that refused and the
    /// whole seconds until a retry can pass.
    pub fn check(&self, door: Door, keys: &[ThrottleKey]) -> Result<(), (ThrottleKey, u64)> {
        for key in keys {
            let limiter = match (door, key) {
                (Door::Login, ThrottleKey::Account(_) | ThrottleKey::Reauth(_)) => {
                    &self.login_account
                }
                (Door::Login, ThrottleKey::Site(_)) => &self.login_site,
                (Door::Login, _) => &self.login_ip,
                (Door::Register, ThrottleKey::Site(_)) => &self.register_site,
                (Door::Register, _) => &self.register_ip,
                (Door::Token, _) => &self.token_client,
                (Door::ChallengeShown, ThrottleKey::Site(_)) => &self.shown_site,
                (Door::ChallengeShown, _) => &self.shown_ip,
                (Door::CeremonyStarted, ThrottleKey::Site(_)) => &self.ceremony_site,
                (Door::CeremonyStarted, _) => &self.ceremony_ip,
            };
            if let Err(not_until) = limiter.check_key(key) {
                let wait = not_until.wait_time_from(self.clock.now());
                metrics::counter!("authd_rate_limited_total", "door" => format!("{door:?}"))
                    .increment(1);
                return Err((key.clone(), wait.as_secs().max(1)));
            }
        }
        Ok(())
    }

    /// The pair of a validly signed device cookie's `device` and a typed (normalised) `name`.
    pub fn device_pair(&self, device: &str, name: &str) -> DevicePair {
        DevicePair(self.pair_hasher.hash_one((device, name)))
    }

    /// Whether the sign-in lookup last found `pair` to belong together (`settle_pair`: the
    /// device cookie is the named account's, at its epoch).
    pub fn pair_confirmed(&self, pair: DevicePair) -> bool {
        self.pairs().contains(pair.0)
    }

    /// Whether an attempt with a device cookie may take the known lane's room at the door:
    /// yes for a `pair` the sign-in lookup last found to belong together (`settle_pair`: the
    /// cookie is the named account's, at its epoch), else while the budget of the cookie's
    /// claimed account and epoch (`owner`: every cookie it issued shares it) lasts, one spent
    /// per attempt. Past it those attempts wait like anyone's; nothing is refused or counted
    /// as rate limited for it. So a flood that reuses cookies of its own account on other
    /// names meets the full queue at the door like any other, while the owner's browser keeps
    /// its place on the owner's name (the pairs are bounded and per instance; one pushed out
    /// or forgotten at a restart spends the budget again until the lookup settles it).
    pub fn device_within(&self, owner: &str, pair: DevicePair) -> bool {
        self.pair_confirmed(pair) || self.login_device.check_key(&owner.to_owned()).is_ok()
    }

    /// Whether a password check of `account_id` from one of its own devices (the lookup found
    /// the cookie to be the account's) may wait in the hash pool's known lane: at most
    /// `login_per_account` a minute per account on this instance, whatever devices or networks
    /// the checks come from; past it they wait in the ordinary lane like anyone's (nothing is
    /// refused). An attacker's own accounts, signed in over and over with their own cookies,
    /// thus take at most that many known places a minute each: filling the room the owners'
    /// browsers rely on during a flood takes as many accounts as the pool hashes a minute
    /// divided by the budget, not one per place.
    pub fn known_lane_within(&self, account_id: &str) -> bool {
        self.known_lane.check_key(&account_id.to_owned()).is_ok()
    }

    /// What the lookup found of `pair`: remembered when the cookie `belongs` to the named
    /// account, forgotten when not (an epoch moved on by a reset or "wasn't you?"). Bounded:
    /// the newest pairs are kept.
    pub fn settle_pair(&self, pair: Option<DevicePair>, belongs: bool) {
        let Some(DevicePair(pair)) = pair else { return };
        let mut pairs = self.pairs();
        if belongs {
            pairs.insert(pair);
        } else {
            pairs.remove(pair);
        }
    }

    fn pairs(&self) -> std::sync::MutexGuard<'_, KnownPairs> {
        self.pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops keys whose budget is full again, bounding memory under many distinct keys; run
    /// periodically.
    pub fn evict_idle(&self) -> usize {
        let mut left = 0;
        for l in [
            &self.login_ip,
            &self.login_account,
            &self.login_site,
            &self.register_ip,
            &self.register_site,
            &self.token_client,
            &self.shown_ip,
            &self.shown_site,
        ] {
            l.retain_recent();
            l.shrink_to_fit();
            left += l.len();
        }
        for l in [&self.login_device, &self.known_lane] {
            l.retain_recent();
            l.shrink_to_fit();
            left += l.len();
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_typed_name_spends_an_accounts_reauthentication_budget() {
        let t = Throttle::with_clock(
            Limits {
                login_per_account: 2,
                ..Limits::default()
            },
            governor::clock::FakeRelativeClock::default(),
        );
        let typed = [ThrottleKey::Account("reauth:u1".into())];
        while t.check(Door::Login, &typed).is_ok() {}
        assert!(
            t.check(Door::Login, &[ThrottleKey::Reauth("u1".into())])
                .is_ok()
        );
    }

    #[test]
    fn the_known_lane_is_bounded_per_account() {
        let t = Throttle::with_clock(
            Limits {
                login_per_account: 2,
                ..Limits::default()
            },
            governor::clock::FakeRelativeClock::default(),
        );
        assert!(t.known_lane_within("a") && t.known_lane_within("a"));
        assert!(
            !t.known_lane_within("a"),
            "past the budget: the ordinary lane"
        );
        assert!(t.known_lane_within("b"), "another account has its own");
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let a = ThrottleKey::net("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ThrottleKey::net("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = ThrottleKey::net("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            ThrottleKey::net("192.0.2.7".parse().unwrap()),
            ThrottleKey::Net("192.0.2.7".parse().unwrap())
        );
    }

    #[test]
    fn many_64s_of_one_48_share_its_aggregate_budget() {
        let t = Throttle::with_clock(
            Limits {
                login_per_ip: 2,
                ipv6_48_factor: 3,
                ..Limits::default()
            },
            governor::clock::FakeRelativeClock::default(),
        );
        // Each /64 of 2001:db8:7::/48 stays within its own budget of 2 …
        let mut passed = 0;
        for i in 0..10u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 7, i, 0, 0, 0, 1]);
            if t.check(Door::Login, &ThrottleKey::nets(ip)).is_ok() {
                passed += 1;
            }
        }
        // … but the site as a whole gets 3 × 2.
        assert_eq!(passed, 6);
        let other_site = IpAddr::from([0x2001, 0xdb8, 8, 0, 0, 0, 0, 1]);
        assert!(t.check(Door::Login, &ThrottleKey::nets(other_site)).is_ok());
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(ThrottleKey::nets(v4), vec![ThrottleKey::Net(v4)]);
        assert_eq!(
            site_of("2001:db8:1:2:3::9".parse().unwrap()),
            Some("2001:db8:1::".parse().unwrap())
        );
    }

    #[test]
    fn bursts_are_cut_and_keys_are_independent() {
        let t = Throttle::with_clock(
            Limits {
                login_per_ip: 3,
                ..Limits::default()
            },
            governor::clock::FakeRelativeClock::default(),
        );
        let ip = ThrottleKey::net("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(t.check(Door::Login, std::slice::from_ref(&ip)).is_ok());
        }
        let (key, retry) = t.check(Door::Login, std::slice::from_ref(&ip)).unwrap_err();
        assert_eq!(key, ip);
        assert!((1..=60).contains(&retry));
        let other = ThrottleKey::net("192.0.2.2".parse().unwrap());
        assert!(t.check(Door::Login, &[other]).is_ok());
    }

    #[test]
    fn a_device_s_known_lane_budget_runs_out_and_refills() {
        let clock = governor::clock::FakeRelativeClock::default();
        let limits = Limits {
            login_per_device: 2,
            ..Limits::default()
        };
        let t = Throttle::with_clock(limits, clock.clone());
        let within =
            |device: &str, name: &str| t.device_within(device, t.device_pair(device, name));
        assert!(within("dev-a", "x") && within("dev-a", "y"));
        assert!(!within("dev-a", "z"), "a third in the minute");
        assert!(within("dev-b", "z"), "devices are independent");
        // Not a rate-limit refusal: the network's own budget is untouched.
        let ip = ThrottleKey::net("192.0.2.1".parse().unwrap());
        assert!(t.check(Door::Login, &[ip]).is_ok());
        // A pair the lookup confirmed passes however often, and only that pair.
        t.settle_pair(Some(t.device_pair("dev-a", "owner")), true);
        assert!((0..10).all(|_| within("dev-a", "owner")));
        assert!(!within("dev-a", "x"));
        // Another device on that name spends its own budget (its last one, then none).
        assert!(within("dev-b", "owner") && !within("dev-b", "owner"));
        // A pair the lookup no longer finds together (an epoch moved on) is forgotten.
        t.settle_pair(Some(t.device_pair("dev-a", "owner")), false);
        assert!(!within("dev-a", "owner"));
        clock.advance(std::time::Duration::from_secs(30));
        assert!(within("dev-a", "x"), "one back after half a minute");
        clock.advance(std::time::Duration::from_secs(120));
        assert_eq!(t.evict_idle(), 0, "full budgets are forgotten");
    }

    #[test]
    fn confirmed_pairs_are_bounded_and_the_newest_kept() {
        let mut pairs = KnownPairs::default();
        for p in 0..(3 * PAIRS_PER_GENERATION as u64) {
            pairs.insert(p);
        }
        assert!(pairs.current.len() + pairs.previous.len() <= 2 * PAIRS_PER_GENERATION);
        assert!(pairs.contains(3 * PAIRS_PER_GENERATION as u64 - 1));
        assert!(pairs.contains(2 * PAIRS_PER_GENERATION as u64));
        assert!(!pairs.contains(0), "the oldest generation is dropped");
        // A pair already kept does not turn a full generation over.
        let kept = pairs.previous.len();
        pairs.insert(3 * PAIRS_PER_GENERATION as u64 - 1);
        assert_eq!(pairs.previous.len(), kept);
    }

    #[test]
    fn memory_is_bounded_by_eviction() {
        let clock = governor::clock::FakeRelativeClock::default();
        let t = Throttle::with_clock(Limits::default(), clock.clone());
        for i in 0..10_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(t.check(Door::Login, &[ThrottleKey::net(ip)]).is_ok());
            assert!(
                t.check(Door::ChallengeShown, &[ThrottleKey::net(ip)])
                    .is_ok()
            );
        }
        // A key whose budget is not yet full again is kept (forgetting it would reset a limit).
        assert_eq!(t.evict_idle(), 20_000);
        // Once every budget has refilled, every key goes.
        clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(t.evict_idle(), 0);
    }
}
