//! A small in-memory cache of what `GET /users/me` shows, so that the most-called route after
//! the protected ones costs no database round trip (issue 14: it was 0.35× of bare axum on
//! SQLite and 0.17× on PostgreSQL, all of it the reads).
//!
//! An entry also holds the sessions of that user whose existence it confirmed at the database
//! (`user_with_live_session`), so a token whose `sid` this instance never confirmed — a session
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
    value: V,
    loaded: Instant,
    /// Sessions of this user confirmed at the database while `value` was read.
    sessions: Vec<Uuid>,
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

    /// The cached value of `user` for a request of `session`, unless it is missing, too old,
    /// or `session` was not confirmed with it.
    pub fn get(&self, user: &Uuid, session: &Uuid) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .map
            .get(user)
            .filter(|e| e.loaded.elapsed() < self.max_age && e.sessions.contains(session))
            .map(|e| e.value.clone())
    }

    /// Take this before reading what to [`insert`](Self::insert).
    pub fn epoch(&self) -> u64 {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).epoch
    }

    /// Cache `value` for `user` with `session` confirmed, both read after
    /// [`epoch`](Self::epoch) returned `epoch`; dropped when any entry was forgotten since (the
    /// read may have seen the state before that change). The sessions confirmed before stay
    /// confirmed (a session does not come back to life: its end is the revocation list's).
    pub fn insert(&self, user: Uuid, session: Uuid, value: V, epoch: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.epoch != epoch {
            return;
        }
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

    /// `user` changed: drop the entry, and any value read before now.
    pub fn forget(&self, user: &Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.map.remove(user);
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
        assert_eq!(cache.get(&a, &s), None);
        cache.insert(a, s, 2, cache.epoch());
        assert_eq!(cache.get(&a, &s), Some(2));
        cache.forget(&a);
        assert_eq!(cache.get(&a, &s), None);
    }

    #[test]
    fn only_confirmed_sessions_are_answered() {
        let cache = ProfileCache::<u32>::default();
        let (a, s1, s2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, s1, 1, cache.epoch());
        assert_eq!(
            cache.get(&a, &s2),
            None,
            "a session never confirmed: read again"
        );
        cache.insert(a, s2, 2, cache.epoch());
        assert_eq!((cache.get(&a, &s1), cache.get(&a, &s2)), (Some(2), Some(2)));
        for _ in 0..SESSIONS_PER_USER {
            cache.insert(a, Uuid::new_v4(), 3, cache.epoch());
        }
        assert_eq!(
            cache.get(&a, &s1),
            None,
            "the oldest confirmations go first"
        );
    }

    #[test]
    fn entries_age_out() {
        let cache = ProfileCache::<u32>::new(Duration::from_millis(20), 10);
        let (a, s) = (Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, s, 1, cache.epoch());
        assert_eq!(cache.get(&a, &s), Some(1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(&a, &s), None);
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
            Some(7),
            "the newest entry is always kept"
        );
    }
}
