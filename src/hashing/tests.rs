//! The hasher against fixtures from passlib and the argon2 crate's own encoder.

use argon2::{Algorithm, Argon2, Params, Version};

use super::*;

fn hasher() -> Hasher {
    Hasher::new(19456, 2, 1, 2, 8).unwrap()
}

#[tokio::test]
async fn argon2id_round_trip_with_owasp_parameters() {
    let h = hasher();
    let hash = h
        .hash(&Password::parse("correct horse battery".into()).unwrap())
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(
        h.verify("correct horse battery", Some(&hash))
            .await
            .unwrap(),
        Verdict::Match
    );
    assert_eq!(
        h.verify("wrong horse battery", Some(&hash)).await.unwrap(),
        Verdict::Mismatch
    );
}

#[tokio::test]
async fn passlib_bcrypt_hashes_verify_and_ask_for_an_upgrade() {
    // Real fixtures from passlib 1.7.4 + bcrypt 4.0.1 (the tutorials' stack):
    // CryptContext(schemes=["bcrypt"]).hash(..) (cost 12), and bcrypt.using(rounds=4, ident="2a").
    for legacy in [
        "$2b$12$d9KTr3pMk4yAm1p4ICBIluBS8/CY3HQlxDmlxMhbT7W2n6H9fTK1i",
        "$2a$04$fAKhknB1rcSapZa6kHLu7.5jOmO8V4Xs.ig0Zs5hLD0dwx0oNExU.",
    ] {
        let verdict = hasher()
            .verify("tutorial-password", Some(legacy))
            .await
            .unwrap();
        assert!(
            matches!(verdict, Verdict::MatchRehash(ref h) if h.starts_with("$argon2id$")),
            "{verdict:?}"
        );
        assert_eq!(
            hasher()
                .verify("tutorial-passwore", Some(legacy))
                .await
                .unwrap(),
            Verdict::Mismatch
        );
    }
}

#[tokio::test]
async fn bcrypt_never_matches_on_a_72_byte_prefix() {
    // passlib bcrypt.using(rounds=4).hash("x" * 80): bcrypt only ever saw the first 72 bytes.
    // Verification is non-truncating, so neither 80 x's nor 72 x's plus other bytes match
    // (the price: a legacy user with a password over 72 bytes must reset it).
    let legacy = "$2b$04$/zH53aEe2vDnXLwpd3KzRePad68.8FasebrvKSqgOOJ2hsgmXuGFO";
    for attempt in ["x".repeat(80), format!("{}yyyyyyyy", "x".repeat(72))] {
        assert_eq!(
            hasher().verify(&attempt, Some(legacy)).await.unwrap(),
            Verdict::Mismatch
        );
    }
}

#[tokio::test]
async fn corrupt_or_hostile_hashes_are_a_mismatch_not_a_panic() {
    let h = hasher();
    for stored in [
        "",
        "garbage",
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$aGFzaA",
        "$2b$12$ñññ",
        "$argon2id$v=19$m=19456",
    ] {
        assert_eq!(
            h.verify("whatever1", Some(stored)).await.unwrap(),
            Verdict::Mismatch,
            "{stored:?}"
        );
    }
}

#[tokio::test]
async fn a_stored_hash_needing_more_memory_than_the_pool_is_refused_not_allocated() {
    // A planted row: the right password, hashed with 64 MiB where the pool holds 19 MiB slots.
    let big = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(65536, 2, 1, None).unwrap(),
    );
    use argon2::PasswordHasher as _;
    let planted = big.hash_password(b"tutorial-password").unwrap().to_string();
    assert_eq!(
        hasher()
            .verify("tutorial-password", Some(&planted))
            .await
            .unwrap(),
        Verdict::Mismatch
    );
}

#[tokio::test]
async fn beyond_the_queue_requests_are_shed_not_queued() {
    let h = Hasher::new(19456, 2, 1, 1, 2).unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.verify("password", None).await })
        })
        .collect();
    let mut busy = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Err(HashError::Busy) => busy += 1,
            Ok(Verdict::Mismatch) => {}
            other => panic!("{other:?}"),
        }
    }
    // One hashing, two waiting: the other five are refused at once.
    assert!(busy >= 5, "{busy} of 8 shed");
    assert_eq!(h.waiting(), 0, "queue slots are given back");
}

