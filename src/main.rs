//! The `authd` binary: parse the command line, load the configuration, start logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = authd::cli::Cli::parse();
    let config = match authd::config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("authd: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    authd::app::telemetry::init_logging(config.log_format);
    match authd::cli::run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
