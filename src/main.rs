//! The `authgate` binary: load `.env`, parse the command line, hand it to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // An optional .env fills in variables not already set in the environment.
    let _ = dotenvy::dotenv();
    match authgate::run_cli(authgate::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
