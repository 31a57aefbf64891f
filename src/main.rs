//! The `authd` binary: parse the command line, load the configuration, start logging, run.

use clap::Parser;

/// Stack of each runtime thread: room for the request futures of a debug build (a release
/// build needs far less; the memory is reserved, only touched pages count).
const THREAD_STACK: usize = 8 << 20;

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authd: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> std::process::ExitCode {
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
