//! Opaque refresh tokens: 256 random bits for the first of a session; each successor is derived
//! from its parent with a server-side HMAC key, so concurrent refreshes with the same token agree
//! on the same successor without coordinating. Only SHA-256 hashes are ever stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::keys::hex;

/// Longest refresh token we will even hash (ours are 43 characters).
pub const MAX_LEN: usize = 128;

/// A fresh random token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The successor of `parent` under the deployment's rotation key.
pub fn successor(rotation_key: &[u8], parent: &str) -> String {
    // new_from_slice only fails for algorithms with fixed key sizes; HMAC accepts any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(rotation_key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"authgate-refresh-successor:");
    mac.update(parent.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What is stored in place of the token.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn successor_is_deterministic_per_key_and_parent() {
        assert_eq!(successor(b"k", "p"), successor(b"k", "p"));
        assert_ne!(successor(b"k", "p"), successor(b"k2", "p"));
        assert_ne!(successor(b"k", "p"), successor(b"k", "q"));
        assert_ne!(successor(b"k", "p"), "p");
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
