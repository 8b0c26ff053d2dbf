//! Password hashing: argon2id off the async runtime, with bounded concurrency, plus verification
//! of legacy bcrypt hashes (passlib's `$2b$`/`$2a$`) so tutorial users can be imported.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::domain::Password;

/// Upper bounds on parameters read back from stored hashes: a corrupt or hostile row must not
/// make us allocate gigabytes or spin for minutes.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 10;
const MAX_P: u32 = 16;

/// The outcome of checking a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password (or unreadable hash).
    Mismatch,
    /// Right password, hash is current.
    Match,
    /// Right password, but the hash is bcrypt or weaker argon2 params: store this new hash.
    MatchRehash(String),
}

/// Why a hash was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot is busy and the waiting queue is full: shed the request (503).
    #[error("the password hashing queue is full")]
    Busy,
    /// The hashing task itself failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords on the blocking pool, at most `permits` at a time, with at
/// most `queue` more waiting. Memory is bounded by `permits × m_kib`; latency by the queue.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    memory: Arc<MemoryPool>,
    workers: Workers,
    dummy_hash: Arc<str>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash: one per slot, at the lowest CPU priority (nice 19). A login storm then
/// takes only the CPU that request handling leaves over, so token checks stay fast while every
/// core hashes (the benchmark's `storm` scenario). They exit when the last `Hasher` is dropped.
#[derive(Clone)]
struct Workers(std::sync::mpsc::Sender<Job>);

impl Workers {
    fn start(count: usize) -> anyhow::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..count {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("authgate-hash-{i}"))
                .spawn(move || {
                    // Lowering one's own priority needs no privilege; if it fails, hash anyway.
                    let _ = thread_priority::set_current_thread_priority(
                        thread_priority::ThreadPriority::Min,
                    );
                    loop {
                        let job = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .context("could not start a hashing thread")?;
        }
        Ok(Self(sender))
    }

    fn send(&self, job: Job) -> Result<(), HashError> {
        self.0
            .send(job)
            .map_err(|_| HashError::Failed(anyhow!("the hashing threads have stopped")))
    }
}

/// argon2's working memory (`m_kib` each), one per hashing slot, reused. Allocating 19 MiB per
/// hash made glibc keep hundreds of MiB resident after a burst of logins (measured by the
/// benchmark's `storm`: 600–800 MiB with 2 slots), and faulted the pages in on every hash.
/// At most `permits` jobs run at once, so the pool never holds more than `permits` buffers.
struct MemoryPool {
    free: Mutex<Vec<Vec<Block>>>,
    blocks: usize,
}

impl MemoryPool {
    fn take(&self) -> Vec<Block> {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        reused.unwrap_or_else(|| vec![Block::default(); self.blocks])
    }

    fn give(&self, memory: Vec<Block>) {
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(memory);
    }
}

impl Hasher {
    /// `m_kib`, `t`, `p`: argon2id parameters; `concurrency`: simultaneous hashes (memory is
    /// `m_kib` per hash); `queue`: requests allowed to wait for a slot. Computes the dummy hash
    /// used for unknown users.
    pub fn new(
        m_kib: u32,
        t: u32,
        p: u32,
        concurrency: usize,
        queue: usize,
    ) -> anyhow::Result<Self> {
        let params = Params::new(m_kib, t, p, None)
            .map_err(|e| anyhow!("invalid argon2 parameters: {e}"))?;
        let memory = Arc::new(MemoryPool {
            free: Mutex::new(Vec::new()),
            blocks: params.block_count(),
        });
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        // A one-off buffer, given back to the OS at once: an idle server holds no hashing memory.
        let mut scratch = vec![Block::default(); memory.blocks];
        let dummy = hash_new(&argon, b"authgate dummy password", &mut scratch)?;
        drop(scratch);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            memory,
            workers: Workers::start(concurrency.max(1))?,
            dummy_hash: dummy.into(),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hash a new password.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let argon = self.argon2();
        let secret = password.expose().to_owned();
        self.run(move |memory| {
            hash_new(&argon, secret.as_bytes(), memory).map_err(HashError::Failed)
        })
        .await?
    }

