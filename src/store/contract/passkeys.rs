//! `PasskeyStore`: a ceremony is taken once and only while alive, credential ids are unique
//! across users, passkeys are changed only by their owner, the counter never goes back.

use std::sync::Arc;

use uuid::Uuid;

use super::{HOUR, NOW, contract, create, open};
use crate::store::{NewCeremony, PasskeyRecord, PasskeyUse, Store, StoreError};

contract!(
    a_ceremony_is_taken_once_by_its_kind_and_only_before_it_expires,
    a_ceremony_is_taken_once_under_concurrency,
    a_credential_id_belongs_to_one_account_and_the_count_is_capped,
    only_the_owner_renames_or_deletes_a_passkey,
    a_use_updates_the_passkey_but_never_moves_the_counter_back,
    a_session_remembers_its_amr,
);

fn ceremony(kind: &str, user: Option<Uuid>, expires_at: i64) -> NewCeremony {
    NewCeremony {
        id: Uuid::new_v4(),
        kind: kind.into(),
        user_id: user,
        bound_to: Some("bound".into()),
        state: r#"{"challenge":"x"}"#.into(),
        created_at: NOW,
        expires_at,
    }
}

fn passkey(user: Uuid, credential: &str) -> PasskeyRecord {
    PasskeyRecord {
        id: Uuid::now_v7(),
        user_id: user,
        credential_id: credential.into(),
        passkey: format!(r#"{{"cred":"{credential}"}}"#),
        name: "Phone".into(),
        sign_count: 0,
        backup_eligible: true,
        backup_state: false,
        created_at: NOW,
        last_used_at: None,
    }
}

/// Promise: `take_ceremony` returns the state once, only for its kind, never after expiry
/// (and an expired one is gone); `purge_ceremonies` deletes the expired ones.
async fn a_ceremony_is_taken_once_by_its_kind_and_only_before_it_expires(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "ada").await;
    let c = ceremony("register", Some(u.id), NOW + 300);
    s.create_ceremony(&c).await.unwrap();
    assert!(
        s.take_ceremony(c.id, "signin", NOW)
            .await
            .unwrap()
            .is_none()
    );
    let taken = s
        .take_ceremony(c.id, "register", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.user_id, Some(u.id));
    assert_eq!(taken.bound_to.as_deref(), Some("bound"));
    assert_eq!(taken.state, c.state);
    assert!(
        s.take_ceremony(c.id, "register", NOW)
            .await
            .unwrap()
            .is_none()
    );

    let old = ceremony("signin", None, NOW + 300);
    s.create_ceremony(&old).await.unwrap();
    assert!(
        s.take_ceremony(old.id, "signin", NOW + 300)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.take_ceremony(old.id, "signin", NOW)
            .await
            .unwrap()
            .is_none()
    );

    let anon = ceremony("signin", None, NOW + 300);
    s.create_ceremony(&anon).await.unwrap();
    let dead = ceremony("signin", None, NOW + 10);
    s.create_ceremony(&dead).await.unwrap();
    assert_eq!(s.purge_ceremonies(NOW + 100).await.unwrap(), 1);
    let taken = s
        .take_ceremony(anon.id, "signin", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.user_id, None);
}

/// Promise: of parallel takes of one ceremony exactly one gets it.
async fn a_ceremony_is_taken_once_under_concurrency(s: Arc<dyn Store>) {
    let c = ceremony("signin", None, NOW + 300);
    s.create_ceremony(&c).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.take_ceremony(c.id, "signin", NOW).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

/// Promise: a credential id can be added once (to anyone): `Conflict("credential")`; a user
/// at `max_per_user` gets `false`; lookups by credential find the owner's record.
async fn a_credential_id_belongs_to_one_account_and_the_count_is_capped(s: Arc<dyn Store>) {
    let a = create(s.as_ref(), "bea").await;
    let b = create(s.as_ref(), "cy").await;
    let p = passkey(a.id, "cred-a");
    assert!(s.add_passkey(&p, 2).await.unwrap());
    let again = passkey(b.id, "cred-a");
    assert!(matches!(
        s.add_passkey(&again, 2).await,
        Err(StoreError::Conflict("credential"))
    ));
    assert!(s.add_passkey(&passkey(a.id, "cred-a2"), 2).await.unwrap());
    assert!(!s.add_passkey(&passkey(a.id, "cred-a3"), 2).await.unwrap());
    assert_eq!(s.passkeys(a.id).await.unwrap().len(), 2);
    assert!(s.passkeys(b.id).await.unwrap().is_empty());
    assert_eq!(s.passkey_by_credential("cred-a").await.unwrap(), Some(p));
    assert_eq!(s.passkey_by_credential("nope").await.unwrap(), None);
}

/// Promise: rename and delete act only on the owner's passkey.
async fn only_the_owner_renames_or_deletes_a_passkey(s: Arc<dyn Store>) {
    let a = create(s.as_ref(), "dee").await;
    let b = create(s.as_ref(), "eve").await;
    let p = passkey(a.id, "cred-d");
    s.add_passkey(&p, 10).await.unwrap();
    assert!(!s.rename_passkey(b.id, p.id, "mine").await.unwrap());
    assert!(!s.delete_passkey(b.id, p.id).await.unwrap());
    assert!(s.rename_passkey(a.id, p.id, "Laptop").await.unwrap());
    assert_eq!(s.passkeys(a.id).await.unwrap()[0].name, "Laptop");
    assert!(s.delete_passkey(a.id, p.id).await.unwrap());
    assert!(!s.delete_passkey(a.id, p.id).await.unwrap());
    assert!(s.passkey_by_credential("cred-d").await.unwrap().is_none());
}

/// Promise: `passkey_used` stores the new state, counter, flag and time, and refuses a counter
/// below the stored one.
async fn a_use_updates_the_passkey_but_never_moves_the_counter_back(s: Arc<dyn Store>) {
    let a = create(s.as_ref(), "fay").await;
    let p = passkey(a.id, "cred-f");
    s.add_passkey(&p, 10).await.unwrap();
    let used = PasskeyUse {
        id: p.id,
        passkey: r#"{"v":5}"#,
        sign_count: 5,
        backup_state: true,
        now: NOW + HOUR,
    };
    assert!(s.passkey_used(&used).await.unwrap());
    let back = PasskeyUse {
        passkey: r#"{"v":3}"#,
        sign_count: 3,
        ..used.clone()
    };
    assert!(!s.passkey_used(&back).await.unwrap());
    let got = s.passkey_by_credential("cred-f").await.unwrap().unwrap();
    assert_eq!(got.passkey, r#"{"v":5}"#);
    assert_eq!(got.sign_count, 5);
    assert!(got.backup_state);
    assert_eq!(got.last_used_at, Some(NOW + HOUR));
}

/// Promise: a session's `amr` is what was set, and only for that session.
async fn a_session_remembers_its_amr(s: Arc<dyn Store>) {
    let u = create(s.as_ref(), "gil").await;
    let a = open(s.as_ref(), &u, NOW, "ta").await;
    let b = open(s.as_ref(), &u, NOW, "tb").await;
    s.set_session_amr(a, "hwk user").await.unwrap();
    assert_eq!(s.session_amr(a).await.unwrap().as_deref(), Some("hwk user"));
    assert_eq!(s.session_amr(b).await.unwrap(), None);
    assert_eq!(s.session_amr(Uuid::now_v7()).await.unwrap(), None);
}
