//! Turning recorders into figures, the printed table and the Markdown one; the targets
//! are checked in `targets.rs`.

mod targets;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::load::Recorder;
use crate::machine::Machine;

/// Statuses that are documented answers under overload (load shedding of the hashing pool,
/// rate limits), not errors, in the scenarios that can provoke them.
const SHED: [u16; 2] = [429, 503];

/// One scenario's (or one part of a mixed scenario's) figures.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    /// What was measured, in a few words.
    pub what: String,
    /// Answers received (any status).
    pub requests: u64,
    /// Successful (2xx) answers per second.
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Unexpected outcomes: non-2xx answers (other than documented shedding) and transport errors.
    pub errors: u64,
    /// Documented 429/503 answers (only where shedding is expected: login, register, storm).
    pub shed: u64,
    pub statuses: BTreeMap<String, u64>,
    /// Server CPU time over the scenario, in % of one core (200% = both cores of a 2-core box).
    pub server_cpu_pct: Option<f64>,
    /// Peak resident memory of the server during the scenario (VmHWM), MiB.
    pub peak_rss_mib: Option<f64>,
    /// `[latency ms, fraction of requests at or below]`, for the CDF chart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdf: Vec<[f64; 2]>,
}

impl ScenarioResult {
    pub fn from_recorder(
        name: &str,
        what: &str,
        mut rec: Recorder,
        elapsed: Duration,
        shed_allowed: bool,
        with_cdf: bool,
    ) -> Self {
        rec.latencies_us.sort_unstable();
        let lat = &rec.latencies_us;
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let idx = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
            lat[idx] as f64 / 1000.0
        };
        let ok: u64 = rec
            .statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum();
        let shed: u64 = if shed_allowed {
            rec.statuses
                .iter()
                .filter(|(s, _)| SHED.contains(s))
                .map(|(_, n)| n)
                .sum()
        } else {
            0
        };
        let answered: u64 = rec.statuses.values().sum();
        let mut statuses: BTreeMap<String, u64> = rec
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        if rec.transport_errors > 0 {
            statuses.insert("transport".into(), rec.transport_errors);
        }
        let cdf = if with_cdf && !lat.is_empty() {
            let mut qs: Vec<f64> = (1..=99).map(|i| i as f64 / 100.0).collect();
            qs.extend([0.995, 0.999, 1.0]);
            std::iter::once([lat[0] as f64 / 1000.0, 0.0])
                .chain(qs.into_iter().map(|q| [pct(q), q]))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            name: name.into(),
            what: what.into(),
            requests: answered,
            rps: ok as f64 / elapsed.as_secs_f64(),
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: lat.last().map_or(0.0, |&us| us as f64 / 1000.0),
            errors: answered - ok - shed + rec.transport_errors,
            shed,
            statuses,
            server_cpu_pct: None,
            peak_rss_mib: None,
            cdf,
        }
    }
}

/// The password-hash cost in this run, single thread.
#[derive(Debug, Clone, Serialize)]
pub struct HashCost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    pub hash_ms: f64,
    pub verify_ms: f64,
}

/// Start-up and idle figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Startup {
    /// Spawn to first `/readyz` 200, first start on the freshly seeded database.
    pub first_start_ms: f64,
    /// The same on a restart over the existing database (the target's figure).
    pub restart_ms: f64,
    /// VmRSS after start and `/readyz`, MiB.
    pub idle_rss_mib: Option<f64>,
    /// Of it: file-backed (the executable mapped in) and anonymous (the heap, stacks), MiB.
    pub idle_rss_split_mib: Option<(f64, f64)>,
}

/// One target from the issue, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub measured: String,
    pub wanted: String,
    /// `None` when the run lacked a scenario the target needs.
    pub pass: Option<bool>,
}

/// Everything a run found, as written to `<db>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub db: String,
    pub build: &'static str,
    pub when: String,
    pub commit: Option<String>,
    pub machine: Machine,
    pub duration_s: f64,
    pub connections: usize,
    pub users: usize,
    pub hash: HashCost,
    pub startup: Startup,
    pub access_token_bytes_three_roles: Option<usize>,
    pub scenarios: Vec<ScenarioResult>,
    /// The import scenario (`authgate import tutorial`), unless skipped.
    pub import: Option<crate::import::ImportFigure>,
    /// The propagation-lag scenario, unless skipped.
    pub lag: Option<crate::lag::LagFigure>,
    pub targets: Vec<Target>,
}

