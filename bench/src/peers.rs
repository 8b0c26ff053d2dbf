//! `--peers`: the same scenarios against two Python peers on the same machine and database
//! server, after authgate's own run: the first tutorial's FastAPI app (seed 000, in
//! `bench/peers/tutorial/`) and fastapi-users' documented SQLAlchemy + JWT setup
//! (`bench/peers/fastapi_users/`).
//!
//! Each peer gets its pinned venv from `bench/peers/setup.sh` (skipped, with the reason, when
//! Python or its venv module is missing), a fresh database on `--pg-url` with its own schema
//! (the tutorial's alembic migrations; fastapi-users' `create_all`), and uvicorn with as many
//! workers as cores, started as a child process group. Users are seeded through the peer's own
//! sign-up, then the harness's client drives the role-guarded route, `/users/me`, login and
//! sign-up exactly as it drives authgate's `protected`, `me`, `login` and `register`. The report
//! (`peers.json`, `peers.md`, `peers.svg`) gives each figure and authgate ÷ peer.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;
use sqlx::Connection;

use crate::child::ChildProcess;
use crate::client::Conn;
use crate::db::replace_db_name;
use crate::load::{self, Workload};
use crate::machine::{self, Machine};
use crate::report::{Report, ScenarioResult};
use crate::svg;

/// Every peer user's password (long enough for any policy).
const PASSWORD: &str = "bench password 1";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The scenarios a peer runs, by authgate's names, and what each is on the peers.
const SCENARIOS: [(&str, &str); 4] = [
    ("protected", "role-guarded route"),
    ("me", "/users/me"),
    ("login", "login"),
    ("register", "sign-up"),
];

/// One peer: where its code is, how to start it, and its routes.
struct Peer {
    name: &'static str,
    /// Directory under `bench/peers/`, and the venv's name.
    dir: &'static str,
    /// uvicorn's `module:app`.
    app: &'static str,
    /// `postgresql://` (psycopg2) or `postgresql+asyncpg://`.
    scheme: &'static str,
    /// The schema: a program of the venv and its arguments, run in the peer's directory.
    migrate: (&'static str, &'static [&'static str]),
    /// Packages whose pinned versions the report names.
    packages: &'static [&'static str],
    signup_path: &'static str,
    signup: fn(&str, usize) -> Bytes,
    login_path: &'static str,
    login_type: &'static str,
    login: fn(&str, usize) -> Bytes,
    /// The field of the login answer that holds the access token.
    token_field: &'static str,
    guarded_path: &'static str,
    /// What the guarded route needs that sign-up does not give (run on its database).
    grant_sql: Option<&'static str>,
    me_path: &'static str,
}

fn tutorial_signup(key: &str, n: usize) -> Bytes {
    let body = json!({
        "username": format!("{key}-{n}"),
        "email": format!("{key}-{n}@peers.bench.example"),
        "password": PASSWORD,
    });
    Bytes::from(body.to_string())
}

fn tutorial_login(_: &str, n: usize) -> Bytes {
    Bytes::from(json!({ "username": format!("seed-{n}"), "password": PASSWORD }).to_string())
}

fn fastapi_users_signup(key: &str, n: usize) -> Bytes {
    let body = json!({ "email": format!("{key}-{n}@peers.bench.example"), "password": PASSWORD });
    Bytes::from(body.to_string())
}

fn fastapi_users_login(_: &str, n: usize) -> Bytes {
    // OAuth2PasswordRequestForm; `@` is %40, the password's spaces are `+`.
    let password = PASSWORD.replace(' ', "+");
    Bytes::from(format!(
        "username=seed-{n}%40peers.bench.example&password={password}"
    ))
}

const PEERS: [Peer; 2] = [
    Peer {
        name: "tutorial",
        dir: "tutorial",
        app: "main:app",
        scheme: "postgresql",
        migrate: ("alembic", &["upgrade", "head"]),
        packages: &[
            "fastapi",
            "pydantic",
            "SQLAlchemy",
            "passlib",
            "bcrypt",
            "uvicorn",
        ],
        signup_path: "/api/auth/signup",
        signup: tutorial_signup,
        login_path: "/api/auth/signin",
        login_type: JSON,
        login: tutorial_login,
        token_field: "token",
        // `user_role`: any of ROLE_USER/MODERATOR/ADMIN, and sign-up gives ROLE_USER.
        guarded_path: "/api/test/user",
        grant_sql: None,
        me_path: "/api/auth/users/me",
    },
    Peer {
        name: "fastapi-users",
        dir: "fastapi_users",
        app: "app.app:app",
        scheme: "postgresql+asyncpg",
        migrate: ("python", &["create_tables.py"]),
        packages: &[
            "fastapi-users",
            "fastapi",
            "pydantic",
            "SQLAlchemy",
            "pwdlib",
            "uvicorn",
        ],
        signup_path: "/auth/register",
        signup: fastapi_users_signup,
        login_path: "/auth/jwt/login",
        login_type: FORM,
        login: fastapi_users_login,
        token_field: "access_token",
        // `current_user(active=True, superuser=True)`; sign-up never makes a superuser.
        guarded_path: "/superuser-route",
        grant_sql: Some("UPDATE \"user\" SET is_superuser = true"),
        me_path: "/users/me",
    },
];

/// One peer's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PeerResult {
    pub name: String,
    /// `package==version` as pinned in its requirements.txt.
    pub versions: Vec<String>,
    /// Why there are no figures, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub workers: usize,
    /// Spawn to the first 200 of `/docs`, ms.
    pub ready_ms: Option<f64>,
    pub scenarios: Vec<ScenarioResult>,
}

