//! Signing in through the organisation's identity provider, against a real OpenID
//! provider on loopback (the certified `oidc-provider` package, run with node; see
//! `support/oidc_provider.js`) and the real `gatehouse serve`: a first sign-in creates
//! the person with the roles their groups map to, a changed group changes them at the
//! next sign-in, a person added beforehand signs in to their account; a tampered ID
//! token, one for another application, an expired one, a wrong state, a replayed code,
//! an answer brought to another browser and an unverified email are refused with a page
//! that says so and create nothing; a deactivated person is signed out at once and
//! refused at their next sign-in; headless Chromium signs in through the provider's own
//! login page.

mod support;

use gatehouse_adapters::store::Store;
use serde_json::json;
use support::Backend;
use support::oidc::{Browser, Ended, account, ended, start};

/// Groups of the provider to Gatehouse roles.
const MAP: &str = "leeds-commissioners=commissioner,leeds-panel=pig";

async fn roles(store: &Store, email: &str) -> Option<Vec<String>> {
    store.users().await.unwrap().into_iter().find(|u| u.email == email).map(|u| u.roles)
}

/// The people's history, oldest first, as `who: what` for `email`.
async fn history(store: &Store, email: &str) -> Vec<String> {
    let mut h: Vec<String> = store
        .people_history()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.email == email)
        .map(|e| format!("{}: {}", e.actor, e.what))
        .collect();
    h.reverse();
    h
}

#[track_caller]
fn signed_in(end: &Ended) {
    assert_eq!(end.status, 303, "{}", end.body);
    assert_eq!(end.location.as_deref(), Some("/cases"));
    assert!(end.session, "a session started");
}

#[track_caller]
fn refused(end: &Ended, status: u16, why: &str) {
    assert_eq!(end.status, status, "{}", end.body);
    assert!(!end.session, "no session started");
    let text = end.body.replace("&#x27;", "'");
    assert!(text.contains("The sign-in did not complete: "), "{}", end.body);
    assert!(text.contains(why), "the page says {why:?}: {}", end.body);
}

async fn mapped_roles_follow_the_groups(backend: Backend) {
    let (server, idp) = start(backend, &[("GATEHOUSE_OIDC_ROLE_MAP", MAP)]).await;
    let store = server.db.store().await;
    // Added by an administrator before their first sign-in, with a role the map does
    // not name and one it does.
    server.user("bob@leeds.example", &["exec_board", "pig"]);
    idp.set(
        json!({"alice": account("Alice@Leeds.example", &["leeds-commissioners", "staff"]),
               "bob": account("bob@leeds.example", &["leeds-commissioners"])}),
        None,
    );

    // A first sign-in creates the person, with the roles their groups map to.
    let browser = Browser::new();
    signed_in(&browser.sign_in(&server, "alice").await);
    let cases = browser.client.get(server.url("/cases")).send().await.unwrap();
    assert_eq!(cases.status(), 200, "signed in");
    assert!(cases.text().await.unwrap().contains("Alice (commissioner)"), "the name the provider gave, and the role");
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["commissioner"]);
    assert_eq!(
        history(&store, "alice@leeds.example").await,
        ["oidc sign-in: added at their first sign-in", "oidc sign-in: given commissioner"]
    );

    // A changed group changes the roles at the next sign-in, and only then.
    idp.set(
        json!({"alice": account("alice@leeds.example", &["leeds-panel"]),
               "bob": account("bob@leeds.example", &["leeds-commissioners"])}),
        None,
    );
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["commissioner"]);
    signed_in(&Browser::new().sign_in(&server, "alice").await);
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["pig"]);
    let h = history(&store, "alice@leeds.example").await;
    assert_eq!(h[2..], ["oidc sign-in: no longer commissioner", "oidc sign-in: given pig"]);

    // Added beforehand: signs in to the same account; the map sets the roles it names
    // and leaves the others as the administrator gave them.
    signed_in(&Browser::new().sign_in(&server, "bob").await);
    assert_eq!(roles(&store, "bob@leeds.example").await.unwrap(), ["commissioner", "exec_board"]);
    let people: Vec<String> = store.users().await.unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(people, ["alice@leeds.example", "bob@leeds.example"]);
}
on_both!(a_first_sign_in_creates_the_person_with_mapped_roles_and_groups_change_them, mapped_roles_follow_the_groups);

