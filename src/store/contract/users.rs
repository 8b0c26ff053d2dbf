//! `UserStore`: users and roles.

use std::sync::Arc;

use uuid::Uuid;

use super::{HOUR, NOW, contract, create, new_session, new_user, open};
use crate::domain::login_key;
use crate::store::{
    NewOneTimeToken, RoleRecord, SessionEnd, Store, StoreError, UserQuery, UserRecord,
};

contract!(
    create_user_stores_the_user_with_sorted_roles,
    email_is_unique_under_its_key,
    username_is_unique_under_its_key,
    create_user_writes_all_or_nothing,
    user_by_login_finds_the_email_or_the_username_key,
    list_users_pages_in_id_order_and_filters,
    list_users_search_finds_substrings_and_follows_changes,
    set_username_changes_clears_and_frees_the_key,
    upgrade_password_hash_replaces_only_an_unchanged_hash,
    set_roles_replaces_the_roles_of_existing_users_only,
    set_active_and_delete_user_report_unknown_users,
    delete_user_ends_their_sessions,
    user_with_live_session_needs_their_live_session,
    record_login_stamps_login_and_activity,
    roles_are_listed_by_name_and_unique,
    text_with_nul_is_stored_or_refused_as_invalid,
);

/// The user whose login key is `key`.
async fn login(s: &dyn Store, key: &str) -> Option<UserRecord> {
    s.user_by_login(key).await.unwrap()
}

/// `create_user` returns what it stored, roles sorted, and `user_by_id` reads the same back.
async fn create_user_stores_the_user_with_sorted_roles(s: Arc<dyn Store>) {
    let mut alice = new_user("alice");
    alice.roles = vec!["user".into(), "admin".into()];
    let created = s.create_user(&alice).await.unwrap();
    assert_eq!(created.roles, ["admin", "user"]);
    let read = s.user_by_id(alice.id).await.unwrap().expect("stored");
    assert_eq!(read.id, alice.id);
    assert_eq!(
        read.email, "alice@Example.com",
        "the e-mail is kept as typed"
    );
    assert_eq!(read.username.as_deref(), Some("alice"));
    assert_eq!(read.password_hash, alice.password_hash);
    assert!(read.is_active);
    assert_eq!(read.roles, ["admin", "user"]);
    assert_eq!(read.created_at, NOW);
    assert_eq!((read.last_login_at, read.last_activity_at), (None, None));
    assert!(s.user_by_id(Uuid::now_v7()).await.unwrap().is_none());
}

/// Two users cannot share an e-mail key (NFKC-lowercased, as stored): `Conflict("email")`.
async fn email_is_unique_under_its_key(s: Arc<dyn Store>) {
    create(&*s, "alice").await;
    let mut twin = new_user("alice2");
    // Fullwidth letters and another case: a different spelling, the same key.
    twin.email = "ＡＬＩＣＥ@example.COM".into();
    twin.email_lower = login_key(&twin.email);
    assert_eq!(twin.email_lower, "alice@example.com");
    let err = s.create_user(&twin).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("email")), "{err:?}");
}

/// Two users cannot share a username key (NFKC-lowercased, as stored): `Conflict("username")`.
async fn username_is_unique_under_its_key(s: Arc<dyn Store>) {
    create(&*s, "bob").await;
    let mut twin = new_user("bob-other");
    twin.username = Some("ＢＯＢ".into());
    twin.username_lower = Some(login_key("ＢＯＢ"));
    let err = s.create_user(&twin).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("username")), "{err:?}");
    // Users without a username do not collide with each other.
    for name in ["carol", "dave"] {
        let mut user = new_user(name);
        (user.username, user.username_lower) = (None, None);
        s.create_user(&user).await.unwrap();
    }
}

/// A user and their roles are inserted atomically: a failing role leaves no user behind.
async fn create_user_writes_all_or_nothing(s: Arc<dyn Store>) {
    let mut user = new_user("erin");
    user.roles = vec!["user".into(), "no-such-role".into()];
    s.create_user(&user).await.unwrap_err();
    assert!(s.user_by_id(user.id).await.unwrap().is_none());
    user.roles = vec!["user".into()];
    s.create_user(&user)
        .await
        .expect("the e-mail and username are still free");
}

