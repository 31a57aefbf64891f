//! The simulator as an operator: a client-credentials token with the `admin` scope, the scored
//! sign-in events read back through `GET /admin/api/events`, labels and training through the
//! admin API. HTTP only.

use anyhow::{Context, bail};

use crate::events::AuthEvent;
use crate::sim::client::Sim;

/// The sign-in event kinds that carry a risk score.
const SCORED_KINDS: [&str; 4] = [
    "login_succeeded",
    "login_failed",
    "login_challenged",
    "login_blocked",
];

/// A client-credentials token with the `admin` scope for `pair` (`client_id:client_secret`).
pub(super) async fn admin_token(sim: &Sim, pair: &str) -> anyhow::Result<String> {
    let (id, secret) = pair
        .split_once(':')
        .context("--admin-client must be client_id:client_secret")?;
    let resp = sim
        .http
        .post(format!("{}/token", sim.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("admin token: {}", resp.status());
    }
    let v: serde_json::Value = resp.json().await?;
    v.get("access_token")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .context("no access_token")
}

/// What makes the target look live, if anything: accounts a simulation did not make, other
/// than an operator's (admin accounts: the console's own, a harness's). Labelling and training
/// there would replace a live instance's model with one taught simulated traffic, and the run
/// leaves its accounts and events behind.
pub(super) async fn live_target(sim: &Sim, pair: &str) -> anyhow::Result<Option<String>> {
    let token = admin_token(sim, pair).await?;
    let mut url = url::Url::parse(&format!("{}/admin/api/users", sim.base))?;
    url.query_pairs_mut().append_pair("q", "@");
    let v = get_json(sim, &token, url).await?;
    let users = v
        .get("users")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let limit = crate::domain::admin_console::SEARCH_LIMIT;
    if i64::try_from(users.len()).unwrap_or(i64::MAX) >= limit {
        // The search lists at most `limit`, by address: others may hide past them.
        return Ok(Some(format!(
            "the target holds {limit} or more accounts, not all of them checked"
        )));
    }
    for u in &users {
        let field = |k: &str| u.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
        let (id, email) = (field("id"), field("email"));
        if is_simulated(email) {
            continue;
        }
        let url = url::Url::parse(&format!("{}/admin/api/users/", sim.base))?.join(id)?;
        let page = get_json(sim, &token, url).await?;
        if page.get("admin") != Some(&serde_json::Value::Bool(true)) {
            return Ok(Some(format!(
                "the target holds accounts no simulation made ({})",
                mask(email)
            )));
        }
    }
    Ok(None)
}

/// `GET url` with the admin token; the JSON answer.
async fn get_json(sim: &Sim, token: &str, url: url::Url) -> anyhow::Result<serde_json::Value> {
    let resp = sim.http.get(url).bearer_auth(token).send().await?;
    if !resp.status().is_success() {
        bail!("reading accounts: {}", resp.status());
    }
    Ok(resp.json().await?)
}

/// Whether `email` is one a simulation registers (`sim<run>-<i>@example.com`).
fn is_simulated(email: &str) -> bool {
    let Some(local) = email
        .strip_prefix("sim")
        .and_then(|e| e.strip_suffix("@example.com"))
    else {
        return false;
    };
    let Some((run, i)) = local.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(run) && digits(i)
}

/// An address for an error message: its first character and domain.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_owned(),
    }
}

/// The scored sign-in events, every one (a phase reads its own right after it ran).
pub(super) async fn scored_events(sim: &Sim, token: &str) -> anyhow::Result<Vec<AuthEvent>> {
    let mut all = Vec::new();
    for kind in SCORED_KINDS {
        all.extend(newest_events(sim, token, kind).await?);
    }
    Ok(all)
}

/// Pages read at most per kind (a disposable instance's log is far smaller).
const MAX_PAGES: usize = 200;

/// Every event of `kind`, newest first, a page of 1000 at a time: a phase makes more than one
/// page of some kinds, and a silently cut read would drop its oldest attempts (the takeovers)
/// from the report.
pub(super) async fn newest_events(
    sim: &Sim,
    token: &str,
    kind: &str,
) -> anyhow::Result<Vec<AuthEvent>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = url::Url::parse(&format!("{}/admin/api/events", sim.base))?;
        url.query_pairs_mut()
            .append_pair("kind", kind)
            .append_pair("limit", "1000");
        if let Some(c) = cursor.take() {
            url.query_pairs_mut().append_pair("cursor", &c);
        }
        let resp = sim.http.get(url).bearer_auth(token).send().await?;
        if !resp.status().is_success() {
            bail!("reading events: {}", resp.status());
        }
        let mut v: serde_json::Value = resp.json().await?;
        let events = v.get_mut("events").map(serde_json::Value::take);
        let page: Vec<AuthEvent> = serde_json::from_value(events.unwrap_or_default())?;
        all.extend(page);
        match v.get("next_cursor").and_then(serde_json::Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(all),
        }
    }
    bail!("more than {MAX_PAGES} pages of {kind} events: not a disposable instance's log")
}

/// Labels one event as an attack (standing in for the victim's "wasn't you?" report).
pub(super) async fn label(sim: &Sim, token: &str, event_id: &str) -> anyhow::Result<()> {
    let resp = sim
        .http
        .post(format!("{}/admin/api/labels", sim.base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "event_id": event_id, "attack": true }))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("labelling: {}", resp.status());
    }
    Ok(())
}

/// Trains a model now; the server's answer (version, promoted, message, metrics).
pub(super) async fn train(sim: &Sim, token: &str) -> anyhow::Result<serde_json::Value> {
    let trained = sim
        .http
        .post(format!("{}/admin/api/model/train", sim.base))
        .bearer_auth(token)
        .send()
        .await?;
    let status = trained.status();
    let v: serde_json::Value = trained.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("training: {status} {v}");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_simulations_addresses_count_as_simulated() {
        assert!(is_simulated("sim123-0@example.com"));
        assert!(is_simulated("sim4294967295-51@example.com"));
        for live in [
            "alice@example.com",
            "sim-1@example.com",
            "sim1-@example.com",
            "sim1-2@example.org",
            "sim1-2x@example.com",
            "xsim1-2@example.com",
        ] {
            assert!(!is_simulated(live), "{live}");
        }
        assert_eq!(mask("alice@corp.example"), "a…@corp.example");
    }
}