async fn roles_given_in_gatehouse(backend: Backend) {
    let (server, idp) = start(backend, &[]).await;
    let store = server.db.store().await;
    idp.set(json!({"carol": account("carol@leeds.example", &["leeds-commissioners"])}), None);
    signed_in(&Browser::new().sign_in(&server, "carol").await);
    assert_eq!(roles(&store, "carol@leeds.example").await.unwrap(), Vec::<String>::new(), "no role until given one");
    let now = jiff::Timestamp::now();
    store.set_role("carol@leeds.example", "commissioner", true, "bob@leeds.example", &[], now).await.unwrap();
    signed_in(&Browser::new().sign_in(&server, "carol").await);
    assert_eq!(roles(&store, "carol@leeds.example").await.unwrap(), ["commissioner"], "kept at the next sign-in");
}
on_both!(without_a_role_map_roles_are_given_in_gatehouse, roles_given_in_gatehouse);

async fn refusals(backend: Backend) {
    let (server, idp) = start(backend, &[("GATEHOUSE_OIDC_ROLE_MAP", MAP)]).await;
    let store = server.db.store().await;
    let alice = json!({"alice": account("alice@leeds.example", &["leeds-commissioners"])});
    let nothing_created = || async {
        assert!(store.users().await.unwrap().is_empty(), "nobody was created");
        assert!(store.people_history().await.unwrap().is_empty(), "nothing in the people's history");
    };

    // The provider's ID token, changed after it was signed.
    idp.set(alice.clone(), Some("tampered"));
    refused(&Browser::new().sign_in(&server, "alice").await, 400, "signature is not valid");
    nothing_created().await;

    // Signed by the provider, for another application.
    idp.set(alice.clone(), Some("audience"));
    refused(&Browser::new().sign_in(&server, "alice").await, 400, "issued for another application");
    nothing_created().await;

    // Signed by the provider, expired.
    idp.set(alice.clone(), Some("expired"));
    refused(&Browser::new().sign_in(&server, "alice").await, 400, "ID token has expired");
    nothing_created().await;

    // The email address not verified.
    let unverified = json!({"alice": {"email": "alice@leeds.example", "email_verified": false}});
    idp.set(unverified, None);
    refused(&Browser::new().sign_in(&server, "alice").await, 400, "has not been verified");
    nothing_created().await;

    // A wrong state.
    idp.set(alice.clone(), None);
    let browser = Browser::new();
    let mut url = browser.to_callback(&server, "alice").await;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == "state" { "someone-elses-state".to_string() } else { v.to_string() }))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    refused(&browser.callback(url).await, 400, "does not belong to this sign-in");
    nothing_created().await;

    // The answer brought to another browser (no attempt of its own), or with the
    // attempt's cookie altered.
    let url = Browser::new().to_callback(&server, "alice").await;
    refused(&Browser::new().callback(url).await, 400, "not started in this browser");
    let browser = Browser::new();
    let url = browser.to_callback(&server, "alice").await;
    let altered = browser.cookies(&url).replace("gatehouse_oidc=", "gatehouse_oidc=x");
    let r = Browser::new().client.get(url).header("cookie", altered).send().await.unwrap();
    refused(&ended(r).await, 400, "not started in this browser");
    nothing_created().await;

    // An error from the provider is shown only for this browser's own attempt; another
    // site's link to the callback cannot put words on our page.
    let browser = Browser::new();
    let url = browser.to_callback(&server, "alice").await;
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();
    let mut denied = url.clone();
    denied.query_pairs_mut().clear().extend_pairs([
        ("state", state.as_str()),
        ("error", "access_denied"),
        ("error_description", "the person said no"),
    ]);
    refused(&browser.callback(denied).await, 400, "the identity provider said: the person said no");
    let browser = Browser::new();
    let url = browser.to_callback(&server, "alice").await;
    let mut forged = url.clone();
    forged.query_pairs_mut().clear().extend_pairs([("error", "x"), ("error_description", "call 0800 FRAUD")]);
    let end = browser.callback(forged).await;
    refused(&end, 400, "does not belong to this sign-in");
    assert!(!end.body.contains("FRAUD"));
    nothing_created().await;

    // A replayed code: the provider refuses it the second time.
    let browser = Browser::new();
    let url = browser.to_callback(&server, "alice").await;
    let cookies = browser.cookies(&url);
    assert!(cookies.contains("gatehouse_oidc="), "{cookies}");
    signed_in(&browser.callback(url.clone()).await);
    let (users, events) = (store.users().await.unwrap().len(), store.people_history().await.unwrap().len());
    let again = Browser::new().client.get(url).header("cookie", cookies).send().await.unwrap();
    refused(&ended(again).await, 400, "has been used already");
    assert_eq!(store.users().await.unwrap().len(), users);
    assert_eq!(store.people_history().await.unwrap().len(), events);
}
on_both!(tampered_wrong_audience_expired_wrong_state_and_replayed_are_refused, refusals);

