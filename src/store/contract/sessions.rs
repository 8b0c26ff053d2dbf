//! `SessionStore`: sessions and refresh-token rotation.

use std::sync::Arc;

use uuid::Uuid;

use super::{DAY, HOUR, NOW, contract, create, new_session, open};
use crate::store::{RevocationRecord, RotateOutcome, Rotation, SessionEnd, Store};

contract!(
    create_session_requires_the_checked_hash_and_an_active_user,
    rotation_extends_the_session_and_repeats_within_grace,
    a_replayed_token_revokes_the_whole_family,
    unknown_and_dead_tokens_are_invalid_and_stay_unclaimed,
    concurrent_rotations_of_one_token_have_exactly_one_winner,
    revoke_session_ends_only_the_owners_live_session,
    revoke_user_sessions_keeps_one_and_reaches_a_day_back,
    cap_sessions_ends_the_oldest_beyond_the_cap,
    list_sessions_lists_live_sessions_newest_first,
    record_activity_never_moves_back_in_time,
    purge_expired_deletes_only_what_is_dead,
);

/// A refresh of the token hashing to `presented` at `now`, with a 10-second grace window.
pub(super) fn rotation(presented: &str, child: &str, now: i64) -> Rotation {
    Rotation {
        presented_hash: presented.to_owned(),
        child_hash: child.to_owned(),
        now,
        revoke_until: now + HOUR,
        grace_secs: 10,
    }
}

/// The ids of `user`'s live sessions at `now`, as `list_sessions` orders them.
async fn live_ids(s: &dyn Store, user: Uuid, now: i64) -> Vec<Uuid> {
    let sessions = s.list_sessions(user, now).await.unwrap();
    sessions.iter().map(|session| session.id).collect()
}

async fn rotate(s: &dyn Store, presented: &str, child: &str, now: i64) -> RotateOutcome {
    s.rotate_refresh(&rotation(presented, child, now))
        .await
        .unwrap()
}

