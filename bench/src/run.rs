//! One benchmark run: provision and seed, start authgate and the reference as child
//! processes, drive every scenario, report, write `<db>.json`, `<db>.md` and `<db>.svg`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use argon2::password_hash::phc::PasswordHash;
use argon2::{PasswordHasher as _, PasswordVerifier as _};

use crate::child::ChildProcess;
use crate::db::{self, BenchDb};
use crate::import::{self, ImportFigure};
use crate::load;
use crate::machine::{self, Machine};
use crate::report::{HashCost, Report, ScenarioResult, Startup};
use crate::scenario::{Against, Measurement, Scenario, Setup};
use crate::{RunArgs, serve, svg};

/// Median single-thread time of argon2id hash and verify with authgate's parameters.
fn measure_hash(m_kib: u32, t: u32) -> anyhow::Result<HashCost> {
    let argon = db::argon2(m_kib, t)?;
    let password = db::PASSWORD.as_bytes();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let phc = db::hash_password(m_kib, t)?; // also the warm-up
    let mut hashes = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        argon
            .hash_password(password)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        hashes.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let mut verifies = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        argon
            .verify_password(password, &parsed)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        verifies.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(HashCost {
        m_kib,
        t,
        p: 1,
        hash_ms: median(hashes),
        verify_ms: median(verifies),
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Drive one measurement's groups, with the CPU time and peak RSS of `child` (if the load
/// goes to one) over it.
async fn measure(
    child: Option<&ChildProcess>,
    m: Measurement,
    duration: Duration,
    ticks: f64,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let pid = child.map(ChildProcess::pid);
    if let Some(pid) = pid {
        machine::reset_peak(pid);
    }
    let cpu_before = pid.and_then(machine::cpu_ticks);
    let (workloads, groups): (Vec<_>, Vec<_>) = m
        .groups
        .into_iter()
        .map(|g| (g.workloads, (g.label, g.what, g.cdf)))
        .unzip();
    // A database-only scenario never connects, so any address will do.
    let addr = child.map_or(([127, 0, 0, 1], 0).into(), |c| c.addr);
    let (recs, elapsed) = load::drive(addr, workloads, duration).await?;
    let cpu_pct = match (cpu_before, pid.and_then(machine::cpu_ticks)) {
        (Some(a), Some(b)) => Some((b - a) as f64 / ticks / elapsed.as_secs_f64() * 100.0),
        _ => None,
    };
    let peak = pid.and_then(machine::peak_rss_kib).map(mib);
    if let Some(floor) = m.floor {
        floor.close().await;
    }
    let results = groups
        .into_iter()
        .zip(recs)
        .map(|((label, what, cdf), rec)| {
            let mut result = ScenarioResult::from_recorder(label, what, rec, elapsed, m.sheds, cdf);
            result.server_cpu_pct = cpu_pct;
            result.peak_rss_mib = peak;
            result
        });
    Ok(results.collect())
}

/// Run the whole benchmark; `Ok(false)` when a scenario had unexpected errors.
pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    if args.connections < 2 {
        bail!("--connections must be at least 2 (storm splits them in halves)");
    }
    let machine = Machine::detect();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "authgate-bench: {} on {}, {build} build",
        args.db.name(),
        machine.summary()
    );
    if build == "debug" {
        println!("  (a debug build: figures are for checking the harness, not for comparing)");
    }
    let settings = serve::authgate_settings("sqlite::memory:")?;
    let (m_kib, t) = (settings.argon2_memory_kib, settings.argon2_iterations);
    let hash = tokio::task::spawn_blocking(move || measure_hash(m_kib, t)).await??;
    println!(
        "argon2id m={m_kib} t={t} p=1: hash {:.1} ms, verify {:.1} ms",
        hash.hash_ms, hash.verify_ms
    );

    if args.import_only {
        return import_only(&args).await;
    }
    let bench_db = BenchDb::provision(args.db, &args.pg_url).await?;
    let outcome = run_on(&args, &bench_db, &machine, build, hash).await;
    bench_db.drop_db().await;
    let report = outcome?;

    report.print();
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        if args.smoke {
            manifest.join("../target/bench-smoke")
        } else {
            manifest.join("results")
        }
    });
    std::fs::create_dir_all(&out_dir)?;
    let json_path = out_dir.join(format!("{}.json", report.db));
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    let svg_path = out_dir.join(format!("{}.svg", report.db));
    std::fs::write(&svg_path, svg::chart(&report))?;
    let md_path = out_dir.join(format!("{}.md", report.db));
    std::fs::write(&md_path, report.markdown())?;
    println!(
        "\nwrote {}, {} and {}",
        json_path.display(),
        svg_path.display(),
        md_path.display()
    );
    let peers_ok = if args.peers {
        crate::peers::run(&args, &report, &out_dir).await?
    } else {
        true
    };
    let failed = report.failed_scenarios();
    if failed.is_empty() {
        Ok(peers_ok)
    } else {
        eprintln!("error: unexpected errors in {failed:?}");
        Ok(false)
    }
}

