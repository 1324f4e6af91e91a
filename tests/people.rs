//! People and roles managed in the product by an administrator, over the real server: a
//! person added (token shown once, working with their roles), roles given and taken, a
//! person deactivated (their session ends at once), the last administrator protected,
//! every change in the history, and bad input refused.

mod support;

use support::Backend;
use support::server::{Options, Server};
use support::web::{csrf_of, page, signed_in};

async fn post(client: &reqwest::Client, server: &Server, form: &[(&str, &str)]) -> (u16, String) {
    let r = client.post(server.url("/people")).form(form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Ask `/api/me` with `token` until `ok` holds of the roles (the token cache keeps an
/// answer for up to five seconds).
async fn roles_become(server: &Server, token: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut roles = Vec::new();
    for _ in 0..40 {
        let me = server.get(Some(token), "/api/me").await;
        roles = me.json["roles"]
            .as_array()
            .map(|r| r.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        if ok(&roles) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    roles
}

async fn people(backend: Backend) {
    let options = Options { env: vec![("GATEHOUSE_ADMIN_ROLES".into(), "admin".into())], ..Options::default() };
    let server = Server::start_with(backend, options).await;
    let bob = signed_in(&server, &server.user("bob@leeds.example", &["admin"])).await;
    let alice = signed_in(&server, &server.user("alice@leeds.example", &["commissioner"])).await;
    let r = alice.get(server.url("/people")).send().await.unwrap();
    assert_eq!(r.status(), 403, "only an administrator manages people");

    // Added before they first sign in: their token works, with their roles.
    let html = page(&bob, &server, "/people").await;
    assert!(
        html.contains("Lead commissioner") || html.contains("Leeds City Council decommissioning toolkit"),
        "roles list their workflows"
    );
    let csrf = csrf_of(&html);
    let (status, body) = post(
        &bob,
        &server,
        &[
            ("_csrf", &csrf),
            ("action", "add"),
            ("email", "carol@leeds.example"),
            ("name", "Carol Chen"),
            ("roles", "commissioner"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body.split("<code class=\"gh-token\">").nth(1).and_then(|t| t.split('<').next()).unwrap().to_string();
    assert_eq!(roles_become(&server, &token, |r| !r.is_empty()).await, ["commissioner"]);

    // Roles given and taken follow at once (within the token cache's five seconds).
    post(&bob, &server, &[("_csrf", &csrf), ("action", "give"), ("email", "carol@leeds.example"), ("role", "pig")])
        .await;
    post(
        &bob,
        &server,
        &[("_csrf", &csrf), ("action", "take"), ("email", "carol@leeds.example"), ("role", "commissioner")],
    )
    .await;
    assert_eq!(roles_become(&server, &token, |r| r == ["pig"]).await, ["pig"]);

    // Deactivated: Alice's session ends at once; her history stays.
    let (status, _) =
        post(&bob, &server, &[("_csrf", &csrf), ("action", "deactivate"), ("email", "alice@leeds.example")]).await;
    assert_eq!(status, 200);
    let r = alice.get(server.url("/cases")).send().await.unwrap();
    assert!(r.url().path().starts_with("/sign-in"), "her session has ended: {}", r.url());

    // The last administrator cannot be removed, nor deactivated; with another, they can.
    let (status, body) =
        post(&bob, &server, &[("_csrf", &csrf), ("action", "take"), ("email", "bob@leeds.example"), ("role", "admin")])
            .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("is the last administrator"), "{body}");
    let (status, _) =
        post(&bob, &server, &[("_csrf", &csrf), ("action", "deactivate"), ("email", "bob@leeds.example")]).await;
    assert_eq!(status, 409);

    let (status, body) = post(
        &bob,
        &server,
        &[("_csrf", &csrf), ("action", "give"), ("email", "carol@leeds.example"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Bob is then sent back to the page he may no longer see.
    let (status, body) =
        post(&bob, &server, &[("_csrf", &csrf), ("action", "take"), ("email", "bob@leeds.example"), ("role", "admin")])
            .await;
    assert_eq!(status, 403, "{body}");

    // Bad input says why and changes nothing.
    let carol = signed_in(&server, &token).await;
    let html = page(&carol, &server, "/people").await;
    let (status, body) = post(
        &carol,
        &server,
        &[("_csrf", &csrf_of(&html)), ("action", "add"), ("email", "not an address"), ("roles", "")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("is not an email address"), "{body}");

    // Every change is in the history: who, when, what.
    let html = page(&carol, &server, "/people").await;
    let history = &html[html.find("id=\"history\"").unwrap()..];
    for what in [
        "added with commissioner",
        "given pig",
        "no longer commissioner",
        "deactivated",
        "given admin",
        "no longer admin",
    ] {
        assert!(history.contains(what), "the history says {what}");
    }
    assert!(history.contains("bob@leeds.example"), "and who did it");
}
on_both!(an_administrator_manages_people_and_roles, people);

/// Two administrators removing each other's administrator role at the same instant, on
/// PostgreSQL (whose transactions would otherwise each see the other still holding it):
/// one is refused, every time, so the installation keeps an administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_administrators_removing_each_other_at_once_leave_one() {
    use gatehouse_adapters::store::{Store, StoreConfig};
    let db = support::fresh_db(Backend::Postgres).await;
    let store = Store::connect(&StoreConfig::new(&db.url)).await.unwrap();
    store.migrate().await.unwrap();
    let now = jiff::Timestamp::now();
    let admin = vec!["admin".to_string()];
    for who in ["bob@leeds.example", "carol@leeds.example"] {
        store.add_user(who, who, &admin, now).await.unwrap();
    }
    for _ in 0..20 {
        let (a, b) = tokio::join!(
            store.set_role("bob@leeds.example", "admin", false, "carol@leeds.example", &admin, now),
            store.set_role("carol@leeds.example", "admin", false, "bob@leeds.example", &admin, now),
        );
        let holders = store.role_members("admin").await.unwrap();
        assert_eq!(holders.len(), 1, "one administrator is left: {holders:?} ({a:?}, {b:?})");
        assert!(a.is_ok() != b.is_ok(), "one removal is refused: {a:?}, {b:?}");
        for who in ["bob@leeds.example", "carol@leeds.example"] {
            store.set_role(who, "admin", true, "command line", &admin, now).await.unwrap();
        }
    }
}
