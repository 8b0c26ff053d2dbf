//! One-time tokens of mailed links (reset, verification, e-mail change): 256 random bits,
//! URL-safe, stored only as HMAC-SHA256 under a server secret, so a leaked table cannot be
//! checked against guesses offline (unlike an unkeyed hash of a short code).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::hex;

/// Longest token we will even hash (ours are 43 characters).
pub const MAX_LEN: usize = 128;

/// A fresh random token (the same generator as refresh tokens).
pub fn generate() -> String {
    super::refresh::generate()
}

/// What is stored in place of `token`: HMAC-SHA256 under `key`, hex.
pub fn hash(key: &[u8], token: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"authgate-one-time-token:");
    mac.update(token.as_bytes());
    hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_hash_depends_on_the_key() {
        let t = generate();
        assert_eq!(t.len(), 43);
        assert_eq!(hash(b"k", &t), hash(b"k", &t));
        assert_ne!(hash(b"k", &t), hash(b"k2", &t), "keyed, not a bare hash");
        assert_ne!(hash(b"k", &t), crate::token::refresh::hash(&t));
        assert_eq!(hash(b"k", &t).len(), 64);
    }
}