impl Report {
    pub fn scenario(&self, name: &str) -> Option<&ScenarioResult> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// Scenarios with unexpected errors.
    pub fn failed_scenarios(&self) -> Vec<&str> {
        self.scenarios
            .iter()
            .filter(|s| s.errors > 0)
            .map(|s| s.name.as_str())
            .collect()
    }

    /// The results as Markdown, for `docs/performance.md`.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "**{}**, {} build, {}{}: {}; {} s per scenario, {} connections, {} users.\n\n",
            self.db,
            self.build,
            self.when,
            self.commit
                .as_deref()
                .map(|c| format!(" (commit {c})"))
                .unwrap_or_default(),
            self.machine.summary(),
            self.duration_s,
            self.connections,
            self.users
        );
        md.push_str("| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | shed 503/429 | server CPU % | peak RSS MiB |\n");
        md.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for s in &self.scenarios {
            md.push_str(&format!(
                "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} |\n",
                s.name,
                s.rps,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.max_ms,
                s.errors,
                s.shed,
                s.server_cpu_pct.map_or("–".into(), |c| format!("{c:.0}")),
                s.peak_rss_mib.map_or("–".into(), |m| format!("{m:.1}")),
            ));
        }
        md.push_str(&format!(
            "\nargon2id m={} KiB, t={}, p={} on one core: hash {:.1} ms, verify {:.1} ms. \
             Start to ready: {:.0} ms (first start), {:.0} ms (restart on the existing database). \
             Idle RSS: {}.\n\n",
            self.hash.m_kib,
            self.hash.t,
            self.hash.p,
            self.hash.hash_ms,
            self.hash.verify_ms,
            self.startup.first_start_ms,
            self.startup.restart_ms,
            match (self.startup.idle_rss_mib, self.startup.idle_rss_split_mib) {
                (Some(m), Some((file, anon))) => format!(
                    "{m:.1} MiB ({file:.1} MiB file-backed, the executable's pages; \
                     {anon:.1} MiB anonymous)"
                ),
                (Some(m), None) => format!("{m:.1} MiB"),
                _ => "n/a".into(),
            }
        ));
        if let Some(i) = &self.import {
            md.push_str(&format!("{}\n\n", i.summary()));
        }
        if let Some(l) = &self.lag {
            md.push_str(&format!("{}\n\n", l.summary()));
        }
        md.push_str("| target | measured | wanted | |\n|---|---|---|---|\n");
        for t in &self.targets {
            let mark = match t.pass {
                Some(true) => "pass",
                Some(false) => "**fail**",
                None => "–",
            };
            md.push_str(&format!(
                "| {} | {} | {} | {mark} |\n",
                t.name, t.measured, t.wanted
            ));
        }
        md
    }

    pub fn print(&self) {
        println!();
        println!(
            "authgate-bench: {} ({} build), {} s per scenario, {} connections, {} users",
            self.db, self.build, self.duration_s, self.connections, self.users
        );
        println!("machine: {}", self.machine.summary());
        println!();
        println!(
            "{:<12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>9} {:>9}",
            "scenario",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "shed",
            "srv CPU%",
            "peak MiB"
        );
        for s in &self.scenarios {
            println!(
                "{:<12} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>7} {:>6} {:>9} {:>9}",
                s.name,
                s.rps,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.max_ms,
                s.errors,
                s.shed,
                s.server_cpu_pct.map_or("-".into(), |c| format!("{c:.0}")),
                s.peak_rss_mib.map_or("-".into(), |m| format!("{m:.1}")),
            );
        }
        for s in self.scenarios.iter().filter(|s| s.errors > 0) {
            println!("  {}: answers by status {:?}", s.name, s.statuses);
        }
        println!();
        println!(
            "argon2id m={} KiB t={} p={}: hash {:.1} ms, verify {:.1} ms (one core)",
            self.hash.m_kib, self.hash.t, self.hash.p, self.hash.hash_ms, self.hash.verify_ms
        );
        println!(
            "start to ready: {:.0} ms first start, {:.0} ms restart; idle RSS {}",
            self.startup.first_start_ms,
            self.startup.restart_ms,
            self.startup
                .idle_rss_mib
                .map_or("n/a".into(), |m| format!("{m:.1} MiB"))
        );
        if let Some(i) = &self.import {
            println!("{}", i.summary());
        }
        if let Some(l) = &self.lag {
            println!("{}", l.summary());
        }
        println!();
        println!("targets:");
        for t in &self.targets {
            let mark = match t.pass {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => " -- ",
            };
            println!(
                "  [{mark}] {}: {} (wanted {})",
                t.name, t.measured, t.wanted
            );
        }
    }
}
