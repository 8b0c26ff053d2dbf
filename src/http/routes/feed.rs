//! The revocation feed for services that verify authgate's tokens elsewhere: pages of the
//! revocation entries in force (`GET /revocations?after=SEQ`) and a Server-Sent Events stream of
//! each entry as it commits (`GET /revocations/stream`). Both want a verifier credential
//! (`authgate verifier create NAME`), not an access token.
//!
//! The stream sends the entries after its cursor (`after`, or `Last-Event-ID` on a reconnect),
//! then each new one: at once when this instance committed it, and within a poll when another
//! instance did (`revocation` picks those up). Every `heartbeat` seconds without news it
//! re-reads the store, checks the credential again and sends a `heartbeat` event, so a follower
//! knows the feed is alive; it ends when the database is unreachable, the credential is revoked
//! or the server stops, and the follower reconnects from its last `id`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};

use crate::http::extract::BearerToken;
use crate::http::problem::Problem;
use crate::service::{AuthState, Error, Result, RevocationEvent};

/// Seconds between heartbeats of a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Entries per read of the store.
const PAGE: i64 = 500;

/// A request authenticated with a verifier credential (`Authorization: Bearer agv_…`).
pub struct VerifierAuth {
    credential: String,
}

impl<S> FromRequestParts<S> for VerifierAuth
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let BearerToken(credential) = BearerToken::from_request_parts(parts, state).await?;
        AuthState::from_ref(state)
            .authenticate_verifier(&credential)
            .await?;
        Ok(Self { credential })
    }
}

/// Where to start, and how much to send. Values out of range are refused (422), never clamped.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Send entries with a `seq` above this (0, the default: everything in force).
    #[param(required = false, value_type = i64, minimum = 0)]
    pub after: Option<i64>,
    /// Entries per page, 1 to 1000 (default 500). Pages only.
    #[param(required = false, value_type = i64, minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The stream's resume header (documentation only; the handler reads it from the headers).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // read by utoipa's derive only
pub struct StreamResume {
    /// Resume after this `seq` (the last `id` received); overrides `after`.
    #[param(rename = "Last-Event-ID", required = false, value_type = i64, minimum = 0)]
    pub last_event_id: Option<i64>,
}

/// One Server-Sent Event of the stream, as its fields.
#[derive(ToSchema)]
#[allow(dead_code)] // read by utoipa's derive only
pub struct StreamEvent {
    /// `session`, `user` or `heartbeat`.
    #[schema(pattern = "^(session|user|heartbeat)$")]
    pub event: String,
    /// JSON: an entry as in `GET /revocations` (`session`, `user`), or `{"seq":…}` (`heartbeat`).
    pub data: String,
    /// The entry's `seq` (entries only): send it back as `Last-Event-ID` to resume.
    #[schema(required = false, nullable = false)]
    pub id: Option<String>,
    /// Milliseconds to wait before reconnecting (first event only).
    #[schema(required = false, nullable = false, value_type = i64)]
    pub retry: Option<i64>,
}

/// One page of the feed.
#[derive(Serialize, ToSchema)]
pub struct RevocationPage {
    /// Entries in `seq` order.
    pub items: Vec<RevocationEvent>,
    /// The cursor for the next page: the last `seq` sent (or `after` when none was).
    pub next: i64,
    /// Whether more entries follow at once (ask again with `after=next`).
    pub more: bool,
}

fn cursor(query: std::result::Result<Query<FeedQuery>, QueryRejection>) -> Result<FeedQuery> {
    let Query(q) = query.map_err(|e| Error::field("query", e.body_text()))?;
    if q.after.is_some_and(|a| a < 0) {
        return Err(Error::field("after", "must be 0 or more"));
    }
    if q.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
        return Err(Error::field("limit", "must be between 1 and 1000"));
    }
    Ok(q)
}

