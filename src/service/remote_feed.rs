//! A verify-only state's copy of the issuing server's revocations, kept by following its feed
//! (`GET /revocations` at start, then the `/revocations/stream` events), so a remote verifier
//! refuses a logged-out token within a second, as the issuing instances do.
//!
//! Fail closed: when nothing (event or heartbeat) has arrived for longer than the configured
//! staleness, `authenticate` answers `RevocationsStale` (503) rather than trusting tokens that
//! may have been revoked meanwhile, unless the host chose [`RevocationFeed::fail_open`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use uuid::Uuid;

use crate::revocation::RevocationEvent;

/// How a verify-only state follows the issuing server's revocation feed.
#[derive(Clone)]
pub struct RevocationFeed {
    url: String,
    credential: String,
    max_staleness: Duration,
    fail_closed: bool,
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: the credential never reaches a log line.
        f.debug_struct("RevocationFeed")
            .field("url", &self.url)
            .field("max_staleness", &self.max_staleness)
            .field("fail_closed", &self.fail_closed)
            .finish_non_exhaustive()
    }
}

impl RevocationFeed {
    /// Follow the feed at `url` (the issuing server's `…/revocations`) with a verifier
    /// credential from `authgate verifier create`. Fails closed after 10 s without news.
    pub fn new(url: &str, credential: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            credential: credential.to_owned(),
            max_staleness: Duration::from_secs(10),
            fail_closed: true,
        }
    }

    /// How long the feed may be silent (no event, no heartbeat: the stream sends one every
    /// 2 s) before tokens are refused with 503. At least 3 s.
    pub fn max_staleness(mut self, staleness: Duration) -> Self {
        self.max_staleness = staleness.max(Duration::from_secs(3));
        self
    }

    /// Keep accepting tokens while the feed is stale (a logout made meanwhile is honoured only
    /// once the feed is back). For services that prefer availability; logged once per outage.
    pub fn fail_open(mut self) -> Self {
        self.fail_closed = false;
        self
    }
}

#[derive(Default)]
struct Entries {
    sessions: HashMap<Uuid, i64>,
    users: HashMap<Uuid, (bool, Vec<String>, i64)>,
}

/// What the follower has learnt, read by `authenticate`.
pub(crate) struct Mirror {
    feed: RevocationFeed,
    entries: RwLock<Entries>,
    last_seq: Mutex<i64>,
    fresh_at: Mutex<Instant>,
    warned_stale: std::sync::atomic::AtomicBool,
}

/// The verdict on one token's session and user.
pub(crate) enum Verdict {
    Stale,
    Revoked,
    Deactivated,
    /// Accepted, with the roles to use instead of the token's, if an admin changed them.
    Accepted(Option<Vec<String>>),
}

impl Mirror {
    fn is_fresh(&self) -> bool {
        let at = *self.fresh_at.lock().unwrap_or_else(|p| p.into_inner());
        at.elapsed() <= self.feed.max_staleness
    }

    fn mark_fresh(&self) {
        *self.fresh_at.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.warned_stale
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    fn last_seq(&self) -> i64 {
        *self.last_seq.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, event: RevocationEvent) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let seq = event.seq();
        match event {
            RevocationEvent::Session { sid, until, .. } => {
                entries.sessions.insert(sid, until);
            }
            RevocationEvent::User {
                sub,
                active,
                roles,
                until,
                ..
            } => {
                entries.users.insert(sub, (active, roles, until));
            }
        }
        let mut last = self.last_seq.lock().unwrap_or_else(|p| p.into_inner());
        *last = (*last).max(seq);
    }

    fn purge(&self, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.sessions.retain(|_, until| *until > now);
        entries.users.retain(|_, (_, _, until)| *until > now);
    }

