//! Signing in to the web pages as a browser does, and reading them.

use super::server::Server;

/// A client signed in to the pages with `token`, through the sign-in form.
pub async fn signed_in(server: &Server, token: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let form = client.get(server.url("/sign-in")).send().await.unwrap().text().await.unwrap();
    let r = client
        .post(server.url("/sign-in"))
        .form(&[("token", token), ("next", "/cases"), ("_csrf", &csrf_of(&form))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "signed in and sent on to the cases");
    assert_eq!(r.url().path(), "/cases");
    client
}

/// The value of a page's first hidden `_csrf` field ("" when it has none).
pub fn csrf_of(html: &str) -> String {
    html.split(r#"name="_csrf" value=""#).nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string()
}

/// `path`, read by `client`, which must be signed in.
pub async fn page(client: &reqwest::Client, server: &Server, path: &str) -> String {
    let r = client.get(server.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    assert_eq!(r.url().path(), path.split('?').next().unwrap(), "not sent to sign in");
    r.text().await.unwrap()
}
