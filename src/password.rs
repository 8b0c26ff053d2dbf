//! Password hashing: argon2id off the async runtime, with bounded concurrency, plus verification
//! of legacy bcrypt hashes (passlib's `$2b$`/`$2a$`) so tutorial users can be imported.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
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
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = argon
            .hash_password(b"authgate dummy password")
            .map_err(|e| anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
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
        self.run(move || {
            argon
                .hash_password(secret.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(anyhow!("argon2: {e}")))
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
        let verdict = self.run(move || check(&argon, &secret, &stored)).await?;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
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
        tokio::task::spawn_blocking(move || span.in_scope(job))
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

/// The synchronous check, for one stored hash of any supported kind.
fn check(argon: &Argon2<'static>, password: &str, stored: &str) -> Verdict {
    if stored.starts_with("$2b$") || stored.starts_with("$2a$") || stored.starts_with("$2y$") {
        // SECURITY: non-truncating: bcrypt ignores bytes past 72; a longer password must not match.
        return match bcrypt::non_truncating_verify(password, stored) {
            Ok(true) => rehash(argon, password),
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
    if argon.verify_password(password.as_bytes(), &parsed).is_err() {
        return Verdict::Mismatch;
    }
    let current = argon.params();
    let weaker = params.m_cost() < current.m_cost() || params.t_cost() < current.t_cost();
    if weaker || parsed.algorithm.as_str() != "argon2id" {
        rehash(argon, password)
    } else {
        Verdict::Match
    }
}

fn rehash(argon: &Argon2<'static>, password: &str) -> Verdict {
    match argon.hash_password(password.as_bytes()) {
        Ok(h) => Verdict::MatchRehash(h.to_string()),
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
    async fn unknown_user_is_a_mismatch() {
        assert_eq!(
            hasher().verify("anything", None).await.unwrap(),
            Verdict::Mismatch
        );
    }
}
