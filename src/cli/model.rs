//! `authd model train|eval|label`: fit and store a risk model from the event log, score the
//! labelled events with the model in use, label one event.

use anyhow::bail;
use serde_json::json;

use super::{ModelCommand, print_json};
use crate::app::{Deps, build_state};
use crate::config::Config;
use crate::domain::operator::Operator;

/// A spinner on stderr when it is a terminal; nothing in a pipe.
fn progress() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

pub(super) async fn model(config: Config, command: ModelCommand) -> anyhow::Result<()> {
    let window = time::Duration::seconds(config.protection.window_secs);
    let (state, store) = build_state(config, Deps::default()).await?;
    match command {
        ModelCommand::Train => {
            let bar = progress();
            bar.set_message("reading the event log and fitting");
            // The operators' act (as the console's and the API's): an `admin_action`.
            let report = state
                .admin_ops
                .train(&super::cli_context(), Operator::Cli)
                .await;
            bar.finish_and_clear();
            let report = report.map_err(|e| anyhow::anyhow!("training failed: {e}"))?;
            print_json(&serde_json::to_value(report)?)
        }
        ModelCommand::Eval => {
            let bar = progress();
            bar.set_message("scoring the labelled events");
            let model = state.risk.model();
            let metrics =
                crate::domain::risk::training::evaluate(&store.risk, &state.clock, window, &model)
                    .await;
            bar.finish_and_clear();
            let (metrics, labelled) = metrics?;
            print_json(&json!({
                "version": model.version,
                "features": crate::domain::risk::features::NAMES,
                "weights": model.weights,
                "intercept": model.intercept,
                "trained": model.metrics,
                "metrics": metrics,
                "labelled_metrics": labelled,
            }))
        }
        ModelCommand::Label { event_id, label } => {
            let attack = match label.as_str() {
                "attack" => true,
                "legit" => false,
                _ => bail!("label must be `attack` or `legit`"),
            };
            // As the admin API's labelling: the id checked and trimmed, an `admin_action`.
            let event_id = state
                .admin_console
                .label(
                    &super::cli_context(),
                    crate::domain::admin_console::actions::Operator::Cli,
                    None,
                    &event_id,
                    attack,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print_json(&json!({ "event_id": event_id, "attack": attack }))
        }
    }
}
