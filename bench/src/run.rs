//! One benchmark run: provision and seed, start the servers as children, drive every scenario,
//! report, write `<db>.json` and `<db>.svg`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use hyper::StatusCode;

use crate::client::Conn;
use crate::db::{self, BenchDb, Floor};
use crate::load::{self, Work};
use crate::machine::{self, Machine};
use crate::report::{HashCost, Report, ScenarioResult, Startup};
use crate::{RunArgs, serve, svg};

/// Every scenario, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "baseline",
    "protected",
    "me",
    "login",
    "refresh",
    "register",
    "storm",
    "db_floor",
];

/// A server child process; killed when dropped, so a failed run leaves nothing behind.
struct Server {
    child: Child,
    addr: SocketAddr,
    ready_after: Duration,
}

impl Server {
    /// Re-execute this binary as `subcommand` and wait for its `/readyz` to answer 200.
    async fn start(subcommand: &str, extra: &[&str], dir: &Path) -> anyhow::Result<Self> {
        let port_file = dir.join(format!("{subcommand}.port"));
        let _ = std::fs::remove_file(&port_file);
        let log_path = dir.join(format!("{subcommand}.log"));
        let log = std::fs::File::create(&log_path)?;
        let exe = std::env::current_exe().context("where is this binary?")?;
        let started = Instant::now();
        let child = Command::new(exe)
            .arg(subcommand)
            .args(extra)
            .arg("--port-file")
            .arg(&port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("could not start {subcommand}"))?;
        let mut server = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ready_after: Duration::ZERO,
        };
        let give_up = started + Duration::from_secs(60);
        let fail = |server: &mut Self, why: &str| -> anyhow::Error {
            let _ = server.child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            anyhow::anyhow!("{subcommand} {why}; its log:\n{log}")
        };
        let port: u16 = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse()?;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(fail(&mut server, &format!("exited with {status}")));
            }
            if Instant::now() > give_up {
                return Err(fail(&mut server, "did not listen within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        server.addr.set_port(port);
        let mut conn = Conn::new(server.addr);
        loop {
            if let Ok((StatusCode::OK, _)) = conn.get("/readyz", None).await {
                break;
            }
            if Instant::now() > give_up {
                return Err(fail(&mut server, "was not ready within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.ready_after = started.elapsed();
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Median single-thread time of argon2id hash and verify with the server's parameters.
fn measure_hash(m_kib: u32, t: u32) -> anyhow::Result<HashCost> {
    let params = Params::new(m_kib, t, 1, None).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
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

/// Drive `groups` against `server`, with its CPU time and peak RSS over the scenario.
async fn measure(
    server: &Server,
    groups: Vec<(&'static str, Vec<Work>)>,
    duration: Duration,
    ticks: f64,
    shed_allowed: bool,
    what: &str,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let pid = server.pid();
    machine::reset_peak(pid);
    let cpu_before = machine::cpu_ticks(pid);
    let (recs, elapsed) = load::drive(server.addr, groups, duration).await?;
    let cpu_pct = match (cpu_before, machine::cpu_ticks(pid)) {
        (Some(a), Some(b)) => Some((b - a) as f64 / ticks / elapsed.as_secs_f64() * 100.0),
        _ => None,
    };
    let peak = machine::peak_rss_kib(pid).map(mib);
    let mut out = Vec::new();
    for (label, rec) in recs {
        let with_cdf = matches!(label, "storm" | "storm/calm" | "protected");
        let what = if label == "storm/login" {
            "the logins of the storm"
        } else {
            what
        };
        let mut result =
            ScenarioResult::from_recorder(label, what, rec, elapsed, shed_allowed, with_cdf);
        result.server_cpu_pct = cpu_pct;
        result.peak_rss_mib = peak;
        out.push(result);
    }
    Ok(out)
}

/// Run the whole benchmark; `Ok(false)` when a scenario had unexpected errors.
pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    for s in &args.scenarios {
        if !SCENARIOS.contains(&s.as_str()) {
            bail!("unknown scenario {s:?}; the scenarios are {SCENARIOS:?}");
        }
    }
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
    let failed = report.failed_scenarios();
    if failed.is_empty() {
        Ok(true)
    } else {
        eprintln!("error: unexpected errors in {failed:?}");
        Ok(false)
    }
}

async fn run_on(
    args: &RunArgs,
    bench_db: &BenchDb,
    machine: &Machine,
    build: &'static str,
    hash: HashCost,
) -> anyhow::Result<Report> {
    let wanted = |name: &str| args.scenarios.is_empty() || args.scenarios.iter().any(|s| s == name);
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
    let first = Server::start("serve-authgate", &authgate_args, dir).await?;
    let first_start = first.ready_after;
    drop(first);
    // The figure the target is about: a restart on the existing database.
    let authgate = Server::start("serve-authgate", &authgate_args, dir).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let startup = Startup {
        first_start_ms: first_start.as_secs_f64() * 1000.0,
        restart_ms: authgate.ready_after.as_secs_f64() * 1000.0,
        idle_rss_mib: machine::rss_kib(authgate.pid()).map(mib),
    };
    let three_roles = load::login_as(authgate.addr, db::THREE_ROLE_EMAIL).await?;
    let reference = Server::start("serve-reference", &[], dir).await?;
    let ticks = machine::clock_ticks();
    let duration = args.duration;
    let mut scenarios: Vec<ScenarioResult> = Vec::new();

    // The sessions protected, me and storm present (logged in once, outside any measurement).
    let sessions = load::sessions(authgate.addr, n, 0).await?;
    let bearer = |i: usize| Some(sessions[i % n].access_token.clone());

    for &name in SCENARIOS.iter().filter(|s| wanted(s)) {
        println!("running {name} for {:.1} s", duration.as_secs_f64());
        let server = if name == "baseline" {
            &reference
        } else {
            &authgate
        };
        let (groups, what): (Vec<(&'static str, Vec<Work>)>, &str) = match name {
            "baseline" => (
                vec![(
                    "baseline",
                    (0..n)
                        .map(|_| Work::Get {
                            path: "/bench/reference",
                            token: None,
                        })
                        .collect(),
                )],
                "reference: fixed JSON through the same server stack",
            ),
            "protected" => (
                vec![(
                    "protected",
                    (0..n)
                        .map(|i| Work::Get {
                            path: "/bench/protected",
                            token: bearer(i),
                        })
                        .collect(),
                )],
                "GET /bench/protected: verified token + role, no database",
            ),
            "me" => (
                vec![(
                    "me",
                    (0..n)
                        .map(|i| Work::Get {
                            path: "/users/me",
                            token: bearer(i),
                        })
                        .collect(),
                )],
                "GET /users/me: one database read",
            ),
            "login" => (
                vec![(
                    "login",
                    (0..n)
                        .map(|i| Work::Login {
                            first: i,
                            stride: n,
                            users: args.users,
                        })
                        .collect(),
                )],
                "POST /auth/login as seeded users (argon2id verify)",
            ),
            "refresh" => {
                let chains = load::sessions(authgate.addr, n, n).await?;
                (
                    vec![(
                        "refresh",
                        chains
                            .into_iter()
                            .enumerate()
                            .map(|(i, tokens)| Work::RefreshChain {
                                tokens,
                                user: n + i,
                            })
                            .collect(),
                    )],
                    "POST /auth/refresh chains: each uses the token the last returned",
                )
            }
            "register" => (
                vec![(
                    "register",
                    (0..n)
                        .map(|i| Work::Register {
                            prefix: format!("r{}-{i}", std::process::id()),
                        })
                        .collect(),
                )],
                "POST /auth/register with unique e-mails (argon2id hash)",
            ),
            "storm" => {
                let half = n / 2;
                (
                    vec![
                        (
                            "storm",
                            (0..n - half)
                                .map(|i| Work::Get {
                                    path: "/bench/protected",
                                    token: bearer(i),
                                })
                                .collect(),
                        ),
                        (
                            "storm/login",
                            (0..half)
                                .map(|i| Work::Login {
                                    first: 2 * n + i,
                                    stride: half,
                                    users: args.users,
                                })
                                .collect(),
                        ),
                    ],
                    "protected calls while other clients' logins saturate the hashing pool",
                )
            }
            "db_floor" => {
                let floor = Arc::new(Floor::open(bench_db, n).await?);
                let works = (0..n)
                    .map(|i| Work::DbFloor {
                        floor: floor.clone(),
                        row: i as i64,
                    })
                    .collect();
                let (mut recs, elapsed) =
                    load::drive(authgate.addr, vec![("db_floor", works)], duration).await?;
                let (_, rec) = recs.remove(0);
                scenarios.push(ScenarioResult::from_recorder(
                    "db_floor",
                    "durable single-row UPDATE … RETURNING via sqlx, no HTTP",
                    rec,
                    elapsed,
                    false,
                    false,
                ));
                if let Ok(floor) = Arc::try_unwrap(floor) {
                    floor.close().await;
                }
                continue;
            }
            other => bail!("no scenario {other}"),
        };
        if name == "storm" {
            // The reference for the storm: the same protected clients, alone. (Comparing with
            // `protected` would compare against twice as many connections.)
            let calm = vec![(
                "storm/calm",
                (0..n - n / 2)
                    .map(|i| Work::Get {
                        path: "/bench/protected",
                        token: bearer(i),
                    })
                    .collect(),
            )];
            let what = "the storm's protected clients alone, before the storm";
            scenarios.extend(measure(server, calm, duration, ticks, false, what).await?);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let shed_allowed = matches!(name, "login" | "register" | "storm");
        scenarios.extend(measure(server, groups, duration, ticks, shed_allowed, what).await?);
        // Let the server settle (pending activity writes, freed hashing buffers).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(reference);
    drop(authgate);

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
        targets: Vec::new(),
    };
    report.check_targets();
    Ok(report)
}
