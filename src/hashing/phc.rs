//! The stored password formats: argon2 PHC strings (ours, and weaker ones to upgrade) and
//! passlib's bcrypt (`$2b$`, `$2a$`, `$2y$`), and the rule for when a match needs a new hash.

use anyhow::anyhow;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;

use super::Verdict;

/// Upper bounds on parameters read back from stored hashes: a corrupt or hostile row must not
/// make us spin for minutes. (Memory is bounded by the slot's pooled buffer, see `check`.)
const MAX_T: u32 = 10;
const MAX_P: u32 = 16;

/// A fresh PHC string for `password` under `argon`'s parameters, computed in `memory`.
pub(super) fn hash_new(
    argon: &Argon2<'_>,
    password: &[u8],
    memory: &mut [Block],
) -> anyhow::Result<String> {
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

/// The highest bcrypt cost accepted from an import: cost 16 is ~5 s a login; more is a stall.
const MAX_BCRYPT_COST: u32 = 16;

/// Whether `stored` is a hash [`check`] can verify with `blocks` of memory (see
/// `Hasher::check_stored`).
pub(super) fn usable(stored: &str, blocks: usize) -> Result<(), &'static str> {
    if is_bcrypt(stored) {
        // `$2b$NN$` + 53 characters of bcrypt's base64 (22 of salt, 31 of hash).
        let ok_shape = stored.len() == 60
            && stored.is_ascii()
            && &stored[6..7] == "$"
            && stored[7..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
        if !ok_shape {
            return Err("a malformed bcrypt hash");
        }
        return match stored[4..6].parse::<u32>() {
            Ok(c) if (4..=MAX_BCRYPT_COST).contains(&c) => Ok(()),
            _ => Err("a bcrypt hash whose cost is outside 4..=16"),
        };
    }
    if !stored.starts_with("$argon2") {
        return Err("not a bcrypt or argon2 hash");
    }
    let parsed = PasswordHash::new(stored).map_err(|_| "a malformed argon2 hash")?;
    let params = Params::try_from(&parsed).map_err(|_| "a malformed argon2 hash")?;
    if Algorithm::new(parsed.algorithm.as_str()).is_err() || parsed.salt.is_none() {
        return Err("a malformed argon2 hash");
    }
    if parsed.hash.is_none_or(|h| h.len() < 16) {
        return Err("an argon2 hash without its output");
    }
    if params.t_cost() > MAX_T || params.p_cost() > MAX_P || params.block_count() > blocks {
        return Err("an argon2 hash with parameters above AUTHGATE_ARGON2_* limits");
    }
    Ok(())
}

fn is_bcrypt(stored: &str) -> bool {
    stored.starts_with("$2b$") || stored.starts_with("$2a$") || stored.starts_with("$2y$")
}

/// The synchronous check, for one stored hash of any supported kind.
pub(super) fn check(
    argon: &Argon2<'static>,
    password: &str,
    stored: &str,
    memory: &mut [Block],
) -> Verdict {
    if is_bcrypt(stored) {
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
    if params.t_cost() > MAX_T || params.p_cost() > MAX_P {
        return Verdict::Mismatch;
    }
    // SECURITY: a stored hash is checked in the slot's pooled memory only. One that needs more
    // (a planted row with m=4 GiB, or hashes made under a larger AUTHGATE_ARGON2_MEMORY_KIB)
    // is refused rather than allocated for, so memory stays bounded by the pool.
    if params.block_count() > memory.len() {
        tracing::warn!(
            m_kib = params.m_cost(),
            "a stored argon2 hash needs more memory than AUTHGATE_ARGON2_MEMORY_KIB; refused"
        );
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

/// Recompute an argon2 PHC hash with its own algorithm, version, parameters and salt, in the
/// slot's memory (the caller checked it is large enough), and compare in constant time.
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
    let computed =
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut *memory);
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
}

fn rehash(argon: &Argon2<'static>, password: &str, memory: &mut [Block]) -> Verdict {
    match hash_new(argon, password.as_bytes(), memory) {
        Ok(h) => Verdict::MatchRehash(h),
        Err(_) => Verdict::Match,
    }
}
