//! F19 (parallel migrations): several instances starting at once on a fresh database all come
//! up on one complete schema; the migrator takes a lock, so none sees a half-migrated database.

use crate::support::*;
use reqwest::StatusCode;

async fn start_together(backend: Backend) {
    let db = TestDb::provision(backend).await;
    let settings = test_settings(&db, &[]);
    // Spawn all four before awaiting any (a lazy iterator would start each only when the
    // previous one had finished, and the migrations would never overlap).
    let builds: Vec<_> = (0..4)
        .map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move {
                authgate::Application::build(settings)
                    .await
                    .map(|a| a.port())
            })
        })
        .collect();
    for build in builds {
        build.await.unwrap().expect("every instance starts");
    }
    // One schema, fully there: the last migration's tables answer, and the app works on it.
    let app = start(db, settings).await;
    let (user, _) = app.signed_in_user().await;
    assert_eq!(app.login(&user).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_share_one_migrated_schema_sqlite() {
    start_together(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_share_one_migrated_schema_postgres() {
    if postgres_or_skip().is_none() {
        return;
    }
    start_together(Backend::Postgres).await;
}
