//! Revocation that every authenticated request consults without a database round trip.
//!
//! Two kinds of entry, each kept only as long as an access token issued before it could live
//! (longest access lifetime + leeway), so the state stays bounded:
//! - `session`: a logged-out or revoked session; its access tokens are refused.
//! - `user`: the user's current activation and roles after an admin changed them; a deactivated
//!   user's tokens are refused and a role change applies to the very next request.
//!
//! Every change is in the `revocations` table and reloaded at start, so it survives a restart.
//! Session entries are written by the store in the transaction that revokes the session, and
//! noted here once it committed ([`Revocations::sessions_revoked`]). Rows carry a `seq` the
//! database assigns in commit order, and a running server loads the rows above the highest it
//! has seen ([`Revocations::sync`]) whenever PostgreSQL announces a commit (`LISTEN/NOTIFY`,
//! milliseconds) and on a timer as the fallback (3 s; 250 ms on SQLite, which announces
//! nothing), so changes made by the CLI or by another instance sharing the database arrive
//! within a second, whatever the writers' clocks say.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::{RevocationRecord, Store, StoreResult};

const SESSION: &str = "session";
const USER: &str = "user";
/// A user's profile changed (username, e-mail, second factor, …): other instances forget what
/// they cached of it (`crate::profiles`). Nothing is refused; the feed for verifiers skips it.
pub(crate) const PROFILE: &str = "profile";

/// What a [`Revocations::sync`] brought in.
#[derive(Debug, Default)]
pub struct Synced {
    /// Users changed elsewhere (an admin change or a profile change): whatever this instance
    /// cached of them is out of date.
    pub users: Vec<Uuid>,
}

/// A user's state as changed by an admin, overriding what their older tokens say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    pub active: bool,
    pub roles: Vec<String>,
}

#[derive(Default)]
struct Entries {
    sessions: HashMap<Uuid, i64>,
    users: HashMap<Uuid, (UserState, i64)>,
}

/// One entry of the feed: a revoked session, or a user's new state after an admin change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RevocationEvent {
    /// Refuse every access token of session `sid` (the `sid` claim) until `until` (unix
    /// seconds; after it no token of the session can still be valid).
    Session { seq: i64, sid: Uuid, until: i64 },
    /// User `sub` was changed by an admin: refuse their tokens if `active` is false, and use
    /// `roles` instead of the token's until `until`.
    User {
        seq: i64,
        sub: Uuid,
        active: bool,
        roles: Vec<String>,
        until: i64,
    },
}

impl RevocationEvent {
    /// The entry's position in the feed.
    pub fn seq(&self) -> i64 {
        match self {
            Self::Session { seq, .. } | Self::User { seq, .. } => *seq,
        }
    }

    /// The entry as the feed sends it; `None` for a row this version does not know.
    pub fn from_record(r: RevocationRecord) -> Option<Self> {
        let subject = Uuid::parse_str(&r.subject).ok()?;
        match r.kind.as_str() {
            "session" => Some(Self::Session {
                seq: r.seq,
                sid: subject,
                until: r.expires_at,
            }),
            "user" => {
                let state: UserState = serde_json::from_str(&r.data).ok()?;
                Some(Self::User {
                    seq: r.seq,
                    sub: subject,
                    active: state.active,
                    roles: state.roles,
                    until: r.expires_at,
                })
            }
            _ => None,
        }
    }
}

/// The in-memory revocation list, backed by the store.
pub struct Revocations {
    store: Arc<dyn Store>,
    ttl: i64,
    entries: RwLock<Entries>,
    /// The highest `seq` seen, for [`Revocations::sync`].
    last_seq: std::sync::atomic::AtomicI64,
    /// Monotonic time of the last successful load or sync, and whether syncing is running at all
    /// (a host app that never runs housekeeping gets no staleness check).
    synced_at: AtomicU64,
    syncing: AtomicBool,
    /// Bumped whenever an entry arrives (committed here, or synced from elsewhere), so the
    /// revocation stream wakes at once instead of at its next poll.
    changes: tokio::sync::watch::Sender<u64>,
    /// Set when the server shuts down: revocation streams end so the shutdown is not held up.
    closing: AtomicBool,
}