async fn deactivated(backend: Backend) {
    let (server, idp) = start(backend, &[("GATEHOUSE_OIDC_ROLE_MAP", MAP)]).await;
    idp.set(json!({"alice": account("alice@leeds.example", &["leeds-commissioners"])}), None);
    let browser = Browser::new();
    signed_in(&browser.sign_in(&server, "alice").await);
    let r = browser.client.get(server.url("/cases")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    server.revoke("alice@leeds.example");
    let r = browser.client.get(server.url("/cases")).send().await.unwrap();
    assert_eq!(r.status(), 303, "signed out at once");
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/sign-in"));

    let end = Browser::new().sign_in(&server, "alice").await;
    refused(&end, 403, "alice@leeds.example has been deactivated");
    let store = server.db.store().await;
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["commissioner"], "their history stays");
}
on_both!(a_deactivated_person_is_signed_out_and_refused_at_the_next_sign_in, deactivated);

/// Some providers put the email and the groups in the userinfo answer only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_only_in_userinfo_are_read_from_there() {
    let (server, idp) = start(Backend::Sqlite, &[("GATEHOUSE_OIDC_ROLE_MAP", MAP)]).await;
    idp.set(json!({"alice": account("alice@leeds.example", &["leeds-panel"])}), Some("claims-in-userinfo"));
    signed_in(&Browser::new().sign_in(&server, "alice").await);
    let store = server.db.store().await;
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["pig"]);
}

/// The sign-in page offers the provider beside the token form, which still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sign_in_page_offers_the_provider_and_keeps_the_token_form() {
    let (server, _idp) = start(Backend::Sqlite, &[]).await;
    let html = server.get(None, "/sign-in?next=/governance").await.text;
    assert!(html.contains("Sign in with Leeds City Council"), "{html}");
    assert!(html.contains("/sign-in/oidc?next=&#x2f;governance"), "{html}");
    assert!(html.contains("name=\"token\""), "{html}");
    let token = server.user("dave@leeds.example", &["commissioner"]);
    support::web::signed_in(&server, &token).await;
}

/// An issuer that does not answer stops `serve` at once, saying so.
#[test]
fn serve_stops_when_the_identity_provider_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::server::gatehouse()
        .arg("serve")
        .args(["--database-url", &format!("sqlite://{}", dir.path().join("g.db").display())])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .env("GATEHOUSE_OIDC_ISSUER", format!("http://127.0.0.1:{}", support::oidc::free_port()))
        .env("GATEHOUSE_OIDC_CLIENT_ID", "gatehouse")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot discover the identity provider at http://127.0.0.1:"), "{stderr}");
}

/// Headless Chromium signs in end to end: the sign-in page's button, the provider's own
/// login and consent pages, and back to the cases as the person the provider said. The
/// sign-in page and a refusal page are checked with axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headless_chromium_signs_in_through_the_providers_login_page() {
    use fantoccini::Locator;
    let (server, idp) = start(Backend::Sqlite, &[("GATEHOUSE_OIDC_ROLE_MAP", MAP)]).await;
    idp.set(json!({"alice": account("alice@leeds.example", &["leeds-commissioners"])}), None);
    let driver = support::browser::Driver::start();
    let c = driver.client().await;

    c.goto(&server.url("/governance")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/sign-in", "signed out: sent to sign in");
    support::browser::check_page(&c, "sign-in-oidc").await;
    c.find(Locator::Id("oidc")).await.unwrap().click().await.unwrap();

    // The provider's login page, then its consent page.
    let login = c.wait().for_element(Locator::Css("input[name=login]")).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().starts_with(&idp.issuer), "at the provider");
    login.send_keys("alice").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("any password").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("input[name=prompt][value=consent]")).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();

    // Back, signed in, where they were going.
    for _ in 0..100 {
        if c.current_url().await.unwrap().as_str().starts_with(&server.base) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/governance", "{url}");
    let me = c.find(Locator::Css(".gh-sign-out")).await.unwrap().text().await.unwrap();
    assert!(me.contains("alice (commissioner)"), "{me}");

    // A refusal is a page of the site's, readable by all.
    c.goto(&server.url("/sign-in/oidc/callback?code=x&state=y")).await.unwrap();
    let why = c.find(Locator::Id("why")).await.unwrap().text().await.unwrap();
    assert!(why.starts_with("The sign-in did not complete: "), "{why}");
    support::browser::check_page(&c, "sign-in-refused").await;
    c.close().await.unwrap();
}

