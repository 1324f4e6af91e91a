//! Users, their roles and their web sessions in the store, on real SQLite and
//! PostgreSQL: a token is shown once and only its hash is kept; revoked users can do
//! nothing and are sent nothing; a session lives until it expires, is ended or its user
//! is revoked, and the database keeps only the hash of its id.

mod support;

use gatehouse_adapters::store::UserError;
use gatehouse_adapters::store::entities::{session, user};
use gatehouse_adapters::store::sessions::id_hash;
use gatehouse_adapters::store::users::token_hash;
use sea_orm::EntityTrait;
use support::{Backend, fresh_db};

fn roles(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

async fn users(backend: Backend) {
    let db = fresh_db(backend).await;
    let store = db.store().await;
    let now = support::start();
    let (alice, token) = store
        .add_user(" Alice@Leeds.Example ", "Alice Smith", &roles(&["pig", "commissioner", "pig"]), now)
        .await
        .unwrap();
    assert_eq!(alice.email, "alice@leeds.example");
    assert_eq!(alice.roles, ["commissioner", "pig"]);
    let (bob, bob_token) = store.add_user("bob@leeds.example", "Bob", &roles(&["pig"]), now).await.unwrap();

    // Only the token's hash is stored.
    let rows = user::Entity::find().all(store.connection()).await.unwrap();
    assert!(rows.iter().all(|r| r.token_hash != token && r.token_hash != bob_token));
    assert!(rows.iter().any(|r| r.token_hash == token_hash(&token)));
    assert_eq!(store.user_by_token(&token).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.user_by_token("gh_not-a-token").await.unwrap(), None);

    // Bad input and duplicates are refused with what is wrong.
    assert!(
        matches!(store.add_user("ALICE@leeds.example", "A", &[], now).await, Err(UserError::EmailTaken(e)) if e == "alice@leeds.example")
    );
    assert!(matches!(store.add_user("not an address", "A", &[], now).await, Err(UserError::InvalidEmail(_))));
    assert!(matches!(
        store.add_user("c@leeds.example", "C", &roles(&["Exec Board"]), now).await,
        Err(UserError::InvalidRole(_))
    ));
    assert!(matches!(store.revoke_user("nobody@leeds.example", now).await, Err(UserError::NotFound(_))));

    // Members of a role, until revoked.
    assert_eq!(store.role_members("pig").await.unwrap(), ["alice@leeds.example", "bob@leeds.example"]);
    assert_eq!(store.role_members("exec_board").await.unwrap(), Vec::<String>::new());
    let revoked = store.revoke_user("bob@leeds.example", now).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(now));
    assert_eq!(store.role_members("pig").await.unwrap(), ["alice@leeds.example"]);
    assert_eq!(store.user_by_token(&bob_token).await.unwrap(), None, "a revoked token does nothing");
    let all = store.users().await.unwrap();
    assert_eq!(
        all.iter().map(|u| (u.email.as_str(), u.revoked_at.is_some())).collect::<Vec<_>>(),
        [("alice@leeds.example", false), ("bob@leeds.example", true)]
    );
    assert_eq!(all[1].id, bob.id);
    db.drop_database().await;
}
on_both!(users_hold_roles_and_tokens_are_kept_as_hashes, users);

async fn cli(backend: Backend) {
    let db = fresh_db(backend).await;
    let run = |r: anyhow::Result<gatehouse::cli::authoring::Status>, out: Vec<u8>| {
        (r.unwrap(), String::from_utf8(out).unwrap())
    };
    let mut out = Vec::new();
    let r = gatehouse::cli::users::add(&db.url, "carol@leeds.example", "Carol", &roles(&["pig"]), &mut out).await;
    let (status, text) = run(r, out);
    assert_eq!(status, gatehouse::cli::authoring::Status::Ok);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once; keep it safe): "))
        .expect("the token is printed")
        .to_string();
    assert!(db.store().await.user_by_token(&token).await.unwrap().is_some());
    let mut out = Vec::new();
    let r = gatehouse::cli::users::add(&db.url, "carol@leeds.example", "Carol", &[], &mut out).await;
    assert_eq!(
        run(r, out),
        (
            gatehouse::cli::authoring::Status::InputWrong,
            "error: a user with the email address carol@leeds.example already exists\n".into()
        )
    );
    let mut out = Vec::new();
    let r = gatehouse::cli::users::revoke(&db.url, "carol@leeds.example", &mut out).await;
    assert_eq!(run(r, out).1, "revoked carol@leeds.example\n");
    let mut out = Vec::new();
    let r = gatehouse::cli::users::list(&db.url, &mut out).await;
    assert!(run(r, out).1.starts_with("carol@leeds.example  Carol  pig  (revoked "));
    db.drop_database().await;
}
on_both!(users_are_added_listed_and_revoked_from_the_command_line, cli);

async fn sessions(backend: Backend) {
    let db = fresh_db(backend).await;
    let store = db.store().await;
    let now = support::start();
    let (alice, _) = store.add_user("alice@leeds.example", "Alice", &roles(&["commissioner"]), now).await.unwrap();
    let (bob, _) = store.add_user("bob@leeds.example", "Bob", &roles(&["pig"]), now).await.unwrap();
    let hours = |h: i64| jiff::SignedDuration::from_hours(h);
    let second = jiff::SignedDuration::from_secs(1);
    let kept = || async { session::Entity::find().all(store.connection()).await.unwrap() };

    // Live until it expires, however busy it is; the database holds only the id's hash.
    let id = store.start_session(alice.id, now, now + hours(12)).await.unwrap();
    assert_eq!(store.session_user(&id, now).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.session_user(&id, now + hours(12) - second).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.session_user(&id, now + hours(12)).await.unwrap(), None, "expired");
    assert_eq!(store.session_user("not-a-session", now).await.unwrap(), None);
    let rows = kept().await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id_hash.as_str(), rows[0].user_id), (id_hash(&id).as_str(), alice.id));
    assert_ne!(rows[0].id_hash, id);

    // Starting a session clears out the expired ones.
    let later = now + hours(13);
    let bobs = store.start_session(bob.id, later, later + hours(12)).await.unwrap();
    assert_eq!(kept().await.iter().map(|r| r.id_hash.clone()).collect::<Vec<_>>(), [id_hash(&bobs)]);

    // Ending one ends it alone; ending it again is harmless.
    let alices = store.start_session(alice.id, later, later + hours(12)).await.unwrap();
    store.end_session(&bobs).await.unwrap();
    store.end_session(&bobs).await.unwrap();
    assert_eq!(store.session_user(&bobs, later).await.unwrap(), None, "ended");
    assert_eq!(store.session_user(&alices, later).await.unwrap(), Some(alice.clone()));

    // Revoking a user ends their sessions.
    store.revoke_user("alice@leeds.example", later).await.unwrap();
    assert_eq!(store.session_user(&alices, later).await.unwrap(), None, "revoked");
    assert!(kept().await.is_empty(), "no row of a revoked user's session is kept");
    db.drop_database().await;
}
on_both!(sessions_end_on_expiry_sign_out_and_revocation, sessions);
