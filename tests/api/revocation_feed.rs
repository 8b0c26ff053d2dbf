//! The revocation feed for verifiers elsewhere: `GET /revocations?after=SEQ` and the SSE
//! stream `GET /revocations/stream`, both behind a verifier credential.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::*;

impl TestApp {
    /// A fresh verifier credential, made through the library as `authgate verifier create` does.
    async fn verifier(&self, name: &str) -> String {
        self.state()
            .create_verifier(name)
            .await
            .expect("create verifier")
    }

    async fn feed(&self, credential: &str, query: &str) -> Value {
        let resp = self
            .get(&format!("/revocations{query}"), Some(credential))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    async fn stream(&self, credential: &str, last_event_id: Option<&str>) -> SseReader {
        let mut req = self
            .client
            .get(self.url("/revocations/stream"))
            .bearer_auth(credential);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            header(&resp, "content-type").as_deref(),
            Some("text/event-stream")
        );
        SseReader::new(resp)
    }
}

fn sid_of(access: &str) -> String {
    claims_of(access)["sid"].as_str().unwrap().to_owned()
}

// Requirement: the feed is for verifier credentials only: none, an access token, a made-up
// credential and a revoked one are all 401 with a Bearer challenge, on both endpoints.
both!(
    the_feed_refuses_anything_but_a_live_verifier_credential,
    |app| async move {
        // Arrange
        let (_, tokens) = app.signed_in_user().await;
        let good = app.verifier("billing").await;
        let revoked = app.verifier("old").await;
        app.state().revoke_verifier("old").await.unwrap();
        let made_up = format!("agv_{}", "A".repeat(43));
        for path in ["/revocations", "/revocations/stream"] {
            // Act
            let none = app.get(path, None).await;
            // Assert
            assert_eq!(
                none.status(),
                StatusCode::UNAUTHORIZED,
                "{path} without credentials"
            );
            assert_eq!(header(&none, "www-authenticate").as_deref(), Some("Bearer"));
            for (case, bearer) in [
                ("access token", tokens.access.as_str()),
                ("made-up credential", made_up.as_str()),
                ("revoked credential", revoked.as_str()),
            ] {
                let resp = app.get(path, Some(bearer)).await;
                assert_invalid_token(resp, &format!("{path}: {case}")).await;
            }
        }
        assert_eq!(
            app.get("/revocations", Some(&good)).await.status(),
            StatusCode::OK
        );
    }
);

// Requirement: `GET /revocations?after=SEQ` lists revoked sessions (sid, until) and user changes
// in commit order, paged by `limit`, with a cursor that misses nothing and repeats nothing.
both!(
    the_feed_pages_revoked_sessions_and_user_changes_in_order,
    |app| async move {
        // Arrange
        let credential = app.verifier("search").await;
        let (_, a) = app.signed_in_user().await;
        let (_, b) = app.signed_in_user().await;
        let start = app.feed(&credential, "").await["next"].as_i64().unwrap();
        // Act
        let logout = app.post("/auth/logout", Some(&a.access), json!({})).await;
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        let deactivated = app.deactivate(&b.access).await;
        let first = app
            .feed(&credential, &format!("?after={start}&limit=1"))
            .await;
        let next = first["next"].as_i64().unwrap();
        let second = app
            .feed(&credential, &format!("?after={next}&limit=10"))
            .await;
        let end = second["next"].as_i64().unwrap();
        let empty = app.feed(&credential, &format!("?after={end}")).await;
        // Assert
        assert_eq!(first["items"].as_array().unwrap().len(), 1);
        assert_eq!(first["more"], json!(true));
        let a_entry = &first["items"][0];
        assert_eq!(a_entry["type"], json!("session"));
        assert_eq!(a_entry["sid"], json!(sid_of(&a.access)));
        assert!(
            a_entry["until"].as_i64().unwrap() >= claims_of(&a.access)["exp"].as_i64().unwrap()
        );
        assert_eq!(a_entry["seq"].as_i64().unwrap(), next);
        let items = second["items"].as_array().unwrap();
        assert!(
            items
                .iter()
                .any(|e| e["type"] == json!("session") && e["sid"] == json!(sid_of(&b.access))),
            "deactivation ends b's sessions: {items:?}"
        );
        let user = items
            .iter()
            .find(|e| e["type"] == json!("user"))
            .expect("the user change");
        assert_eq!(user["sub"], json!(deactivated.to_string()));
        assert_eq!(user["active"], json!(false));
        let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] > next,
            "{seqs:?}"
        );
        assert_eq!(empty["items"], json!([]));
        assert_eq!(empty["next"].as_i64().unwrap(), end);
        assert_eq!(empty["more"], json!(false));
    }
);

