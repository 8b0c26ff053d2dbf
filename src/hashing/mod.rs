//! Password hashing: argon2id off the async runtime, with bounded concurrency, plus verification
//! of legacy bcrypt hashes (passlib's `$2b$`/`$2a$`) so tutorial users can be imported.
//!
//! [`Hasher`] is the front: slots, the waiting queue, the dummy hash for unknown users.
//! `workers` runs the hashes on low-priority threads with pooled memory; `phc` knows the stored
//! formats (argon2 PHC strings and bcrypt) and decides when a hash needs upgrading.

mod phc;
#[cfg(test)]
mod tests;
mod workers;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::Password;
use phc::{check, hash_new};
use workers::{MemoryPool, Workers};

/// The stored "hash" of an account without a usable password (an import whose source had none,
/// or only a format authgate cannot check). No password matches it: [`Hasher::verify`] treats
/// it exactly as an unknown user, so such an account cannot log in until its password is reset,
/// and trying costs the same time as any wrong password. `!` never starts a PHC or bcrypt string.
pub const NO_PASSWORD: &str = "!no-password: reset required";

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
        let memory = Arc::new(MemoryPool::new(params.block_count()));
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        // A one-off buffer, given back to the OS at once: an idle server holds no hashing memory.
        let mut scratch = vec![Block::default(); params.block_count()];
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
        // SECURITY: an unknown user costs one argon2 verify, exactly like a wrong password; so
        // does an account without a usable password (its marker matches nothing).
        let stored = stored.filter(|s| *s != NO_PASSWORD);
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

    /// Whether `stored` is a hash [`Hasher::verify`] can check under this hasher's limits: a
    /// bcrypt string (`$2a$`/`$2b$`/`$2y$`, cost at most 16) or an argon2 PHC string whose
    /// parameters it accepts. `Err` says why not, without repeating the hash.
    pub fn check_stored(&self, stored: &str) -> Result<(), &'static str> {
        phc::usable(stored, self.params.block_count())
    }

    /// Run `job` on the blocking pool with a hashing slot and that slot's working memory.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let queued = std::time::Instant::now();
        let _permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // SECURITY: a bounded queue: beyond it, shed load instead of piling up tasks.
                let Some(waiting) = QueueSlot::take(&self.waiting, self.queue) else {
                    metrics::counter!("authgate_hash_rejected_total").increment(1);
                    return Err(HashError::Busy);
                };
                metrics::gauge!("authgate_hash_queue_depth")
                    .set(self.waiting.load(Ordering::Relaxed) as f64);
                let permit = self
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .context("hasher closed")?;
                drop(waiting);
                metrics::gauge!("authgate_hash_queue_depth")
                    .set(self.waiting.load(Ordering::Relaxed) as f64);
                permit
            }
        };
        metrics::histogram!("authgate_hash_wait_seconds").record(queued.elapsed().as_secs_f64());
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
    #[cfg(test)]
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
