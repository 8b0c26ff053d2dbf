//! A small in-memory cache of what `GET /users/me` shows, so that the most-called route after
//! the protected ones costs no database round trip (issue 14: it was 0.35× of bare axum on
//! SQLite and 0.17× on PostgreSQL, all of it the reads).
//!
//! An entry also holds the sessions of that user whose existence it confirmed at the database
//! (`user_with_live_session`), kept when the profile is forgotten, so a token whose `sid` this
//! instance never confirmed — a session
//! that never existed, say a token forged with a leaked key — still costs a read and is refused
//! (R14). Once confirmed, a session's later end reaches `/users/me` the way it reaches every
//! protected route: through the revocation list (at once on this instance; by `LISTEN/NOTIFY`
//! or the poll from others).
//!
//! What keeps an entry true:
//! - Every change this process makes to a user forgets the entry ([`ProfileCache::forget`]), and
//!   the change is announced to the other instances through the revocation feed (a `profile` row;
//!   see `crate::revocation`), whose sync forgets it there within the feed's latency
//!   (milliseconds on PostgreSQL, the 250 ms poll on SQLite).
//! - A read that raced a change cannot put the old value back: [`ProfileCache::epoch`] is taken
//!   before the database read, and [`ProfileCache::insert`] drops the value if anything was
//!   forgotten since.
//! - No entry is used past [`MAX_AGE`]: the activity times (`last_login_at`, recorded per login,
//!   and `last_activity_at`, recorded at most once a minute) change on every instance without an
//!   announcement, and a change whose announcement failed to be written heals by then.
//!
//! The size is bounded ([`CAPACITY`] entries, a few MiB): when full, old entries go first, and if
//! all are young the cache starts over (a cache miss costs one read, never a wrong answer).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The longest an entry is used. Equal to the resolution of `last_activity_at` itself.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Entries kept at most (about 300 bytes each).
pub const CAPACITY: usize = 10_000;

/// Sessions remembered per user; a user with more is confirmed again now and then.
const SESSIONS_PER_USER: usize = 16;

struct Entry<V> {
    /// `None` once forgotten: the sessions stay confirmed, the profile must be read again.
    value: Option<V>,
    loaded: Instant,
    /// Sessions of this user confirmed at the database (a session does not come back to life,
    /// so a change of the profile does not undo this).
    sessions: Vec<Uuid>,
}

/// What the cache knows for a request of one session.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<V> {
    /// The profile, fresh, and the session confirmed.
    Hit(V),
    /// The session was confirmed; the profile must be read (it changed, or aged out).
    SessionKnown,
    /// Neither: read the profile and confirm the session at the database.
    Unknown,
}

struct Entries<V> {
    map: HashMap<Uuid, Entry<V>>,
    /// Bumped by every `forget`, under the same lock as the map.
    epoch: u64,
}

/// Values of type `V` by user id, forgotten on change and aged out after [`MAX_AGE`].
pub struct ProfileCache<V> {
    entries: RwLock<Entries<V>>,
    max_age: Duration,
    capacity: usize,
}

impl<V: Clone> Default for ProfileCache<V> {
    fn default() -> Self {
        Self::new(MAX_AGE, CAPACITY)
    }
}

