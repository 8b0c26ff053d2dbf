//! The scenarios of a run: what each one measures, against which process, and the workload
//! of each of its connections. `docs/performance.md` explains what each figure means.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::db::{BenchDb, Floor};
use crate::load::{self, Tokens, Workload};

/// One scenario; [`Scenario::ALL`] is the order they run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The reference child: fixed JSON through the same middleware stack.
    Baseline,
    /// A verified token and a role, no database.
    Protected,
    /// `GET /users/me`, one database read.
    Me,
    /// Logins of seeded users (argon2id verify).
    Login,
    /// Refresh chains (each refresh presents the token the last one returned).
    Refresh,
    /// Registrations (argon2id hash).
    Register,
    /// Protected calls while logins saturate the hashing pool.
    Storm,
    /// The database alone, no HTTP: the floor under a refresh.
    DbFloor,
}

/// Where a scenario's load goes, and so whose CPU time and memory it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// The reference child process.
    Reference,
    /// The authgate child process.
    Authgate,
    /// The database directly, from this process (no child's figures).
    Database,
}

/// What building a scenario's connections needs from the run.
pub struct Setup<'a> {
    /// Connections per scenario.
    pub connections: usize,
    /// Seeded users.
    pub users: usize,
    /// One logged-in session per connection, opened outside any measurement (protected, me
    /// and storm present their access tokens).
    pub sessions: &'a [Tokens],
    /// The authgate child, where refresh opens its chains' sessions.
    pub authgate: SocketAddr,
    pub db: &'a BenchDb,
}

impl Setup<'_> {
    fn bearer(&self, i: usize) -> Option<String> {
        Some(self.sessions[i % self.connections].access_token.clone())
    }

    /// `GET /bench/protected` with session `i`'s token.
    fn protected(&self, i: usize) -> Workload {
        Workload::Get {
            path: "/bench/protected",
            token: self.bearer(i),
        }
    }
}

/// Connections that are reported together under one label.
pub struct Group {
    pub label: &'static str,
    /// What was measured, in a few words.
    pub what: &'static str,
    /// Whether the results keep the latency CDF (for the chart).
    pub cdf: bool,
    /// One workload per connection.
    pub workloads: Vec<Workload>,
}

/// Groups driven at the same time, for one duration.
pub struct Measurement {
    pub groups: Vec<Group>,
    /// Whether 429/503 are documented answers here (the hashing pool shedding load), not errors.
    pub sheds: bool,
    /// The pool db_floor's connections share, closed after the measurement.
    pub floor: Option<Floor>,
}

