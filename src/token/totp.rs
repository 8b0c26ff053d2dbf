//! The second factor's rules as pure functions (issue #11): RFC 6238 TOTP with the parameters
//! every authenticator app reads (SHA-1, 6 digits, 30-second steps, a 160-bit secret), its
//! `otpauth://` URI and SVG QR code, and recovery codes.
//!
//! totp-rs computes the codes; it does not track used steps (RFC 6238 §5.2 asks that a code
//! never be accepted twice), so [`matching_step`] returns the step a code belongs to and the
//! caller accepts it only if it is above the last accepted one (`crate::store::MfaStore`).

use rand::Rng;
use rand::rngs::OsRng;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Steps accepted on either side of the current one (clock drift, typing time).
pub const SKEW: u16 = 1;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;
/// Characters a recovery code is made of: no 0/O, 1/I/L (31 symbols, 4.95 bits each).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Symbols per recovery code: 12 × 4.95 = 59 bits, typed as three groups of four.
const CODE_LEN: usize = 12;

/// A fresh 160-bit secret from the OS's CSPRNG.
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 20];
    OsRng.fill(bytes.as_mut_slice());
    bytes
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECS as u64)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| anyhow::anyhow!("TOTP parameters refused: {e}"))
}

/// What an authenticator app needs: the secret in base32, the `otpauth://totp/…` URI and the
/// URI as an SVG QR code.
pub fn provisioning(
    secret: &[u8],
    issuer: &str,
    account: &str,
) -> anyhow::Result<(String, String, String)> {
    let totp = totp(secret, issuer, account)?;
    let mut uri = totp
        .to_url()
        .map_err(|e| anyhow::anyhow!("otpauth URI: {e}"))?;
    // totp-rs leaves out parameters at their defaults; say them, for apps that guess otherwise.
    for (name, value) in [("algorithm", "SHA1"), ("digits", "6"), ("period", "30")] {
        if !uri.contains(&format!("{name}=")) {
            uri.push_str(&format!("&{name}={value}"));
        }
    }
    let qr = qrcode::QrCode::new(uri.as_bytes())?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok((totp.secret().to_base32(), uri, svg))
}

/// The time step (unix seconds / 30) that `code` is the code of, within ±[`SKEW`] of `now`;
/// `None` for a wrong or malformed code. Spaces in the code are ignored.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "authgate", "check").ok()?;
    let now = u64::try_from(now).ok()?;
    totp.check(&code, now).and_then(|s| i64::try_from(s).ok())
}

/// A fresh set of recovery codes, as shown to the user (`XXXX-XXXX-XXXX`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect()
}

fn new_recovery_code() -> String {
    let mut out = String::with_capacity(CODE_LEN + 2);
    for i in 0..CODE_LEN {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(
            CODE_ALPHABET[OsRng.gen_range(0..CODE_ALPHABET.len())],
        ));
    }
    out
}

/// A typed recovery code in its canonical form (upper case, no separators), or `None` when it
/// cannot be one of ours.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_have_fifty_bits_and_typable_groups() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let bits = CODE_LEN as f64 * (CODE_ALPHABET.len() as f64).log2();
        assert!(bits >= 50.0, "{bits} bits");
        for c in &codes {
            assert_eq!(c.len(), 14);
            assert_eq!(c.split('-').count(), 3);
            assert!(!c.contains(['0', 'O', '1', 'I', 'L']));
            let typed = c.to_lowercase().replace('-', " ");
            assert_eq!(
                normalize_recovery_code(&typed).as_deref(),
                Some(&*c.replace('-', ""))
            );
        }
        assert_eq!(normalize_recovery_code("0000-0000-0000"), None);
        assert_eq!(normalize_recovery_code("ABCD"), None);
    }

    #[test]
    fn a_code_matches_its_step_within_one_either_side() {
        // RFC 6238 appendix B, SHA-1: T = 59 s → 94287082 (8 digits; the last 6 here).
        let secret = b"12345678901234567890";
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(matching_step(secret, "287 082", 59 + 30), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 60), None);
        assert_eq!(matching_step(secret, "28708", 59), None);
        assert_eq!(matching_step(secret, "28708a", 59), None);
    }
}
