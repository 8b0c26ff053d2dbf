//! `authgate verifier …`: the credentials services present to read the revocation feed.

use super::*;

fn verifier(dir: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
    let mut all = vec!["verifier"];
    all.extend_from_slice(args);
    authgate(dir, &all).output().unwrap()
}

// Requirement: `verifier create NAME` prints a credential once (only stdout, nothing else on
// that stream), a taken name fails, `list` shows names and status but never a credential, and
// `revoke` marks it revoked (a second revoke fails).
#[test]
fn verifier_create_prints_once_list_hides_and_revoke_marks() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    // Act
    let created = verifier(&dir, &["create", "billing"]);
    let again = verifier(&dir, &["create", "billing"]);
    let bad_name = verifier(&dir, &["create", "no spaces"]);
    let listed = verifier(&dir, &["list"]);
    let revoked = verifier(&dir, &["revoke", "billing"]);
    let revoked_again = verifier(&dir, &["revoke", "billing"]);
    let listed_after = verifier(&dir, &["list"]);
    // Assert
    assert!(created.status.success(), "{created:?}");
    let credential = String::from_utf8(created.stdout).unwrap();
    let credential = credential.trim();
    assert!(
        credential.starts_with("agv_") && credential.len() == 47,
        "{credential:?}"
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert!(!bad_name.status.success());
    let list = String::from_utf8(listed.stdout).unwrap();
    assert!(
        list.contains("billing") && list.contains("active"),
        "{list}"
    );
    assert!(
        !list.contains(credential),
        "the credential is never shown again"
    );
    assert!(revoked.status.success(), "{revoked:?}");
    assert!(!revoked_again.status.success());
    let list = String::from_utf8(listed_after.stdout).unwrap();
    assert!(list.contains("revoked at"), "{list}");
}

// Requirement: an open revocation stream does not hold up a graceful shutdown: SIGTERM with a
// follower connected still exits 0 within seconds, and the follower sees its stream end.
#[tokio::test]
async fn sigterm_ends_open_revocation_streams_and_exits() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let credential = String::from_utf8(verifier(&dir, &["create", "follower"]).stdout).unwrap();
    let (child, base) = serve(&dir, &[]);
    let mut child = KillOnDrop(child);
    authgate::install_tls_provider();
    let mut stream = reqwest::Client::new()
        .get(format!("{base}/revocations/stream"))
        .bearer_auth(credential.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "the greeting heartbeat"
    );
    // Act
    sigterm(&child.0);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    let status = wait_exit(&mut child.0, Duration::from_secs(10));
    // Assert
    assert!(ended.is_ok(), "the stream ends at shutdown");
    assert!(status.expect("exits after SIGTERM").success());
}