/// authgate ÷ a peer, one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub scenario: String,
    pub peer: String,
    pub authgate_rps: f64,
    pub peer_rps: f64,
    pub authgate_over_peer: f64,
}

/// Everything `--peers` found, as written to `peers.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PeersReport {
    pub build: &'static str,
    pub when: String,
    pub commit: Option<String>,
    pub machine: Machine,
    pub duration_s: f64,
    /// The peers' connections (authgate's run used `--connections`; `--smoke` caps the peers
    /// at 4).
    pub connections: usize,
    /// The database authgate ran on in this run (the peers always run on PostgreSQL).
    pub authgate_db: String,
    /// authgate's figures for the scenarios the peers run, from this run.
    pub authgate: Vec<ScenarioResult>,
    pub peers: Vec<PeerResult>,
    pub ratios: Vec<Ratio>,
}

/// Where the venvs live: `<target>/bench-peers-venv`, `<target>` being the directory this
/// binary was built in (`target/debug/authgate-bench` → `target`).
fn venv_root() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let target = exe
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-peers-venv")
}

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Run `bench/peers/setup.sh`: `Ok(Ok(root))`, or `Ok(Err(why))` when Python is missing.
fn setup() -> anyhow::Result<Result<PathBuf, String>> {
    let root = venv_root();
    let script = peers_dir().join("setup.sh");
    let out = match Command::new("bash").arg(&script).arg(&root).output() {
        Ok(out) => out,
        Err(e) => return Ok(Err(format!("could not run {}: {e}", script.display()))),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    match out.status.code() {
        Some(0) => Ok(Ok(root)),
        Some(3) => Ok(Err(stderr)),
        _ => bail!("bench/peers/setup.sh failed ({}): {stderr}", out.status),
    }
}

/// `name==version` of `packages` from a requirements file.
fn pinned(requirements: &Path, packages: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(requirements).unwrap_or_default();
    packages
        .iter()
        .filter_map(|p| {
            text.lines()
                .find(|l| {
                    l.split_once("==")
                        .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(p))
                })
                .map(|l| l.trim().to_owned())
        })
        .collect()
}

/// A free port on 127.0.0.1 (uvicorn with several workers cannot report the one it chose).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A fresh database on the server for one peer; dropped by [`drop_db`].
async fn create_db(admin: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .with_context(|| format!("could not connect to PostgreSQL at {admin} (--pg-url)"))?;
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{name}\""),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
    }
    Ok(replace_db_name(admin, name))
}

async fn drop_db(admin: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            eprintln!("warning: could not drop {name}: {e}");
        }
    }
}

/// The pids in process group `pgid` (uvicorn's supervisor and workers).
fn group_pids(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat[stat.rfind(')')? + 1..].to_owned();
                    // After ")": state, ppid, pgrp.
                    rest.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .collect()
}

