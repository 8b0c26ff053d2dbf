//! CSRF tokens for cookie sessions (the SPA refresh cookie and the hosted pages): a random
//! nonce and an HMAC-SHA256 of it with the session id, under a server secret. So a token is
//! bound to one session, needs no storage, is fresh each time one is issued, and cannot be made
//! from a session id without the key. Checked with the MAC's constant-time comparison.
//! (OWASP's "signed double-submit cookie".)

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

/// Longest token we even look at (ours are 22 + 1 + 43 = 66 characters).
pub const MAX_LEN: usize = 128;

fn mac(key: &[u8], session: Uuid, nonce: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"authgate-csrf:");
    mac.update(session.as_bytes());
    mac.update(nonce);
    mac
}

/// A fresh token for `session`: `nonce.mac`, both base64url.
pub fn issue(key: &[u8], session: Uuid) -> String {
    let mut nonce = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut nonce);
    let tag = mac(key, session, &nonce).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Whether `presented` is a token [`issue`] made for `session` under `key`.
pub fn verify(key: &[u8], session: Uuid, presented: &str) -> bool {
    if presented.len() > MAX_LEN {
        return false;
    }
    let Some((nonce, tag)) = presented.split_once('.') else {
        return false;
    };
    let (Ok(nonce), Ok(tag)) = (URL_SAFE_NO_PAD.decode(nonce), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    mac(key, session, &nonce).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_session_and_key() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let t = issue(b"key", a);
        assert!(verify(b"key", a, &t));
        assert!(!verify(b"key", b, &t), "bound to the session");
        assert!(!verify(b"other", a, &t), "keyed");
        assert_ne!(issue(b"key", a), t, "fresh each time");
    }

    #[test]
    fn altered_or_malformed_tokens_fail() {
        let s = Uuid::new_v4();
        let t = issue(b"key", s);
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            "",
            ".",
            "abc",
            "a.b",
            &flipped,
            &"a".repeat(500),
            &t[..t.len() - 2],
        ] {
            assert!(!verify(b"key", s, bad), "{bad:?}");
        }
    }
}
