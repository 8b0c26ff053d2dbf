//! `authgate serve` and `migrate`: start-up checks, settings, logs and a graceful stop.

use super::*;

// R4/F15: a tutorial's published HS256 secret, or none, stops the start with an actionable message.
#[test]
fn weak_or_missing_hs256_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for (secret, expect) in [
        (
            Some("09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"),
            "tutorials",
        ),
        (Some("tooshort"), "at least 32 bytes"),
        (None, "needs AUTHGATE_JWT_SECRET"),
    ] {
        let mut cmd = authgate(&dir, &["migrate"]);
        cmd.env("AUTHGATE_JWT_ALG", "HS256");
        if let Some(s) = secret {
            cmd.env("AUTHGATE_JWT_SECRET", s);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{secret:?} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{secret:?}: {stderr}");
        assert!(
            secret.is_none_or(|s| !stderr.contains(s)),
            "the secret itself is never echoed"
        );
    }
}

#[test]
fn help_lists_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = authgate(&dir, &["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "AUTHGATE_BIND",
        "AUTHGATE_DATA_DIR",
        "DATABASE_URL",
        "AUTHGATE_ISSUER",
        "AUTHGATE_AUDIENCE",
        "AUTHGATE_JWT_ALG",
        "AUTHGATE_JWT_SECRET",
        "AUTHGATE_ACCESS_TTL",
        "AUTHGATE_REFRESH_TTL",
        "AUTHGATE_REMEMBER_ME_TTL",
        "AUTHGATE_CORS_ORIGINS",
        "AUTHGATE_LOG_FORMAT",
    ] {
        assert!(help.contains(var), "--help lacks {var}");
    }
}

// F20/R29: the server's logs (JSON, debug level) never contain a password, a token or a mailed link's token; SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_secrets_and_sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(
        &dir,
        &[("AUTHGATE_LOG_FORMAT", "json"), ("RUST_LOG", "debug")],
    );
    let mut child = KillOnDrop(child);
    let stderr = collect_stderr(&mut child.0);
    authgate::install_tls_provider();
    let client = reqwest::Client::new();
    let password = "SuperSecretPassword-42";
    let reg = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "log@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    let tokens: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "log@example.com", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let _ = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "log@example.com", "password": "wrong-password-1"}))
        .send()
        .await;
    let me = client
        .get(format!("{base}/users/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let _ = client
        .get(format!("{base}/users/me?access_token={access}"))
        .bearer_auth("garbage.token.value")
        .send()
        .await;
    let _ = client
        .post(format!("{base}/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await;
    // A mailed link's token is in the query string of the page's URL.
    let link_token = "LinkTokenThatMustNotBeLogged0123456789abcde";
    for page in ["reset-password", "verify-email"] {
        let page = client
            .get(format!("{base}/{page}?token={link_token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }
    // Two-factor (issue #11): its secret, recovery codes and mfa_token are secrets too.
    let enrol: Value = client
        .post(format!("{base}/users/me/mfa/totp"))
        .bearer_auth(&access)
        .json(&json!({"current_password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totp_secret = enrol["secret"].as_str().unwrap().to_owned();
    let confirmed: Value = client
        .post(format!("{base}/users/me/mfa/totp/confirm"))
        .bearer_auth(&access)
        .json(&json!({"code": current_code(&totp_secret)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recovery_code = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();
    let challenge: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "log@example.com", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mfa_token = challenge["mfa_token"].as_str().unwrap().to_owned();
    let second = client
        .post(format!("{base}/auth/mfa"))
        .json(&json!({"mfa_token": mfa_token, "recovery_code": recovery_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);

    sigterm(&child.0);
    let status = wait_exit(&mut child.0, Duration::from_secs(10)).expect("exits after SIGTERM");
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
    let logs = stderr.join().unwrap();
    assert!(
        logs.contains("login_succeeded")
            && logs.contains("login_failed")
            && logs.contains("mfa_enabled")
            && logs.contains("recovery_code_used"),
        "auth events are logged:\n{logs}"
    );
    for secret in [
        password,
        "wrong-password-1",
        &access,
        &refresh,
        access.split('.').nth(2).unwrap(),
        link_token,
        &totp_secret,
        &recovery_code,
        &recovery_code.replace('-', ""),
        &mfa_token,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}