/// One peer's measurement of one scenario, with the CPU time and peak RSS of its whole group.
async fn measure(
    peer: &ChildProcess,
    name: &str,
    what: &str,
    works: Vec<Workload>,
    duration: Duration,
    ticks: f64,
) -> anyhow::Result<ScenarioResult> {
    let pids = group_pids(peer.pid());
    for &pid in &pids {
        machine::reset_peak(pid);
    }
    let cpu = |pids: &[u32]| -> Option<u64> { pids.iter().map(|&p| machine::cpu_ticks(p)).sum() };
    let before = cpu(&pids);
    let (mut recs, elapsed) = load::drive(peer.addr, vec![works], duration).await?;
    let after = cpu(&pids);
    let peak: Option<u64> = pids.iter().map(|&p| machine::peak_rss_kib(p)).sum();
    let rec = recs.pop().context("no recorder")?;
    let mut result = ScenarioResult::from_recorder(name, what, rec, elapsed, false, false);
    result.server_cpu_pct = match (before, after) {
        (Some(a), Some(b)) => Some((b - a) as f64 / ticks / elapsed.as_secs_f64() * 100.0),
        _ => None,
    };
    result.peak_rss_mib = peak.map(|kib| kib as f64 / 1024.0);
    Ok(result)
}

/// Sign `n` users up through the peer's own route, in parallel, as `seed-0` … `seed-(n-1)`.
async fn seed(addr: SocketAddr, peer: &Peer, n: usize) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (path, body) = (peer.signup_path, (peer.signup)("seed", i));
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                conn.send_typed(Method::POST, path, None, Some((JSON, body)))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await??;
        if !status.is_success() {
            bail!(
                "{} sign-up answered {status}: {}",
                peer.name,
                String::from_utf8_lossy(&body)
            );
        }
    }
    Ok(())
}

/// Log seeded users `0..n` in (outside any measurement): one access token each.
async fn tokens(addr: SocketAddr, peer: &Peer, n: usize) -> anyhow::Result<Vec<String>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (path, ty, body) = (peer.login_path, peer.login_type, (peer.login)("", i));
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                conn.send_typed(Method::POST, path, None, Some((ty, body)))
                    .await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        let (status, body) = t.await??;
        if status != StatusCode::OK {
            bail!(
                "{} login answered {status}: {}",
                peer.name,
                String::from_utf8_lossy(&body)
            );
        }
        let answer: serde_json::Value = serde_json::from_slice(&body)?;
        let token = answer[peer.token_field]
            .as_str()
            .with_context(|| format!("{} login answer has no {}", peer.name, peer.token_field))?;
        out.push(token.to_owned());
    }
    Ok(out)
}