/// `user_by_login` looks up the e-mail key when the input has an `@`, else the username key,
/// and returns the user with all their roles (none is an empty list).
async fn user_by_login_finds_the_email_or_the_username_key(s: Arc<dyn Store>) {
    let mut frank = new_user("Frank");
    frank.roles = vec!["moderator".into(), "admin".into(), "user".into()];
    s.create_user(&frank).await.unwrap();
    let by_email = login(&*s, "frank@example.com").await.expect("by e-mail");
    assert_eq!(by_email.id, frank.id);
    assert_eq!(by_email.roles, ["admin", "moderator", "user"]);
    let by_name = login(&*s, "frank").await.expect("by username");
    assert_eq!(by_name.id, frank.id);
    assert!(login(&*s, "Frank").await.is_none(), "keys only");
    let mut nobody = new_user("grace");
    nobody.roles = vec![];
    s.create_user(&nobody).await.unwrap();
    let grace = login(&*s, "grace").await.expect("a user without roles");
    assert!(grace.roles.is_empty());
}

/// `list_users` returns users in id (creation) order after the cursor, up to the limit, and
/// filters by substring (`%` and `_` taken literally), role and activation.
async fn list_users_pages_in_id_order_and_filters(s: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for name in ["u0", "u1", "u2", "u3", "u_4"] {
        ids.push(create(&*s, name).await.id);
    }
    s.set_roles(ids[1], &["admin".into()]).await.unwrap();
    s.set_active(ids[2], false).await.unwrap();
    let page = |q: UserQuery| {
        let s = s.clone();
        async move {
            let users = s.list_users(&q).await.unwrap();
            users.into_iter().map(|u| u.id).collect::<Vec<_>>()
        }
    };
    let all = UserQuery {
        limit: 100,
        ..UserQuery::default()
    };
    assert_eq!(page(all.clone()).await, ids);
    let first = page(UserQuery {
        limit: 2,
        ..all.clone()
    })
    .await;
    assert_eq!(first, ids[..2]);
    let next = page(UserQuery {
        limit: 2,
        after: Some(first[1]),
        ..all.clone()
    })
    .await;
    assert_eq!(next, ids[2..4]);
    let q = |text: &str| UserQuery {
        q: Some(text.into()),
        ..all.clone()
    };
    assert_eq!(
        page(q("U3@EXAMPLE")).await,
        [ids[3]],
        "case-insensitive substring"
    );
    assert_eq!(page(q("u_")).await, [ids[4]], "`_` is literal");
    assert!(page(q("%")).await.is_empty(), "`%` is literal");
    let admins = page(UserQuery {
        role: Some("admin".into()),
        ..all.clone()
    })
    .await;
    assert_eq!(admins, [ids[1]]);
    // A role filter pages and combines with the other filters like the plain list.
    for id in [ids[3], ids[4]] {
        s.set_roles(id, &["admin".into()]).await.unwrap();
    }
    let admin = |q: UserQuery| UserQuery {
        role: Some("admin".into()),
        ..q
    };
    let first_admins = page(admin(UserQuery {
        limit: 2,
        ..all.clone()
    }))
    .await;
    assert_eq!(first_admins, [ids[1], ids[3]]);
    let next_admins = page(admin(UserQuery {
        limit: 2,
        after: Some(first_admins[1]),
        ..all.clone()
    }))
    .await;
    assert_eq!(next_admins, [ids[4]]);
    assert_eq!(page(admin(q("u_"))).await, [ids[4]]);
    s.set_active(ids[3], false).await.unwrap();
    let active_admins = page(admin(UserQuery {
        active: Some(true),
        ..all.clone()
    }))
    .await;
    assert_eq!(active_admins, [ids[1], ids[4]]);
    s.set_active(ids[3], true).await.unwrap();
    let inactive = page(UserQuery {
        active: Some(false),
        ..all.clone()
    })
    .await;
    assert_eq!(inactive, [ids[2]]);
    let listed = s.list_users(&all).await.unwrap();
    assert_eq!(listed[1].roles, ["admin"], "listed users carry their roles");
}

