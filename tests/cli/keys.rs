//! `authgate keys list | rotate | retire`: signing keys from the command line, on the same
//! database as a running server.

use super::*;

/// `authgate keys <args…>`; the output.
fn keys(dir: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    authgate(dir, &all).output().unwrap()
}

/// stdout of a command that must succeed.
fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kid a `keys list` line with `status` names.
fn kid_with(list: &str, status: &str) -> String {
    list.lines()
        .find(|l| l.split_whitespace().nth(2) == Some(status))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {status} key in {list}"))
        .to_owned()
}

// Requirement: issue 12 — `keys rotate` publishes a new key that a running server serves in
// its JWKS within a second while the old key still signs; `keys list` tells them apart; the
// signing key cannot be retired, a pending one can (cancelling the rotation), and an unknown
// kid is an error, not a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_list_and_retire_from_the_cli() {
    // Arrange: a running server
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(&dir, &[]);
    let _child = KillOnDrop(child);
    authgate::install_tls_provider();
    let jwks = || async {
        reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let list = ok(keys(&dir, &["list"]));
    let old = kid_with(&list, "signing");
    assert_eq!(list.lines().count(), 1, "{list}");

    // Act 1: rotate
    let out = ok(keys(&dir, &["rotate"]));
    assert!(out.contains("published"), "{out}");
    let list = ok(keys(&dir, &["list"]));
    let new = kid_with(&list, "pending");
    assert_eq!(kid_with(&list, "signing"), old);
    // Assert 1: the running server publishes it within a second
    let done = Instant::now();
    while !jwks().await.contains(&new) {
        assert!(done.elapsed() < Duration::from_secs(1), "not published yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(jwks().await.contains(&old));

    // Act 2 / Assert 2: the signer stays; the pending key can be withdrawn; unknown kids fail
    let refused = keys(&dir, &["retire", &old]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rotate"));
    ok(keys(&dir, &["retire", &new]));
    assert_eq!(kid_with(&ok(keys(&dir, &["list"])), "retired"), new);
    let unknown = keys(&dir, &["retire", "no-such-kid"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));
    let done = Instant::now();
    while jwks().await.contains(&new) {
        assert!(done.elapsed() < Duration::from_secs(1), "still published");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
