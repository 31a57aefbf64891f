//! The browser origins allowed to call authd's token, userinfo, revocation, JWKS and discovery
//! endpoints from another origin (CORS): exactly the origins (scheme, host, port) of the
//! **public**, enabled clients' registered redirect URIs. A confidential client keeps its
//! secret on a server and has no business calling from a browser; no wildcard is ever allowed.
//!
//! The set is read from the client table and cached: a bearer of CORS costs a read lock and a
//! hash lookup, never a query per request (requests without an `Origin` never ask). It is read
//! again at most every `TTL_SECS` seconds, and at once after any change made through this
//! process's `ClientService` (which calls `invalidate`). A change made elsewhere — `authd client
//! add|update|delete` runs as its own process, or another instance — takes effect here within
//! `TTL_SECS` (10 s) of the injected clock. Concurrent refreshes are collapsed into one query.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::storage::oauth::{ClientRecord, ClientStore};

/// How long the cached set is trusted when nothing in this process changed a client (seconds).
pub const TTL_SECS: i64 = 10;

/// The cached origins and when they were read (`None`: read them again).
#[derive(Debug, Default)]
struct Cached {
    origins: Arc<HashSet<String>>,
    loaded_at: Option<i64>,
}

/// The public clients' origins, cached.
pub struct CorsOrigins {
    store: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    cached: RwLock<Cached>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CorsOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CorsOrigins")
    }
}

/// The origins (`scheme://host[:port]`, as browsers send them) of the public clients' redirect
/// URIs; private-use schemes (native apps) have no web origin and give none.
pub fn origins_of(clients: &[ClientRecord]) -> HashSet<String> {
    clients
        .iter()
        .filter(|c| c.is_public && c.disabled_at.is_none())
        .filter_map(|c| serde_json::from_str::<Vec<String>>(&c.redirect_uris).ok())
        .flatten()
        .filter_map(|uri| url::Url::parse(&uri).ok())
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization())
        .collect()
}

impl CorsOrigins {
    /// An empty cache over `store`, read on first use.
    pub fn new(store: Arc<dyn ClientStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cached: RwLock::new(Cached::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self, now: i64) -> Option<Arc<HashSet<String>>> {
        let cached = self.cached.read().ok()?;
        cached
            .loaded_at
            .filter(|at| now - *at < TTL_SECS && now >= *at)
            .map(|_| cached.origins.clone())
    }

    /// Whether `origin` (an `Origin` header's value) is a public client's origin.
    pub async fn allows(&self, origin: &str) -> Result<bool, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        if let Some(set) = self.fresh(now) {
            return Ok(set.contains(origin));
        }
        let _one_at_a_time = self.refresh.lock().await;
        if let Some(set) = self.fresh(now) {
            return Ok(set.contains(origin));
        }
        let set = Arc::new(origins_of(&self.store.list().await?));
        let allowed = set.contains(origin);
        if let Ok(mut cached) = self.cached.write() {
            *cached = Cached {
                origins: set,
                loaded_at: Some(now),
            };
        }
        Ok(allowed)
    }

    /// Forgets the cached set (a client changed): the next cross-origin request reads it again.
    pub fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.write() {
            cached.loaded_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(public: bool, uris: &[&str]) -> ClientRecord {
        ClientRecord {
            id: "c".into(),
            secret_hash: None,
            redirect_uris: serde_json::to_string(uris).unwrap(),
            post_logout_redirect_uris: "[]".into(),
            scopes: "[]".into(),
            grants: "[]".into(),
            is_public: public,
            is_first_party: false,
            pkce_optional: false,
            created_at: 0,
            name: None,
            logo_uri: None,
            client_uri: None,
            policy_uri: None,
            tos_uri: None,
            disabled_at: None,
        }
    }

    #[test]
    fn only_public_clients_web_origins_count() {
        let set = origins_of(&[
            record(
                true,
                &[
                    "https://spa.example/cb",
                    "https://spa.example:443/other",
                    "http://127.0.0.1:5173/cb",
                    "com.example.app:/cb",
                ],
            ),
            record(false, &["https://server.example/cb"]),
            ClientRecord {
                disabled_at: Some(5),
                ..record(true, &["https://disabled.example/cb"])
            },
        ]);
        let mut got: Vec<_> = set.into_iter().collect();
        got.sort();
        assert_eq!(got, ["http://127.0.0.1:5173", "https://spa.example"]);
    }
}