/// `create_session` writes nothing (false) when the user's password hash is no longer the one
/// checked, or the user was deactivated, since the credentials were checked.
async fn create_session_requires_the_checked_hash_and_an_active_user(s: Arc<dyn Store>) {
    let olga = create(&*s, "olga").await;
    let stale = new_session(&olga, NOW);
    s.set_password_hash(olga.id, "$argon2id$new").await.unwrap();
    assert!(!s.create_session(&stale, "olga-t0").await.unwrap());
    let mut current = new_session(&olga, NOW);
    current.password_hash = "$argon2id$new".into();
    s.set_active(olga.id, false).await.unwrap();
    assert!(!s.create_session(&current, "olga-t0").await.unwrap());
    assert!(s.list_sessions(olga.id, NOW).await.unwrap().is_empty());
    assert!(matches!(
        rotate(&*s, "olga-t0", "olga-t1", NOW).await,
        RotateOutcome::Invalid
    ));
    s.set_active(olga.id, true).await.unwrap();
    assert!(s.create_session(&current, "olga-t0").await.unwrap());
    let listed = s.list_sessions(olga.id, NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    let session = &listed[0];
    assert_eq!((session.id, session.user_id), (current.id, olga.id));
    assert_eq!((session.created_at, session.last_used_at), (NOW, NOW));
    assert_eq!(session.expires_at, NOW + 30 * DAY);
    assert_eq!(session.idle_expires_at, NOW + 7 * DAY);
    assert_eq!(session.user_agent.as_deref(), Some("contract"));
    assert_eq!(session.ip.as_deref(), Some("203.0.113.7"));
}

/// The first use of a token rotates it: the successor is stored, the session's idle expiry moves
/// (never past its absolute end). Presenting it again within the grace window gets `Repeated`
/// (the same successor stands).
async fn rotation_extends_the_session_and_repeats_within_grace(s: Arc<dyn Store>) {
    let pam = create(&*s, "pam").await;
    let id = open(&*s, &pam, NOW, "pam-t0").await;
    let later = NOW + 2 * DAY;
    // An admin's role change before the refresh: the claim reads the user as it is now.
    assert!(
        s.set_roles(pam.id, &["moderator".into(), "user".into()])
            .await
            .unwrap()
    );
    let RotateOutcome::Rotated(rotated) = rotate(&*s, "pam-t0", "pam-t1", later).await else {
        panic!("the first use rotates");
    };
    let session = &rotated.session;
    assert_eq!((session.id, session.last_used_at), (id, later));
    assert_eq!(session.idle_expires_at, later + 7 * DAY);
    assert_eq!((rotated.user.id, &rotated.user.email), (pam.id, &pam.email));
    assert_eq!(rotated.user.roles, ["moderator", "user"], "sorted, current");
    assert!(rotated.user.is_active);
    assert_eq!((rotated.mfa_at, rotated.amr.as_deref()), (None, None));
    // What was stored, not only what the claim answered (SQLite's trigger writes the extension).
    let stored: Vec<_> = s
        .list_sessions(pam.id, later)
        .await
        .unwrap()
        .iter()
        .map(|x| (x.id, x.last_used_at, x.idle_expires_at))
        .collect();
    assert_eq!(stored, [(id, later, later + 7 * DAY)]);
    let again = rotate(&*s, "pam-t0", "pam-t1", later + 10).await;
    assert!(
        matches!(&again, RotateOutcome::Repeated(r)
            if r.session.id == id && r.user.id == pam.id && r.user.roles == ["moderator", "user"]),
        "{again:?}"
    );
    // A session near its absolute end: the idle expiry stops there.
    let mut short = new_session(&pam, NOW);
    short.expires_at = NOW + DAY;
    assert!(s.create_session(&short, "pam-s0").await.unwrap());
    let RotateOutcome::Rotated(rotated) = rotate(&*s, "pam-s0", "pam-s1", NOW + 60).await else {
        panic!("a live session rotates");
    };
    assert_eq!(
        rotated.session.idle_expires_at,
        NOW + DAY,
        "capped at the absolute end"
    );
}

/// A rotated token presented after the grace window, or after its successor was used, is a
/// replay: `ReuseDetected`, and the whole session is revoked (committed).
async fn a_replayed_token_revokes_the_whole_family(s: Arc<dyn Store>) {
    let quinn = create(&*s, "quinn").await;
    let id = open(&*s, &quinn, NOW, "quinn-t0").await;
    assert!(matches!(
        rotate(&*s, "quinn-t0", "quinn-t1", NOW).await,
        RotateOutcome::Rotated(_)
    ));
    let replay = rotate(&*s, "quinn-t0", "quinn-t1", NOW + 11).await;
    let expected = RotateOutcome::ReuseDetected {
        session_id: id,
        user_id: quinn.id,
    };
    assert_eq!(format!("{replay:?}"), format!("{expected:?}"));
    let entries = s.load_revocations(NOW, 0).await.unwrap();
    let subjects: Vec<&str> = entries.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, [id.to_string()], "committed with its entry");
    assert!(
        s.list_sessions(quinn.id, NOW + 11)
            .await
            .unwrap()
            .is_empty()
    );
    let child = rotate(&*s, "quinn-t1", "quinn-t2", NOW + 12).await;
    assert!(
        matches!(child, RotateOutcome::Invalid),
        "the family is dead: {child:?}"
    );
    // Within the grace window, but the successor was used already: a replay too.
    let id = open(&*s, &quinn, NOW, "quinn-s0").await;
    assert!(matches!(
        rotate(&*s, "quinn-s0", "quinn-s1", NOW).await,
        RotateOutcome::Rotated(_)
    ));
    assert!(matches!(
        rotate(&*s, "quinn-s1", "quinn-s2", NOW).await,
        RotateOutcome::Rotated(_)
    ));
    let replay = rotate(&*s, "quinn-s0", "quinn-s1", NOW + 1).await;
    assert!(matches!(replay, RotateOutcome::ReuseDetected { session_id, .. } if session_id == id));
}

/// An unknown token, or one of an expired, idle or revoked session, is `Invalid`, and is not
/// claimed: presenting it again later is still `Invalid`, never a replay.
async fn unknown_and_dead_tokens_are_invalid_and_stay_unclaimed(s: Arc<dyn Store>) {
    let rita = create(&*s, "rita").await;
    assert!(matches!(
        rotate(&*s, "nope", "nope-1", NOW).await,
        RotateOutcome::Invalid
    ));
    open(&*s, &rita, NOW, "rita-idle").await;
    let revoked = open(&*s, &rita, NOW, "rita-revoked").await;
    s.revoke_session(rita.id, revoked, NOW, NOW + HOUR)
        .await
        .unwrap();
    for (token, at) in [("rita-idle", NOW + 8 * DAY), ("rita-revoked", NOW + 1)] {
        for attempt in [at, at + 60] {
            let outcome = rotate(&*s, token, &format!("{token}-1"), attempt).await;
            assert!(
                matches!(outcome, RotateOutcome::Invalid),
                "{token}: {outcome:?}"
            );
        }
    }
}

