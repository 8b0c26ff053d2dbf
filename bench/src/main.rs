//! `authgate-bench`: one command that measures authgate against a bare axum reference.
//!
//! `cargo run --release -p authgate-bench -- --db sqlite` (or `--db postgres`) seeds a fresh
//! database with 10,000 users, starts authgate and a reference (a fixed JSON body behind the
//! same middleware stack) as child processes of this binary, drives each scenario over
//! keep-alive connections for a fixed time, and writes `bench/results/<db>.json`, `.md` and
//! `.svg`. See `docs/performance.md` for what each scenario measures.
//!
//! Each child is this binary re-executed with a hidden `serve-*` subcommand (`child.rs`), so that
//! its CPU time and resident memory are its own, not the load generator's.

mod child;
mod client;
mod db;
mod import;
mod lag;
mod load;
mod machine;
mod peers;
mod report;
mod run;
mod scale;
mod scenario;
mod serve;
mod svg;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "authgate-bench", about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// (internal) Serve authgate plus `/bench/protected` for the harness.
    #[command(hide = true)]
    ServeAuthgate(serve::AuthgateArgs),
    /// (internal) Serve the reference handler through the same middleware stack.
    #[command(hide = true)]
    ServeReference(serve::ReferenceArgs),
}

/// Which database authgate runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// Options of a benchmark run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Database backend: a temporary SQLite file, or a fresh database on the PostgreSQL server.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: Db,
    /// How long each scenario drives load (e.g. 10s, 2s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrent keep-alive connections (one task each).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Users seeded before the run.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// PostgreSQL server to create the run's database on (its database part is only connected to).
    #[arg(
        long,
        env = "BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub pg_url: String,
    /// Only these scenarios (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<scenario::Scenario>,
    /// The CI check: 2-second scenarios, results written under target/bench-smoke/ instead of
    /// bench/results/. Fails (exit 1) on any unexpected error, like every run.
    #[arg(long)]
    pub smoke: bool,
    /// Tutorial users the import scenario moves in (`authgate import tutorial`; its source is
    /// a database on --pg-url whatever --db is); 0 skips it. `--smoke` makes it 2,000.
    #[arg(long, default_value_t = 100_000)]
    pub import_users: usize,
    /// Logouts the propagation-lag scenario measures (three instances in this process on the
    /// run's database); 0 skips it. `--smoke` makes it 20.
    #[arg(long, default_value_t = 100)]
    pub lag_revocations: usize,
    /// Run only the import scenario, print its figure and exit (no load scenarios, no files).
    #[arg(long)]
    pub import_only: bool,
    /// Also run the peers (the tutorial's FastAPI app and fastapi-users, uvicorn with a worker
    /// per core, on --pg-url) through sign-up, login, a role-guarded route and `/users/me`,
    /// and write `peers.{json,md,svg}` beside the run's results (`bench/peers/`). Skipped, with
    /// the reason, when python3 or its venv module is missing.
    #[arg(long)]
    pub peers: bool,
    /// Cost as data grows instead of the usual run: for each of `--scale-sizes`, a fresh
    /// database seeded with that many users (sessions, audit rows, 100k revoked sessions),
    /// login, /users/me, refresh, admin search and the revocation check; writes
    /// `scale-<db>.json`, `.md` and `scale.svg`. `--smoke` makes the sizes 1,000 and 2,000.
    #[arg(long)]
    pub scale: bool,
    /// The sizes `--scale` seeds (comma-separated user counts; 10000,100000,1000000 by default).
    #[arg(long, value_delimiter = ',')]
    pub scale_sizes: Vec<usize>,
    /// Where to write `<db>.json` and `<db>.svg` (default: bench/results/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 10s or 500ms"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("unknown unit {unit:?}: use ms, s or m")),
    };
    if d.is_zero() {
        return Err("the duration must be positive".into());
    }
    Ok(d)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::ServeAuthgate(args)) => serve::authgate(args).await.map(|()| true),
            Some(Command::ServeReference(args)) => serve::reference(args).await.map(|()| true),
            None => {
                let mut args = cli.run;
                if args.smoke {
                    args.duration = Duration::from_secs(2);
                    args.import_users = args.import_users.min(2_000);
                    args.lag_revocations = args.lag_revocations.min(20);
                }
                if args.scale {
                    scale::run(args).await
                } else {
                    run::run(args).await
                }
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1h").is_err());
    }
}
