//! Secrets at rest that the server must read back (TOTP secrets): sealed with
//! ChaCha20-Poly1305 under a server key, the key's id stored with each ciphertext so the key
//! can rotate (a new key seals; old ones still open what they sealed).
//!
//! Shaped `seal(plaintext) -> String` / `open(&str) -> Result<Vec<u8>>` so that it can be
//! folded into the `secrets` part issue 12A adds for keys at rest. The sealed form is
//! `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`; `label` is bound as associated data,
//! so a ciphertext copied to another purpose (or row, when the caller puts its id in) fails.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Seals and opens secrets under a ring of keys: one current, any number of old ones.
pub struct Sealer {
    current: String,
    keys: HashMap<String, ChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: key material is never printed.
        write!(
            f,
            "Sealer(current = {:?}, {} keys)",
            self.current,
            self.keys.len()
        )
    }
}

/// The AEAD key derived from a stored server secret (any length; hashed to 256 bits).
fn cipher(secret: &[u8]) -> ChaCha20Poly1305 {
    let key = Sha256::new_with_prefix(b"authgate-sealed-v1:")
        .chain_update(secret)
        .finalize();
    let key: Key = key;
    ChaCha20Poly1305::new(&key)
}

impl Sealer {
    /// A ring whose current key is `(id, secret)`; `old` keys only open.
    pub fn new(current: (&str, &[u8]), old: &[(&str, &[u8])]) -> Self {
        let mut keys: HashMap<String, ChaCha20Poly1305> = old
            .iter()
            .map(|(id, s)| ((*id).to_owned(), cipher(s)))
            .collect();
        keys.insert(current.0.to_owned(), cipher(current.1));
        Self {
            current: current.0.to_owned(),
            keys,
        }
    }

    /// The id of the key new secrets are sealed under.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    /// Seal `plaintext` for `label` under the current key.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let Some(key) = self.keys.get(&self.current) else {
            unreachable!("the current key is always in the ring")
        };
        let payload = Payload {
            msg: plaintext,
            aad: label.as_bytes(),
        };
        let sealed = key
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 seals anything under 256 GiB"));
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("v1.{}.{}", self.current, URL_SAFE_NO_PAD.encode(out))
    }

    /// Open what [`Sealer::seal`] sealed for `label`: an error for an unknown key id, a
    /// malformed text, or a ciphertext that was changed or sealed for another label.
    pub fn open(&self, label: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("not a sealed secret");
        };
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| anyhow::anyhow!("sealed under unknown key {id:?}"))?;
        let bytes = URL_SAFE_NO_PAD.decode(body)?;
        if bytes.len() < 12 + 16 {
            anyhow::bail!("sealed secret too short");
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into()?;
        let payload = Payload {
            msg: ciphertext,
            aad: label.as_bytes(),
        };
        key.decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| anyhow::anyhow!("sealed secret does not open (changed, or another key)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_unchanged_with_its_key_and_label() {
        let old = Sealer::new(("k1", b"first"), &[]);
        let sealed = old.seal("totp:u1", b"secret bytes");
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("secret"));
        assert_ne!(
            sealed,
            old.seal("totp:u1", b"secret bytes"),
            "fresh nonce each time"
        );
        assert_eq!(old.open("totp:u1", &sealed).unwrap(), b"secret bytes");
        assert!(old.open("totp:u2", &sealed).is_err(), "label bound");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(
            old.open("totp:u1", &String::from_utf8(flipped).unwrap())
                .is_err()
        );
        // Rotation: the new ring seals under k2 and still opens k1's.
        let rotated = Sealer::new(("k2", b"second"), &[("k1", b"first")]);
        assert_eq!(rotated.open("totp:u1", &sealed).unwrap(), b"secret bytes");
        assert!(rotated.seal("x", b"y").starts_with("v1.k2."));
        assert!(
            Sealer::new(("k2", b"second"), &[])
                .open("totp:u1", &sealed)
                .is_err()
        );
    }
}