// Requirement: a bad cursor or page size is a 422 naming the parameter, never a 500.
both!(the_feed_refuses_bad_cursors_with_422, |app| async move {
    // Arrange
    let credential = app.verifier("x").await;
    for (query, field) in [
        ("?after=-1", "after"),
        ("?after=abc", "query"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
    ] {
        // Act
        let resp = app
            .get(&format!("/revocations{query}"), Some(&credential))
            .await;
        // Assert
        let body = assert_validation_failed(resp).await;
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    let mut req = app
        .client
        .get(app.url("/revocations/stream"))
        .bearer_auth(&credential);
    req = req.header("last-event-id", "not-a-seq");
    assert_validation_failed(req.send().await.unwrap()).await;
});

// Requirement: the stream sends a logout made on this instance within 1 s of the logout's
// response, as a `session` event with the sid and `id` = seq; a reconnect with Last-Event-ID
// gets exactly what followed.
both!(
    the_stream_sends_a_logout_within_a_second_and_resumes_by_last_event_id,
    |app| async move {
        // Arrange
        let credential = app.verifier("api").await;
        let mut stream = app.stream(&credential, None).await;
        let hello = stream.next(Duration::from_secs(5)).await.unwrap().unwrap();
        assert_eq!(
            hello.event, "heartbeat",
            "an empty backlog is announced at once"
        );
        let (_, a) = app.signed_in_user().await;
        let (_, b) = app.signed_in_user().await;
        // Act
        assert_eq!(
            app.post("/auth/logout", Some(&a.access), json!({}))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        let responded = Instant::now();
        let event = stream
            .next_entry(Duration::from_secs(5))
            .await
            .expect("event");
        let lag = responded.elapsed();
        drop(stream);
        app.post("/auth/logout", Some(&b.access), json!({})).await;
        let mut resumed = app.stream(&credential, event.id.as_deref()).await;
        let missed = resumed
            .next_entry(Duration::from_secs(5))
            .await
            .expect("missed");
        // Assert
        assert!(lag < Duration::from_secs(1), "took {lag:?}");
        assert_eq!(event.event, "session");
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["sid"], json!(sid_of(&a.access)));
        assert_eq!(event.id.unwrap(), data["seq"].as_i64().unwrap().to_string());
        let missed_data: Value = serde_json::from_str(&missed.data).unwrap();
        assert_eq!(
            missed_data["sid"],
            json!(sid_of(&b.access)),
            "only what followed"
        );
    }
);

// Requirement: a quiet stream sends heartbeats (so a follower knows it is live), and ends
// within a heartbeat once its credential is revoked.
both!(
    the_stream_beats_while_quiet_and_ends_when_its_credential_is_revoked,
    |app| async move {
        // Arrange
        let credential = app.verifier("beat").await;
        let mut stream = app.stream(&credential, None).await;
        stream.next(Duration::from_secs(5)).await.unwrap().unwrap();
        // Act
        let beat = stream.next(Duration::from_secs(5)).await.unwrap().unwrap();
        app.state().revoke_verifier("beat").await.unwrap();
        let revoked = Instant::now();
        let ended = loop {
            match stream.next(Duration::from_secs(6)).await {
                Ok(Some(_)) => continue,
                Ok(None) => break true,
                Err(()) => break false,
            }
        };
        // Assert
        assert_eq!(beat.event, "heartbeat");
        assert!(serde_json::from_str::<Value>(&beat.data).unwrap()["seq"].is_i64());
        assert!(ended, "the stream of a revoked credential ends");
        assert!(revoked.elapsed() < Duration::from_secs(5));
    }
);

// Requirement: a stream served by one instance also sends a logout committed by another
// instance on the same database, within that instance's revocation poll (3 s).
both!(
    the_stream_sends_logouts_made_on_another_instance_within_the_poll,
    |app| async move {
        // Arrange: instance A (the TestApp) and instance B on the same database
        let (_, tokens) = app.signed_in_user().await;
        let TestApp {
            address: a,
            client,
            db,
            settings,
            ..
        } = app;
        let b = start(db, settings).await;
        let credential = b.verifier("b").await;
        let mut stream = b.stream(&credential, None).await;
        stream.next(Duration::from_secs(5)).await.unwrap().unwrap();
        // Act: log out on A
        let out = client
            .post(format!("{a}/auth/logout"))
            .bearer_auth(&tokens.access)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        let responded = Instant::now();
        let event = stream
            .next_entry(Duration::from_secs(6))
            .await
            .expect("event");
        let lag = responded.elapsed();
        // Assert
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["sid"], json!(sid_of(&tokens.access)));
        assert!(lag < Duration::from_millis(3500), "took {lag:?}");
    }
);
