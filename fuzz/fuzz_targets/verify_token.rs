//! Fuzz the access-token verification path: `Verifier::verify` (what `AuthState::authenticate`,
//! and so the `CurrentUser` / `RequireRole` extractors, call; checked against `verify_uncached`
//! so that the verified-token cache cannot answer differently) and `AuthState::authenticate`
//! itself, against real server states for EdDSA (default), ES256 and HS256. RS256 is left out:
//! signing with instrumented RSA costs ~85 ms per execution, and its verification is the same
//! authgate code path as the others.
//!
//! Input layout: byte 0 picks the mode, byte 1 the ring (algorithm), the rest is mode data.
//!
//! * mode 0 `raw`: the rest is the token (lossy UTF-8). Nothing the fuzzer writes is signed by
//!   our keys, so it must be refused by every ring.
//! * mode 1 `signed-json`: the rest is `header JSON 0xFF payload JSON`; the harness signs those
//!   exact bytes with our key (`$KID` in the header becomes our kid, `$NOW` in the payload the
//!   fixture's unix time), so the fuzzer gets past the
//!   signature into header and claim validation. Success is checked against an independent
//!   reading of the JSON (right alg/typ/kid, no embedded keys, iss/aud/sub, time claims).
//! * mode 2 `structured`: a valid header and claims, then up to 8 field edits (remove / set to a
//!   typed value) chosen by the input, signed with our key, a foreign key of the same algorithm,
//!   HMAC over our public JWK (algorithm confusion), `alg: none`, or our key with a tampered
//!   signature. Only our untampered key may ever verify, and then the same oracle as mode 1.
//! * mode 3 `edit`: a valid token, then byte edits at input-chosen positions. If the edited token
//!   still verifies, it must decode to the same bytes as the original (no forgery).
#![no_main]

use std::sync::LazyLock;