impl<V: Clone> ProfileCache<V> {
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        Self {
            entries: RwLock::new(Entries {
                map: HashMap::new(),
                epoch: 0,
            }),
            max_age,
            capacity: capacity.max(1),
        }
    }

    /// What is known of `user` for a request of `session`.
    pub fn get(&self, user: &Uuid, session: &Uuid) -> Lookup<V> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        match entries.map.get(user) {
            Some(e) if e.sessions.contains(session) => match &e.value {
                Some(v) if e.loaded.elapsed() < self.max_age => Lookup::Hit(v.clone()),
                _ => Lookup::SessionKnown,
            },
            _ => Lookup::Unknown,
        }
    }

    /// Take this before reading what to [`insert`](Self::insert).
    pub fn epoch(&self) -> u64 {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).epoch
    }

    /// Cache `value` for `user` with `session` confirmed, both read after
    /// [`epoch`](Self::epoch) returned `epoch`; the value is dropped when any entry was
    /// forgotten since (the read may have seen the state before that change). The sessions confirmed before stay
    /// confirmed (a session does not come back to life: its end is the revocation list's).
    pub fn insert(&self, user: Uuid, session: Uuid, value: V, epoch: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // A change since the read: the value may be stale, the session's confirmation is not.
        let value = (entries.epoch == epoch).then_some(value);
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&user) {
            let max_age = self.max_age;
            entries.map.retain(|_, e| e.loaded.elapsed() < max_age);
            if entries.map.len() >= self.capacity {
                entries.map.clear();
            }
        }
        let mut sessions = entries
            .map
            .remove(&user)
            .map(|e| e.sessions)
            .unwrap_or_default();
        if !sessions.contains(&session) {
            if sessions.len() >= SESSIONS_PER_USER {
                sessions.remove(0);
            }
            sessions.push(session);
        }
        let entry = Entry {
            value,
            loaded: Instant::now(),
            sessions,
        };
        entries.map.insert(user, entry);
    }

    /// `user` changed: drop the profile (its sessions stay confirmed), and any value read
    /// before now.
    pub fn forget(&self, user: &Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.map.get_mut(user) {
            e.value = None;
        }
        entries.epoch = entries.epoch.wrapping_add(1);
    }

    /// How many entries are held (fresh or not).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_a_forget_is_not_cached() {
        let cache = ProfileCache::<u32>::default();
        let (a, b, s) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let before = cache.epoch();
        cache.forget(&b); // a change of anyone lands while `a` is being read
        cache.insert(a, s, 1, before);
        assert_eq!(
            cache.get(&a, &s),
            Lookup::SessionKnown,
            "confirmed, not cached"
        );
        cache.insert(a, s, 2, cache.epoch());
        assert_eq!(cache.get(&a, &s), Lookup::Hit(2));
        cache.forget(&a);
        assert_eq!(
            cache.get(&a, &s),
            Lookup::SessionKnown,
            "the session stays confirmed"
        );
        let before = cache.epoch();
        cache.forget(&a); // the profile changes again while it is read
        cache.insert(a, s, 3, before);
        assert_eq!(cache.get(&a, &s), Lookup::SessionKnown);
    }

    #[test]
    fn only_confirmed_sessions_are_answered() {
        let cache = ProfileCache::<u32>::default();
        let (a, s1, s2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, s1, 1, cache.epoch());
        assert_eq!(
            cache.get(&a, &s2),
            Lookup::Unknown,
            "a session never confirmed: read again"
        );
        cache.insert(a, s2, 2, cache.epoch());
        assert_eq!(
            (cache.get(&a, &s1), cache.get(&a, &s2)),
            (Lookup::Hit(2), Lookup::Hit(2))
        );
        for _ in 0..SESSIONS_PER_USER {
            cache.insert(a, Uuid::new_v4(), 3, cache.epoch());
        }
        assert_eq!(
            cache.get(&a, &s1),
            Lookup::Unknown,
            "the oldest confirmations go first"
        );
    }

    #[test]
    fn entries_age_out() {
        let cache = ProfileCache::<u32>::new(Duration::from_millis(20), 10);
        let (a, s) = (Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, s, 1, cache.epoch());
        assert_eq!(cache.get(&a, &s), Lookup::Hit(1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(&a, &s), Lookup::SessionKnown);
    }

    #[test]
    fn the_size_is_bounded() {
        let cache = ProfileCache::<u32>::new(MAX_AGE, 100);
        let s = Uuid::new_v4();
        for i in 0..1_000 {
            cache.insert(Uuid::new_v4(), s, i, cache.epoch());
            assert!(cache.len() <= 100);
        }
        let last = Uuid::new_v4();
        cache.insert(last, s, 7, cache.epoch());
        assert_eq!(
            cache.get(&last, &s),
            Lookup::Hit(7),
            "the newest entry is always kept"
        );
    }
}
