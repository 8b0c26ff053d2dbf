//! Server-side secrets at rest: sealed with an AEAD under a key-encryption key (KEK) that is not
//! in the database, so a copy of the database alone cannot mint tokens or forge refresh tokens.
//!
//! [`Sealer::seal`] turns plaintext into `sealed:v1:<kek id>:<base64url(nonce ‖ ciphertext)>`
//! (XChaCha20-Poly1305, a fresh random 192-bit nonce per seal, so random nonces never collide in
//! practice); [`Sealer::open`] reverses it and refuses anything altered. The KEK id (a hash of
//! the KEK, which reveals nothing about it) travels with each ciphertext, so a value sealed under
//! another KEK is named as such rather than reported as corrupt, and a KEK can be replaced
//! later. Signing keys and the refresh rotation key use it; so can any later secret (TOTP).
//!
//! Where the KEK comes from ([`kek_from_text`], [`kek_from_file`]): `AUTHGATE_KEK_FILE` or
//! `AUTHGATE_KEK` (32 bytes as 64 hex digits or base64), or, for the embedded SQLite default,
//! a file generated in the data directory with mode 0600.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every sealed value starts with.
const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 24;

/// Seals and opens secrets under one key-encryption key.
pub struct Sealer {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("kek_id", &self.id).finish()
    }
}

impl Sealer {
    /// A sealer for a 32-byte KEK.
    pub fn new(kek: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"authgate-kek-id")
            .chain_update(kek)
            .finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            cipher: XChaCha20Poly1305::new(kek.into()),
        }
    }

    /// The KEK's id, stored with every value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seal `plaintext`: a text value safe to store anywhere. (Fails only for inputs beyond
    /// the cipher's limit of 256 GiB.)
    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), plaintext)
            .map_err(|_| anyhow::anyhow!("could not seal a secret"))?;
        let body = URL_SAFE_NO_PAD.encode([nonce.as_slice(), &ciphertext].concat());
        Ok(format!("{PREFIX}{}:{body}", self.id))
    }

    /// Open a value [`Sealer::seal`] made under this KEK. Fails, saying which, for a value
    /// sealed under another KEK, a value that is not sealed, and one altered after sealing.
    pub fn open(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let Some(kek_id) = sealed_with(sealed) else {
            bail!("not a sealed value");
        };
        if kek_id != self.id {
            bail!(
                "sealed under key-encryption key {kek_id}, but the configured one is {}",
                self.id
            );
        }
        let body = &sealed[PREFIX.len() + kek_id.len() + 1..];
        let raw = URL_SAFE_NO_PAD.decode(body).unwrap_or_default();
        let (nonce, ciphertext) = raw
            .split_first_chunk::<NONCE_LEN>()
            .context("a sealed value is truncated or corrupt")?;
        self.cipher
            .decrypt(&XNonce::from(*nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("a sealed value was altered or is corrupt"))
    }
}

/// The id of the KEK `value` was sealed under; `None` if it is not sealed (plaintext).
pub fn sealed_with(value: &str) -> Option<&str> {
    let rest = value.strip_prefix(PREFIX)?;
    rest.split_once(':').map(|(id, _)| id)
}

/// A KEK from its text form: 64 hex digits, or base64 (standard or URL-safe) of 32 bytes.
pub fn kek_from_text(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
    } else {
        STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .ok()
    };
    bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()).context(
        "a key-encryption key must be 32 random bytes, written as 64 hex digits or base64 \
             (e.g. `openssl rand -hex 32`)",
    )
}

/// Read the KEK in `path` (its text form, or exactly 32 raw bytes).
pub fn kek_from_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("could not read the key-encryption key {}", path.display()))?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(raw);
    }
    let text = String::from_utf8(bytes).ok().unwrap_or_default();
    kek_from_text(&text).with_context(|| format!("in {}", path.display()))
}

/// The KEK in `path`, generating it (readable by this user only) if the file does not exist.
pub fn kek_from_file_or_create(path: &Path) -> anyhow::Result<[u8; 32]> {
    if path.exists() {
        return kek_from_file(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let mut kek = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut kek);
    let text: String = kek.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{text}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("could not write {}", path.display()))?;
            Ok(kek)
        }
        // Another process (a CLI command, a second server) created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => kek_from_file(path),
        Err(e) => Err(e).with_context(|| format!("could not create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&[byte; 32])
    }

    #[test]
    fn seal_then_open_round_trips_and_names_the_kek() {
        let s = sealer(1);
        let sealed = s.seal(b"private key").unwrap();
        assert!(sealed.starts_with("sealed:v1:"));
        assert_eq!(sealed_with(&sealed), Some(s.id()));
        assert!(!sealed.contains("private key"));
        assert_eq!(s.open(&sealed).unwrap(), b"private key");
        assert_ne!(
            s.seal(b"private key").unwrap(),
            sealed,
            "a fresh nonce every time"
        );
    }

    #[test]
    fn open_refuses_another_kek_a_tampered_value_and_plaintext() {
        let (a, b) = (sealer(1), sealer(2));
        let sealed = a.seal(b"secret").unwrap();
        let err = b.open(&sealed).unwrap_err().to_string();
        assert!(err.contains(a.id()) && err.contains(b.id()), "{err}");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(a.open(std::str::from_utf8(&tampered).unwrap()).is_err());
        assert!(a.open(&sealed[..sealed.len() - 10]).is_err());
        assert!(a.open("c2VjcmV0").is_err());
        assert_eq!(sealed_with("c2VjcmV0"), None);
    }

    #[test]
    fn kek_text_forms() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(kek_from_text(&hex).unwrap()[31], 0xff);
        let b64 = STANDARD.encode([7u8; 32]);
        assert_eq!(kek_from_text(&b64).unwrap(), [7u8; 32]);
        assert_eq!(
            kek_from_text(&URL_SAFE_NO_PAD.encode([9u8; 32])).unwrap(),
            [9u8; 32]
        );
        for bad in [
            "",
            "short",
            &"00".repeat(16),
            "correct horse battery staple",
        ] {
            assert!(kek_from_text(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_generated_kek_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("kek");
        let first = kek_from_file_or_create(&path).unwrap();
        assert_eq!(kek_from_file_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