/// The import scenario at `--import-users` (none for 0).
async fn import_scenario(args: &RunArgs) -> anyhow::Result<Option<ImportFigure>> {
    if args.import_users == 0 {
        return Ok(None);
    }
    println!("running import of {} tutorial users", args.import_users);
    let figure = import::run(args.db, &args.pg_url, args.import_users).await?;
    Ok(Some(figure))
}

/// `--import-only`: the import scenario alone; `Ok(false)` below its target.
async fn import_only(args: &RunArgs) -> anyhow::Result<bool> {
    let Some(figure) = import_scenario(args).await? else {
        bail!("--import-only needs --import-users above 0");
    };
    println!("{}", figure.summary());
    let pass = figure.users_per_s >= import::TARGET_PER_S;
    println!(
        "target ≥ {:.0} users/s (100,000 in < 60 s): {}",
        import::TARGET_PER_S,
        if pass { "pass" } else { "FAIL" }
    );
    Ok(pass)
}

async fn run_on(
    args: &RunArgs,
    bench_db: &BenchDb,
    machine: &Machine,
    build: &'static str,
    hash: HashCost,
) -> anyhow::Result<Report> {
    let wanted = |s: &Scenario| args.scenarios.is_empty() || args.scenarios.contains(s);
    let n = args.connections;
    let dir = bench_db.dir();

    let start = Instant::now();
    let phc = db::hash_password(hash.m_kib, hash.t)?;
    db::seed(bench_db, args.users, &phc).await?;
    println!(
        "seeded {} users in {:.1} s",
        args.users,
        start.elapsed().as_secs_f64()
    );

    let authgate_args = ["--db-url", bench_db.url.as_str()];
    let first = ChildProcess::start("serve-authgate", &authgate_args, dir).await?;
    let first_start = first.ready_after;
    drop(first);
    // The figure the target is about: a restart on the existing database.
    let authgate = ChildProcess::start("serve-authgate", &authgate_args, dir).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let startup = Startup {
        first_start_ms: first_start.as_secs_f64() * 1000.0,
        restart_ms: authgate.ready_after.as_secs_f64() * 1000.0,
        idle_rss_mib: machine::rss_kib(authgate.pid()).map(mib),
        idle_rss_split_mib: machine::rss_split_kib(authgate.pid())
            .map(|(file, anon)| (mib(file), mib(anon))),
    };
    let three_roles = load::login_as(authgate.addr, db::THREE_ROLE_EMAIL).await?;
    let reference = ChildProcess::start("serve-reference", &[], dir).await?;
    let ticks = machine::clock_ticks();
    let duration = args.duration;
    let mut scenarios: Vec<ScenarioResult> = Vec::new();

    // The sessions protected, me and storm present (logged in once, outside any measurement).
    let sessions = load::sessions(authgate.addr, n, 0).await?;
    let setup = Setup {
        connections: n,
        users: args.users,
        sessions: &sessions,
        authgate: authgate.addr,
        db: bench_db,
    };

    for scenario in Scenario::ALL.into_iter().filter(wanted) {
        println!("running {scenario} for {:.1} s", duration.as_secs_f64());
        let child = match scenario.against() {
            Against::Reference => Some(&reference),
            Against::Authgate => Some(&authgate),
            Against::Database => None,
        };
        for m in scenario.measurements(&setup).await? {
            scenarios.extend(measure(child, m, duration, ticks).await?);
            if child.is_some() {
                // Let the child settle (pending activity writes, freed hashing buffers).
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    drop(reference);
    drop(authgate);
    let lag = if args.lag_revocations == 0 {
        None
    } else {
        println!(
            "running lag: {} logouts across {} instances",
            args.lag_revocations,
            crate::lag::INSTANCES
        );
        Some(crate::lag::run(&bench_db.url, args.users, args.lag_revocations).await?)
    };
    let import = import_scenario(args).await?;

    let mut report = Report {
        db: args.db.name().into(),
        build,
        when: machine::timestamp(),
        commit: machine::git_commit(),
        machine: machine.clone(),
        duration_s: duration.as_secs_f64(),
        connections: n,
        users: args.users,
        hash,
        startup,
        access_token_bytes_three_roles: Some(three_roles.access_token.len()),
        scenarios,
        import,
        lag,
        targets: Vec::new(),
    };
    report.check_targets();
    Ok(report)
}
