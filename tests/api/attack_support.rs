//! Helpers for the attack modules (`attacks_tokens`, `attacks_accounts`, `faults`): a `both!`
//! that carries the requirement as a doc comment, raw signing, raw HTTP, timing and a host
//! server for the fault cases that need a route of their own.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use authgate::AuthState;
use authgate::http::{ServerLayers, apply_server_layers};
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;
use crate::jwt_support::b64;

/// `both!` with the guarded requirement as a doc comment, optional extra server flags and an
/// optional `#[ignore = "BUG: …"]` for attacks that currently succeed:
///
/// ```ignore
/// attack!(
///     /// R5: …
///     name, &["--jwt-alg", "ES256"], |app| async move { … }
/// );
/// ```
#[macro_export]
macro_rules! attack {
    ($(#[doc = $doc:expr])* $(#[ignore = $why:literal])? $name:ident, |$app:ident| $body:expr) => {
        $crate::attack!($(#[doc = $doc])* $(#[ignore = $why])? $name, &[], |$app| $body);
    };
    ($(#[doc = $doc:expr])* $(#[ignore = $why:literal])? $name:ident, $args:expr, |$app:ident| $body:expr) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[ignore = $why])?
            async fn sqlite() {
                let $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $args).await;
                $body.await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[ignore = $why])?
            async fn postgres() {
                if $crate::helpers::postgres_url().is_none() {
                    eprintln!("TEST_DATABASE_URL not set: PostgreSQL variant not run");
                    return;
                }
                let $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $args)
                        .await;
                $body.await;
            }
        }
    };
}

/// The server's newest private signing key for `alg` ("EdDSA", "ES256", "RS256") and its kid.
pub async fn server_key(app: &TestApp, alg: &str) -> (EncodingKey, String) {
    let keys = app
        .state
        .store()
        .expect("server state")
        .signing_keys(alg)
        .await
        .expect("signing keys");
    let newest = keys.first().expect("a signing key");
    let der = STANDARD.decode(&newest.private_der).expect("base64 DER");
    let key = match alg {
        "EdDSA" => EncodingKey::from_ed_der(&der),
        "ES256" => EncodingKey::from_ec_der(&der),
        "RS256" => EncodingKey::from_rsa_der(&der),
        other => panic!("no such alg {other}"),
    };
    (key, newest.kid.clone())
}

/// A compact JWS over these exact header and claims texts (duplicate members and all).
pub fn sign_text(header: &str, claims: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// PEM armour around DER, 64 columns, trailing newline (what `openssl` writes).
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// SubjectPublicKeyInfo DER of an Ed25519 public key.
pub fn ed25519_spki(x: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(x);
    der
}

/// SubjectPublicKeyInfo DER of an uncompressed P-256 public key.
pub fn p256_spki(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    der.extend_from_slice(x);
    der.extend_from_slice(y);
    der
}

/// Send raw bytes over a fresh TCP connection; returns the status line (empty if the server
/// closed the connection, or did not answer within `wait`) and how long that took.
pub async fn raw_http(app: &TestApp, request: &[u8], wait: Duration) -> (String, Duration) {
    let addr = app.address.trim_start_matches("http://");
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before it has read everything: ignore write errors.
    let _ = stream.write_all(request).await;
    let mut buf = vec![0u8; 4096];
    let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(read) => read.unwrap_or(0),
        Err(_) => 0,
    };
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    (status_line, started.elapsed())
}

/// Median of the durations, in milliseconds.
pub fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// Time `rounds` alternating calls of `a` and `b` (alternating cancels drift from other load
/// on the machine); returns the two medians in milliseconds.
pub async fn paired_medians<FA, FB, A, B>(rounds: usize, mut a: FA, mut b: FB) -> (f64, f64)
where
    FA: FnMut() -> A,
    FB: FnMut() -> B,
    A: Future<Output = StatusCode>,
    B: Future<Output = StatusCode>,
{
    // Warm up both paths once (connection pool, code paths) before measuring.
    a().await;
    b().await;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        a().await;
        ta.push(t.elapsed());
        let t = Instant::now();
        b().await;
        tb.push(t.elapsed());
    }
    (median_ms(&mut ta), median_ms(&mut tb))
}

/// Assert two medians are within a factor of two of each other: generous enough for a shared
/// machine, tight enough that skipping the password hash for one side (≈ 50× faster) fails.
pub fn assert_similar_timing(what: &str, existing_ms: f64, unknown_ms: f64) {
    let ratio = unknown_ms / existing_ms;
    // Within 3x either way: the suite runs tests in parallel on two cores, so medians wander;
    // skipping the dummy hash for unknown accounts gives a ratio near 0.04, far outside.
    assert!(
        (0.33..=3.0).contains(&ratio),
        "{what}: existing {existing_ms:.1} ms vs unknown {unknown_ms:.1} ms (ratio {ratio:.2})"
    );
}

/// Serve `router` (state already applied) with the standalone server's layers on port 0;
/// returns the base URL. For fault cases that need routes the server does not have.
pub async fn serve_host(router: Router) -> String {
    let layers = ServerLayers::default();
    let app = apply_server_layers(router, &layers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    format!("http://{addr}")
}

/// The whole authgate API over the test app's state, plus the host's extra `routes`.
pub fn host_router(state: &AuthState, routes: Router<AuthState>) -> Router {
    authgate::router::<AuthState>()
        .merge(routes)
        .with_state(state.clone())
}
