//! Counters one instance keeps in memory: GCRA buckets for the refresh limit, and the window
//! that folds repeated refusals into one audit row. Both are bounded, so a flood of addresses
//! cannot grow them without limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::Rate;

/// Buckets kept in memory at most; a flood of addresses evicts the oldest (the most drained)
/// instead of growing without bound. About 50 bytes each.
pub const MEMORY_BUCKETS_MAX: usize = 100_000;

/// GCRA buckets in memory, for the refresh limit.
#[derive(Debug)]
pub struct MemoryBuckets {
    buckets: Mutex<HashMap<IpAddr, i64>>,
    capacity: usize,
}

impl Default for MemoryBuckets {
    fn default() -> Self {
        Self::with_capacity(MEMORY_BUCKETS_MAX)
    }
}

impl MemoryBuckets {
    /// At most `capacity` buckets.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buckets: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// The same rule as the SQL store's `take`: `None` when allowed, else milliseconds to wait.
    pub fn take(&self, ip: IpAddr, rate: Rate, now_ms: i64) -> Option<i64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = buckets.get(&ip).copied().unwrap_or(now_ms).max(now_ms) + rate.interval_ms;
        if tat - now_ms > rate.period_ms {
            return Some((tat - rate.period_ms - now_ms).max(1));
        }
        if buckets.len() >= self.capacity && !buckets.contains_key(&ip) {
            evict_oldest(&mut buckets, now_ms, self.capacity);
        }
        buckets.insert(ip, tat);
        None
    }

    /// Buckets held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }

    /// Forget buckets that have drained (called by housekeeping).
    pub fn purge(&self, now_ms: i64) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.retain(|_, tat| *tat > now_ms);
    }
}

/// Make room in a full map: drop the drained buckets, and if that is not enough, the tenth with
/// the oldest arrival times (one scan per tenth of the capacity, not per insert).
fn evict_oldest(buckets: &mut HashMap<IpAddr, i64>, now_ms: i64, capacity: usize) {
    buckets.retain(|_, tat| *tat > now_ms);
    if buckets.len() < capacity {
        return;
    }
    let mut tats: Vec<i64> = buckets.values().copied().collect();
    let cut = (capacity / 10).max(1).min(tats.len() - 1);
    let (_, threshold, _) = tats.select_nth_unstable(cut);
    let threshold = *threshold;
    buckets.retain(|_, tat| *tat > threshold);
}

/// Repeats of one kind of refusal from one address, so that a flood of 429s is one audit row
/// per address per window (with a count), not a row each: the log stays readable and an
/// attacker cannot grow the audit table at the rate it sends requests.
#[derive(Debug)]
pub struct RepeatedEvents {
    windows: Mutex<HashMap<(&'static str, IpAddr), RepeatWindow>>,
    window_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct RepeatWindow {
    started_ms: i64,
    /// Events seen in this window after the one that was written.
    held_back: u64,
}

/// What to do with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The first in its window: write it.
    First,
    /// Another in the same window: count it, write nothing.
    HeldBack,
}

impl RepeatedEvents {
    /// Windows of `window_ms`.
    pub fn new(window_ms: i64) -> Self {
        Self {
            windows: Mutex::default(),
            window_ms,
        }
    }

    /// Note one event of `kind` from `addr` at `now_ms`.
    pub fn note(&self, kind: &'static str, addr: IpAddr, now_ms: i64) -> Repeat {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = windows.get_mut(&(kind, addr))
            && now_ms - w.started_ms < self.window_ms
        {
            w.held_back += 1;
            return Repeat::HeldBack;
        }
        if windows.len() >= MEMORY_BUCKETS_MAX {
            // Full: windows still open lose their count (their first event was written).
            windows.retain(|_, w| now_ms - w.started_ms < self.window_ms);
            if windows.len() >= MEMORY_BUCKETS_MAX {
                windows.clear();
            }
        }
        let window = RepeatWindow {
            started_ms: now_ms,
            held_back: 0,
        };
        windows.insert((kind, addr), window);
        Repeat::First
    }

    /// Close the windows that have ended, returning those that held events back (kind,
    /// address, how many) for a summary row each.
    pub fn close_ended(&self, now_ms: i64) -> Vec<(&'static str, IpAddr, u64)> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut ended = Vec::new();
        windows.retain(|&(kind, addr), w| {
            let open = now_ms - w.started_ms < self.window_ms;
            if !open && w.held_back > 0 {
                ended.push((kind, addr, w.held_back));
            }
            open
        });
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_buckets_allow_a_burst_then_the_sustained_rate() {
        let rate = Rate {
            interval_ms: 1000,
            period_ms: 3000,
        };
        let b = MemoryBuckets::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(b.take(ip, rate, 10_000), None);
        }
        assert_eq!(
            b.take(ip, rate, 10_000),
            Some(1000),
            "the fourth waits one interval"
        );
        assert_eq!(
            b.take("192.0.2.2".parse().unwrap(), rate, 10_000),
            None,
            "per IP"
        );
        assert_eq!(b.take(ip, rate, 11_000), None, "one more after an interval");
        assert!(b.take(ip, rate, 11_000).is_some());
        b.purge(20_000);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn a_flood_of_addresses_cannot_grow_the_map_past_its_capacity() {
        let rate = Rate::per(5, 60);
        let b = MemoryBuckets::with_capacity(1000);
        for i in 0..50_000u32 {
            assert_eq!(
                b.take(IpAddr::from(i.to_be_bytes()), rate, 1_000 + i64::from(i)),
                None
            );
            assert!(b.len() <= 1000, "{} buckets", b.len());
        }
        // The newest clients keep their budgets: the last address is still counted.
        let last = IpAddr::from(49_999u32.to_be_bytes());
        for _ in 0..4 {
            assert_eq!(b.take(last, rate, 51_000), None);
        }
        assert!(
            b.take(last, rate, 51_000).is_some(),
            "its sixth request waits"
        );
    }

    #[test]
    fn repeated_refusals_are_one_row_per_address_per_window_with_a_count() {
        let repeats = RepeatedEvents::new(60_000);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(repeats.note("rate_limited", a, 0), Repeat::First);
        for t in 1..100 {
            assert_eq!(repeats.note("rate_limited", a, t), Repeat::HeldBack);
        }
        assert_eq!(
            repeats.note("rate_limited", b, 50),
            Repeat::First,
            "per address"
        );
        assert_eq!(
            repeats.note("login_blocked", a, 50),
            Repeat::First,
            "per kind"
        );
        assert!(repeats.close_ended(59_999).is_empty(), "still open");
        let ended = repeats.close_ended(60_000);
        assert_eq!(
            ended,
            vec![("rate_limited", a, 99)],
            "b and the lock held nothing back"
        );
        assert_eq!(
            repeats.note("rate_limited", a, 60_001),
            Repeat::First,
            "a new window"
        );
    }
}
