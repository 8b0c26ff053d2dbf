//! The targets, checked against a run's figures: issue #4's, raised by issue 14 (protected
//! ≥ 0.9×, `/users/me` ≥ 0.6× on SQLite and ≥ 0.4× on PostgreSQL, refresh ≥ 0.6× / ≥ 0.5× of
//! the write floor, the storm's p99 < 2× calm, on both databases).

use super::{Report, Target};

impl Report {
    /// Check the targets against this run.
    pub fn check_targets(&mut self) {
        let mut out = Vec::new();
        let sqlite = self.db == "sqlite";
        let rps = |n: &str| self.scenario(n).map(|s| s.rps);
        let ratio = |name: &str, num: Option<f64>, den: Option<f64>, min: f64| Target {
            name: name.into(),
            measured: match (num, den) {
                (Some(n), Some(d)) if d > 0.0 => format!("{:.2}×", n / d),
                _ => "n/a".into(),
            },
            wanted: format!("≥ {min}×"),
            pass: match (num, den) {
                (Some(n), Some(d)) if d > 0.0 => Some(n / d >= min),
                _ => None,
            },
        };
        out.push(ratio(
            "protected vs baseline req/s",
            rps("protected"),
            rps("baseline"),
            0.9,
        ));
        out.push(ratio(
            "me vs baseline req/s",
            rps("me"),
            rps("baseline"),
            if sqlite { 0.6 } else { 0.4 },
        ));
        let login_ceiling = self.machine.cores as f64 / (self.hash.verify_ms / 1000.0);
        out.push(ratio(
            &format!(
                "login vs cores ÷ verify time ({} ÷ {:.1} ms = {login_ceiling:.0}/s)",
                self.machine.cores, self.hash.verify_ms
            ),
            rps("login"),
            Some(login_ceiling),
            0.9,
        ));
        let storm = self.scenario("storm");
        let calm = self.scenario("storm/calm");
        out.push(Target {
            name: "storm: p99 of protected".into(),
            measured: storm.map_or("n/a".into(), |s| format!("{:.2} ms", s.p99_ms)),
            wanted: "< 10 ms".into(),
            pass: storm.map(|s| s.p99_ms < 10.0),
        });
        out.push(Target {
            name: "storm: p99 of protected vs the same clients without the storm".into(),
            measured: match (storm, calm) {
                (Some(s), Some(c)) if c.p99_ms > 0.0 => format!("{:.2}×", s.p99_ms / c.p99_ms),
                _ => "n/a".into(),
            },
            wanted: "< 2×".into(),
            pass: match (storm, calm) {
                (Some(s), Some(c)) if c.p99_ms > 0.0 => Some(s.p99_ms / c.p99_ms < 2.0),
                _ => None,
            },
        });
        let storm_errors: Option<u64> = ["storm", "storm/login"]
            .iter()
            .map(|n| self.scenario(n).map(|s| s.errors))
            .sum();
        out.push(Target {
            name: "storm: errors other than documented 503/429".into(),
            measured: storm_errors.map_or("n/a".into(), |e| e.to_string()),
            wanted: "0".into(),
            pass: storm_errors.map(|e| e == 0),
        });
        out.push(ratio(
            "refresh vs db_floor req/s",
            rps("refresh"),
            rps("db_floor"),
            if sqlite { 0.6 } else { 0.5 },
        ));
        out.push(Target {
            name: "import of tutorial users (100,000 in < 60 s)".into(),
            measured: self.import.as_ref().map_or("n/a".into(), |i| {
                format!(
                    "{:.0} users/s ({} in {:.1} s)",
                    i.users_per_s, i.users, i.seconds
                )
            }),
            wanted: format!("≥ {:.0} users/s", crate::import::TARGET_PER_S),
            pass: self
                .import
                .as_ref()
                .map(|i| i.users_per_s >= crate::import::TARGET_PER_S),
        });
        out.push(Target {
            name: "propagation lag p99, logout on one instance to 401 on the others".into(),
            measured: self.lag.as_ref().map_or("n/a".into(), |l| {
                format!("{:.1} ms over {} logouts", l.p99_ms, l.revocations)
            }),
            wanted: format!("≤ {:.0} ms", crate::lag::TARGET_P99_MS),
            pass: self
                .lag
                .as_ref()
                .map(|l| l.p99_ms <= crate::lag::TARGET_P99_MS),
        });
        let peak = self
            .scenarios
            .iter()
            .filter_map(|s| s.peak_rss_mib.map(|p| (p, s.name.as_str())))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        out.push(Target {
            name: format!(
                "peak RSS under every scenario{}",
                if sqlite {
                    ""
                } else {
                    " (target is for SQLite)"
                }
            ),
            measured: peak.map_or("n/a".into(), |(p, n)| format!("{p:.1} MiB ({n})")),
            wanted: "≤ 64 MiB".into(),
            pass: peak.filter(|_| sqlite).map(|(p, _)| p <= 64.0),
        });
        out.push(Target {
            name: "idle RSS".into(),
            measured: self
                .startup
                .idle_rss_mib
                .map_or("n/a".into(), |m| format!("{m:.1} MiB")),
            wanted: "≤ 20 MiB".into(),
            pass: self.startup.idle_rss_mib.map(|m| m <= 20.0),
        });
        out.push(Target {
            name: "access token, user with three roles".into(),
            measured: self
                .access_token_bytes_three_roles
                .map_or("n/a".into(), |b| format!("{b} bytes")),
            wanted: "≤ 1024 bytes".into(),
            pass: self.access_token_bytes_three_roles.map(|b| b <= 1024),
        });
        out.push(Target {
            name: format!(
                "start to ready on an existing database{}",
                if sqlite {
                    ""
                } else {
                    " (target is for SQLite)"
                }
            ),
            measured: format!("{:.0} ms", self.startup.restart_ms),
            wanted: "≤ 250 ms".into(),
            pass: sqlite.then_some(self.startup.restart_ms <= 250.0),
        });
        self.targets = out;
    }
}
