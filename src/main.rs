//! The `authgate` binary: load `.env`, parse the command line, set up logs, dispatch.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // An optional .env fills in variables not already set in the environment.
    let _ = dotenvy::dotenv();
    let cli = authgate::cli::Cli::parse();
    authgate::telemetry::init(authgate::cli::settings_of(&cli.command).log_format);
    match authgate::cli::run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