/// Revocation entries in force after `after`: revoked sessions and changed users, in commit
/// order. **Authentication:** a verifier credential.
#[utoipa::path(get, path = "/revocations", tag = "discovery", security(("verifier" = [])), params(FeedQuery),
    responses((status = 200, body = RevocationPage), (status = 422, body = Problem)))]
pub async fn revocations(
    State(auth): State<AuthState>,
    _: VerifierAuth,
    query: std::result::Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<RevocationPage>> {
    let q = cursor(query)?;
    let after = q.after.unwrap_or(0);
    let (items, more) = auth.revocation_page(after, q.limit.unwrap_or(PAGE)).await?;
    let next = items.last().map_or(after, RevocationEvent::seq);
    Ok(Json(RevocationPage { items, next, more }))
}

/// Server-Sent Events: each revocation entry after the cursor, then each new one as it commits
/// (event `session` or `user`, `id` = its `seq`, data as in `/revocations`), and a `heartbeat`
/// event (data `{"seq":…}`) every 2 s without news. Reconnect with `Last-Event-ID` (or
/// `after`). **Authentication:** a verifier credential.
#[utoipa::path(get, path = "/revocations/stream", tag = "discovery", security(("verifier" = [])), params(FeedQuery, StreamResume),
    responses((status = 200, description = "an endless event stream", content_type = "text/event-stream", body = StreamEvent),
        (status = 422, body = Problem)))]
pub async fn revocation_stream(
    State(auth): State<AuthState>,
    verifier: VerifierAuth,
    headers: HeaderMap,
    query: std::result::Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let q = cursor(query)?;
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| Error::field("Last-Event-ID", "must be a seq this feed sent"))?,
        ),
        None => None,
    };
    let follow = Follow {
        changes: auth.revocation_changes()?,
        auth,
        credential: verifier.credential,
        after: resume.or(q.after).unwrap_or(0),
        queue: VecDeque::new(),
        greeted: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        f.next_event().await.map(|event| (Ok(event), f))
    });
    // Comments keep idle proxies from closing the connection between heartbeats.
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One stream's position in the feed.
struct Follow {
    auth: AuthState,
    credential: String,
    changes: watch::Receiver<u64>,
    after: i64,
    queue: VecDeque<RevocationEvent>,
    greeted: bool,
    done: bool,
}

impl Follow {
    /// The next event to send, or `None` when the stream ends.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(entry) = self.queue.pop_front() {
                return Some(entry_event(&entry));
            }
            if self.done || self.auth.revocation_stream_must_end() {
                return None;
            }
            // Mark what we have seen before reading, so a change during the read wakes us.
            self.changes.borrow_and_update();
            let Ok((page, _)) = self.auth.revocation_page(self.after, PAGE).await else {
                return None;
            };
            if let Some(last) = page.last() {
                self.after = last.seq();
                self.queue.extend(page);
                continue;
            }
            if !self.greeted {
                self.greeted = true;
                return Some(self.heartbeat().retry(Duration::from_secs(1)));
            }
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        self.done = true;
                    }
                }
                () = tokio::time::sleep(HEARTBEAT) => {
                    // A revoked credential reads no further; neither does one we cannot check.
                    if self.auth.authenticate_verifier(&self.credential).await.is_err() {
                        return None;
                    }
                    return Some(self.heartbeat());
                }
            }
        }
    }

    fn heartbeat(&self) -> Event {
        Event::default()
            .event("heartbeat")
            .data(format!("{{\"seq\":{}}}", self.after))
    }
}

fn entry_event(entry: &RevocationEvent) -> Event {
    let kind = match entry {
        RevocationEvent::Session { .. } => "session",
        RevocationEvent::User { .. } => "user",
    };
    let event = Event::default().id(entry.seq().to_string()).event(kind);
    // Serialising these plain fields cannot fail; if it ever did, a heartbeat-shaped gap is
    // better than a panic, and the follower's next page read fills it.
    event.clone().json_data(entry).unwrap_or(event)
}
