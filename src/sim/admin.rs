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

/// The newest scored sign-in events (at most 1000 of each kind: a phase reads its own right
/// after it ran).
pub(super) async fn scored_events(sim: &Sim, token: &str) -> anyhow::Result<Vec<AuthEvent>> {
    let mut all = Vec::new();
    for kind in SCORED_KINDS {
        all.extend(newest_events(sim, token, kind).await?);
    }
    Ok(all)
}

/// The newest 1000 events of `kind`.
pub(super) async fn newest_events(
    sim: &Sim,
    token: &str,
    kind: &str,
) -> anyhow::Result<Vec<AuthEvent>> {
    let resp = sim
        .http
        .get(format!(
            "{}/admin/api/events?kind={kind}&limit=1000",
            sim.base
        ))
        .bearer_auth(token)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("reading events: {}", resp.status());
    }
    let v: serde_json::Value = resp.json().await?;
    Ok(serde_json::from_value(
        v.get("events").cloned().unwrap_or_default(),
    )?)
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
