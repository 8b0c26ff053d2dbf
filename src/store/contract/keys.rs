//! `Store`'s own methods: migrations, ping, signing keys, secrets, revocation entries.

use std::collections::HashSet;
use std::sync::Arc;

use super::{NOW, contract};
use crate::store::{RevocationRecord, Store, StoredKey};

contract!(
    migrate_is_idempotent_and_ping_answers,
    signing_keys_are_newest_first_and_never_overwritten,
    secret_is_created_once_and_then_read,
    concurrent_first_secrets_agree_on_one_value,
    reseal_replaces_only_the_value_it_was_given,
    save_revocation_upserts_and_load_revocations_filters,
    revocation_seq_keeps_growing_across_a_purge,
    a_reader_polling_by_seq_misses_no_concurrent_write,
);

fn key(kid: &str, alg: &str, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        alg: alg.to_owned(),
        private_der: format!("der-{kid}"),
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at,
        activates_at: created_at,
        retired_at: None,
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

/// `reseal_signing_key` and `reseal_secret` replace a value only while it is still the `old`
/// one, so two instances sealing the same plaintext at once cannot overwrite each other.
async fn reseal_replaces_only_the_value_it_was_given(s: Arc<dyn Store>) {
    s.insert_signing_key(&key("k1", "EdDSA", NOW))
        .await
        .unwrap();
    assert!(
        s.reseal_signing_key("k1", "der-k1", "sealed-1")
            .await
            .unwrap()
    );
    assert!(
        !s.reseal_signing_key("k1", "der-k1", "sealed-2")
            .await
            .unwrap()
    );
    assert!(!s.reseal_signing_key("nope", "der-k1", "x").await.unwrap());
    let keys = s.signing_keys("EdDSA").await.unwrap();
    assert_eq!(keys[0].private_der, "sealed-1");
    assert_eq!(
        keys[0].public_jwk, "{\"kid\":\"k1\"}",
        "the public half is untouched"
    );

    s.secret("rotation", "plain", NOW).await.unwrap();
    assert!(
        s.reseal_secret("rotation", "plain", "sealed-a")
            .await
            .unwrap()
    );
    assert!(
        !s.reseal_secret("rotation", "plain", "sealed-b")
            .await
            .unwrap()
    );
    assert!(!s.reseal_secret("other", "plain", "x").await.unwrap());
    assert_eq!(s.secret("rotation", "new", NOW).await.unwrap(), "sealed-a");
}

/// An entry of `kind` for `subject` in force until `NOW + 100`, written at `created_at`.
fn entry(kind: &str, subject: &str, data: &str, created_at: i64) -> RevocationRecord {
    RevocationRecord {
        kind: kind.into(),
        subject: subject.into(),
        data: data.into(),
        expires_at: NOW + 100,
        created_at,
        seq: 0,
    }
}

/// `(kind, subject, data)` of each entry, in the order given.
fn keys(entries: &[RevocationRecord]) -> Vec<(String, String, String)> {
    let key = |e: &RevocationRecord| (e.kind.clone(), e.subject.clone(), e.data.clone());
    entries.iter().map(key).collect()
}

/// `save_revocation` upserts by (kind, subject) and gives every write the next `seq` (an upsert
/// too); `load_revocations` returns the entries in force (expiring after `now`) above a `seq`,
/// in `seq` order. The writers' clocks (`created_at`) play no part.
async fn save_revocation_upserts_and_load_revocations_filters(s: Arc<dyn Store>) {
    s.save_revocation(&entry("session", "a", "{}", NOW))
        .await
        .unwrap();
    // A writer whose clock is far behind.
    s.save_revocation(&entry("user", "a", "{\"before\":1}", NOW - 3600))
        .await
        .unwrap();
    let first = s.load_revocations(NOW, 0).await.unwrap();
    assert_eq!(keys(&first).len(), 2);
    assert!(first[0].seq > 0 && first[1].seq > first[0].seq, "{first:?}");
    assert_eq!(first[1].created_at, NOW - 3600);
    let updated = entry("session", "a", "{\"again\":true}", NOW - 7200);
    s.save_revocation(&updated).await.unwrap();
    let all = s.load_revocations(NOW, 0).await.unwrap();
    assert_eq!(
        keys(&all),
        keys(&[entry("user", "a", "{\"before\":1}", 0), updated.clone()]),
        "the upsert moved the entry to the end"
    );
    assert!(all[1].seq > first[1].seq, "an upsert bumps the seq");
    let after = s.load_revocations(NOW, first[1].seq).await.unwrap();
    assert_eq!(keys(&after), keys(&[updated]), "exactly the newer write");
    assert!(
        s.load_revocations(NOW, all[1].seq)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.load_revocations(NOW + 100, 0).await.unwrap().is_empty(),
        "expired at `now`"
    );
}

/// `seq` only grows, even when the purge has deleted the newest entries (or all of them).
async fn revocation_seq_keeps_growing_across_a_purge(s: Arc<dyn Store>) {
    s.save_revocation(&entry("session", "old", "{}", NOW))
        .await
        .unwrap();
    let seen = s.load_revocations(NOW, 0).await.unwrap()[0].seq;
    s.purge_expired(NOW + 100).await.unwrap();
    assert!(s.load_revocations(0, 0).await.unwrap().is_empty(), "purged");
    s.save_revocation(&entry("session", "new", "{}", NOW))
        .await
        .unwrap();
    let after = s.load_revocations(NOW, seen).await.unwrap();
    assert_eq!(
        after.len(),
        1,
        "a reader that saw {seen} still gets the new entry"
    );
    assert!(after[0].seq > seen);
}

/// Many concurrent writers, and a reader that only ever asks for `seq` above the highest it has
/// seen: it misses nothing. (On PostgreSQL sequence values can commit out of order; the store
/// hands them out in commit order, or the reader would skip the late ones for good.)
async fn a_reader_polling_by_seq_misses_no_concurrent_write(s: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                for n in 0..EACH {
                    let subject = format!("w{w}-{n}");
                    s.save_revocation(&entry("session", &subject, "{}", NOW))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let (mut seen, mut last) = (HashSet::new(), 0);
    while !writers.iter().all(|w| w.is_finished()) {
        poll(&*s, &mut last, &mut seen).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    poll(&*s, &mut last, &mut seen).await;
    assert_eq!(seen.len(), WRITERS * EACH, "entries skipped by the poll");
}

/// Load the entries above `last` into `seen`, and move `last` to the highest `seq` among them.
async fn poll(s: &dyn Store, last: &mut i64, seen: &mut HashSet<String>) {
    for e in s.load_revocations(NOW, *last).await.unwrap() {
        *last = (*last).max(e.seq);
        seen.insert(e.subject);
    }
}
