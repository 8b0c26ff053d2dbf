//! Liveness and readiness, and what a database outage looks like from outside.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;

// Liveness and readiness answer 200 while the database is up.
both!(healthz_and_readyz_are_200, |app| async move {
    // Act
    let health = app.get("/healthz", None).await;
    let ready = app.get("/readyz", None).await;
    // Assert
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(ready.status(), StatusCode::OK);
});

// F8/R28: when the database disappears under a running server, requests that need it answer 503
// with Retry-After (never 500, never 200 on stale data), readiness fails, liveness stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_readiness_fails_postgres() {
    let Some(admin) = postgres_or_skip() else {
        return;
    };
    // Arrange
    let app = spawn_app(Backend::Postgres).await;
    let (user, tokens) = app.signed_in_user().await;
    let name = app.db.pg_name().expect("PostgreSQL").to_owned();
    // Act: the database goes away, connections and all
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    // Assert
    assert_eq!(
        app.get("/healthz", None).await.status(),
        StatusCode::OK,
        "liveness does not need the database"
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    for resp in [
        app.login(&user).await,
        app.refresh(&tokens.refresh).await,
        app.get("/users/me", Some(&tokens.access)).await,
        app.register(&TestUser::generate()).await,
    ] {
        assert!(
            resp.headers().contains_key("retry-after"),
            "503 says when to retry"
        );
        let body =
            assert_problem(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
        assert!(
            !body.to_string().to_lowercase().contains("database"),
            "no driver text leaks: {body}"
        );
    }
    let form = format!(
        "grant_type=password&username={}&password={}",
        user.email, user.password
    );
    let form = app.post_form("/auth/token", &form).await;
    assert_eq!(form.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(form.headers().contains_key("retry-after"));
    assert_eq!(
        form.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
}