impl Measurement {
    fn one(label: &'static str, what: &'static str, sheds: bool, workloads: Vec<Workload>) -> Self {
        let cdf = label == "protected";
        Self {
            groups: vec![Group {
                label,
                what,
                cdf,
                workloads,
            }],
            sheds,
            floor: None,
        }
    }
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::Baseline,
        Scenario::Protected,
        Scenario::Me,
        Scenario::Login,
        Scenario::Refresh,
        Scenario::Register,
        Scenario::Storm,
        Scenario::DbFloor,
    ];

    /// The name on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Protected => "protected",
            Scenario::Me => "me",
            Scenario::Login => "login",
            Scenario::Refresh => "refresh",
            Scenario::Register => "register",
            Scenario::Storm => "storm",
            Scenario::DbFloor => "db_floor",
        }
    }

    /// What the scenario measures, in a few words (as the results say it).
    pub fn what(self) -> &'static str {
        match self {
            Scenario::Baseline => "reference: fixed JSON through the same server stack",
            Scenario::Protected => "GET /bench/protected: verified token + role, no database",
            Scenario::Me => "GET /users/me: one database read",
            Scenario::Login => "POST /auth/login as seeded users (argon2id verify)",
            Scenario::Refresh => "POST /auth/refresh chains: each uses the token the last returned",
            Scenario::Register => "POST /auth/register with unique e-mails (argon2id hash)",
            Scenario::Storm => {
                "protected calls while other clients' logins saturate the hashing pool"
            }
            Scenario::DbFloor => "durable single-row UPDATE … RETURNING via sqlx, no HTTP",
        }
    }

    pub fn against(self) -> Against {
        match self {
            Scenario::Baseline => Against::Reference,
            Scenario::DbFloor => Against::Database,
            _ => Against::Authgate,
        }
    }

    /// The scenario's measurements, in the order they run: one, except for storm, which first
    /// measures its protected clients alone.
    pub async fn measurements(self, s: &Setup<'_>) -> anyhow::Result<Vec<Measurement>> {
        let n = s.connections;
        let (name, what) = (self.name(), self.what());
        let each = |workload: &dyn Fn(usize) -> Workload| -> Vec<Workload> {
            (0..n).map(workload).collect()
        };
        let login = |next: usize, stride: usize| Workload::Login {
            next,
            stride,
            users: s.users,
        };
        let one = match self {
            Scenario::Baseline => each(&|_| Workload::Get {
                path: "/bench/reference",
                token: None,
            }),
            Scenario::Protected => each(&|i| s.protected(i)),
            Scenario::Me => each(&|i| Workload::Get {
                path: "/users/me",
                token: s.bearer(i),
            }),
            Scenario::Login => each(&|i| login(i, n)),
            Scenario::Refresh => load::sessions(s.authgate, n, n)
                .await?
                .into_iter()
                .enumerate()
                .map(|(i, tokens)| Workload::RefreshChain {
                    tokens,
                    user: n + i,
                })
                .collect(),
            Scenario::Register => each(&|i| Workload::Register {
                prefix: format!("r{}-{i}", std::process::id()),
                next: 0,
            }),
            Scenario::Storm => return Ok(storm(s)),
            Scenario::DbFloor => {
                let floor = Floor::open(s.db, n).await?;
                let workloads = (0..n)
                    .map(|i| Workload::DbFloor {
                        floor: floor.clone(),
                        row: i as i64,
                    })
                    .collect();
                let mut m = Measurement::one(name, what, false, workloads);
                m.floor = Some(floor);
                return Ok(vec![m]);
            }
        };
        let sheds = matches!(self, Scenario::Login | Scenario::Register);
        Ok(vec![Measurement::one(name, what, sheds, one)])
    }
}

/// Storm: half the connections call `/bench/protected`, the other half log in. Its reference
/// is the same protected clients alone, measured first (comparing with `protected` would
/// compare against twice as many connections).
fn storm(s: &Setup<'_>) -> Vec<Measurement> {
    let n = s.connections;
    let half = n / 2;
    let protected = |label| Group {
        label,
        what: "",
        cdf: true,
        workloads: (0..n - half).map(|i| s.protected(i)).collect(),
    };
    let calm = Group {
        what: "the storm's protected clients alone, before the storm",
        ..protected("storm/calm")
    };
    let during = Group {
        what: Scenario::Storm.what(),
        ..protected("storm")
    };
    let logins = Group {
        label: "storm/login",
        what: "the logins of the storm",
        cdf: false,
        workloads: (0..half)
            .map(|i| Workload::Login {
                next: 2 * n + i,
                stride: half,
                users: s.users,
            })
            .collect(),
    };
    vec![
        Measurement {
            groups: vec![calm],
            sheds: false,
            floor: None,
        },
        Measurement {
            groups: vec![during, logins],
            sheds: true,
            floor: None,
        },
    ]
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?}; the scenarios are {names:?}")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_parses_from_its_name() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.name().parse(), Ok(scenario));
            assert_eq!(scenario.to_string(), scenario.name());
        }
        let err = "nope".parse::<Scenario>().unwrap_err();
        assert!(err.contains("\"db_floor\""), "{err}");
    }
}