#[tokio::test]
async fn hashes_interoperate_with_the_argon2_crates_own_encoder_and_verifier() {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};
    let h = hasher();
    // Ours verify with the reference implementation...
    let ours = h
        .hash(&Password::parse("correct horse battery".into()).unwrap())
        .await
        .unwrap();
    let reference = Argon2::default();
    assert!(
        reference
            .verify_password(b"correct horse battery", ours.as_str())
            .is_ok()
    );
    // ...and the reference's verify with ours, including weaker ones, which get upgraded.
    let same = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19456, 2, 1, None).unwrap(),
    );
    let weaker = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(8192, 3, 1, None).unwrap(),
    );
    let same = same
        .hash_password(b"tutorial-password")
        .unwrap()
        .to_string();
    let weaker = weaker
        .hash_password(b"tutorial-password")
        .unwrap()
        .to_string();
    assert_eq!(
        h.verify("tutorial-password", Some(&same)).await.unwrap(),
        Verdict::Match
    );
    assert!(matches!(
        h.verify("tutorial-password", Some(&weaker)).await.unwrap(),
        Verdict::MatchRehash(ref new) if new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    ));
    for stored in [&same, &weaker] {
        assert_eq!(
            h.verify("tutorial-passwore", Some(stored)).await.unwrap(),
            Verdict::Mismatch
        );
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_runs_at_the_lowest_cpu_priority() {
    let h = hasher();
    let policy = h
        .run(|_| {
            // Field 41 of /proc/thread-self/stat is the thread's scheduling policy.
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            after_name
                .split(' ')
                .nth(41 - 3)
                .unwrap()
                .parse::<i32>()
                .unwrap()
        })
        .await
        .unwrap();
    const SCHED_IDLE: i32 = 5;
    assert_eq!(policy, SCHED_IDLE);
}

#[tokio::test]
async fn unknown_user_is_a_mismatch() {
    assert_eq!(
        hasher().verify("anything", None).await.unwrap(),
        Verdict::Mismatch
    );
}

#[tokio::test]
async fn the_no_password_marker_matches_nothing_not_even_itself() {
    let h = hasher();
    for password in ["", NO_PASSWORD, "anything"] {
        assert_eq!(
            h.verify(password, Some(NO_PASSWORD)).await.unwrap(),
            Verdict::Mismatch,
            "{password:?}"
        );
    }
    // tests/api/imported_accounts.rs plants this literal; keep the two in step.
    assert_eq!(NO_PASSWORD, "!no-password: reset required");
    assert!(
        h.check_stored(NO_PASSWORD).is_err(),
        "never importable as a hash"
    );
}

#[test]
fn only_hashes_the_verifier_can_check_are_kept_on_import() {
    let h = hasher();
    let passlib = "$2b$12$zOaFkN.UejrCjjSLJF7WQu0OEEoD73SjRjIMxtQZeX30kV05CXzae";
    assert_eq!(h.check_stored(passlib), Ok(()));
    let ours = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$\
                3ZiDvgHW8ucS0lyHRS4nVAmHa6TYnzbWbUp3hDbPUc4";
    assert_eq!(h.check_stored(ours), Ok(()));
    for (bad, why) in [
        ("hunter2hunter2", "plaintext"),
        ("$2b$12$short", "truncated bcrypt"),
        (
            "$2b$31$zOaFkN.UejrCjjSLJF7WQu0OEEoD73SjRjIMxtQZeX30kV05CXzae",
            "bcrypt cost 31",
        ),
        (
            "$2b$1é$zOaFkN.UejrCjjSLJF7WQu0OEEoD73SjRjIMxtQZeX30kV05CXza",
            "multibyte",
        ),
        (
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$3ZiDvgHW8ucS0lyHRS4nVAmHa6TYnzbWbUp3hDbPUc4",
            "4 GiB",
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "no output",
        ),
        ("$pbkdf2-sha256$29000$c2FsdA$aGFzaA", "another scheme"),
    ] {
        assert!(h.check_stored(bad).is_err(), "{why}");
    }
}