/// With a role map, the groups decide the roles it names: an administrator cannot give
/// or take one of them on the people page (it would be undone at the person's next
/// sign-in, silently), is told where to change it, and sees which roles they are; roles
/// the map does not name are given in Gatehouse as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_the_groups_decide_are_not_given_in_the_product() {
    let env = [("GATEHOUSE_OIDC_ROLE_MAP", MAP), ("GATEHOUSE_ADMIN_ROLES", "admin")];
    let (server, idp) = start(Backend::Sqlite, &env).await;
    let store = server.db.store().await;
    let ada = server.user("ada@leeds.example", &["admin"]);
    idp.set(json!({"alice": account("alice@leeds.example", &["leeds-panel"])}), None);
    signed_in(&Browser::new().sign_in(&server, "alice").await);
    let admin = support::web::signed_in(&server, &ada).await;
    let html = support::web::page(&admin, &server, "/people").await;
    assert!(html.contains("given by the identity provider"), "the page says which roles the groups decide");
    let csrf = support::web::csrf_of(&html);
    let post = |form: Vec<(&'static str, &'static str)>| {
        let (admin, server, csrf) = (&admin, &server, csrf.clone());
        async move {
            let mut fields = vec![("_csrf", csrf.as_str())];
            fields.extend(form);
            let r = admin.post(server.url("/people")).form(&fields).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap().replace("&#x60;", "`").replace("&#x2f;", "/"))
        }
    };
    for (action, role) in [("give", "commissioner"), ("take", "pig")] {
        let (status, body) = post(vec![("action", action), ("email", "alice@leeds.example"), ("role", role)]).await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains(&format!("`{role}` is given by the identity provider")), "{body}");
    }
    let (status, body) = post(vec![
        ("action", "add"),
        ("email", "dan@leeds.example"),
        ("name", "Dan"),
        ("roles", "exec_board, commissioner"),
    ])
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("`commissioner` is given by the identity provider"), "{body}");
    assert!(roles(&store, "dan@leeds.example").await.is_none(), "nobody added");
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["pig"], "nothing changed");

    // A role the map does not name is given in Gatehouse, and kept at the next sign-in.
    let (status, body) = post(vec![("action", "give"), ("email", "alice@leeds.example"), ("role", "exec_board")]).await;
    assert_eq!(status, 200, "{body}");
    signed_in(&Browser::new().sign_in(&server, "alice").await);
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["exec_board", "pig"]);
}

/// The identity provider gone while the browser comes back with its code: the page says
/// the sign-in did not complete (502, the provider's fault, not the person's), and
/// nobody and no session is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_gone_during_the_callback_is_a_clear_page() {
    let (server, idp) = start(Backend::Sqlite, &[("GATEHOUSE_OIDC_ROLE_MAP", MAP)]).await;
    let store = server.db.store().await;
    idp.set(json!({"alice": account("alice@leeds.example", &["leeds-commissioners"])}), None);
    let browser = Browser::new();
    let back = browser.to_callback(&server, "alice").await;
    drop(idp);
    let end = browser.callback(back).await;
    refused(&end, 502, "the identity provider could not be reached");
    assert!(store.users().await.unwrap().is_empty(), "nobody was created");
}

/// A provider that leaves the groups out and says where to fetch them instead (an OpenID
/// Connect distributed claim: what Entra ID sends for someone in more than 200 groups)
/// has not said the person is in no group: with a role map, the sign-in is refused with
/// a page that says why, and their roles stay as they were, rather than be taken away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_left_out_for_fetching_elsewhere_change_no_roles() {
    // The map kept in a file this time (`--oidc-role-map-file`).
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("roles.map");
    std::fs::write(&map, format!("# Leeds\n{}\n", MAP.replace(',', "\n"))).unwrap();
    let (server, idp) = start(Backend::Sqlite, &[("GATEHOUSE_OIDC_ROLE_MAP_FILE", map.to_str().unwrap())]).await;
    let store = server.db.store().await;
    idp.set(json!({"alice": account("alice@leeds.example", &["leeds-commissioners"])}), None);
    signed_in(&Browser::new().sign_in(&server, "alice").await);
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["commissioner"]);

    let mut overage = account("alice@leeds.example", &[]);
    overage.as_object_mut().unwrap().remove("groups");
    overage["_claim_names"] = json!({"groups": "src1"});
    overage["_claim_sources"] =
        json!({"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/alice/getMemberObjects"}});
    idp.set(json!({"alice": overage}), None);
    let end = Browser::new().sign_in(&server, "alice").await;
    refused(&end, 400, "did not list your groups");
    assert_eq!(roles(&store, "alice@leeds.example").await.unwrap(), ["commissioner"], "no role taken away");
    let h = history(&store, "alice@leeds.example").await;
    assert_eq!(h.len(), 2, "nothing more in the history: {h:?}");
}