    /// Check `password` against `stored`; `None` (unknown user) burns the same time as a real
    /// check and answers `Mismatch`.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verdict, HashError> {
        // SECURITY: an unknown user costs one argon2 verify, exactly like a wrong password.
        let known = stored.is_some();
        let stored = stored
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.to_string());
        let argon = self.argon2();
        let secret = password.to_owned();
        let verdict = self
            .run(move |memory| check(&argon, &secret, &stored, memory))
            .await?;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }

    /// Run `job` on the blocking pool with a hashing slot and that slot's working memory.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // SECURITY: a bounded queue: beyond it, shed load instead of piling up tasks.
                let _waiting = QueueSlot::take(&self.waiting, self.queue).ok_or(HashError::Busy)?;
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .context("hasher closed")?
            }
        };
        let span = tracing::Span::current();
        let pool = self.memory.clone();
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.workers.send(Box::new(move || {
            let mut memory = pool.take();
            let result = span.in_scope(|| job(&mut memory));
            pool.give(memory);
            let _ = reply.send(result);
        }))?;
        answer
            .await
            .context("hashing task failed")
            .map_err(HashError::Failed)
    }

    /// Requests currently waiting for a hashing slot.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// One place in the waiting queue, given back on drop (also when the request is cancelled).
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn take(counter: &'a AtomicUsize, max: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| QueueSlot(counter))
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A fresh PHC string for `password` under `argon`'s parameters, computed in `memory`.
fn hash_new(argon: &Argon2<'_>, password: &[u8], memory: &mut [Block]) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    argon
        .hash_password_into_with_memory(password, &salt, &mut out, &mut *memory)
        .map_err(|e| anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| anyhow!("argon2: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow!("argon2: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("argon2: {e}"))?),
    };
    Ok(phc.to_string())
}

/// The synchronous check, for one stored hash of any supported kind.
fn check(argon: &Argon2<'static>, password: &str, stored: &str, memory: &mut [Block]) -> Verdict {
    if stored.starts_with("$2b$") || stored.starts_with("$2a$") || stored.starts_with("$2y$") {
        // SECURITY: non-truncating: bcrypt ignores bytes past 72; a longer password must not match.
        return match bcrypt::non_truncating_verify(password, stored) {
            Ok(true) => rehash(argon, password, memory),
            _ => Verdict::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Mismatch;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return Verdict::Mismatch;
    };
    if params.m_cost() > MAX_M_KIB || params.t_cost() > MAX_T || params.p_cost() > MAX_P {
        return Verdict::Mismatch;
    }
    if !argon2_matches(&parsed, &params, password, memory) {
        return Verdict::Mismatch;
    }
    let current = argon.params();
    let weaker = params.m_cost() < current.m_cost() || params.t_cost() < current.t_cost();
    if weaker || parsed.algorithm.as_str() != "argon2id" {
        rehash(argon, password, memory)
    } else {
        Verdict::Match
    }
}

/// Recompute an argon2 PHC hash with its own algorithm, version, parameters and salt, and
/// compare in constant time. Uses the slot's memory when it is large enough (always, for hashes
/// made with the current parameters), else allocates for this one check.
fn argon2_matches(
    parsed: &PasswordHash,
    params: &Params,
    password: &str,
    memory: &mut [Block],
) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    ) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = if params.block_count() <= memory.len() {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut *memory)
    } else {
        argon.hash_password_into(password.as_bytes(), salt, &mut out)
    };
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
}

