//! Micro-benchmarks of what every authenticated request or refresh pays, without HTTP:
//! `cargo bench -p authgate-bench` (or `-- verify` for one group).
//!
//! The state is a real server state over a temporary SQLite database, with the default
//! EdDSA key, so the figures are the ones the server runs with.

use std::hint::black_box;
use std::time::Duration;

use authgate::internals::{Revocations, connect, refresh};
use authgate::{AuthState, CurrentUser, Settings};
use axum::extract::FromRequestParts;
use axum::http::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use uuid::Uuid;

/// Revoked sessions in the list while checking one that is not revoked.
const REVOKED: usize = 1000;

struct Fixture {
    rt: Runtime,
    state: AuthState,
    revocations: Revocations,
    token: String,
    user: Uuid,
    session: Uuid,
    dir: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("authgate-hot-paths-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("authgate.db").display());
    let settings =
        Settings::from_args(["--bind", "127.0.0.1:0", "--database-url", &url].map(String::from))
            .expect("settings");
    let (state, revocations) = rt.block_on(async {
        let state = AuthState::from_settings(&settings).await.expect("state");
        // A list of its own over the same database, as the state loads one.
        let store = connect(&url).await.expect("store");
        let now = state.clock().now();
        let revocations = Revocations::load(store, settings.access_ttl + settings.leeway, now)
            .await
            .expect("revocations");
        let revoked: Vec<Uuid> = (0..REVOKED).map(|_| Uuid::now_v7()).collect();
        revocations.sessions_revoked(&revoked, now);
        (state, revocations)
    });
    let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
    let verifier = authgate::internals::verifier(&state);
    let claims = verifier.claims(user, session, three_roles(), state.clock().now(), 900);
    let token = verifier.sign(&claims).expect("sign");
    Fixture {
        rt,
        state,
        revocations,
        token,
        user,
        session,
        dir,
    }
}

fn three_roles() -> Vec<String> {
    ["user", "moderator", "admin"].map(String::from).to_vec()
}

fn request_parts(token: &str) -> Parts {
    Request::builder()
        .uri("/bench/protected")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .expect("request")
        .into_parts()
        .0
}

fn hot_paths(c: &mut Criterion) {
    let f = fixture();
    let now = f.state.clock().now();
    let verifier = authgate::internals::verifier(&f.state);

    c.bench_function(
        "verify: access token, first sight (EdDSA signature + claims)",
        |b| {
            b.iter(|| {
                verifier
                    .verify_uncached(black_box(&f.token), now)
                    .expect("valid")
            })
        },
    );
    c.bench_function(
        "verify: access token, seen before (verified-token cache)",
        |b| b.iter(|| verifier.verify(black_box(&f.token), now).expect("valid")),
    );
    c.bench_function("sign: access token (EdDSA, three roles)", |b| {
        let claims = verifier.claims(f.user, f.session, three_roles(), now, 900);
        b.iter(|| verifier.sign(black_box(&claims)).expect("signed"))
    });
    c.bench_function("revocation: check session and user (1000 revoked)", |b| {
        b.iter(|| {
            let revoked = f.revocations.is_session_revoked(black_box(&f.session), now);
            let changed = f.revocations.user_state(black_box(&f.user), now);
            (revoked, changed)
        })
    });
    c.bench_function("extract: CurrentUser from the Authorization header", |b| {
        b.iter_batched(
            || request_parts(&f.token),
            |mut parts| {
                f.rt.block_on(CurrentUser::from_request_parts(&mut parts, &f.state))
                    .expect("authenticated")
            },
            BatchSize::SmallInput,
        )
    });
    let presented = refresh::generate();
    c.bench_function("refresh: hash a presented token (SHA-256)", |b| {
        b.iter(|| refresh::hash(black_box(&presented)))
    });
    c.bench_function("refresh: derive the successor token (HMAC-SHA-256)", |b| {
        b.iter(|| refresh::successor(black_box(b"a 32-byte rotation key, roughly."), &presented))
    });

    let _ = std::fs::remove_dir_all(&f.dir);
}

criterion_group! {
    name = benches;
    // Short runs: the machines are small and shared; the figures are for spotting regressions.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = hot_paths
}
criterion_main!(benches);