/// Two (here eight) concurrent refreshes with one token: exactly one rotates, the others get
/// `Repeated` with the same successor, and exactly one successor exists.
async fn concurrent_rotations_of_one_token_have_exactly_one_winner(s: Arc<dyn Store>) {
    let sam = create(&*s, "sam").await;
    open(&*s, &sam, NOW, "sam-t0").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { rotate(&*s, "sam-t0", "sam-t1", NOW + 1).await })
        })
        .collect();
    let (mut rotated, mut repeated) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            RotateOutcome::Rotated(_) => rotated += 1,
            RotateOutcome::Repeated(_) => repeated += 1,
            other => panic!("a concurrent refresh within grace: {other:?}"),
        }
    }
    assert_eq!((rotated, repeated), (1, 7));
    let (a, b) = tokio::join!(
        rotate(&*s, "sam-t1", "sam-t2", NOW + 2),
        rotate(&*s, "sam-t1", "sam-t2", NOW + 2)
    );
    let winners = [&a, &b]
        .iter()
        .filter(|o| matches!(o, RotateOutcome::Rotated(_)))
        .count();
    assert_eq!(winners, 1, "{a:?} {b:?}");
}

/// `revoke_session` ends one live session of its owner only, says whether it was ended already,
/// and writes its revocation entry in both cases.
async fn revoke_session_ends_only_the_owners_live_session(s: Arc<dyn Store>) {
    let tom = create(&*s, "tom").await;
    let uma = create(&*s, "uma").await;
    let id = open(&*s, &tom, NOW, "tom-t0").await;
    let end = |user, session| {
        let s = s.clone();
        async move {
            s.revoke_session(user, session, NOW, NOW + HOUR)
                .await
                .unwrap()
        }
    };
    assert_eq!(end(uma.id, id).await, SessionEnd::Unknown, "not uma's");
    assert!(s.load_revocations(NOW, 0).await.unwrap().is_empty());
    assert_eq!(end(tom.id, id).await, SessionEnd::Ended);
    let first = s.load_revocations(NOW, 0).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].subject, id.to_string());
    assert_eq!(
        (first[0].kind.as_str(), first[0].expires_at),
        ("session", NOW + HOUR)
    );
    assert_eq!(end(tom.id, id).await, SessionEnd::AlreadyEnded);
    let again = s.load_revocations(NOW, first[0].seq).await.unwrap();
    assert_eq!(again.len(), 1, "written again, with a new seq");
    assert_eq!(end(tom.id, Uuid::now_v7()).await, SessionEnd::Unknown);
    assert!(s.list_sessions(tom.id, NOW).await.unwrap().is_empty());
}

/// `revoke_user_sessions` revokes every unrevoked session of the user but `keep`, including
/// those that ended less than a day ago, and returns their ids.
async fn revoke_user_sessions_keeps_one_and_reaches_a_day_back(s: Arc<dyn Store>) {
    let vic = create(&*s, "vic").await;
    let other = create(&*s, "other").await;
    let now = NOW + 30 * DAY + DAY / 2;
    let ended_lately = open(&*s, &vic, NOW, "vic-old").await; // expired half a day ago
    let ended_long_ago = open(&*s, &vic, NOW - 2 * DAY, "vic-older").await;
    let kept = open(&*s, &vic, now, "vic-kept").await;
    let live = open(&*s, &vic, now, "vic-live").await;
    let others = open(&*s, &other, now, "other-t0").await;
    let mut revoked = s
        .revoke_user_sessions(vic.id, Some(kept), now, now + HOUR)
        .await
        .unwrap();
    revoked.sort();
    let mut expected = vec![ended_lately, live];
    expected.sort();
    assert_eq!(revoked, expected);
    assert!(!revoked.contains(&ended_long_ago));
    let listed = live_ids(&*s, vic.id, now).await;
    assert_eq!(listed, [kept]);
    assert_eq!(s.list_sessions(other.id, now).await.unwrap()[0].id, others);
    let all = s
        .revoke_user_sessions(vic.id, None, now, now + HOUR)
        .await
        .unwrap();
    assert_eq!(all, [kept]);
    let mut entries: Vec<Uuid> = (s.load_revocations(now, 0).await.unwrap())
        .iter()
        .map(|e| Uuid::parse_str(&e.subject).unwrap())
        .collect();
    entries.sort();
    let mut expected = vec![ended_lately, live, kept];
    expected.sort();
    assert_eq!(entries, expected, "an entry for every session revoked");
}