use authgate::internals::ACCESS_TYP;
use authgate::{AccessClaims, JwtAlg, TokenError};
use authgate_fuzz::{AUDIENCE, Fixture, ISSUER, LEEWAY, Ring, b64, fixture, sign_raw};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::arbitrary::{self, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

static FIX: LazyLock<Fixture> =
    LazyLock::new(|| fixture(&[JwtAlg::EdDSA, JwtAlg::ES256, JwtAlg::HS256]));

/// The "now" every `verify` call of this process uses: wall time when the fixture was built, so
/// tokens valid for `verify` are also valid for `authenticate` (which reads the wall clock).
fn now() -> i64 {
    FIX.now
}

fuzz_target!(|data: &[u8]| {
    let fix = &*FIX;
    let [mode, ring, rest @ ..] = data else {
        return;
    };
    let ring = &fix.rings[*ring as usize % fix.rings.len()];
    match mode % 4 {
        0 => raw(fix, rest),
        1 => signed_json(fix, ring, rest),
        2 => {
            let _ = structured(fix, ring, &mut Unstructured::new(rest));
        }
        _ => {
            let _ = edit(fix, ring, &mut Unstructured::new(rest));
        }
    }
});

/// Verify as the server does, at the fixture's fixed `now`.
/// Also checks that the verified-token cache answers as a full verification does: the cached
/// path (`verify`) and `verify_uncached` must agree at the same `now`, first call and repeat.
fn verify(ring: &Ring, token: &str) -> Result<AccessClaims, TokenError> {
    let v = authgate::internals::verifier(&ring.state);
    let cached = v.verify(token, now());
    let full = v.verify_uncached(token, now());
    let again = v.verify(token, now());
    if cached.as_ref().ok() != full.as_ref().ok() || again.as_ref().ok() != full.as_ref().ok() {
        panic!(
            "{:?}: verification cache disagrees for {token:?}:\n cached {cached:?}\n full   {full:?}\n again  {again:?}",
            ring.alg
        );
    }
    cached
}

/// The entry point of the HTTP extractors (wall clock, revocation list, activity tracking).
fn authenticate(fix: &Fixture, ring: &Ring, token: &str) -> Result<AccessClaims, TokenError> {
    fix.rt
        .block_on(ring.state.authenticate(token))
        .map(|u| u.claims)
}

fn must_refuse(fix: &Fixture, ring: &Ring, token: &str, why: &str) {
    if let Ok(c) = verify(ring, token) {
        panic!("{why}: {:?} verified a token it must refuse: {token:?} -> {c:?}", ring.alg);
    }
    if let Ok(c) = authenticate(fix, ring, token) {
        panic!("{why}: {:?} authenticated a token it must refuse: {token:?} -> {c:?}", ring.alg);
    }
}

fn raw(fix: &Fixture, rest: &[u8]) {
    let token = String::from_utf8_lossy(rest);
    for ring in &fix.rings {
        must_refuse(fix, ring, &token, "unsigned fuzz input");
    }
}

fn signed_json(fix: &Fixture, ring: &Ring, rest: &[u8]) {
    let (header, payload) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let header = replace(header, b"$KID", ring.kid.as_bytes());
    let payload = replace(payload, b"$NOW", now().to_string().as_bytes());
    let token = sign_raw(&header, &payload, &ring.own, ring.algorithm());
    check(fix, ring, &token, &header, &payload);
}

/// Run both entry points on a token signed with our key; whatever is accepted must be right.
fn check(fix: &Fixture, ring: &Ring, token: &str, header: &[u8], payload: &[u8]) {
    if let Ok(claims) = verify(ring, token) {
        oracle(ring, token, header, payload, &claims, Some(now()));
    }
    if let Ok(claims) = authenticate(fix, ring, token) {
        // The wall clock moves during a run: check everything but the time claims.
        oracle(ring, token, header, payload, &claims, None);
    }
}

/// An accepted token, read independently of jsonwebtoken: every rule of `Verifier::verify` holds.
fn oracle(
    ring: &Ring,
    token: &str,
    header: &[u8],
    payload: &[u8],
    claims: &AccessClaims,
    now: Option<i64>,
) {
    let fail = |what: &str| -> ! {
        panic!(
            "{:?} accepted a token breaking a rule ({what}):\n token   {token}\n header  {}\n payload {}\n claims  {claims:?}",
            ring.alg,
            String::from_utf8_lossy(header),
            String::from_utf8_lossy(payload)
        )
    };
    let Ok(Value::Object(h)) = serde_json::from_slice::<Value>(header) else {
        fail("header is not a JSON object");
    };
    let Ok(Value::Object(p)) = serde_json::from_slice::<Value>(payload) else {
        fail("payload is not a JSON object");
    };
    if h.get("alg").and_then(Value::as_str) != Some(ring.alg.name()) {
        fail("alg");
    }
    let typ_ok = h.get("typ").and_then(Value::as_str).is_some_and(|t| {
        t.eq_ignore_ascii_case(ACCESS_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        fail("typ");
    }
    if h.get("kid").and_then(Value::as_str) != Some(ring.kid.as_str()) {
        fail("kid");
    }
    for k in ["jwk", "jku", "x5u", "x5c", "crit", "zip", "enc"] {
        if h.get(k).is_some_and(|v| !v.is_null()) {
            fail(k);
        }
    }
    let s = |k: &str| p.get(k).and_then(Value::as_str);
    let i = |k: &str| p.get(k).and_then(Value::as_i64);
    if s("iss") != Some(ISSUER) || claims.iss != ISSUER {
        fail("iss");
    }
    if s("aud") != Some(AUDIENCE) || claims.aud != AUDIENCE {
        fail("aud");
    }
    if s("sub").and_then(|v| uuid::Uuid::parse_str(v).ok()) != Some(claims.sub) {
        fail("sub");
    }
    if i("exp") != Some(claims.exp) || i("nbf") != Some(claims.nbf) || i("iat") != Some(claims.iat)
    {
        fail("time claims differ from the payload");
    }
    if let Some(now) = now {
        if claims.exp <= now - LEEWAY {
            fail("expired");
        }
        if claims.nbf > now + LEEWAY {
            fail("not yet valid");
        }
        if claims.iat > now + LEEWAY {
            fail("issued in the future");
        }
    }
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn valid_header(ring: &Ring) -> Map<String, Value> {
    let Value::Object(m) = json!({"typ": ACCESS_TYP, "alg": ring.alg.name(), "kid": ring.kid})
    else {
        unreachable!()
    };
    m
}

fn valid_claims() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "iss": ISSUER,
        "sub": "0191e4a2-7c1e-7a3b-9d4f-1a2b3c4d5e6f",
        "aud": AUDIENCE,
        "exp": now() + 900,
        "nbf": now() - 10,
        "iat": now() - 10,
        "jti": "0191e4a2-7c1e-7a3b-9d4f-000000000001",
        "sid": "0191e4a2-7c1e-7a3b-9d4f-000000000002",
        "roles": ["user"],
        "client_id": "authgate",
    }) else {
        unreachable!()
    };
    m
}

const HEADER_FIELDS: &[&str] = &[
    "alg", "typ", "kid", "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit", "zip", "enc",
    "cty", "b64",
];
const CLAIM_FIELDS: &[&str] = &[
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "client_id", "scope",
];
const STRINGS: &[&str] = &[
    "none", "None", "HS256", "EdDSA", "ES256", "RS256", "PS256", "at+jwt", "AT+JWT", "JWT",
    "application/at+jwt", "", ISSUER, AUDIENCE, "admin", "user", "authgate",
    "00000000-0000-0000-0000-000000000000", "https://evil.example/jwks.json", "../../kid",
];

/// A JSON value of a type the fuzzer picks, often close to the valid one (`current`).
fn value(u: &mut Unstructured, current: Option<&Value>) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0u8..=13)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::String(u.arbitrary()?),
        3 => json!(u.arbitrary::<i64>()?),
        4 => json!(now() + i64::from(u.arbitrary::<i16>()?)),
        5 => json!(now() as f64 + f64::from(u.arbitrary::<i16>()?) + 0.5),
        6 => json!(u.arbitrary::<u64>()? | (1 << 63)),
        7 => Value::Array(current.into_iter().cloned().collect()),
        8 => json!({}),
        9 => match current {
            Some(Value::String(s)) => Value::String(s.to_uppercase()),
            Some(Value::Number(n)) => Value::String(n.to_string()),
            _ => Value::Null,
        },
        10 => match current {
            Some(Value::String(s)) => {
                let suffix = *u.choose(&["\0", " ", "\u{200b}", "/", "."])?;
                Value::String(format!("{s}{suffix}"))
            }
            _ => Value::String(" ".into()),
        },
        11 => Value::String((*u.choose(STRINGS)?).to_owned()),
        12 => json!(now() - 2 * LEEWAY + i64::from(u.int_in_range(0u8..=4 * LEEWAY as u8)?)),
        _ => json!([u.arbitrary::<String>()?, AUDIENCE]),
    })
}