/// Milliseconds on a monotonic clock (immune to the injectable test clock and to wall-clock jumps).
fn monotonic_ms() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    u64::try_from(START.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How long the list may go without a successful sync before token checks fail closed: two
/// missed syncs. Within it, a revocation made elsewhere is seen within one sync interval.
pub const MAX_STALENESS: Duration = Duration::from_secs(6);

impl Revocations {
    /// Load what is still in force. `ttl` is the longest access-token lifetime plus leeway.
    pub async fn load(store: Arc<dyn Store>, ttl: i64, now: i64) -> StoreResult<Self> {
        let me = Self {
            store,
            ttl,
            entries: RwLock::new(Entries::default()),
            last_seq: Default::default(),
            synced_at: AtomicU64::new(monotonic_ms()),
            syncing: AtomicBool::new(false),
            changes: tokio::sync::watch::Sender::new(0),
            closing: AtomicBool::new(false),
        };
        me.merge(me.store.load_revocations(now, 0).await?);
        Ok(me)
    }

    /// Pick up entries written by other processes since the last look.
    pub async fn sync(&self, now: i64) -> StoreResult<Synced> {
        let after = self.last_seq.load(Ordering::Relaxed);
        self.syncing.store(true, Ordering::Relaxed);
        let rows = self.store.load_revocations(now, after).await?;
        let users = rows
            .iter()
            .filter(|r| r.kind == USER || r.kind == PROFILE)
            .filter_map(|r| Uuid::parse_str(&r.subject).ok())
            .collect();
        self.merge_at(rows, Some(now));
        self.synced_at.store(monotonic_ms(), Ordering::Relaxed);
        Ok(Synced { users })
    }

    /// False once syncing has failed for longer than [`MAX_STALENESS`]: revocations made by
    /// other instances may then be missing, and token checks must fail closed.
    pub fn is_fresh(&self) -> bool {
        let age_ms = monotonic_ms().saturating_sub(self.synced_at.load(Ordering::Relaxed));
        !self.syncing.load(Ordering::Relaxed) || age_ms <= MAX_STALENESS.as_millis() as u64
    }

    /// A receiver that sees a change whenever an entry arrives: committed by this instance, or
    /// picked up from another by a sync. It says only that something arrived; the store says what.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// End the streams that follow this list (the server is shutting down).
    pub fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.changed();
    }

    /// Whether [`Revocations::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn merge(&self, rows: Vec<RevocationRecord>) {
        self.merge_at(rows, None);
    }

    /// Merge `rows`; with `now` (a sync, not the load at start), record how long each took to
    /// arrive here since it was written (by the writer's clock: skew shows up in it).
    fn merge_at(&self, rows: Vec<RevocationRecord>, now: Option<i64>) {
        let arrived = !rows.is_empty();
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(now) = now {
            for row in &rows {
                metrics::histogram!("authgate_revocation_propagation_seconds")
                    .record((now - row.created_at).max(0) as f64);
            }
        }
        for row in rows {
            self.last_seq.fetch_max(row.seq, Ordering::Relaxed);
            let Ok(subject) = Uuid::parse_str(&row.subject) else {
                continue;
            };
            match row.kind.as_str() {
                SESSION => {
                    entries.sessions.insert(subject, row.expires_at);
                }
                USER => {
                    if let Ok(state) = serde_json::from_str(&row.data) {
                        entries.users.insert(subject, (state, row.expires_at));
                    }
                }
                _ => {}
            }
        }
        metrics::gauge!("authgate_revocation_entries")
            .set((entries.sessions.len() + entries.users.len()) as f64);
        drop(entries);
        if arrived {
            // Wake the revocation streams (`GET /revocations/stream`).
            self.changed();
        }
    }

    /// Is this session revoked?
    pub fn is_session_revoked(&self, sid: &Uuid, now: i64) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.sessions.get(sid).is_some_and(|&exp| exp > now)
    }

    /// The admin-set state of a user, if it changed recently enough to matter.
    pub fn user_state(&self, user: &Uuid, now: i64) -> Option<UserState> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .users
            .get(user)
            .filter(|(_, exp)| *exp > now)
            .map(|(s, _)| s.clone())
    }

    /// When an entry written at `now` expires: what the store's revoking methods take as
    /// `until`.
    pub fn until(&self, now: i64) -> i64 {
        now + self.ttl
    }

    /// Note sessions whose revocation the store has committed (with their entries), so this
    /// instance refuses their tokens at once rather than at its next sync.
    pub fn sessions_revoked(&self, sids: &[Uuid], now: i64) {
        let expires_at = self.until(now);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        for sid in sids {
            entries.sessions.insert(*sid, expires_at);
        }
        drop(entries);
        if !sids.is_empty() {
            self.changed();
        }
    }

    /// Record a user's new activation/roles: persisted, then in memory.
    pub async fn set_user_state(&self, user: Uuid, state: UserState, now: i64) -> StoreResult<()> {
        let expires_at = self.until(now);
        let data = serde_json::to_string(&state).map_err(|e| anyhow::anyhow!(e))?;
        let row = RevocationRecord {
            kind: USER.into(),
            subject: user.to_string(),
            data,
            expires_at,
            created_at: now,
            seq: 0,
        };
        self.store.save_revocation(&row).await?;
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .users
            .insert(user, (state, expires_at));
        self.changed();
        Ok(())
    }

    /// Announce that `user`'s profile changed, so other instances forget what they cached of
    /// it at their next sync. Nothing is kept in memory here.
    pub async fn profile_changed(&self, user: Uuid, now: i64) -> StoreResult<()> {
        let row = RevocationRecord {
            kind: PROFILE.into(),
            subject: user.to_string(),
            data: "{}".into(),
            expires_at: self.until(now),
            created_at: now,
            seq: 0,
        };
        self.store.save_revocation(&row).await
    }

    /// Drop expired entries from memory (the store purges its own rows).
    pub fn purge(&self, now: i64) -> usize {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.sessions.retain(|_, exp| *exp > now);
        entries.users.retain(|_, (_, exp)| *exp > now);
        let size = entries.sessions.len() + entries.users.len();
        metrics::gauge!("authgate_revocation_entries").set(size as f64);
        size
    }
}