/// `cap_sessions` ends the user's live sessions beyond the newest `keep`, and returns them.
async fn cap_sessions_ends_the_oldest_beyond_the_cap(s: Arc<dyn Store>) {
    let wes = create(&*s, "wes").await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(open(&*s, &wes, NOW + n, &format!("wes-t{n}")).await);
    }
    let mut ended = s
        .cap_sessions(wes.id, 2, NOW + 10, NOW + HOUR)
        .await
        .unwrap();
    ended.sort();
    assert_eq!(ended, ids[..2]);
    let listed = live_ids(&*s, wes.id, NOW + 10).await;
    assert_eq!(listed, [ids[3], ids[2]]);
    assert!(
        s.cap_sessions(wes.id, 2, NOW + 10, NOW + HOUR)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `list_sessions` lists only live sessions (not revoked, expired or idle), newest first.
async fn list_sessions_lists_live_sessions_newest_first(s: Arc<dyn Store>) {
    let xia = create(&*s, "xia").await;
    let now = NOW + 8 * DAY;
    open(&*s, &xia, NOW, "xia-idle").await;
    let revoked = open(&*s, &xia, now, "xia-revoked").await;
    s.revoke_session(xia.id, revoked, now, now + HOUR)
        .await
        .unwrap();
    let older = open(&*s, &xia, now - 10, "xia-older").await;
    let newer = open(&*s, &xia, now - 5, "xia-newer").await;
    let listed = live_ids(&*s, xia.id, now).await;
    assert_eq!(listed, [newer, older]);
}

/// `record_activity` stamps the user's and the session's last activity, and never moves either
/// back in time (the writes may land out of order).
async fn record_activity_never_moves_back_in_time(s: Arc<dyn Store>) {
    let yan = create(&*s, "yan").await;
    let id = open(&*s, &yan, NOW, "yan-t0").await;
    s.record_activity(yan.id, id, NOW + 20).await.unwrap();
    s.record_activity(yan.id, id, NOW + 10).await.unwrap();
    let user = s.user_by_id(yan.id).await.unwrap().unwrap();
    assert_eq!(user.last_activity_at, Some(NOW + 20));
    assert_eq!(
        s.list_sessions(yan.id, NOW + 30).await.unwrap()[0].last_used_at,
        NOW + 20
    );
}

/// `purge_expired` deletes sessions dead for over a day (with their tokens), expired
/// revocation entries, spent rate-limit buckets and day-old unlocked failure counters, and
/// keeps everything else; it returns how many rows went.
async fn purge_expired_deletes_only_what_is_dead(s: Arc<dyn Store>) {
    let zoe = create(&*s, "zoe").await;
    let now = NOW + 40 * DAY;
    open(&*s, &zoe, NOW, "zoe-dead").await; // ended 10 days ago
    let revoked = open(&*s, &zoe, now, "zoe-revoked-lately").await;
    // Its entry expires before `now`, so the purge takes it too.
    s.revoke_session(zoe.id, revoked, now - DAY / 2, now - DAY / 2 + HOUR)
        .await
        .unwrap();
    let live = open(&*s, &zoe, now, "zoe-live").await;
    let entry = |subject: &str, expires_at| RevocationRecord {
        kind: "session".into(),
        subject: subject.into(),
        data: "{}".into(),
        expires_at,
        created_at: NOW,
        seq: 0,
    };
    s.save_revocation(&entry("expired", now)).await.unwrap();
    s.save_revocation(&entry("in-force", now + 1))
        .await
        .unwrap();
    let rate = crate::store::Rate {
        interval_ms: 1_000,
        period_ms: 1_000,
    };
    s.take("spent", rate, (now - 10) * 1000).await.unwrap();
    s.take("fresh", rate, now * 1000).await.unwrap();
    let policy = crate::store::LockoutPolicy {
        threshold: 5,
        first_lock: 60,
        max_lock: 600,
    };
    s.begin_login_attempt("user:stale", policy, now - DAY)
        .await
        .unwrap()
        .unwrap();
    s.begin_login_attempt("user:recent", policy, now - 10)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(s.purge_expired(now).await.unwrap(), 5);

    let sessions = s
        .revoke_user_sessions(zoe.id, None, now, now + HOUR)
        .await
        .unwrap();
    assert_eq!(
        sessions,
        [live],
        "the revoked session is kept a day, but already revoked"
    );
    assert!(matches!(
        rotate(&*s, "zoe-dead", "zoe-dead-1", now).await,
        RotateOutcome::Invalid
    ));
    let subjects: Vec<String> = s
        .load_revocations(0, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect();
    assert_eq!(subjects, ["in-force".to_owned(), live.to_string()]);
    assert!(s.clear_login_failures("user:recent").await.unwrap());
    assert!(!s.clear_login_failures("user:stale").await.unwrap());
}