fn edit_object(
    u: &mut Unstructured,
    obj: &mut Map<String, Value>,
    fields: &[&str],
) -> arbitrary::Result<()> {
    let name = if u.ratio(1u8, 8)? {
        u.arbitrary::<String>()?
    } else {
        (*u.choose(fields)?).to_owned()
    };
    if u.ratio(1u8, 3)? {
        obj.remove(&name);
    } else {
        let v = value(u, obj.get(&name))?;
        obj.insert(name, v);
    }
    Ok(())
}

enum Signer {
    Own,
    Foreign,
    /// HMAC keyed with our public material (RFC 8725 §2.1 algorithm confusion).
    Confusion,
    None,
    Tampered,
}

fn structured(fix: &Fixture, ring: &Ring, u: &mut Unstructured) -> arbitrary::Result<()> {
    let signer = match u.int_in_range(0u8..=7)? {
        0..=3 => Signer::Own,
        4 => Signer::Foreign,
        5 => Signer::Confusion,
        6 => Signer::None,
        _ => Signer::Tampered,
    };
    let mut header = valid_header(ring);
    let mut claims = valid_claims();
    let edits = u.int_in_range(0u8..=8)?;
    for _ in 0..edits {
        if u.arbitrary::<bool>()? {
            edit_object(u, &mut header, HEADER_FIELDS)?;
        } else {
            edit_object(u, &mut claims, CLAIM_FIELDS)?;
        }
    }
    let h = serde_json::to_vec(&header).expect("json");
    let p = serde_json::to_vec(&claims).expect("json");
    match signer {
        Signer::Own => {
            let token = sign_raw(&h, &p, &ring.own, ring.algorithm());
            if edits == 0 {
                // Sanity: an unedited token must verify, or the harness tests nothing.
                if let Err(e) = verify(ring, &token) {
                    panic!("{:?}: our own valid token was refused: {e}", ring.alg);
                }
            }
            check(fix, ring, &token, &h, &p);
        }
        Signer::Foreign => {
            let token = sign_raw(&h, &p, &ring.foreign, ring.algorithm());
            must_refuse(fix, ring, &token, "signed with a foreign key");
        }
        Signer::Confusion => {
            let token = sign_raw(
                &h,
                &p,
                &EncodingKey::from_secret(&ring.public),
                Algorithm::HS256,
            );
            if ring.alg != JwtAlg::HS256 {
                must_refuse(fix, ring, &token, "HMAC over the public key");
            }
        }
        Signer::None => {
            let sig = if u.arbitrary::<bool>()? { "" } else { "AA" };
            let token = format!("{}.{}.{sig}", b64(&h), b64(&p));
            must_refuse(fix, ring, &token, "unsigned (alg none)");
        }
        Signer::Tampered => {
            let token = sign_raw(&h, &p, &ring.own, ring.algorithm());
            let (msg, sig) = token.rsplit_once('.').expect("three parts");
            let mut sig = URL_SAFE_NO_PAD.decode(sig).expect("own signature decodes");
            let at = u.choose_index(sig.len())?;
            sig[at] ^= u.int_in_range(1u8..=255)?;
            let token = format!("{msg}.{}", b64(&sig));
            must_refuse(fix, ring, &token, "tampered signature");
        }
    }
    Ok(())
}

fn edit(fix: &Fixture, ring: &Ring, u: &mut Unstructured) -> arbitrary::Result<()> {
    let h = serde_json::to_vec(&valid_header(ring)).expect("json");
    let p = serde_json::to_vec(&valid_claims()).expect("json");
    let original = sign_raw(&h, &p, &ring.own, ring.algorithm());
    let mut bytes = original.clone().into_bytes();
    for _ in 0..u.int_in_range(1u8..=4)? {
        let at = u.choose_index(bytes.len() + 1)?;
        match u.int_in_range(0u8..=2)? {
            0 if at < bytes.len() => bytes[at] = u.arbitrary()?,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, u.arbitrary()?),
        }
    }
    let token = String::from_utf8_lossy(&bytes).into_owned();
    if token == original {
        return Ok(());
    }
    let decoded = |t: &str| -> Option<Vec<Vec<u8>>> {
        t.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect()
    };
    for result in [verify(ring, &token), authenticate(fix, ring, &token)] {
        if let Ok(c) = result {
            if decoded(&token) != decoded(&original) {
                panic!(
                    "{:?}: an edited token verified with different content:\n original {original}\n edited   {token}\n claims   {c:?}",
                    ring.alg
                );
            }
        }
    }
    Ok(())
}