    /// What the feed says about session `sid` of user `sub` at `now`.
    pub(crate) fn verdict(&self, sid: &Uuid, sub: &Uuid, now: i64) -> Verdict {
        if !self.is_fresh() {
            if self.feed.fail_closed {
                return Verdict::Stale;
            }
            if !self
                .warned_stale
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!("the revocation feed is stale; accepting tokens anyway (fail_open)");
            }
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        if entries.sessions.get(sid).is_some_and(|&until| until > now) {
            return Verdict::Revoked;
        }
        match entries.users.get(sub) {
            Some((active, roles, until)) if *until > now => {
                if *active {
                    Verdict::Accepted(Some(roles.clone()))
                } else {
                    Verdict::Deactivated
                }
            }
            _ => Verdict::Accepted(None),
        }
    }
}

/// The follower task; it stops when the state that owns it is dropped.
pub(crate) struct Follower(tokio::task::JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Deserialize)]
struct Page {
    items: Vec<RevocationEvent>,
    more: bool,
}

fn client() -> anyhow::Result<reqwest::Client> {
    // As `remote::install_tls_provider` (not imported: `remote` holds this module's types).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?)
}

/// Load everything in force, then follow the stream in the background.
pub(crate) async fn follow(feed: RevocationFeed) -> anyhow::Result<(Arc<Mirror>, Follower)> {
    let mirror = Arc::new(Mirror {
        feed,
        entries: RwLock::new(Entries::default()),
        last_seq: Mutex::new(0),
        fresh_at: Mutex::new(Instant::now()),
        warned_stale: Default::default(),
    });
    let client = client()?;
    load_pages(&client, &mirror).await?;
    let task = tokio::spawn(run(client, mirror.clone()));
    Ok((mirror, Follower(task)))
}

async fn load_pages(client: &reqwest::Client, mirror: &Mirror) -> anyhow::Result<()> {
    let feed = &mirror.feed;
    loop {
        let resp = client
            .get(format!("{}?after={}", feed.url, mirror.last_seq()))
            .bearer_auth(&feed.credential)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .with_context(|| format!("could not read the revocation feed at {}", feed.url))?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            bail!(
                "the revocation feed at {} refused the verifier credential",
                feed.url
            );
        }
        let page: Page = resp
            .error_for_status()?
            .json()
            .await
            .context("the revocation feed did not answer a page")?;
        page.items.into_iter().for_each(|e| mirror.apply(e));
        if !page.more {
            mirror.mark_fresh();
            return Ok(());
        }
    }
}

/// Follow the stream forever, reconnecting from the last `seq` after a pause.
async fn run(client: reqwest::Client, mirror: Arc<Mirror>) {
    let mut pause = Duration::from_millis(200);
    loop {
        match stream_once(&client, &mirror).await {
            Ok(()) => pause = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, "revocation feed interrupted; reconnecting");
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// One connection to the stream, until it ends or goes silent.
async fn stream_once(client: &reqwest::Client, mirror: &Mirror) -> anyhow::Result<()> {
    let feed = &mirror.feed;
    let mut resp = client
        .get(format!("{}/stream", feed.url))
        .bearer_auth(&feed.credential)
        .header("last-event-id", mirror.last_seq().to_string())
        .header("accept", "text/event-stream")
        .send()
        .await?
        .error_for_status()?;
    let mut buf = String::new();
    // Heartbeats come every 2 s; a connection silent for much longer is dead.
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(6), resp.chunk())
        .await
        .context("the revocation stream went silent")??
    {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            handle_block(mirror, &block);
        }
    }
    Ok(())
}

/// One SSE event block: an entry, or a heartbeat.
fn handle_block(mirror: &Mirror, block: &str) {
    let (mut event, mut data) = ("message", String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    match event {
        "session" | "user" => match serde_json::from_str::<RevocationEvent>(&data) {
            Ok(entry) => {
                mirror.apply(entry);
                mirror.mark_fresh();
            }
            Err(e) => tracing::warn!(error = %e, "unreadable revocation event"),
        },
        "heartbeat" => {
            mirror.mark_fresh();
            mirror.purge(crate::clock::Clock::default().now());
        }
        _ => {}
    }
}
