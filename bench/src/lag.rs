//! The propagation-lag scenario (issue 12): three authgate instances in this process on one
//! fresh database; a session is logged in on one, accepted by all three, logged out on the
//! same one, and the clock runs from the logout's 204 until both other instances refuse its
//! access token. Repeated `revocations` times, rotating the instance that logs out.
//!
//! Each instance is `Application::build_with_routes` (what `authgate serve` runs, plus the
//! harness's `/bench/protected`), with one shared `--issuer` as several instances need. On
//! PostgreSQL the change travels by `LISTEN/NOTIFY` (the 3 s poll is the fallback); on SQLite
//! only by the 250 ms poll, which is what this figure then shows.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use authgate::{Application, Clock, Settings};
use axum::Router;
use axum::routing::get;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::client::Conn;
use crate::load;
use crate::serve;

/// Instances in the scenario.
pub const INSTANCES: usize = 3;
/// The target: p99 ≤ 1 s.
pub const TARGET_P99_MS: f64 = 1000.0;
/// How long the other instances may keep accepting a logged-out token before the run fails.
const GIVE_UP: Duration = Duration::from_secs(5);
/// Pause between two checks of one instance (the figure's resolution, plus one request).
const POLL: Duration = Duration::from_millis(2);

/// The lag distribution, in milliseconds, from the logout's response until every other
/// instance answers 401.
#[derive(Debug, Clone, Serialize)]
pub struct LagFigure {
    pub instances: usize,
    pub revocations: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub poll_ms: f64,
}

impl LagFigure {
    /// One line for the report.
    pub fn summary(&self) -> String {
        format!(
            "propagation lag over {} logouts, {} instances on one database (logout's 204 until \
             every other instance answers 401, checked every {:.0} ms): p50 {:.1} ms, p90 {:.1} ms, \
             p99 {:.1} ms, max {:.1} ms",
            self.revocations,
            self.instances,
            self.poll_ms,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        )
    }

    fn from_lags(mut lags: Vec<Duration>) -> Self {
        lags.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pct = |p: f64| {
            let idx = ((p * lags.len() as f64).ceil() as usize).clamp(1, lags.len()) - 1;
            ms(lags[idx])
        };
        Self {
            instances: INSTANCES,
            revocations: lags.len(),
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: lags.last().copied().map_or(0.0, ms),
            poll_ms: ms(POLL),
        }
    }
}

/// One in-process instance; dropping it stops it.
struct Instance {
    addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(db_url: &str) -> anyhow::Result<Instance> {
    let mut args: Vec<String> = vec![
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        db_url.into(),
        // Instances must agree on `iss`, or each refuses the others' tokens.
        "--issuer".into(),
        "http://authgate-bench.invalid".into(),
    ];
    args.extend(serve::AUTHGATE_EXTRA_ARGS.iter().map(|s| s.to_string()));
    let settings = Settings::from_args(args)?;
    settings.validate()?;
    let routes = Router::new().route("/bench/protected", get(serve::protected));
    let app = Application::build_with_routes(settings, Clock::default(), routes)
        .await
        .context("starting an instance for the lag scenario")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
    let task = tokio::spawn(app.run_until_stopped());
    Ok(Instance { addr, task })
}

async fn protected(conn: &mut Conn, token: &str) -> anyhow::Result<StatusCode> {
    Ok(conn.get("/bench/protected", Some(token)).await?.0)
}

/// How long until `addr` refuses `token`; an error past [`GIVE_UP`] or on any answer but 200/401.
async fn until_refused(addr: SocketAddr, token: String) -> anyhow::Result<Duration> {
    let mut conn = Conn::new(addr);
    let start = Instant::now();
    loop {
        match protected(&mut conn, &token).await? {
            StatusCode::UNAUTHORIZED => return Ok(start.elapsed()),
            StatusCode::OK => {}
            other => bail!("{addr} answered {other} to a token being revoked"),
        }
        if start.elapsed() > GIVE_UP {
            bail!("{addr} still accepts a logged-out token after {GIVE_UP:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Log seeded user `user` in on instance `on`, check all accept the token, log out on `on`;
/// the time from the logout's answer until every other instance refuses the token.
async fn one(instances: &[Instance], on: usize, user: usize) -> anyhow::Result<Duration> {
    let tokens = load::login_as(instances[on].addr, &crate::db::email(user)).await?;
    for i in instances {
        let status = protected(&mut Conn::new(i.addr), &tokens.access_token).await?;
        if status != StatusCode::OK {
            bail!(
                "{} answered {status} to a fresh token from another instance",
                i.addr
            );
        }
    }
    let mut conn = Conn::new(instances[on].addr);
    let (status, body) = conn
        .send(
            Method::POST,
            "/auth/logout",
            Some(&tokens.access_token),
            Some(Bytes::from_static(b"{}")),
        )
        .await?;
    if status != StatusCode::NO_CONTENT {
        bail!(
            "logout answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let others: Vec<_> = instances
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != on)
        .map(|(_, i)| tokio::spawn(until_refused(i.addr, tokens.access_token.clone())))
        .collect();
    let mut slowest = Duration::ZERO;
    for other in others {
        slowest = slowest.max(other.await??);
    }
    Ok(slowest)
}

/// Run the scenario on the (migrated, seeded) database at `db_url` with `revocations`
/// logouts, as seeded users counted down from `users - 1` (none the other scenarios use).
pub async fn run(db_url: &str, users: usize, revocations: usize) -> anyhow::Result<LagFigure> {
    if users < revocations * 2 {
        bail!(
            "the lag scenario needs at least {} seeded users",
            revocations * 2
        );
    }
    let mut instances = Vec::with_capacity(INSTANCES);
    for _ in 0..INSTANCES {
        instances.push(start(db_url).await?);
    }
    // Let each instance's listener and first poll settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut lags = Vec::with_capacity(revocations);
    for k in 0..revocations {
        lags.push(one(&instances, k % INSTANCES, users - 1 - k).await?);
    }
    drop(instances);
    Ok(LagFigure::from_lags(lags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_over_the_sorted_lags() {
        // 1..=100 ms, shuffled: p50 is the 50th, p99 the 99th, max the 100th.
        let mut lags: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        lags.reverse();
        lags.swap(3, 70);
        let f = LagFigure::from_lags(lags);
        assert_eq!(f.revocations, 100);
        assert_eq!(f.instances, INSTANCES);
        assert_eq!(
            (f.p50_ms, f.p90_ms, f.p99_ms, f.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        let one = LagFigure::from_lags(vec![Duration::from_millis(7)]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (7.0, 7.0, 7.0));
    }
}
