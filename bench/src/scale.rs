//! `--scale`: cost as data grows (issue 14). For each size, a fresh database on `--db` is
//! seeded with that many users (each with the role `user`, sessions with a refresh token each,
//! audit rows, and 100,000 revoked sessions in force, which every server loads into memory),
//! an authgate child is started on it, and each scenario below is driven for `--duration`.
//! The figure that matters is each scenario's median at the largest size over the smallest;
//! the target is ≤ 1.5×. Writes `scale-<db>.json` and `.md`, and `scale.svg` from every
//! `scale-*.json` in the output directory (so one chart shows both databases).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::child::ChildProcess;
use crate::db::{self, BenchDb, ScaleShape};
use crate::load::{self, Workload};
use crate::machine::{self, Machine};
use crate::report::ScenarioResult;
use crate::{Db, RunArgs};

/// Revoked sessions in force during every size (the "100k revoked sessions in memory").
pub const REVOKED: usize = 100_000;
/// Sessions (each with one refresh token) and audit rows per seeded user.
const SESSIONS_PER_USER: usize = 1;
const AUDIT_PER_USER: usize = 2;
/// Connections of the admin-search scenarios: an admin console, not a crowd, so their medians
/// are the cost of a search rather than of a queue of them.
const SEARCHERS: usize = 4;
/// The target: no scenario's median more than this many times its median at the smallest size.
pub const TARGET_RATIO: f64 = 1.5;

/// The scenarios of a size, in the order they run.
const SCENARIOS: [&str; 8] = [
    "login",
    "me",
    "refresh",
    "protected",
    "search_q",
    "search_role",
    "search_deep",
    "revocation_check",
];

fn what(name: &str) -> &'static str {
    match name {
        "login" => "POST /auth/login, seeded users round-robin (argon2id verify, session insert)",
        "me" => "GET /users/me (token, revocation list, one user read)",
        "refresh" => "POST /auth/refresh chains (rotation, a user read, a new pair)",
        "protected" => "GET /bench/protected: token + the in-memory list of 100k revoked sessions",
        "search_q" => "GET /admin/users?q=user<n/2>@ (substring search, one match)",
        "search_role" => "GET /admin/users?role=admin (one admin among every user)",
        "search_deep" => "GET /admin/users?after=<the user at 90 %> (a deep cursor page of 50)",
        "revocation_check" => {
            "in process: one session + user check against 100k revoked sessions, ns (no HTTP)"
        }
        _ => "",
    }
}

/// One scenario at one size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScalePoint {
    pub scenario: String,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// Everything measured at one size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleSize {
    pub users: usize,
    pub sessions: usize,
    pub audit_rows: usize,
    pub revoked_sessions: usize,
    pub seed_s: f64,
    pub db_bytes: u64,
    pub restart_ms: f64,
    pub idle_rss_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub points: Vec<ScalePoint>,
}

/// A whole `--scale` run on one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleReport {
    pub db: String,
    pub build: String,
    pub when: String,
    pub commit: Option<String>,
    pub machine: String,
    pub duration_s: f64,
    pub connections: usize,
    pub sizes: Vec<ScaleSize>,
}

impl ScaleReport {
    /// `(scenario, median at the largest size ÷ median at the smallest)`.
    pub fn ratios(&self) -> Vec<(String, f64)> {
        let (Some(first), Some(last)) = (self.sizes.first(), self.sizes.last()) else {
            return Vec::new();
        };
        first
            .points
            .iter()
            .filter_map(|a| {
                let b = last.points.iter().find(|b| b.scenario == a.scenario)?;
                (a.p50_ms > 0.0).then(|| (a.scenario.clone(), b.p50_ms / a.p50_ms))
            })
            .collect()
    }

