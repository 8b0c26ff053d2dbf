//! `FeedStore`: verifier credentials and the revocation feed's pages.

use std::sync::Arc;

use super::{DAY, NOW, contract};
use crate::store::{RevocationRecord, Store, StoreError};

contract!(
    verifier_credentials_are_found_by_hash_until_revoked,
    revocations_page_is_seq_ordered_limited_and_live_only,
);

/// A credential is found by its hash while unrevoked; a taken name is `Conflict("verifier")`,
/// even after revocation; revoking twice reports nothing the second time.
async fn verifier_credentials_are_found_by_hash_until_revoked(s: Arc<dyn Store>) {
    s.create_verifier("billing", "h1", NOW).await.unwrap();
    s.create_verifier("search", "h2", NOW + 1).await.unwrap();
    let found = s.verifier_by_hash("h1").await.unwrap().expect("found");
    assert_eq!((found.name.as_str(), found.created_at), ("billing", NOW));
    assert!(s.verifier_by_hash("nope").await.unwrap().is_none());
    assert!(matches!(
        s.create_verifier("billing", "h3", NOW).await,
        Err(StoreError::Conflict("verifier"))
    ));
    assert!(s.revoke_verifier("billing", NOW + 5).await.unwrap());
    assert!(!s.revoke_verifier("billing", NOW + 6).await.unwrap());
    assert!(!s.revoke_verifier("unknown", NOW + 6).await.unwrap());
    assert!(s.verifier_by_hash("h1").await.unwrap().is_none(), "revoked");
    assert!(matches!(
        s.create_verifier("billing", "h4", NOW).await,
        Err(StoreError::Conflict("verifier"))
    ));
    let all = s.list_verifiers().await.unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|v| (v.name.as_str(), v.revoked_at))
        .collect();
    assert_eq!(summary, [("billing", Some(NOW + 5)), ("search", None)]);
}

fn entry(kind: &str, subject: &str, expires_at: i64) -> RevocationRecord {
    RevocationRecord {
        kind: kind.into(),
        subject: subject.into(),
        data: "{}".into(),
        expires_at,
        created_at: NOW,
        seq: 0,
    }
}

/// Pages come in `seq` order, at most `limit` long, start after `after_seq`, and leave out
/// entries no longer in force.
async fn revocations_page_is_seq_ordered_limited_and_live_only(s: Arc<dyn Store>) {
    for (i, exp) in [NOW + DAY, NOW - 1, NOW + DAY, NOW + DAY, NOW + DAY]
        .into_iter()
        .enumerate()
    {
        s.save_revocation(&entry("session", &format!("s{i}"), exp))
            .await
            .unwrap();
    }
    let first = s.revocations_page(NOW, 0, 2).await.unwrap();
    let subjects: Vec<_> = first.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, ["s0", "s2"], "expired s1 is left out");
    let after = first.last().unwrap().seq;
    let rest = s.revocations_page(NOW, after, 10).await.unwrap();
    let subjects: Vec<_> = rest.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, ["s3", "s4"]);
    assert!(rest.windows(2).all(|w| w[0].seq < w[1].seq));
    let end = rest.last().unwrap().seq;
    assert!(s.revocations_page(NOW, end, 10).await.unwrap().is_empty());
}
