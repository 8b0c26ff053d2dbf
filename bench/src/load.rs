//! The load generator: N tasks, each with its own keep-alive connection, each running one
//! [`Workload`] in the same loop until a deadline (build the next request, time it, take in
//! the answer), recording every request's latency and outcome. Workloads carry real state: a
//! refresh chain always presents the token the previous refresh returned.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::client::Conn;
use crate::db::{self, Floor};

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Latency of every completed request, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused or reset, database errors for db_floor).
    pub transport_errors: u64,
}

impl Recorder {
    fn record(&mut self, start: Instant, outcome: &Outcome) {
        match outcome {
            Ok((status, _)) => {
                let us = start.elapsed().as_micros().min(u32::MAX as u128) as u32;
                self.latencies_us.push(us);
                *self.statuses.entry(status.as_u16()).or_default() += 1;
            }
            Err(_) => self.transport_errors += 1,
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latencies_us.extend(other.latencies_us);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
    }
}

/// A token pair as `/auth/login` and `/auth/refresh` return it.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

fn login_body(i: usize) -> serde_json::Value {
    json!({ "username": db::email(i), "password": db::PASSWORD })
}

/// Log in as `login` (an e-mail) outside any measurement.
pub async fn login_as(addr: SocketAddr, login: &str) -> anyhow::Result<Tokens> {
    let mut conn = Conn::new(addr);
    let (status, body) = conn
        .post_json(
            "/auth/login",
            &json!({ "username": login, "password": db::PASSWORD }),
        )
        .await?;
    if status != StatusCode::OK {
        bail!(
            "login as {login} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    serde_json::from_slice(&body).context("login answer")
}

/// One session per task, opened in parallel before the measurement starts.
pub async fn sessions(
    addr: SocketAddr,
    n: usize,
    first_user: usize,
) -> anyhow::Result<Vec<Tokens>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(async move { login_as(addr, &db::email(first_user + i)).await }))
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

/// What one connection does, request after request, until the deadline. It carries the
/// connection's state: a login workload walks through the seeded users, a refresh chain holds
/// the token the previous refresh returned.
#[derive(Clone)]
pub enum Workload {
    /// `GET path`, optionally with a bearer token.
    Get {
        path: &'static str,
        token: Option<String>,
    },
    /// `POST /auth/login` as seeded users, round-robin from `next`, `stride` apart.
    Login {
        next: usize,
        stride: usize,
        users: usize,
    },
    /// `POST /auth/refresh`, each with the refresh token the previous one returned; when the
    /// chain breaks, seeded user `user` logs in again.
    RefreshChain { tokens: Tokens, user: usize },
    /// `POST /auth/register` with e-mails unique to this run and connection.
    Register { prefix: String, next: u64 },
    /// `UPDATE … RETURNING` on row `row`, no HTTP.
    DbFloor { floor: Floor, row: i64 },
    /// `POST path` with the body `make(key, n)` for n = `next`, `next + stride`, … (modulo
    /// `wrap`): a peer's login (its own body shape, maybe a form) or sign-up (`wrap` = MAX).
    Post {
        path: &'static str,
        content_type: &'static str,
        make: fn(&str, usize) -> Bytes,
        key: String,
        next: usize,
        stride: usize,
        wrap: usize,
    },
}

/// One request a workload sends next, borrowing what it needs from the workload.
enum Request<'a> {
    Get {
        path: &'static str,
        token: Option<&'a str>,
    },
    PostJson {
        path: &'static str,
        body: serde_json::Value,
    },
    DbFloor {
        floor: &'a Floor,
        row: i64,
    },
    Post {
        path: &'static str,
        content_type: &'static str,
        body: Bytes,
    },
}

/// A request's outcome: the answer's status and body (a database round trip counts as a 200).
type Outcome = anyhow::Result<(StatusCode, Bytes)>;

impl Request<'_> {
    async fn send(self, conn: &mut Conn) -> Outcome {
        match self {
            Request::Get { path, token } => conn.get(path, token).await,
            Request::PostJson { path, body } => conn.post_json(path, &body).await,
            Request::Post {
                path,
                content_type,
                body,
            } => {
                conn.send_typed(Method::POST, path, None, Some((content_type, body)))
                    .await
            }
            Request::DbFloor { floor, row } => floor
                .bump(row)
                .await
                .map(|_| (StatusCode::OK, Bytes::new())),
        }
    }
}

impl Workload {
    /// The next request, built before its clock starts.
    fn next_request(&mut self) -> Request<'_> {
        match self {
            Workload::Get { path, token } => Request::Get {
                path,
                token: token.as_deref(),
            },
            Workload::Login {
                next,
                stride,
                users,
            } => {
                let body = login_body(*next % *users);
                *next += *stride;
                Request::PostJson {
                    path: "/auth/login",
                    body,
                }
            }
            Workload::RefreshChain { tokens, .. } => Request::PostJson {
                path: "/auth/refresh",
                body: json!({ "refresh_token": tokens.refresh_token }),
            },
            Workload::Register { prefix, next } => {
                let body = json!({
                    "email": format!("{prefix}-{next}@register.bench.example"),
                    "password": db::PASSWORD,
                });
                *next += 1;
                Request::PostJson {
                    path: "/auth/register",
                    body,
                }
            }
            Workload::DbFloor { floor, row } => Request::DbFloor { floor, row: *row },
            Workload::Post {
                path,
                content_type,
                make,
                key,
                next,
                stride,
                wrap,
            } => {
                let body = make(key, *next % *wrap);
                *next += *stride;
                Request::Post {
                    path,
                    content_type,
                    body,
                }
            }
        }
    }

    /// Take in a request's outcome, after its clock stopped; `false` ends the loop.
    async fn observe(&mut self, addr: SocketAddr, outcome: &Outcome) -> bool {
        let Workload::RefreshChain { tokens, user } = self else {
            return true;
        };
        let next = match outcome {
            Ok((StatusCode::OK, body)) => serde_json::from_slice::<Tokens>(body).ok(),
            _ => None,
        };
        *tokens = match next {
            Some(t) => t,
            // The chain broke (an error, already counted): start a new session.
            None => match login_as(addr, &db::email(*user)).await {
                Ok(t) => t,
                Err(_) => return false,
            },
        };
        true
    }
}

/// Run `work` on its own connection until `deadline`, timing each request alone.
pub async fn connection(addr: SocketAddr, mut work: Workload, deadline: Instant) -> Recorder {
    let mut conn = Conn::new(addr);
    let mut rec = Recorder::default();
    while Instant::now() < deadline {
        let request = work.next_request();
        let start = Instant::now();
        let outcome = request.send(&mut conn).await;
        rec.record(start, &outcome);
        if !work.observe(addr, &outcome).await {
            break;
        }
    }
    rec
}

/// Run groups of connections concurrently for `duration`, one workload per connection;
/// returns each group's merged recorder, in order, and the wall time from start until the last
/// connection finished.
pub async fn drive(
    addr: SocketAddr,
    groups: Vec<Vec<Workload>>,
    duration: Duration,
) -> anyhow::Result<(Vec<Recorder>, Duration)> {
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<Vec<_>> = groups
        .into_iter()
        .map(|works| {
            works
                .into_iter()
                .map(|w| tokio::spawn(connection(addr, w, deadline)))
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for tasks in handles {
        let mut merged = Recorder::default();
        for t in tasks {
            merged.merge(t.await?);
        }
        out.push(merged);
    }
    Ok((out, start.elapsed()))
}
