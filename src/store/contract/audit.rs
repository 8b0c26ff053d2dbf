//! `AuditStore`: the audit log.

use std::sync::Arc;

use uuid::Uuid;

use super::{NOW, contract};
use crate::store::{AuditEvent, AuditQuery, Store};

contract!(
    list_events_pages_oldest_first_and_filters,
    purge_events_deletes_only_older_events
);

fn event(at: i64, kind: &str, user_id: Option<Uuid>) -> AuditEvent {
    AuditEvent {
        at,
        event: kind.to_owned(),
        user_id,
        ..AuditEvent::default()
    }
}

/// `list_events` returns events in the order recorded (increasing `seq`), after the cursor, up
/// to the limit, filtered by user, kind and time, with every field as recorded; newest first
/// in reverse, the cursor going back.
async fn list_events_pages_oldest_first_and_filters(s: Arc<dyn Store>) {
    let (alice, admin) = (Uuid::now_v7(), Uuid::now_v7());
    let full = AuditEvent {
        at: NOW,
        event: "roles_changed".into(),
        user_id: Some(alice),
        actor_id: Some(admin),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("contract".into()),
        detail: "roles=admin,user".into(),
    };
    s.record_event(&full).await.unwrap();
    s.record_event(&event(NOW + 1, "login_failed", None))
        .await
        .unwrap();
    s.record_event(&event(NOW + 2, "login_succeeded", Some(alice)))
        .await
        .unwrap();
    s.record_event(&event(NOW + 3, "login_failed", Some(alice)))
        .await
        .unwrap();
    let list = |q: AuditQuery| {
        let s = s.clone();
        async move { s.list_events(&q).await.unwrap() }
    };
    let all = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    let events = list(all.clone()).await;
    let ats: Vec<i64> = events.iter().map(|e| e.event.at).collect();
    assert_eq!(ats, [NOW, NOW + 1, NOW + 2, NOW + 3]);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(format!("{:?}", events[0].event), format!("{full:?}"));
    let page = list(AuditQuery {
        limit: 2,
        after_seq: Some(events[1].seq),
        ..all.clone()
    })
    .await;
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [events[2].seq, events[3].seq]
    );
    let first = list(AuditQuery {
        limit: 1,
        ..all.clone()
    })
    .await;
    assert_eq!(first[0].seq, events[0].seq);
    let alices = list(AuditQuery {
        user_id: Some(alice),
        ..all.clone()
    })
    .await;
    assert_eq!(alices.len(), 3);
    let failed = list(AuditQuery {
        event: Some("login_failed".into()),
        ..all.clone()
    })
    .await;
    assert_eq!(
        failed.iter().map(|e| e.event.at).collect::<Vec<_>>(),
        [NOW + 1, NOW + 3]
    );
    let recent = list(AuditQuery {
        since: Some(NOW + 2),
        ..all.clone()
    })
    .await;
    assert_eq!(recent.len(), 2, "`since` includes its own second");
    let window = list(AuditQuery {
        since: Some(NOW + 1),
        until: Some(NOW + 2),
        ..all.clone()
    })
    .await;
    assert_eq!(
        window.iter().map(|e| e.event.at).collect::<Vec<_>>(),
        [NOW + 1, NOW + 2],
        "`until` includes its own second"
    );
    let newest = list(AuditQuery {
        newest_first: true,
        ..all.clone()
    })
    .await;
    assert_eq!(
        newest.iter().map(|e| e.event.at).collect::<Vec<_>>(),
        [NOW + 3, NOW + 2, NOW + 1, NOW]
    );
    let older = list(AuditQuery {
        newest_first: true,
        limit: 2,
        after_seq: Some(newest[1].seq),
        ..all.clone()
    })
    .await;
    assert_eq!(
        older.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [newest[2].seq, newest[3].seq],
        "newest first, the cursor goes back in time"
    );
}

/// `purge_events` deletes the events strictly older than `before` and says how many.
async fn purge_events_deletes_only_older_events(s: Arc<dyn Store>) {
    for at in NOW..NOW + 4 {
        s.record_event(&event(at, "login_failed", None))
            .await
            .unwrap();
    }
    assert_eq!(s.purge_events(NOW + 2).await.unwrap(), 2);
    let left = s
        .list_events(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|e| e.event.at).collect::<Vec<_>>(),
        [NOW + 2, NOW + 3]
    );
    assert_eq!(s.purge_events(NOW + 2).await.unwrap(), 0);
}
