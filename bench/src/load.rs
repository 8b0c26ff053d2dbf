//! The load generator: N tasks, each with its own keep-alive connection, each running one
//! scenario's request loop until a deadline, recording every request's latency and outcome.
//! Tasks carry real state: a refresh chain always presents the token the previous refresh
//! returned.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::client::Conn;
use crate::db::{self, Floor};

/// What one task saw.
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
    fn record<T>(&mut self, start: Instant, outcome: &anyhow::Result<(StatusCode, T)>) {
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

/// What a task does in a loop.
#[derive(Clone)]
pub enum Work {
    /// `GET path`, optionally with a bearer token.
    Get {
        path: &'static str,
        token: Option<String>,
    },
    /// `POST /auth/login` as seeded users, round-robin from `first`, `stride` apart.
    Login {
        first: usize,
        stride: usize,
        users: usize,
    },
    /// `POST /auth/refresh`, each with the refresh token the previous one returned.
    RefreshChain { tokens: Tokens, user: usize },
    /// `POST /auth/register` with e-mails unique to this run and task.
    Register { prefix: String },
    /// `UPDATE … RETURNING` on row `row`, no HTTP.
    DbFloor { floor: Arc<Floor>, row: i64 },
}

/// Run `work` on its own connection until `deadline`.
pub async fn task(addr: SocketAddr, work: Work, deadline: Instant) -> Recorder {
    let mut conn = Conn::new(addr);
    let mut rec = Recorder::default();
    match work {
        Work::Get { path, token } => {
            while Instant::now() < deadline {
                let start = Instant::now();
                let outcome = conn.get(path, token.as_deref()).await;
                rec.record(start, &outcome);
            }
        }
        Work::Login {
            first,
            stride,
            users,
        } => {
            let mut i = first;
            while Instant::now() < deadline {
                let body = login_body(i % users);
                i += stride;
                let start = Instant::now();
                let outcome = conn.post_json("/auth/login", &body).await;
                rec.record(start, &outcome);
            }
        }
        Work::RefreshChain { mut tokens, user } => {
            while Instant::now() < deadline {
                let body = json!({ "refresh_token": tokens.refresh_token });
                let start = Instant::now();
                let outcome = conn.post_json("/auth/refresh", &body).await;
                rec.record(start, &outcome);
                let next = match &outcome {
                    Ok((StatusCode::OK, body)) => serde_json::from_slice::<Tokens>(body).ok(),
                    _ => None,
                };
                tokens = match next {
                    Some(t) => t,
                    // The chain broke (an error, already counted): start a new session.
                    None => match login_as(addr, &db::email(user)).await {
                        Ok(t) => t,
                        Err(_) => break,
                    },
                };
            }
        }
        Work::Register { prefix } => {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let body = json!({
                    "email": format!("{prefix}-{i}@register.bench.example"),
                    "password": db::PASSWORD,
                });
                i += 1;
                let start = Instant::now();
                let outcome = conn.post_json("/auth/register", &body).await;
                rec.record(start, &outcome);
            }
        }
        Work::DbFloor { floor, row } => {
            while Instant::now() < deadline {
                let start = Instant::now();
                let outcome = floor.bump(row).await.map(|n| (StatusCode::OK, n));
                rec.record(start, &outcome);
            }
        }
    }
    rec
}

/// Run one group of tasks per label concurrently for `duration`; returns each label's merged
/// recorder and the wall time from start until the last task finished.
pub async fn drive(
    addr: SocketAddr,
    groups: Vec<(&'static str, Vec<Work>)>,
    duration: Duration,
) -> anyhow::Result<(Vec<(&'static str, Recorder)>, Duration)> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::new();
    for (label, works) in groups {
        let tasks: Vec<_> = works
            .into_iter()
            .map(|w| tokio::spawn(task(addr, w, deadline)))
            .collect();
        handles.push((label, tasks));
    }
    let mut out = Vec::new();
    for (label, tasks) in handles {
        let mut merged = Recorder::default();
        for t in tasks {
            merged.merge(t.await?);
        }
        out.push((label, merged));
    }
    Ok((out, start.elapsed()))
}
