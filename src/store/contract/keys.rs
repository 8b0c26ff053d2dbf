//! `Store`'s own methods: migrations, ping, signing keys, secrets, revocation entries.

use std::sync::Arc;

use super::{NOW, contract};
use crate::store::{RevocationRecord, Store, StoredKey};

contract!(
    migrate_is_idempotent_and_ping_answers,
    signing_keys_are_newest_first_and_never_overwritten,
    secret_is_created_once_and_then_read,
    concurrent_first_secrets_agree_on_one_value,
    save_revocation_upserts_and_load_revocations_filters,
);

fn key(kid: &str, alg: &str, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        alg: alg.to_owned(),
        private_der: format!("der-{kid}"),
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at,
    }
}

/// `migrate` can run again on a migrated database; `ping` answers.
async fn migrate_is_idempotent_and_ping_answers(s: Arc<dyn Store>) {
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
}

/// `signing_keys` returns one algorithm's keys, newest first (ties by kid); inserting an
/// existing kid changes nothing.
async fn signing_keys_are_newest_first_and_never_overwritten(s: Arc<dyn Store>) {
    for k in [
        key("k1", "ES256", NOW),
        key("k3", "ES256", NOW + 1),
        key("k2", "ES256", NOW + 1),
    ] {
        s.insert_signing_key(&k).await.unwrap();
    }
    s.insert_signing_key(&key("r1", "RS256", NOW + 2))
        .await
        .unwrap();
    let mut replacement = key("k1", "ES256", NOW + 5);
    replacement.private_der = "other".into();
    s.insert_signing_key(&replacement).await.unwrap();
    let keys = s.signing_keys("ES256").await.unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k2", "k3", "k1"]);
    let k1 = &keys[2];
    assert_eq!(
        (k1.private_der.as_str(), k1.created_at),
        ("der-k1", NOW),
        "not overwritten"
    );
    assert_eq!(k1.public_jwk, "{\"kid\":\"k1\"}");
    assert_eq!(k1.alg, "ES256");
    assert!(s.signing_keys("EdDSA").await.unwrap().is_empty());
}

/// `secret` stores the first candidate and returns it to every later caller.
async fn secret_is_created_once_and_then_read(s: Arc<dyn Store>) {
    assert_eq!(s.secret("jwt", "first", NOW).await.unwrap(), "first");
    assert_eq!(s.secret("jwt", "second", NOW + 1).await.unwrap(), "first");
    assert_eq!(s.secret("other", "third", NOW).await.unwrap(), "third");
}

/// Instances starting at once with different candidates all get the same secret.
async fn concurrent_first_secrets_agree_on_one_value(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move { s.secret("race", &format!("candidate-{n}"), NOW).await })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap().unwrap());
    }
    assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
    assert!(values[0].starts_with("candidate-"));
}

/// `save_revocation` upserts by (kind, subject); `load_revocations` returns the entries still in
/// force (expiring after `now`) written at or after `since`, oldest first.
async fn save_revocation_upserts_and_load_revocations_filters(s: Arc<dyn Store>) {
    let entry = |kind: &str, subject: &str, data: &str, created_at| RevocationRecord {
        kind: kind.into(),
        subject: subject.into(),
        data: data.into(),
        expires_at: NOW + 100,
        created_at,
    };
    s.save_revocation(&entry("session", "a", "{}", NOW))
        .await
        .unwrap();
    s.save_revocation(&entry("user", "a", "{\"before\":1}", NOW + 5))
        .await
        .unwrap();
    let updated = entry("session", "a", "{\"again\":true}", NOW + 6);
    s.save_revocation(&updated).await.unwrap();
    let all = s.load_revocations(NOW, 0).await.unwrap();
    assert_eq!(
        all,
        [
            entry("user", "a", "{\"before\":1}", NOW + 5),
            updated.clone()
        ]
    );
    assert_eq!(s.load_revocations(NOW, NOW + 6).await.unwrap(), [updated]);
    assert!(
        s.load_revocations(NOW + 100, 0).await.unwrap().is_empty(),
        "expired at `now`"
    );
}