    fn failed(&self) -> Vec<String> {
        self.sizes
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| p.errors > 0))
            .map(|p| p.scenario.clone())
            .collect()
    }

    pub fn markdown(&self) -> String {
        let mut md = format!(
            "**{}**, {} build, {} (commit {}): {}; {:.0} s per scenario, {} connections.\n\n",
            self.db,
            self.build,
            self.when,
            self.commit.as_deref().unwrap_or("unknown"),
            self.machine,
            self.duration_s,
            self.connections
        );
        md.push_str("| users | sessions | audit rows | seed s | database MiB | restart ms | idle RSS MiB | peak RSS MiB |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for s in &self.sizes {
            md.push_str(&format!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {} | {} |\n",
                s.users,
                s.sessions,
                s.audit_rows,
                s.seed_s,
                s.db_bytes as f64 / 1048576.0,
                s.restart_ms,
                opt(s.idle_rss_mib),
                opt(s.peak_rss_mib)
            ));
        }
        md.push_str("\nMedian (p50) per size, ms (`revocation_check`: ns); p99 and req/s in the JSON.\n\n| scenario |");
        for s in &self.sizes {
            md.push_str(&format!(" {} |", s.users));
        }
        md.push_str(&format!(
            " largest ÷ smallest | ≤ {TARGET_RATIO}× |\n|---|{}--:|---|\n",
            "--:|".repeat(self.sizes.len())
        ));
        let ratios = self.ratios();
        for name in SCENARIOS {
            let Some(ratio) = ratios.iter().find(|(n, _)| n == name).map(|r| r.1) else {
                continue;
            };
            md.push_str(&format!("| {name} |"));
            for s in &self.sizes {
                let p = s.points.iter().find(|p| p.scenario == name);
                md.push_str(&match p {
                    Some(p) if name == "revocation_check" => format!(" {:.0} |", p.p50_ms * 1e6),
                    Some(p) => format!(" {:.2} |", p.p50_ms),
                    None => " – |".into(),
                });
            }
            let verdict = if ratio <= TARGET_RATIO {
                "pass"
            } else {
                "**fail**"
            };
            md.push_str(&format!(" {ratio:.2}× | {verdict} |\n"));
        }
        md
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The default sizes, and the smoke run's.
pub fn sizes(args: &RunArgs) -> Vec<usize> {
    if !args.scale_sizes.is_empty() {
        args.scale_sizes.clone()
    } else if args.smoke {
        vec![1_000, 2_000]
    } else {
        vec![10_000, 100_000, 1_000_000]
    }
}

/// Run `--scale`; `Ok(false)` when a scenario had unexpected errors.
pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let machine = Machine::detect();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "authgate-bench --scale: {} on {}, {build} build, sizes {:?}",
        args.db.name(),
        machine.summary(),
        self::sizes(&args)
    );
    let settings = crate::serve::authgate_settings("sqlite::memory:")?;
    let phc = db::hash_password(settings.argon2_memory_kib, settings.argon2_iterations)?;
    let ttl = settings.access_ttl + settings.leeway;
    let mut sizes = Vec::new();
    for users in self::sizes(&args) {
        let bench_db = BenchDb::provision(args.db, &args.pg_url).await?;
        let outcome = one_size(&args, &bench_db, users, &phc, ttl).await;
        bench_db.drop_db().await;
        let size = outcome?;
        println!(
            "  {users} users: database {:.1} MiB, idle RSS {} MiB, peak RSS {} MiB",
            size.db_bytes as f64 / 1048576.0,
            opt(size.idle_rss_mib),
            opt(size.peak_rss_mib)
        );
        sizes.push(size);
    }
    let report = ScaleReport {
        db: args.db.name().into(),
        build: build.into(),
        when: machine::timestamp(),
        commit: machine::git_commit(),
        machine: machine.summary(),
        duration_s: args.duration.as_secs_f64(),
        connections: args.connections,
        sizes,
    };
    println!("\n{}", report.markdown());
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        if args.smoke {
            manifest.join("../target/bench-smoke")
        } else {
            manifest.join("results")
        }
    });
    std::fs::create_dir_all(&out_dir)?;
    let json = out_dir.join(format!("scale-{}.json", report.db));
    std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::write(
        out_dir.join(format!("scale-{}.md", report.db)),
        report.markdown(),
    )?;
    let svg = out_dir.join("scale.svg");
    std::fs::write(&svg, chart(&load_reports(&out_dir)))?;
    println!("wrote {} and {}", json.display(), svg.display());
    let failed = report.failed();
    if failed.is_empty() {
        Ok(true)
    } else {
        eprintln!("error: unexpected errors in {failed:?}");
        Ok(false)
    }
}