/// Start one peer, drive its scenarios, stop it.
async fn run_peer(
    peer: &Peer,
    venvs: &Path,
    pg_url: &str,
    wanted: &[&str],
    connections: usize,
    duration: Duration,
    scratch: &Path,
) -> anyhow::Result<PeerResult> {
    let code = peers_dir().join(peer.dir);
    let bin = venvs.join(peer.dir).join("bin");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let db_name = format!("authgate_bench_peer_{}_{}", peer.dir, std::process::id());
    let url = create_db(pg_url, &db_name).await?;
    let peer_url = match url.split_once("://") {
        Some((_, rest)) => format!("{}://{rest}", peer.scheme),
        None => url.clone(),
    };
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let outcome = async {
        let (program, args) = peer.migrate;
        let status = Command::new(bin.join(program))
            .args(args)
            .current_dir(&code)
            .env("DATABASE_URL", &peer_url)
            .env("FASTAPI_USERS_SECRET", &secret)
            .status()
            .with_context(|| format!("could not run {program} for {}", peer.name))?;
        if !status.success() {
            bail!(
                "{} schema ({program} {}): {status}",
                peer.name,
                args.join(" ")
            );
        }
        let port = free_port()?;
        let mut command = Command::new(bin.join("uvicorn"));
        command
            .args([peer.app, "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--workers")
            .arg(workers.to_string())
            .current_dir(&code)
            .env("DATABASE_URL", &peer_url)
            .env("FASTAPI_USERS_SECRET", &secret);
        let log_name = format!("peer-{}", peer.dir);
        let child = ChildProcess::start_group(&log_name, command, port, "/docs", scratch).await?;
        println!(
            "  {} ready after {:.1} s ({workers} uvicorn workers)",
            peer.name,
            child.ready_after.as_secs_f64()
        );
        let n = connections;
        seed(child.addr, peer, n).await?;
        if let Some(sql) = peer.grant_sql {
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(sql).execute(&mut conn).await?;
        }
        let tokens = tokens(child.addr, peer, n).await?;
        let ticks = machine::clock_ticks();
        let mut scenarios = Vec::new();
        for (scenario, what) in SCENARIOS {
            if !wanted.contains(&scenario) {
                continue;
            }
            println!("  running {} {scenario} ({what})", peer.name);
            let works: Vec<Workload> = (0..n)
                .map(|i| match scenario {
                    "protected" | "me" => Workload::Get {
                        path: if scenario == "me" {
                            peer.me_path
                        } else {
                            peer.guarded_path
                        },
                        token: Some(tokens[i].clone()),
                    },
                    "login" => Workload::Post {
                        path: peer.login_path,
                        content_type: peer.login_type,
                        make: peer.login,
                        key: String::new(),
                        next: i,
                        stride: n,
                        wrap: n,
                    },
                    _ => Workload::Post {
                        path: peer.signup_path,
                        content_type: JSON,
                        make: peer.signup,
                        key: format!("run{}-c{i}", std::process::id()),
                        next: 0,
                        stride: 1,
                        wrap: usize::MAX,
                    },
                })
                .collect();
            let what = format!("{}: {what}", peer.name);
            scenarios.push(measure(&child, scenario, &what, works, duration, ticks).await?);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let ready_ms = child.ready_after.as_secs_f64() * 1000.0;
        drop(child);
        Ok((ready_ms, scenarios))
    }
    .await;
    drop_db(pg_url, &db_name).await;
    let (ready_ms, scenarios) = outcome?;
    Ok(PeerResult {
        name: peer.name.into(),
        versions: pinned(&code.join("requirements.txt"), peer.packages),
        skipped: None,
        workers,
        ready_ms: Some(ready_ms),
        scenarios,
    })
}

/// The peers after authgate's run `authgate`; writes `peers.{json,md,svg}` to `out_dir`.
/// `Ok(false)` when a peer's scenario had unexpected errors.
pub async fn run(args: &crate::RunArgs, authgate: &Report, out_dir: &Path) -> anyhow::Result<bool> {
    let wanted: Vec<&str> = SCENARIOS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| args.scenarios.is_empty() || args.scenarios.iter().any(|a| a.name() == *s))
        .collect();
    println!(
        "\npeers: {} on PostgreSQL ({})",
        PEERS.map(|p| p.name).join(" and "),
        args.pg_url
    );
    // A smoke run stays seconds long: the peers hash at a few logins per second, so 16
    // connections would queue for many seconds after the deadline.
    let connections = if args.smoke {
        args.connections.min(4)
    } else {
        args.connections
    };
    let venvs = setup()?;
    let scratch = std::env::temp_dir().join(format!("authgate-bench-peers-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut peers = Vec::new();
    for peer in &PEERS {
        let result = match &venvs {
            Err(why) => {
                println!("  skipping {}: {why}", peer.name);
                PeerResult {
                    name: peer.name.into(),
                    versions: pinned(
                        &peers_dir().join(peer.dir).join("requirements.txt"),
                        peer.packages,
                    ),
                    skipped: Some(why.clone()),
                    workers: 0,
                    ready_ms: None,
                    scenarios: Vec::new(),
                }
            }
            Ok(root) => {
                run_peer(
                    peer,
                    root,
                    &args.pg_url,
                    &wanted,
                    connections,
                    args.duration,
                    &scratch,
                )
                .await?
            }
        };
        peers.push(result);
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let authgate_rows: Vec<ScenarioResult> = wanted
        .iter()
        .filter_map(|s| authgate.scenario(s).cloned())
        .map(|mut r| {
            r.cdf.clear();
            r
        })
        .collect();
    let mut ratios = Vec::new();
    for peer in &peers {
        for r in &peer.scenarios {
            if let Some(a) = authgate_rows.iter().find(|a| a.name == r.name)
                && r.rps > 0.0
            {
                ratios.push(Ratio {
                    scenario: r.name.clone(),
                    peer: peer.name.clone(),
                    authgate_rps: a.rps,
                    peer_rps: r.rps,
                    authgate_over_peer: a.rps / r.rps,
                });
            }
        }
    }
    let report = PeersReport {
        build: authgate.build,
        when: machine::timestamp(),
        commit: authgate.commit.clone(),
        machine: authgate.machine.clone(),
        duration_s: args.duration.as_secs_f64(),
        connections,
        authgate_db: authgate.db.clone(),
        authgate: authgate_rows,
        peers,
        ratios,
    };
    let md = report.markdown();
    println!("\n{md}");
    let json_path = out_dir.join("peers.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::write(out_dir.join("peers.md"), &md)?;
    std::fs::write(out_dir.join("peers.svg"), report.chart())?;
    println!("wrote {}, peers.md and peers.svg", json_path.display());
    let failed: Vec<String> = report
        .peers
        .iter()
        .flat_map(|p| {
            p.scenarios
                .iter()
                .filter(|s| s.errors > 0)
                .map(move |s| format!("{} {}", p.name, s.name))
        })
        .collect();
    if failed.is_empty() {
        Ok(true)
    } else {
        eprintln!("error: unexpected errors in {failed:?}");
        Ok(false)
    }
}

fn label(scenario: &str) -> &'static str {
    SCENARIOS
        .iter()
        .find(|(s, _)| *s == scenario)
        .map_or("?", |(_, w)| w)
}

impl PeersReport {
    fn rps(&self, who: &str, scenario: &str) -> Option<f64> {
        let rows = if who == "authgate" {
            &self.authgate
        } else {
            &self.peers.iter().find(|p| p.name == who)?.scenarios
        };
        rows.iter().find(|r| r.name == scenario).map(|r| r.rps)
    }

    /// The tables for `docs/performance.md`.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "**peers**, {} build, {}{}: {}; {} s per scenario, {} connections; authgate on {}, \
             the peers on PostgreSQL.\n\n",
            self.build,
            self.when,
            self.commit
                .as_deref()
                .map(|c| format!(" (commit {c})"))
                .unwrap_or_default(),
            self.machine.summary(),
            self.duration_s,
            self.connections,
            self.authgate_db
        );
        md.push_str("| scenario | authgate req/s | tutorial req/s | authgate ÷ tutorial | fastapi-users req/s | authgate ÷ fastapi-users |\n");
        md.push_str("|---|--:|--:|--:|--:|--:|\n");
        let num = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
        for (scenario, what) in SCENARIOS {
            let a = self.rps("authgate", scenario);
            let t = self.rps("tutorial", scenario);
            let f = self.rps("fastapi-users", scenario);
            let ratio = |p: Option<f64>| match (a, p) {
                (Some(a), Some(p)) if p > 0.0 => format!("{:.1}×", a / p),
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                md,
                "| {what} (`{scenario}`) | {} | {} | {} | {} | {} |",
                num(a),
                num(t),
                ratio(t),
                num(f),
                ratio(f)
            );
        }
        md.push_str("\n| who | scenario | req/s | p50 ms | p99 ms | errors | server CPU % | peak RSS MiB |\n");
        md.push_str("|---|---|--:|--:|--:|--:|--:|--:|\n");
        let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0}"));
        let rows = self.authgate.iter().map(|r| ("authgate", r)).chain(
            self.peers
                .iter()
                .flat_map(|p| p.scenarios.iter().map(move |r| (p.name.as_str(), r))),
        );
        for (who, r) in rows {
            let _ = writeln!(
                md,
                "| {who} | {} | {:.1} | {:.2} | {:.2} | {} | {} | {} |",
                label(&r.name),
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.errors,
                opt(r.server_cpu_pct),
                r.peak_rss_mib.map_or("–".to_owned(), |v| format!("{v:.1}"))
            );
        }
        md.push('\n');
        for p in &self.peers {
            match &p.skipped {
                Some(why) => {
                    let _ = writeln!(md, "- {}: **skipped**: {why}", p.name);
                }
                None => {
                    let _ = writeln!(
                        md,
                        "- {}: {} uvicorn workers, ready after {:.1} s; {}",
                        p.name,
                        p.workers,
                        p.ready_ms.unwrap_or(0.0) / 1000.0,
                        p.versions.join(", ")
                    );
                }
            }
        }
        md
    }

    /// Throughput per scenario, the three side by side (log scale).
    pub fn chart(&self) -> String {
        let who = [
            ("authgate", "#3b6fb6"),
            ("tutorial", "#d9822b"),
            ("fastapi-users", "#4a9a5a"),
        ];
        let bar = 20.0;
        let group = who.len() as f64 * bar + 18.0;
        let top = 100.0;
        let bottom = top + SCENARIOS.len() as f64 * group;
        let height = bottom + 60.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12">"#,
            w = svg::WIDTH
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let title = format!(
            "authgate vs the tutorial's FastAPI app vs fastapi-users · {} build · {}{}",
            self.build,
            self.when,
            self.commit
                .as_deref()
                .map(|c| format!(" · commit {c}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            r#"<text x="20" y="26" font-size="16" font-weight="bold">{}</text>"#,
            svg::esc(&title)
        );
        let sub = format!(
            "{} · {} s per scenario, {} connections · authgate on {}, peers on PostgreSQL, uvicorn workers = cores",
            self.machine.summary(),
            self.duration_s,
            self.connections,
            self.authgate_db
        );
        let _ = writeln!(
            s,
            r##"<text x="20" y="46" fill="#444">{}</text>"##,
            svg::esc(&sub)
        );
        let _ = writeln!(
            s,
            r#"<text x="20" y="76" font-size="14" font-weight="bold">Successful requests/s (log scale); the label gives authgate ÷ peer</text>"#
        );
        let max = who
            .iter()
            .flat_map(|(w, _)| SCENARIOS.iter().filter_map(|(sc, _)| self.rps(w, sc)))
            .fold(1.0, f64::max);
        let (lo, hi) = svg::decades(1.0, max);
        let mut tick = lo;
        while tick <= hi * 1.0001 {
            let x = svg::log_x(tick, lo, hi);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#666">{}</text>"##,
                top - 8.0,
                bottom + 14.0,
                svg::fmt_tick(tick)
            );
            tick *= 10.0;
        }
        for (g, (scenario, what)) in SCENARIOS.iter().enumerate() {
            let y0 = top + g as f64 * group;
            // The group's name left of its first bar; each bar's label names who it is.
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" text-anchor="end" font-weight="bold">{}</text>"#,
                svg::LEFT - 8.0,
                y0 + 14.0,
                svg::esc(what)
            );
            let authgate = self.rps("authgate", scenario);
            for (i, (name, color)) in who.iter().enumerate() {
                let y = y0 + i as f64 * bar;
                let Some(v) = self.rps(name, scenario) else {
                    let _ = writeln!(
                        s,
                        r##"<text x="{}" y="{:.1}" fill="#888">{name}: not measured</text>"##,
                        svg::LEFT + 4.0,
                        y + 14.0
                    );
                    continue;
                };
                let x = svg::log_x(v.max(lo), lo, hi);
                let _ = writeln!(
                    s,
                    r#"<rect x="{}" y="{y:.1}" width="{:.1}" height="{}" fill="{color}"><title>{name}: {}</title></rect>"#,
                    svg::LEFT,
                    x - svg::LEFT,
                    bar - 4.0,
                    svg::esc(what)
                );
                let ratio = match authgate {
                    Some(a) if i > 0 && v > 0.0 => format!(" · authgate ÷ {name} = {:.1}×", a / v),
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                    x + 6.0,
                    y + 12.0,
                    svg::esc(&format!("{name} {} /s{ratio}", svg::fmt_num(v)))
                );
            }
        }
        let ly = bottom + 38.0;
        for (i, (name, color)) in who.iter().enumerate() {
            let lx = svg::LEFT + i as f64 * 200.0;
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="{}" width="14" height="10" fill="{color}"/><text x="{}" y="{ly}">{name}</text>"#,
                ly - 9.0,
                lx + 20.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_bodies_name_seeded_users() {
        assert_eq!(
            fastapi_users_login("", 3),
            "username=seed-3%40peers.bench.example&password=bench+password+1"
        );
        let tutorial: serde_json::Value =
            serde_json::from_slice(&tutorial_login("", 3)).expect("json");
        assert_eq!(tutorial["username"], "seed-3");
        let signup: serde_json::Value =
            serde_json::from_slice(&tutorial_signup("seed", 3)).expect("json");
        assert_eq!(signup["username"], "seed-3");
    }

    #[test]
    fn pins_are_read_from_requirements() {
        let dir = std::env::temp_dir().join(format!("peers-pins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("requirements.txt");
        std::fs::write(
            &file,
            "# c\nfastapi==0.1.0\nSQLAlchemy==1.4.54\nfastapi-users==15\n",
        )
        .expect("write");
        assert_eq!(
            pinned(&file, &["fastapi-users", "sqlalchemy", "uvicorn"]),
            ["fastapi-users==15", "SQLAlchemy==1.4.54"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