fn rehash(argon: &Argon2<'static>, password: &str, memory: &mut [Block]) -> Verdict {
    match hash_new(argon, password.as_bytes(), memory) {
        Ok(h) => Verdict::MatchRehash(h),
        Err(_) => Verdict::Match,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(19456, 2, 1, 2, 8).unwrap()
    }

    #[tokio::test]
    async fn argon2id_round_trip_with_owasp_parameters() {
        let h = hasher();
        let hash = h
            .hash(&Password::parse("correct horse battery".into()).unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            h.verify("correct horse battery", Some(&hash))
                .await
                .unwrap(),
            Verdict::Match
        );
        assert_eq!(
            h.verify("wrong horse battery", Some(&hash)).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn passlib_bcrypt_hashes_verify_and_ask_for_an_upgrade() {
        // Real fixtures from passlib 1.7.4 + bcrypt 4.0.1 (the tutorials' stack):
        // CryptContext(schemes=["bcrypt"]).hash(..) (cost 12), and bcrypt.using(rounds=4, ident="2a").
        for legacy in [
            "$2b$12$d9KTr3pMk4yAm1p4ICBIluBS8/CY3HQlxDmlxMhbT7W2n6H9fTK1i",
            "$2a$04$fAKhknB1rcSapZa6kHLu7.5jOmO8V4Xs.ig0Zs5hLD0dwx0oNExU.",
        ] {
            let verdict = hasher()
                .verify("tutorial-password", Some(legacy))
                .await
                .unwrap();
            assert!(
                matches!(verdict, Verdict::MatchRehash(ref h) if h.starts_with("$argon2id$")),
                "{verdict:?}"
            );
            assert_eq!(
                hasher()
                    .verify("tutorial-passwore", Some(legacy))
                    .await
                    .unwrap(),
                Verdict::Mismatch
            );
        }
    }

    #[tokio::test]
    async fn bcrypt_never_matches_on_a_72_byte_prefix() {
        // passlib bcrypt.using(rounds=4).hash("x" * 80): bcrypt only ever saw the first 72 bytes.
        // Verification is non-truncating, so neither 80 x's nor 72 x's plus other bytes match
        // (the price: a legacy user with a password over 72 bytes must reset it).
        let legacy = "$2b$04$/zH53aEe2vDnXLwpd3KzRePad68.8FasebrvKSqgOOJ2hsgmXuGFO";
        for attempt in ["x".repeat(80), format!("{}yyyyyyyy", "x".repeat(72))] {
            assert_eq!(
                hasher().verify(&attempt, Some(legacy)).await.unwrap(),
                Verdict::Mismatch
            );
        }
    }

    #[tokio::test]
    async fn corrupt_or_hostile_hashes_are_a_mismatch_not_a_panic() {
        let h = hasher();
        for stored in [
            "",
            "garbage",
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$aGFzaA",
            "$2b$12$ñññ",
            "$argon2id$v=19$m=19456",
        ] {
            assert_eq!(
                h.verify("whatever1", Some(stored)).await.unwrap(),
                Verdict::Mismatch,
                "{stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn beyond_the_queue_requests_are_shed_not_queued() {
        let h = Hasher::new(19456, 2, 1, 1, 2).unwrap();
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.verify("password", None).await })
            })
            .collect();
        let mut busy = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Err(HashError::Busy) => busy += 1,
                Ok(Verdict::Mismatch) => {}
                other => panic!("{other:?}"),
            }
        }
        // One hashing, two waiting: the other five are refused at once.
        assert!(busy >= 5, "{busy} of 8 shed");
        assert_eq!(h.waiting(), 0, "queue slots are given back");
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_encoder_and_verifier() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let h = hasher();
        // Ours verify with the reference implementation...
        let ours = h
            .hash(&Password::parse("correct horse battery".into()).unwrap())
            .await
            .unwrap();
        let reference = Argon2::default();
        assert!(
            reference
                .verify_password(b"correct horse battery", ours.as_str())
                .is_ok()
        );
        // ...and the reference's verify with ours, including weaker ones, which get upgraded.
        let same = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19456, 2, 1, None).unwrap(),
        );
        let weaker = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8192, 3, 1, None).unwrap(),
        );
        let same = same
            .hash_password(b"tutorial-password")
            .unwrap()
            .to_string();
        let weaker = weaker
            .hash_password(b"tutorial-password")
            .unwrap()
            .to_string();
        assert_eq!(
            h.verify("tutorial-password", Some(&same)).await.unwrap(),
            Verdict::Match
        );
        assert!(matches!(
            h.verify("tutorial-password", Some(&weaker)).await.unwrap(),
            Verdict::MatchRehash(ref new) if new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        ));
        for stored in [&same, &weaker] {
            assert_eq!(
                h.verify("tutorial-passwore", Some(stored)).await.unwrap(),
                Verdict::Mismatch
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_at_the_lowest_cpu_priority() {
        let h = hasher();
        let nice = h
            .run(|_| {
                // Field 19 of /proc/thread-self/stat is the thread's nice value.
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                let after_name = &stat[stat.rfind(')').unwrap() + 2..];
                after_name
                    .split(' ')
                    .nth(16)
                    .unwrap()
                    .parse::<i32>()
                    .unwrap()
            })
            .await
            .unwrap();
        assert_eq!(nice, 19);
    }

    #[tokio::test]
    async fn unknown_user_is_a_mismatch() {
        assert_eq!(
            hasher().verify("anything", None).await.unwrap(),
            Verdict::Mismatch
        );
    }
}