/// Every `scale-*.json` in `dir`, SQLite first.
fn load_reports(dir: &Path) -> Vec<ScaleReport> {
    let mut out: Vec<ScaleReport> = [Db::Sqlite, Db::Postgres]
        .iter()
        .filter_map(|db| {
            let text =
                std::fs::read_to_string(dir.join(format!("scale-{}.json", db.name()))).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect();
    out.sort_by_key(|r| r.db != "sqlite");
    out
}

async fn one_size(
    args: &RunArgs,
    bench_db: &BenchDb,
    users: usize,
    phc: &str,
    ttl: i64,
) -> anyhow::Result<ScaleSize> {
    let shape = ScaleShape {
        users,
        sessions_per_user: SESSIONS_PER_USER,
        audit_per_user: AUDIT_PER_USER,
        revoked_sessions: REVOKED,
    };
    let start = Instant::now();
    db::seed_scale(bench_db, shape, phc).await?;
    let seed_s = start.elapsed().as_secs_f64();
    println!(
        "{} users: seeded {} users, {} sessions, {} audit rows, {REVOKED} revocations in {seed_s:.1} s",
        users,
        users,
        users * SESSIONS_PER_USER,
        users * AUDIT_PER_USER
    );
    let db_bytes = db::size_bytes(bench_db).await?;

    let authgate_args = ["--db-url", bench_db.url.as_str()];
    // The first start creates the signing key; the figures are from a restart.
    drop(ChildProcess::start("serve-authgate", &authgate_args, bench_db.dir()).await?);
    let child = ChildProcess::start("serve-authgate", &authgate_args, bench_db.dir()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss_mib = machine::rss_kib(child.pid()).map(mib);
    let addr = child.addr;
    let n = args.connections;
    let admin = load::login_as(addr, db::THREE_ROLE_EMAIL).await?;
    let sessions = load::sessions(addr, n, 0).await?;

    let mut points = Vec::new();
    for name in SCENARIOS {
        if name == "revocation_check" {
            points.push(revocation_check(&bench_db.url, ttl).await?);
            continue;
        }
        let works = workloads(name, n, users, &sessions, &admin.access_token, addr).await?;
        let (mut recs, elapsed) = load::drive(addr, vec![works], args.duration).await?;
        let rec = recs.pop().context("no recorder")?;
        let r =
            ScenarioResult::from_recorder(name, what(name), rec, elapsed, name == "login", false);
        println!(
            "  {name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
            r.rps,
            r.p50_ms,
            r.p99_ms,
            if r.errors > 0 {
                format!(", {} errors {:?}", r.errors, r.statuses)
            } else {
                String::new()
            }
        );
        points.push(ScalePoint {
            scenario: name.into(),
            rps: r.rps,
            p50_ms: r.p50_ms,
            p99_ms: r.p99_ms,
            errors: r.errors,
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let peak_rss_mib = machine::peak_rss_kib(child.pid()).map(mib);
    let restart_ms = child.ready_after.as_secs_f64() * 1000.0;
    drop(child);
    Ok(ScaleSize {
        users,
        sessions: users * SESSIONS_PER_USER,
        audit_rows: users * AUDIT_PER_USER,
        revoked_sessions: REVOKED,
        seed_s,
        db_bytes,
        restart_ms,
        idle_rss_mib,
        peak_rss_mib,
        points,
    })
}

/// A path with a query, for the `&'static str` a [`Workload::Get`] holds (a few per size).
fn leak(path: String) -> &'static str {
    path.leak()
}

async fn workloads(
    name: &str,
    n: usize,
    users: usize,
    sessions: &[load::Tokens],
    admin_token: &str,
    addr: SocketAddr,
) -> anyhow::Result<Vec<Workload>> {
    let get = |path: &'static str, token: &str| Workload::Get {
        path,
        token: Some(token.to_owned()),
    };
    Ok(match name {
        "login" => (0..n)
            .map(|i| Workload::Login {
                next: i,
                stride: n,
                users,
            })
            .collect(),
        "me" => (0..n)
            .map(|i| get("/users/me", &sessions[i].access_token))
            .collect(),
        "protected" => (0..n)
            .map(|i| get("/bench/protected", &sessions[i].access_token))
            .collect(),
        "refresh" => {
            // Chains of their own (users n..2n), so the sessions above stay valid.
            let chains = load::sessions(addr, n, n).await?;
            chains
                .into_iter()
                .enumerate()
                .map(|(i, tokens)| Workload::RefreshChain {
                    tokens,
                    user: n + i,
                })
                .collect()
        }
        "search_q" => {
            let path = leak(format!("/admin/users?q=user{}%40", users / 2));
            (0..n.min(SEARCHERS))
                .map(|_| get(path, admin_token))
                .collect()
        }
        "search_role" => {
            let path = "/admin/users?role=admin";
            (0..n.min(SEARCHERS))
                .map(|_| get(path, admin_token))
                .collect()
        }
        "search_deep" => {
            let after = db::scale_user_id(users * 9 / 10);
            let path = leak(format!("/admin/users?after={after}&limit=50"));
            (0..n.min(SEARCHERS))
                .map(|_| get(path, admin_token))
                .collect()
        }
        other => anyhow::bail!("unknown scale scenario {other}"),
    })
}

/// The in-memory check every authenticated request makes, against the run's revocation list
/// as a server loads it (100k revoked sessions): a session that is not revoked, and a user
/// with no admin change. Median of 9 batches of 100,000 checks; `p50_ms` holds ms per check.
async fn revocation_check(url: &str, ttl: i64) -> anyhow::Result<ScalePoint> {
    use authgate::internals::{Revocations, connect};
    let store = connect(url).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let list = Revocations::load(store, ttl, now).await?;
    let (sid, user) = (Uuid::now_v7(), Uuid::now_v7());
    let revoked_one = Uuid::parse_str("00000000-0000-7000-a000-000000000007")?;
    anyhow::ensure!(
        list.is_session_revoked(&revoked_one, now),
        "the seeded revocations were not loaded"
    );
    const BATCH: u32 = 100_000;
    let mut per_check = Vec::new();
    for _ in 0..9 {
        let start = Instant::now();
        for _ in 0..BATCH {
            let revoked = list.is_session_revoked(std::hint::black_box(&sid), now);
            let changed = list.user_state(std::hint::black_box(&user), now);
            std::hint::black_box((revoked, changed));
        }
        per_check.push(start.elapsed().as_secs_f64() * 1000.0 / f64::from(BATCH));
    }
    per_check.sort_by(f64::total_cmp);
    let p50 = per_check[per_check.len() / 2];
    println!("  revocation_check: {:.0} ns per check", p50 * 1e6);
    Ok(ScalePoint {
        scenario: "revocation_check".into(),
        rps: 1000.0 / p50,
        p50_ms: p50,
        p99_ms: per_check[per_check.len() - 1],
        errors: 0,
    })
}

/// Median at each size ÷ median at the smallest, per scenario: solid lines SQLite, dashed
/// PostgreSQL, log-scale users, the 1.5× target as a red line.
pub fn chart(reports: &[ScaleReport]) -> String {
    const W: f64 = 760.0;
    const H: f64 = 420.0;
    let (left, right, top, bottom) = (60.0, 200.0, 40.0, 50.0);
    let colours = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    ];
    let all_sizes: Vec<usize> = reports
        .iter()
        .flat_map(|r| r.sizes.iter().map(|s| s.users))
        .collect();
    let (min_n, max_n) = (
        all_sizes.iter().copied().min().unwrap_or(1).max(1) as f64,
        all_sizes.iter().copied().max().unwrap_or(10).max(2) as f64,
    );
    let mut max_ratio: f64 = 2.0;
    for r in reports {
        for name in SCENARIOS {
            for (i, _) in r.sizes.iter().enumerate() {
                if let Some(v) = relative(r, name, i) {
                    max_ratio = max_ratio.max(v);
                }
            }
        }
    }
    let max_ratio = max_ratio.min(20.0).ceil();
    let x = |n: f64| {
        let span = (max_n.log10() - min_n.log10()).max(1e-9);
        left + (n.log10() - min_n.log10()) / span * (W - left - right)
    };
    let y = |v: f64| top + (1.0 - v.min(max_ratio) / max_ratio) * (H - top - bottom);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"22\" font-size=\"14\">Cost as data grows: median ÷ median at {} users (solid SQLite, dashed PostgreSQL)</text>\n",
        min_n as u64
    );
    // Axes, grid and the target.
    let mut tick = 1.0;
    while tick <= max_ratio {
        let ty = y(tick);
        svg.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}×</text>\n",
            W - right,
            left - 6.0,
            ty + 4.0
        ));
        tick += if max_ratio > 6.0 { 2.0 } else { 1.0 };
    }
    let ty = y(TARGET_RATIO);
    svg.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#d62728\" stroke-width=\"1.5\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\" text-anchor=\"end\">target {TARGET_RATIO}×</text>\n",
        W - right,
        W - right - 4.0,
        ty - 4.0
    ));
    let mut sizes: Vec<usize> = all_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    for n in &sizes {
        let tx = x(*n as f64);
        svg.push_str(&format!(
            "<line x1=\"{tx:.1}\" y1=\"{top}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            H - bottom,
            H - bottom + 16.0,
            human(*n)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">users (log scale)</text>\n",
        (left + W - right) / 2.0,
        H - 12.0
    ));
    for r in reports {
        let dash = if r.db == "sqlite" {
            ""
        } else {
            " stroke-dasharray=\"6 4\""
        };
        for (k, name) in SCENARIOS.iter().enumerate() {
            let pts: Vec<String> = r
                .sizes
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let v = relative(r, name, i)?;
                    Some(format!("{:.1},{:.1}", x(s.users as f64), y(v)))
                })
                .collect();
            if pts.len() < 2 {
                continue;
            }
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash} points=\"{}\"/>\n",
                colours[k % colours.len()],
                pts.join(" ")
            ));
        }
    }
    for (k, name) in SCENARIOS.iter().enumerate() {
        let ly = top + 10.0 + k as f64 * 18.0;
        let lx = W - right + 14.0;
        svg.push_str(&format!(
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{:.1}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"2\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{name}</text>\n",
            lx + 22.0,
            colours[k % colours.len()],
            lx + 28.0,
            ly + 4.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// Scenario `name`'s median at size index `i` ÷ its median at the first size.
fn relative(r: &ScaleReport, name: &str, i: usize) -> Option<f64> {
    let p50 = |s: &ScaleSize| {
        s.points
            .iter()
            .find(|p| p.scenario == name)
            .map(|p| p.p50_ms)
    };
    let base = p50(r.sizes.first()?)?;
    (base > 0.0).then(|| p50(&r.sizes[i]).map(|v| v / base))?
}

fn human(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(medians: &[(usize, f64)]) -> ScaleReport {
        ScaleReport {
            db: "sqlite".into(),
            build: "debug".into(),
            when: String::new(),
            commit: None,
            machine: String::new(),
            duration_s: 1.0,
            connections: 2,
            sizes: medians
                .iter()
                .map(|&(users, p50)| ScaleSize {
                    users,
                    sessions: users,
                    audit_rows: 2 * users,
                    revoked_sessions: REVOKED,
                    seed_s: 0.0,
                    db_bytes: 0,
                    restart_ms: 0.0,
                    idle_rss_mib: None,
                    peak_rss_mib: None,
                    points: vec![ScalePoint {
                        scenario: "me".into(),
                        rps: 1.0,
                        p50_ms: p50,
                        p99_ms: p50,
                        errors: 0,
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn ratio_is_largest_over_smallest_and_judged_against_the_target() {
        let r = report(&[(1_000, 2.0), (2_000, 2.5), (4_000, 4.0)]);
        assert_eq!(r.ratios(), vec![("me".to_string(), 2.0)]);
        assert!(
            r.markdown()
                .contains("| me | 2.00 | 2.50 | 4.00 | 2.00× | **fail** |")
        );
        let ok = report(&[(1_000, 2.0), (4_000, 2.2)]);
        assert!(ok.markdown().contains("1.10× | pass |"));
        assert!(chart(&[ok]).contains("<polyline"));
    }

    #[test]
    fn sizes_are_labelled_shortly() {
        assert_eq!(human(10_000), "10k");
        assert_eq!(human(1_000_000), "1M");
        assert_eq!(human(1_500), "1500");
    }
}