/// The substring search `q` (the admin list) finds a user by the middle of the e-mail or of
/// the username, follows an e-mail change, a username change and a deletion at once (SQLite
/// answers it from an index its triggers keep, migration 0012), takes `%`, `_`, `\` and `"`
/// literally, and gives the same answers for queries too short for that index.
async fn list_users_search_finds_substrings_and_follows_changes(s: Arc<dyn Store>) {
    let search = |text: &str| {
        let (s, text) = (s.clone(), text.to_owned());
        async move {
            let q = UserQuery {
                limit: 100,
                q: Some(text),
                ..UserQuery::default()
            };
            let users = s.list_users(&q).await.unwrap();
            users.into_iter().map(|u| u.id).collect::<Vec<_>>()
        }
    };
    let mut odette = new_user("odette");
    odette.email = "Odette.Marchand@Mail.example".into();
    odette.email_lower = login_key(&odette.email);
    let odette = s.create_user(&odette).await.unwrap();
    let mut pablo = new_user("pablo_quintero");
    pablo.email = "PQ@example.com".into();
    pablo.email_lower = login_key(&pablo.email);
    let pablo = s.create_user(&pablo).await.unwrap();
    let mut quote = new_user("quote");
    quote.email = r#""q%x\y"@example.net"#.into();
    quote.email_lower = login_key(&quote.email);
    let quote = s.create_user(&quote).await.unwrap();
    let mut rosa = new_user("rosalind");
    rosa.email = "rl@example.com".into();
    rosa.email_lower = rosa.email.clone();
    let rosa = s.create_user(&rosa).await.unwrap();

    assert_eq!(
        search("MARCHAND@").await,
        [odette.id],
        "the middle of an e-mail"
    );
    assert_eq!(
        search("lo_quin").await,
        [pablo.id],
        "the middle of a username"
    );
    assert_eq!(search("salin").await, [rosa.id]);
    assert_eq!(search("nobody-here").await, Vec::<Uuid>::new());
    assert_eq!(
        search("example").await,
        [odette.id, pablo.id, quote.id, rosa.id],
        "every match, in id order"
    );
    assert_eq!(search("o_q").await, [pablo.id], "`_` is literal");
    assert!(search("o%q").await.is_empty(), "`%` is literal");
    assert!(search("lo%").await.is_empty(), "`%` is literal");
    assert_eq!(search("q%x").await, [quote.id], "`%` matches itself");
    assert_eq!(search(r"x\y").await, [quote.id], "`\\` matches itself");
    assert_eq!(search(r#""q%"#).await, [quote.id], "a `\"` in the query");
    assert_eq!(search(r#""@"#).await, [quote.id], "a `\"` in a short query");
    assert_eq!(search(r#"x""y"#).await, Vec::<Uuid>::new());
    assert_eq!(search("ç").await, Vec::<Uuid>::new(), "one character");
    assert_eq!(search("q").await, [pablo.id, quote.id], "one character");
    assert_eq!(search("xq").await, Vec::<Uuid>::new(), "two characters");
    assert_eq!(search("MA").await, [odette.id], "two characters");

    // An e-mail change (confirmed through its token, as the service does it).
    let token = NewOneTimeToken {
        hash: "change".into(),
        user_id: odette.id,
        purpose: "email_change",
        email: "Odile.Ferrand@Post.example".into(),
        created_at: NOW,
        expires_at: NOW + HOUR,
    };
    s.issue_token(&token, &[]).await.unwrap();
    assert_eq!(
        s.confirm_email("change", "email_change", NOW)
            .await
            .unwrap(),
        Some(odette.id)
    );
    assert_eq!(search("ile.ferr").await, [odette.id], "the new address");
    assert!(search("marchand").await.is_empty(), "not the old address");

    // A username change, and a username cleared.
    assert!(
        s.set_username(pablo.id, Some(("Pedro_Vasquez", "pedro_vasquez")))
            .await
            .unwrap()
    );
    assert_eq!(search("ro_vasq").await, [pablo.id], "the new username");
    assert!(search("lo_quin").await.is_empty(), "not the old username");
    assert!(s.set_username(rosa.id, None).await.unwrap());
    assert!(search("salin").await.is_empty(), "a cleared username");
    assert_eq!(
        search("rl@ex").await,
        [rosa.id],
        "the e-mail still finds them"
    );

    // A deleted user is gone, and the others are still found.
    assert!(s.delete_user(quote.id).await.unwrap());
    assert!(search("q%x").await.is_empty(), "a deleted user");
    assert!(
        search(r#""q"#).await.is_empty(),
        "a deleted user, short query"
    );
    assert_eq!(search("example").await, [odette.id, pablo.id, rosa.id]);
    // A new user after a delete gets a search entry of their own.
    let sam = create(&*s, "samwise").await;
    assert_eq!(search("mwis").await, [sam.id]);
    assert_eq!(
        search("example").await,
        [odette.id, pablo.id, rosa.id, sam.id]
    );
}

/// `set_username` sets or clears the username (false for an unknown user), frees the old key,
/// and refuses a key someone else holds.
async fn set_username_changes_clears_and_frees_the_key(s: Arc<dyn Store>) {
    let heidi = create(&*s, "heidi").await;
    create(&*s, "ivan").await;
    assert!(
        s.set_username(heidi.id, Some(("Heidi2", "heidi2")))
            .await
            .unwrap()
    );
    assert_eq!(login(&*s, "heidi2").await.unwrap().id, heidi.id);
    assert!(login(&*s, "heidi").await.is_none(), "the old key is free");
    let err = s
        .set_username(heidi.id, Some(("Ivan", "ivan")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("username")), "{err:?}");
    assert!(s.set_username(heidi.id, None).await.unwrap());
    assert_eq!(
        s.user_by_id(heidi.id).await.unwrap().unwrap().username,
        None
    );
    assert!(!s.set_username(Uuid::now_v7(), None).await.unwrap());
}

/// `upgrade_password_hash` swaps `old` for `new` only while `old` is still stored, so an upgrade
/// on login never overwrites a password change that landed meanwhile; `set_password_hash`
/// always replaces.
async fn upgrade_password_hash_replaces_only_an_unchanged_hash(s: Arc<dyn Store>) {
    let judy = create(&*s, "judy").await;
    let old = judy.password_hash.clone();
    s.set_password_hash(judy.id, "$argon2id$changed")
        .await
        .unwrap();
    assert!(
        !s.upgrade_password_hash(judy.id, &old, "$argon2id$upgraded")
            .await
            .unwrap()
    );
    let hash = |s: Arc<dyn Store>| async move {
        s.user_by_id(judy.id).await.unwrap().unwrap().password_hash
    };
    assert_eq!(
        hash(s.clone()).await,
        "$argon2id$changed",
        "the change stands"
    );
    let upgraded = s.upgrade_password_hash(judy.id, "$argon2id$changed", "$argon2id$upgraded");
    assert!(upgraded.await.unwrap());
    assert_eq!(hash(s.clone()).await, "$argon2id$upgraded");
    assert!(
        !s.upgrade_password_hash(Uuid::now_v7(), "a", "b")
            .await
            .unwrap()
    );
}

/// `set_roles` replaces the whole role set (empty allowed) and is false for an unknown user.
async fn set_roles_replaces_the_roles_of_existing_users_only(s: Arc<dyn Store>) {
    let ken = create(&*s, "ken").await;
    // Another admin, so that ken is not the last one (see `admins.rs`).
    let other = create(&*s, "ken-other").await;
    s.set_roles(other.id, &["admin".to_owned()]).await.unwrap();
    let roles = ["moderator".to_owned(), "admin".to_owned()];
    assert!(s.set_roles(ken.id, &roles).await.unwrap());
    assert_eq!(
        s.user_by_id(ken.id).await.unwrap().unwrap().roles,
        ["admin", "moderator"]
    );
    assert!(s.set_roles(ken.id, &[]).await.unwrap());
    assert!(
        s.user_by_id(ken.id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );
    assert!(!s.set_roles(Uuid::now_v7(), &roles).await.unwrap());
}

/// `set_active` and `delete_user` say whether the user existed.
async fn set_active_and_delete_user_report_unknown_users(s: Arc<dyn Store>) {
    let leo = create(&*s, "leo").await;
    assert!(s.set_active(leo.id, false).await.unwrap());
    assert!(!s.user_by_id(leo.id).await.unwrap().unwrap().is_active);
    assert!(s.set_active(leo.id, true).await.unwrap());
    assert!(s.user_by_id(leo.id).await.unwrap().unwrap().is_active);
    assert!(!s.set_active(Uuid::now_v7(), true).await.unwrap());
    assert!(s.delete_user(leo.id).await.unwrap());
    assert!(s.user_by_id(leo.id).await.unwrap().is_none());
    assert!(!s.delete_user(leo.id).await.unwrap());
}

/// Deleting a user deletes their sessions (by cascade): nothing is listed and their refresh
/// token no longer works.
async fn delete_user_ends_their_sessions(s: Arc<dyn Store>) {
    let mia = create(&*s, "mia").await;
    s.create_session(&new_session(&mia, NOW), "mia-t0")
        .await
        .unwrap();
    assert!(s.delete_user(mia.id).await.unwrap());
    assert!(s.list_sessions(mia.id, NOW).await.unwrap().is_empty());
    let rotation = super::sessions::rotation("mia-t0", "mia-t1", NOW + 1);
    let outcome = s.rotate_refresh(&rotation).await.unwrap();
    assert!(
        matches!(outcome, crate::store::RotateOutcome::Invalid),
        "{outcome:?}"
    );
}

/// `user_with_live_session` reads the user (roles included) only with a session of theirs that
/// is not revoked; a session past its end still reads (its last access token lives on).
async fn user_with_live_session_needs_their_live_session(s: Arc<dyn Store>) {
    let mut olga = new_user("olga");
    olga.roles = vec!["user".into(), "admin".into()];
    let olga = s.create_user(&olga).await.unwrap();
    let pia = create(&*s, "pia").await;
    let session = open(&*s, &olga, NOW, "olga-t0").await;
    let live = |id, session| {
        let s = s.clone();
        async move { s.user_with_live_session(id, session).await.unwrap() }
    };
    let read = live(olga.id, session).await.expect("a live session");
    assert_eq!(
        (read.id, read.roles),
        (olga.id, vec!["admin".into(), "user".into()])
    );
    assert!(
        live(olga.id, Uuid::now_v7()).await.is_none(),
        "unknown session"
    );
    assert!(
        live(pia.id, session).await.is_none(),
        "someone else's session"
    );
    assert!(
        live(Uuid::now_v7(), session).await.is_none(),
        "unknown user"
    );
    let ended = s.revoke_session(olga.id, session, NOW + 2, NOW + 900).await;
    assert_eq!(ended.unwrap(), SessionEnd::Ended);
    assert!(live(olga.id, session).await.is_none(), "revoked");
}

/// `record_login` stamps both `last_login_at` and `last_activity_at`.
async fn record_login_stamps_login_and_activity(s: Arc<dyn Store>) {
    let nina = create(&*s, "nina").await;
    s.record_login(nina.id, NOW + 5).await.unwrap();
    let read = s.user_by_id(nina.id).await.unwrap().unwrap();
    assert_eq!(
        (read.last_login_at, read.last_activity_at),
        (Some(NOW + 5), Some(NOW + 5))
    );
}

/// Roles are listed by name (the three seeded ones included); a second role of one name is
/// `Conflict("role")`.
async fn roles_are_listed_by_name_and_unique(s: Arc<dyn Store>) {
    let names = |roles: Vec<RoleRecord>| roles.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_roles().await.unwrap()),
        ["admin", "moderator", "user"]
    );
    let auditor = RoleRecord {
        name: "auditor".into(),
        description: "Reads the audit log".into(),
        created_at: NOW,
    };
    s.create_role(&auditor).await.unwrap();
    let roles = s.list_roles().await.unwrap();
    assert_eq!(
        names(roles.clone()),
        ["admin", "auditor", "moderator", "user"]
    );
    assert_eq!(
        (roles[1].description.as_str(), roles[1].created_at),
        ("Reads the audit log", NOW)
    );
    let err = s.create_role(&auditor).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("role")), "{err:?}");
}

/// Text PostgreSQL cannot store (a NUL) is `Invalid` (the client's fault), never `Other`;
/// SQLite stores it as it is.
async fn text_with_nul_is_stored_or_refused_as_invalid(s: Arc<dyn Store>) {
    let mut user = new_user("nul");
    user.email = "nul\0@example.com".into();
    match s.create_user(&user).await {
        Ok(_) => assert_eq!(
            s.user_by_id(user.id).await.unwrap().unwrap().email,
            user.email
        ),
        Err(err) => assert!(matches!(err, StoreError::Invalid(_)), "{err:?}"),
    }
}
