//! Named API tokens for people's scripts, over the real server: made in the web page and
//! shown once, used on the API as their owner, kept only as a hash, revoked by an
//! administrator (stopping within seconds), refused once expired, and checked on input.

mod support;

use support::Backend;
use support::server::{Options, Server};
use support::web::{csrf_of, page, signed_in};

async fn post(client: &reqwest::Client, server: &Server, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = client.post(server.url(path)).form(form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn me(server: &Server, token: &str) -> u16 {
    server.get(Some(token), "/api/me").await.status
}

async fn tokens(backend: Backend) {
    let options = Options { env: vec![("GATEHOUSE_ADMIN_ROLES".into(), "admin".into())], ..Options::default() };
    let server = Server::start_with(backend, options).await;
    let alice = signed_in(&server, &server.user("alice@leeds.example", &["commissioner"])).await;
    let bob = signed_in(&server, &server.user("bob@leeds.example", &["admin"])).await;

    // A form without the session's CSRF token (sent from another site) makes nothing.
    let (status, body) = post(&alice, &server, "/tokens", &[("name", "forged"), ("days", "30")]).await;
    assert_eq!(status, 403, "{body}");

    // Made in the page, shown once.
    let html = page(&alice, &server, "/tokens").await;
    assert!(
        !html.contains("Everyone&#x27;s tokens") && !html.contains("Everyone's tokens"),
        "only administrators see all"
    );
    let csrf = csrf_of(&html);
    let (status, made) =
        post(&alice, &server, "/tokens", &[("_csrf", &csrf), ("name", "nightly export"), ("days", "30")]).await;
    assert_eq!(status, 200, "{made}");
    let token = made.split("<code class=\"gh-token\">").nth(1).and_then(|t| t.split('<').next()).unwrap().to_string();
    assert!(token.starts_with("gh_"), "{token}");
    assert!(!page(&alice, &server, "/tokens").await.contains(&token), "never shown again");

    // It works on the API as Alice, with her roles.
    let who = server.get(Some(&token), "/api/me").await;
    assert_eq!(
        (who.json["id"].as_str(), who.json["roles"][0].as_str()),
        (Some("alice@leeds.example"), Some("commissioner"))
    );

    // Kept only as its hash.
    let store = gatehouse_adapters::store::Store::connect(&gatehouse_adapters::store::StoreConfig::new(&server.db.url))
        .await
        .unwrap();
    let rows = store.api_tokens(None).await.unwrap()[0].clone();
    assert_eq!(rows.name, "nightly export");
    use sea_orm::EntityTrait;
    let stored = gatehouse_adapters::store::entities::api_token::Entity::find().all(store.connection()).await.unwrap();
    assert_eq!(stored[0].token_hash, gatehouse_adapters::store::users::token_hash(&token));
    assert!(!stored.iter().any(|r| r.token_hash.contains(&token)));

    // Bad input is refused, saying why, and makes nothing.
    for (name, days, why) in
        [("", "30", "Give the token a name"), ("x", "0", "1 to 366 days"), ("x", "400", "1 to 366 days")]
    {
        let (status, body) =
            post(&alice, &server, "/tokens", &[("_csrf", &csrf), ("name", name), ("days", days)]).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains(why), "{body}");
    }
    assert_eq!(store.api_tokens(None).await.unwrap().len(), 1);

    // The administrator sees it and revokes it; it stops working within seconds.
    let html = page(&bob, &server, "/tokens").await;
    assert!(html.contains("alice@leeds.example") && html.contains("nightly export"), "{html}");
    let id = stored[0].id;
    let (status, body) = post(&bob, &server, &format!("/tokens/{id}/revoke"), &[("_csrf", &csrf_of(&html))]).await;
    assert_eq!(status, 200, "{body}");
    let mut answer = me(&server, &token).await;
    for _ in 0..40 {
        if answer == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        answer = me(&server, &token).await;
    }
    assert_eq!(answer, 401, "a revoked token stops working");
    assert!(page(&alice, &server, "/tokens").await.contains("Revoked"), "Alice sees it revoked");

    // Someone else's token is not theirs to revoke.
    let (_, made) =
        post(&bob, &server, "/tokens", &[("_csrf", &csrf_of(&html)), ("name", "bob's"), ("days", "1")]).await;
    assert!(made.contains("gh-token"));
    let bobs = store.api_tokens(None).await.unwrap().into_iter().find(|t| t.owner == "bob@leeds.example").unwrap();
    let (status, _) = post(&alice, &server, &format!("/tokens/{}/revoke", bobs.id), &[("_csrf", &csrf)]).await;
    assert_eq!(status, 404);

    // An expired token is refused.
    let alice_id = store.user_by_email("alice@leeds.example").await.unwrap().unwrap().id;
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let (_, expired) =
        store.create_api_token(alice_id, "old", past, past - jiff::SignedDuration::from_hours(24)).await.unwrap();
    assert_eq!(me(&server, &expired).await, 401);
}
on_both!(api_tokens_are_made_shown_once_used_revoked_and_expire, tokens);
