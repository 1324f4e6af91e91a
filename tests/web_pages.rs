//! The web pages end to end over the real binary, on SQLite and PostgreSQL. Sessions:
//! signing out or revoking the user ends a session at once, the cookie holds an opaque
//! id and the database only its hash, `next` leads only to a path on this site, and a
//! sign-in form sent from another site signs nobody in. The governance pages: the
//! dashboard (cases per state, time in states, overdue reminders and failing emails,
//! approvals waiting, the months of notice given), the contracts register and its CSV
//! download (filters, formula injection, escaping), and a workflow's version history.
//! Signed in over plain HTTP through the sign-in form, as a browser does.

mod support;

use gatehouse_adapters::store::entities::timer;
use gatehouse_adapters::store::{NewMessage, codec};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use support::Backend;
use support::server::Server;
use support::web::{csrf_of, page, signed_in};

fn today() -> jiff::civil::Date {
    jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/London").unwrap()).date()
}

fn months_from_today(months: i64) -> String {
    today().checked_add(jiff::Span::new().months(months)).unwrap().to_string()
}

/// A client that keeps cookies, as a browser does, and shows redirects instead of
/// following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Open the sign-in page and send its form with `token` and `next`; the answer.
async fn send_sign_in(client: &reqwest::Client, server: &Server, token: &str, next: &str) -> reqwest::Response {
    let form = client.get(server.url("/sign-in")).send().await.unwrap().text().await.unwrap();
    client
        .post(server.url("/sign-in"))
        .form(&[("token", token), ("next", next), ("_csrf", &csrf_of(&form))])
        .send()
        .await
        .unwrap()
}

/// The session cookie an answer sets, if it sets one with a value.
fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.trim().strip_prefix("gatehouse_session="))
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

fn location(r: &reqwest::Response) -> &str {
    r.headers().get("location").map(|v| v.to_str().unwrap()).unwrap_or("(no Location)")
}

/// `GET /cases` with only this session cookie: 200 while the session lives, else a
/// redirect to sign in.
async fn cases_with(server: &Server, cookie: &str) -> reqwest::Response {
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    bare.get(server.url("/cases")).header("cookie", format!("gatehouse_session={cookie}")).send().await.unwrap()
}

fn assert_sent_to_sign_in(r: &reqwest::Response, why: &str) {
    assert_eq!(r.status(), 303, "{why}");
    assert!(location(r).starts_with("/sign-in"), "{why}: {}", location(r));
}

async fn sign_out_ends_the_session(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let (laptop, phone) = (browser(), browser());
    let on_laptop = send_sign_in(&laptop, &server, &alice, "/cases").await;
    assert_eq!((on_laptop.status().as_u16(), location(&on_laptop)), (303, "/cases"));
    let kept = session_cookie(&on_laptop).expect("a session cookie");
    let on_phone = session_cookie(&send_sign_in(&phone, &server, &alice, "/cases").await).unwrap();
    assert_ne!(kept, on_phone, "each sign-in is a session of its own");
    assert_eq!(cases_with(&server, &kept).await.status(), 200);

    // The sign-out form needs the page's CSRF token.
    let page = laptop.get(server.url("/cases")).send().await.unwrap().text().await.unwrap();
    let refused = laptop.post(server.url("/sign-out")).form(&[("_csrf", "forged")]).send().await.unwrap();
    assert_eq!(refused.status(), 403, "a sign-out without the page's token is refused");
    assert_eq!(cases_with(&server, &kept).await.status(), 200, "and the session goes on");
    let out = laptop.post(server.url("/sign-out")).form(&[("_csrf", csrf_of(&page))]).send().await.unwrap();
    assert_eq!((out.status().as_u16(), location(&out)), (303, "/sign-in"));

    // A copy of the cookie kept from before (a stolen one, a shared computer's) is dead.
    assert_sent_to_sign_in(&cases_with(&server, &kept).await, "the old cookie after sign-out");
    assert_sent_to_sign_in(&laptop.get(server.url("/cases")).send().await.unwrap(), "the laptop after sign-out");
    assert_eq!(cases_with(&server, &on_phone).await.status(), 200, "signing out one session leaves the others");
}
on_both!(signing_out_ends_the_session_at_once, sign_out_ends_the_session);

async fn revocation_ends_sessions(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let bob = server.user("bob@leeds.example", &["commissioner"]);
    let client = browser();
    let cookie = session_cookie(&send_sign_in(&client, &server, &alice, "/cases").await).unwrap();
    let bobs = session_cookie(&send_sign_in(&browser(), &server, &bob, "/cases").await).unwrap();
    assert_eq!(cases_with(&server, &cookie).await.status(), 200);

    server.revoke("alice@leeds.example");
    assert_sent_to_sign_in(&cases_with(&server, &cookie).await, "the first request after revocation");
    let again = send_sign_in(&browser(), &server, &alice, "/cases").await;
    assert_eq!(again.status(), 422, "a revoked token does not sign in");
    assert_eq!(session_cookie(&again), None);
    assert_eq!(cases_with(&server, &bobs).await.status(), 200, "other users stay signed in");
}
on_both!(revoking_a_user_ends_their_sessions_at_once, revocation_ends_sessions);

async fn opaque_cookie(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let r = send_sign_in(&browser(), &server, &alice, "/cases").await;
    let header = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("gatehouse_session="))
        .unwrap();
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"] {
        assert!(header.split("; ").any(|a| a == attribute), "{attribute} in {header}");
    }
    let cookie = session_cookie(&r).unwrap();
    let hash = gatehouse_adapters::store::users::token_hash(&alice);
    assert!(!cookie.contains(&hash) && !cookie.contains(&alice), "the cookie holds neither token nor hash: {cookie}");
    assert!(cookie.len() >= 43, "256 bits or more: {cookie}");

    // The database keeps the id's hash, never the id: a stolen copy opens no session.
    let store = server.db.store().await;
    let rows = gatehouse_adapters::store::entities::session::Entity::find().all(store.connection()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id_hash, gatehouse_adapters::store::sessions::id_hash(&cookie));
}
on_both!(the_session_cookie_is_an_opaque_id, opaque_cookie);

async fn next_stays_on_this_site(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    for (next, to) in [
        ("/\t/evil.com", "/cases"),
        ("/%09/evil.com", "/cases"),
        ("//evil.com", "/cases"),
        ("/%2F/evil.com", "/cases"),
        ("/\\evil.com", "/cases"),
        ("/%5Cevil.com", "/cases"),
        ("/cases\r\nSet-Cookie: a=b", "/cases"),
        ("/cases%0d%0aSet-Cookie: a=b", "/cases"),
        ("/cases\n", "/cases"),
        ("/cases\r", "/cases"),
        ("/cases /x", "/cases"),
        ("https://evil.com", "/cases"),
        ("evil.com", "/cases"),
        ("", "/cases"),
        ("/cases/3?x=1", "/cases/3?x=1"),
        ("/cases?workflow=lcc-decommissioning&state=evidence", "/cases?workflow=lcc-decommissioning&state=evidence"),
    ] {
        let r = send_sign_in(&browser(), &server, &alice, next).await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, to), "next={next:?}");
        // The page the redirect to sign in shows puts only a safe `next` in its form.
        let page =
            browser().get(server.url("/sign-in")).query(&[("next", next)]).send().await.unwrap().text().await.unwrap();
        if to == "/cases" {
            assert!(page.contains(r#"name="next" value="&#x2f;cases""#), "next={next:?}: {page}");
        }
    }
}
on_both!(sign_in_sends_people_only_to_a_path_on_this_site, next_stays_on_this_site);

async fn cross_site_sign_in(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);

    // Another site's page posts a form to ours, with the attacker's own token, so that the
    // victim works in the attacker's account: with an Origin header naming it, or
    // without one (a privacy setting), or with the browser's Sec-Fetch-Site saying so.
    let victim = browser();
    let form = victim.get(server.url("/sign-in")).send().await.unwrap().text().await.unwrap();
    let token = csrf_of(&form);
    let fields = [("token", alice.as_str()), ("next", "/cases")];
    let with_token = [("token", alice.as_str()), ("next", "/cases"), ("_csrf", token.as_str())];
    for (what, request) in [
        (
            "an Origin of another site",
            victim.post(server.url("/sign-in")).header("origin", "https://evil.example").form(&with_token),
        ),
        (
            "Sec-Fetch-Site: cross-site",
            victim.post(server.url("/sign-in")).header("sec-fetch-site", "cross-site").form(&with_token),
        ),
        ("no form token", victim.post(server.url("/sign-in")).form(&fields)),
        ("Origin: null and no form token", victim.post(server.url("/sign-in")).header("origin", "null").form(&fields)),
        ("the form token without its cookie", browser().post(server.url("/sign-in")).form(&with_token)),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 403, "{what}");
        assert_eq!(session_cookie(&r), None, "{what}: nobody is signed in");
        let body = r.text().await.unwrap();
        assert!(body.contains("did not come from this site"), "{what}: the page says why: {body}");
        assert!(body.contains("Nobody has been signed in"), "{what}: {body}");
    }
    assert_sent_to_sign_in(&victim.get(server.url("/cases")).send().await.unwrap(), "the victim is not signed in");

    // The same form sent from this site's own page signs in.
    let form = victim.get(server.url("/sign-in")).send().await.unwrap().text().await.unwrap();
    let own = victim
        .post(server.url("/sign-in"))
        .header("origin", &server.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", alice.as_str()), ("next", "/cases"), ("_csrf", &csrf_of(&form))])
        .send()
        .await
        .unwrap();
    assert_eq!((own.status().as_u16(), location(&own)), (303, "/cases"));
}
on_both!(a_sign_in_form_sent_from_another_site_signs_nobody_in, cross_site_sign_in);

struct People {
    alice: String,
    chief: String,
    director: String,
}

/// Open a Leeds decommissioning case of low value (an administrative decision).
async fn open(server: &Server, p: &People, service: &str, provider: &str, directorate: &str, end: &str) -> i64 {
    let r = server
        .post(
            Some(&p.alice),
            "/api/cases",
            json!({"workflow": "lcc-decommissioning", "fields": {
                "service_name": service, "provider_name": provider, "provider_email": "p@provider.example.org",
                "directorate": directorate, "annual_value": 80000, "contract_end": end}}),
        )
        .await;
    r.expect(201);
    r.json["id"].as_i64().unwrap()
}

async fn step(server: &Server, token: &str, id: i64, transition: &str) {
    server
        .post(Some(token), &format!("/api/cases/{id}/transitions"), json!({"transition": transition}))
        .await
        .expect(200);
}

/// Take a case to the administrative decision, where it waits for a chief officer.
async fn to_decision(server: &Server, p: &People, id: i64) {
    let alice = Some(p.alice.as_str());
    server.upload(alice, id, "needs_assessment", "needs.pdf", b"%PDF needs".to_vec()).await.expect(201);
    step(server, &p.alice, id, "start_engagement").await;
    server
        .post(
            alice,
            &format!("/api/cases/{id}/evidence"),
            json!({"type": "decommissioning_checklist", "answers": {"financial_requirements": "yes",
                "political_perspective": "yes", "service_user_needs": "yes", "parents_and_carers": "yes"}}),
        )
        .await
        .expect(201);
    for e in ["equality_impact_assessment", "service_impact_assessment", "consultation", "provider_engagement"] {
        server.upload(alice, id, e, &format!("{e}.pdf"), format!("%PDF {e}").into()).await.expect(201);
    }
    step(server, &p.alice, id, "submit_administrative_decision").await;
}

/// Decide and serve notice: with six months' notice when the contract allows it, else
/// short notice agreed by a director.
async fn serve(server: &Server, p: &People, id: i64, short: bool) {
    let alice = Some(p.alice.as_str());
    server
        .post(
            Some(&p.chief),
            &format!("/api/cases/{id}/approvals"),
            json!({"role": "chief_officer", "decision": "approve"}),
        )
        .await
        .expect(201);
    step(server, &p.chief, id, "approve_administrative_decision").await;
    server.upload(alice, id, "support_offer", "support.pdf", b"%PDF support".to_vec()).await.expect(201);
    server.upload(alice, id, "decommissioning_plan", "plan.pdf", b"%PDF plan".to_vec()).await.expect(201);
    if short {
        server.upload(alice, id, "short_notice_justification", "why.pdf", b"%PDF why".to_vec()).await.expect(201);
        server
            .post(
                Some(&p.director),
                &format!("/api/cases/{id}/approvals"),
                json!({"role": "director", "decision": "approve"}),
            )
            .await
            .expect(201);
        step(server, &p.alice, id, "serve_short_notice").await;
    } else {
        step(server, &p.alice, id, "serve_notice").await;
    }
}

/// The table row (`<tr>…</tr>`) of `html` that contains `needle`.
fn row<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html.find(needle).unwrap_or_else(|| panic!("{needle} not in the page:\n{html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    &html[start..end]
}

/// The text of a row's cells, tags removed (a cell or list item boundary is a space)
/// and whitespace collapsed.
fn cells(row: &str) -> String {
    let mut out = String::new();
    let mut rest = row;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('>').unwrap();
        let name = rest[open + 1..close].trim_start_matches('/');
        if ["td", "th", "tr", "li", "br"].iter().any(|t| name.starts_with(t)) {
            out.push(' ');
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn dashboard_and_register(backend: Backend) {
    let server = Server::start(backend).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: server.user("chief@leeds.example", &["chief_officer"]),
        director: server.user("director@leeds.example", &["director"]),
    };
    let client = signed_in(&server, &people.alice).await;

    // Nothing yet: every section says so.
    let empty = page(&client, &server, "/governance").await;
    assert!(empty.contains("No cases yet."), "{empty}");
    assert!(empty.contains("No case has been served notice yet."));
    assert!(empty.contains(r#"aria-current="page">Governance</a>"#), "the nav link");
    assert!(page(&client, &server, "/contracts").await.contains("No cases yet."));

    // Nine months' notice; four months' (short, agreed by a director); one waiting for
    // the chief officer; one just opened, with markup and a formula in its fields.
    let met = open(&server, &people, "Day centre", "Kirkstall Trust", "Adults and Health", &months_from_today(9)).await;
    let short = open(&server, &people, "Meals", "Hot Meals CIC", "Adults and Health", &months_from_today(4)).await;
    let waiting =
        open(&server, &people, "Youth club", "Youth Works", "Children and Families", &months_from_today(12)).await;
    let hostile = open(
        &server,
        &people,
        "<script>alert(1)</script>",
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "Children and Families",
        "2030-01-31",
    )
    .await;
    for id in [met, short, waiting] {
        to_decision(&server, &people, id).await;
    }
    serve(&server, &people, met, false).await;
    serve(&server, &people, short, true).await;

    // A reminder stuck past its time (held by a process that died), and an email that failed.
    let store = server.db.store().await;
    let now = jiff::Timestamp::now();
    let past = codec::to_chrono(now - jiff::SignedDuration::from_hours(72));
    // The case in notice has its acknowledgement reminder armed; make it overdue.
    timer::Entity::update_many()
        .col_expr(timer::Column::DueAt, Expr::value(past))
        .col_expr(timer::Column::LeaseOwner, Expr::value("a process that died"))
        .col_expr(timer::Column::LeaseUntil, Expr::value(codec::to_chrono(now + jiff::SignedDuration::from_hours(24))))
        .filter(timer::Column::CaseId.eq(met))
        .filter(timer::Column::TimerId.eq("acknowledgement_reminder"))
        .exec(store.connection())
        .await
        .unwrap();
    let message = NewMessage {
        case_id: Some(short),
        workflow_id: None,
        key: "test/failed".into(),
        template: "lcc-acknowledge-notice-reminder".into(),
        recipients: vec!["provider".into()],
        deadline: None,
        timer_id: None,
    };
    store.enqueue(&message, now).await.unwrap();
    let (queued, _) = store.message_by_key("test/failed").await.unwrap().unwrap();
    store.mark_failed(queued.id, "550 mailbox unavailable", now, None).await.unwrap();

    let html = page(&client, &server, "/governance").await;
    // Cases per state.
    assert!(html.contains("Leeds City Council decommissioning toolkit: 4 cases"), "{html}");
    assert_eq!(
        cells(row(&html, "Notice served; contract running to its end</a>")),
        "Notice served; contract running to its end 2"
    );
    // Time in states: every case went through the proposal; two are in notice now.
    let proposal = cells(row(&html, "<th scope=\"row\" class=\"govuk-table__header\">Preparing the proposal"));
    assert!(proposal.starts_with("Preparing the proposal 4 1 "), "{proposal}");
    assert!(html.contains("A case still in a state counts with its time there so far"));
    // Overdue: the stuck reminder and the failed email.
    assert!(cells(row(&html, "acknowledgement reminder")).contains(&format!("Case {met}: Day centre")), "{html}");
    let failed = cells(row(&html, "550 mailbox unavailable"));
    assert!(failed.contains(&format!("Case {short}")) && failed.contains("Failed"), "{failed}");
    // Approvals waiting: the chief officer, for one case.
    let chief = cells(row(&html, "Chief Officer (administrative decision)</th>"));
    assert!(chief.contains(&format!("1 Case {waiting}: Youth club")), "{chief}");
    // Notice given against six months required.
    let compliance = &html[html.find("id=\"compliance\"").unwrap()..];
    let given = cells(row(compliance, &format!("Case {met}</a>: Day centre")));
    assert!(given.contains(&format!("{} {} 9 6 Met", today(), months_from_today(9))), "{given}");
    let shortfall = cells(row(compliance, &format!("Case {short}</a>: Meals")));
    assert!(shortfall.contains(&format!("{} {} 4 6 Short", today(), months_from_today(4))), "{shortfall}");
    // Markup from a case is shown as text.
    assert!(!html.contains("<script>alert(1)</script>"));

    // The register: every contract, escaped, with notice dates.
    let register = page(&client, &server, "/contracts").await;
    assert!(register.contains("4 contracts"), "{register}");
    assert!(!register.contains("<script>alert(1)</script>"));
    assert!(register.contains("&lt;script&gt;alert(1)&lt;"), "{register}");
    let day_centre = cells(row(&register, &format!("/cases/{met}\"")));
    assert_eq!(
        day_centre,
        format!(
            "Case {met} Day centre Kirkstall Trust £80,000 {} Adults and Health Leeds City Council decommissioning toolkit Notice served; contract running to its end {}",
            months_from_today(9),
            today()
        )
    );
    // Filters: directorate, state, end date, workflow.
    let children = page(&client, &server, "/contracts?directorate=Children+and+Families").await;
    assert!(children.contains("2 contracts") && children.contains("Youth club") && !children.contains("Day centre"));
    let notice = page(&client, &server, "/contracts?state=notice").await;
    assert!(notice.contains("2 contracts") && notice.contains("Meals") && !notice.contains("Youth club"));
    let soon = page(&client, &server, &format!("/contracts?ends_before={}", months_from_today(5))).await;
    assert!(soon.contains("1 contract<") && soon.contains("Meals"), "{soon}");
    let none = page(&client, &server, "/contracts?workflow=gloucestershire-compact").await;
    assert!(none.contains("No contracts match these filters."));
    // Paged: the register says how many there are and shows a page of them at a time,
    // with links that keep the filters.
    let first = page(&client, &server, "/contracts?per_page=3").await;
    assert!(first.contains("4 contracts") && first.contains("Showing 1 to 3"), "{first}");
    assert_eq!(first.matches("class=\"govuk-table__row\"").count(), 1 + 3, "a header and three rows");
    assert!(first.contains("href=\"&#x2f;contracts?per_page=3&amp;page=2\""), "{first}");
    let second = page(&client, &server, "/contracts?per_page=3&page=2").await;
    assert!(second.contains("Showing 4 to 4") && second.contains("href=\"&#x2f;contracts?per_page=3&amp;page=1\""));
    assert_eq!(second.matches("class=\"govuk-table__row\"").count(), 1 + 1, "{second}");
    let filtered = page(&client, &server, "/contracts?directorate=Children+and+Families&per_page=1").await;
    assert!(
        filtered.contains("href=\"&#x2f;contracts?directorate=Children%20and%20Families&amp;per_page=1&amp;page=2\""),
        "{filtered}"
    );
    let bad = client.get(server.url("/contracts?ends_before=soon")).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("must be a real date"));

    // The CSV: same filters, formulas defused, a download.
    let csv = client.get(server.url("/contracts.csv?directorate=Children+and+Families")).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.headers()["content-disposition"], "attachment; filename=\"contracts.csv\"");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "case,workflow,service,provider,annual_value_pounds,contract_end,directorate,state,notice_served",
            &format!(
                "{waiting},lcc-decommissioning,Youth club,Youth Works,80000,{},Children and Families,administrative_decision,",
                months_from_today(12)
            ),
            &format!(
                "{hostile},lcc-decommissioning,<script>alert(1)</script>,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",80000,2030-01-31,Children and Families,proposal,"
            ),
        ]
    );
    let all = client.get(server.url("/contracts.csv")).send().await.unwrap().text().await.unwrap();
    assert_eq!(all.lines().count(), 5, "{all}");
    assert!(all.contains(&format!(
        "{met},lcc-decommissioning,Day centre,Kirkstall Trust,80000,{},Adults and Health,notice,{}",
        months_from_today(9),
        today()
    )));

    // Signed out: sent to sign in, for the CSV too.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["/governance", "/contracts", "/contracts.csv"] {
        let r = anonymous.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
    }
}
on_both!(dashboard_and_register_show_what_governance_needs, dashboard_and_register);

async fn version_history(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let client = signed_in(&server, &alice).await;
    let people = People { alice: alice.clone(), chief: String::new(), director: String::new() };
    open(&server, &people, "Day centre", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;

    let source = std::fs::read_to_string(support::workflows_dir().join("lcc-decommissioning.yaml")).unwrap();
    let (shipped, next) = (support::workflow_version(&source), support::workflow_version(&source) + 1);
    let version_row = |n: u32| format!("<th scope=\"row\" class=\"govuk-table__header\">{n}");

    let first = page(&client, &server, "/workflows/lcc-decommissioning").await;
    let current = cells(row(&first, "New cases open on this version"));
    assert!(current.starts_with(&format!("{shipped} New cases open on this version ")), "{current}");
    assert!(current.ends_with(" 1 First published version"), "one case on version {shipped}: {current}");
    let report = gatehouse_adapters::workflows::load_paths(&[support::workflows_dir()]).unwrap();
    let (_, loaded) = report.loaded.iter().find(|(p, _)| p.ends_with("lcc-decommissioning.yaml")).unwrap();
    assert!(current.contains(&loaded.definition.sha256[..12]), "{current}");

    // A governance group publishes the next version.
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&support::workflows_dir(), dir.path());
    let file = dir.path().join("lcc-decommissioning.yaml");
    let changed = source
        .replacen(&format!("version: {shipped}"), &format!("version: {next}"), 1)
        .replace("key_decision_threshold:\n    value: 500000", "key_decision_threshold:\n    value: 600000");
    assert!(changed.contains("value: 600000"), "the test changes the threshold");
    std::fs::write(&file, changed).unwrap();
    let out = support::server::gatehouse()
        .args(["workflows", "publish", "--database-url", &server.db.url])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The running server picks the version up within seconds, without a restart, and
    // says what changed in words.
    let change = "param `key_decision_threshold` 500000 → 600000";
    let mut after = String::new();
    for _ in 0..100 {
        after = page(&client, &server, "/workflows/lcc-decommissioning").await;
        if after.contains(change) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let table = &after[after.find("Published versions").unwrap()..];
    let newer = table.find(&version_row(next)).expect("the next version is listed");
    let older = table.find(&version_row(shipped)).expect("the shipped version is still listed");
    assert!(newer < older, "newest first");
    let next_row = cells(row(table, &version_row(next)));
    assert!(next_row.contains(change), "the change is said in words: {next_row}");
    assert!(next_row.contains(" 0 "), "no case on the next version yet: {next_row}");
    let api = server.get(Some(&alice), &format!("/api/workflows/lcc-decommissioning/changes?to={next}")).await;
    assert_eq!(api.json["changes"], serde_json::json!([change]), "{}", api.text);
    // New cases open on it at once; the first case stays on the version it opened with.
    let newer_case =
        open(&server, &people, "Meals on wheels", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;
    let newer_case = server.get(Some(&alice), &format!("/api/cases/{newer_case}")).await;
    assert_eq!(newer_case.json["workflow_version"], next, "{}", newer_case.text);
}
on_both!(the_workflow_page_lists_every_published_version, version_history);

/// The pages follow the same reading rule as the API: a person without a role of the
/// workflow sees none of its cases in the list, the dashboard, the register or the CSV,
/// and a case page or document of theirs is "not found"; the oversight role sees all.
async fn pages_follow_the_readers_rule(backend: Backend) {
    let options = support::server::Options {
        env: vec![("GATEHOUSE_OVERSIGHT_ROLES".into(), "audit".into())],
        ..Default::default()
    };
    let server = Server::start_with(backend, options).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: String::new(),
        director: String::new(),
    };
    let id = open(&server, &people, "Riverside lunch club", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;
    server.upload(Some(&people.alice), id, "needs_assessment", "needs.pdf", b"%PDF".to_vec()).await.expect(201);
    let pig = signed_in(&server, &server.user("pig@leeds.example", &["pig"])).await;
    let auditor = signed_in(&server, &server.user("auditor@leeds.example", &["audit"])).await;

    // The dashboard counts only the cases a person may read.
    assert!(page(&pig, &server, "/governance").await.contains("No cases yet."));
    assert!(!page(&auditor, &server, "/governance").await.contains("No cases yet."));
    for path in ["/cases", "/contracts", "/contracts.csv"] {
        let theirs = page(&pig, &server, path).await;
        assert!(!theirs.contains("Riverside lunch club"), "{path} shows a case of another workflow:\n{theirs}");
        assert!(!theirs.contains("Kirkstall Trust"), "{path}");
        let all = page(&auditor, &server, path).await;
        assert!(all.contains("Riverside lunch club"), "{path} hides the case from the oversight role:\n{all}");
    }
    for path in [format!("/cases/{id}"), format!("/cases/{id}/evidence/needs_assessment/file")] {
        let r = pig.get(server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(!r.text().await.unwrap().contains("Riverside"), "{path}");
        let r = auditor.get(server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}
on_both!(the_pages_show_a_person_only_the_cases_they_may_read, pages_follow_the_readers_rule);

/// The cases list shows the newest cases first, a page at a time with a link to older
/// ones, and searches every case the reader may read, not only those on one page.
async fn cases_list_pages(backend: Backend) {
    let server = Server::start(backend).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: String::new(),
        director: String::new(),
    };
    let services = ["Oak day centre", "Ash meals", "Elm youth club", "Birch respite", "Yew lunch club"];
    let mut ids = Vec::new();
    for service in services {
        ids.push(open(&server, &people, service, "Kirkstall Trust", "Adults and Health", "2030-01-31").await);
    }
    let alice = signed_in(&server, &people.alice).await;
    let shown = |html: &str| -> Vec<&str> { services.iter().copied().filter(|s| html.contains(s)).collect() };

    let newest = page(&alice, &server, "/cases?per_page=2").await;
    assert_eq!(shown(&newest), ["Birch respite", "Yew lunch club"], "{newest}");
    assert!(newest.find("Yew lunch club") < newest.find("Birch respite"), "newest first");
    let older = format!("href=\"&#x2f;cases?per_page=2&amp;before={}\"", ids[3]);
    assert!(newest.contains(&older), "a link to the older cases:\n{newest}");
    let next = page(&alice, &server, &format!("/cases?per_page=2&before={}", ids[3])).await;
    assert_eq!(shown(&next), ["Ash meals", "Elm youth club"], "{next}");
    let last = page(&alice, &server, &format!("/cases?per_page=2&before={}", ids[1])).await;
    assert_eq!(shown(&last), ["Oak day centre"]);
    assert!(!last.contains("before="), "the oldest page links to no older one:\n{last}");

    // A search finds a case however old, in any letter case; `%` is a letter like any other.
    let found = page(&alice, &server, "/cases?per_page=2&q=OAK+DAY").await;
    assert_eq!(shown(&found), ["Oak day centre"], "{found}");
    let none = page(&alice, &server, "/cases?per_page=2&q=%25").await;
    assert_eq!(shown(&none), Vec::<&str>::new(), "{none}");
}
on_both!(the_cases_list_pages_newest_first_and_searches_every_case, cases_list_pages);

/// A provider's link to a case that has closed says so and offers no form to send
/// anything with.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_provider_page_of_a_closed_case_offers_no_forms() {
    let server = Server::start(Backend::Sqlite).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: String::new(),
        director: String::new(),
    };
    let id = open(&server, &people, "Riverside lunch club", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;
    let signer = gatehouse_adapters::links::LinkSigner::new(support::server::SECRET.as_bytes()).unwrap();
    let token = signer.sign(&gatehouse_adapters::links::LinkClaims {
        case_id: id,
        role: "provider".into(),
        evidence: vec!["provider_engagement".into()],
        expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24),
    });
    let provider = reqwest::Client::new();
    let open_page = provider.get(server.url(&format!("/p/{token}"))).send().await.unwrap().text().await.unwrap();
    assert!(open_page.contains("<form"), "an open case asks with a form:\n{open_page}");

    step(&server, &people.alice, id, "withdraw").await;
    let r = provider.get(server.url(&format!("/p/{token}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let closed = r.text().await.unwrap();
    assert!(closed.contains("This case is closed"), "{closed}");
    assert!(!closed.contains("<form"), "a closed case offers no form:\n{closed}");
}

/// The approval form records only the two decisions it offers: any other `decision`
/// (a crafted post, a stale form) is the form's error, and nothing is recorded.
async fn approval_form_decisions(backend: Backend) {
    let server = Server::start(backend).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: server.user("chief@leeds.example", &["chief_officer"]),
        director: String::new(),
    };
    let id = open(&server, &people, "Day centre", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;
    to_decision(&server, &people, id).await;
    let chief = signed_in(&server, &people.chief).await;
    let html = page(&chief, &server, &format!("/cases/{id}")).await;
    assert!(html.contains("Record decision"), "the chief officer is asked to decide:\n{html}");
    let csrf = csrf_of(&html);
    let approvals = server.url(&format!("/cases/{id}/approvals"));
    for decision in [Some("maybe"), Some(""), Some("Approve"), None] {
        let mut form = vec![("_csrf", csrf.as_str()), ("role", "chief_officer")];
        form.extend(decision.map(|d| ("decision", d)));
        let r = chief.post(approvals.clone()).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 422, "decision {decision:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Choose approve or reject"), "decision {decision:?}:\n{html}");
    }
    let case = server.get(Some(&people.chief), &format!("/api/cases/{id}")).await;
    assert_eq!(case.json["approvals"], json!([]), "nothing was recorded");
    assert!(case.blocked_by("approve_administrative_decision").unwrap().contains(&"chief_officer".to_string()));

    let form = [("_csrf", csrf.as_str()), ("role", "chief_officer"), ("decision", "approve")];
    let r = chief.post(approvals).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Your decision is recorded."));
    let case = server.get(Some(&people.chief), &format!("/api/cases/{id}")).await;
    assert_eq!(case.json["approvals"][0]["decision"], "approve");
}
on_both!(the_approval_form_records_only_approve_or_reject, approval_form_decisions);

/// The case page names the commissioner responsible for the case and lets a colleague
/// give it to another: a person who holds none of the workflow's roles is the form's
/// error, and nothing changes.
async fn reassign_form(backend: Backend) {
    let server = Server::start(backend).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: server.user("chief@leeds.example", &["chief_officer"]),
        director: String::new(),
    };
    server.user("pat@leeds.example", &["pig"]);
    let id = open(&server, &people, "Day centre", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;
    let client = signed_in(&server, &people.alice).await;
    let html = page(&client, &server, &format!("/cases/{id}")).await;
    assert!(html.contains("Responsible commissioner: <strong>alice@leeds.example</strong>"), "{html}");
    let csrf = csrf_of(&html);
    let owner = server.url(&format!("/cases/{id}/owner"));
    let r = client
        .post(owner.clone())
        .form(&[("_csrf", csrf.as_str()), ("owner", "pat@leeds.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("holds none of this workflow"));
    let r =
        client.post(owner).form(&[("_csrf", csrf.as_str()), ("owner", "chief@leeds.example")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("The case has a new responsible commissioner."), "{html}");
    assert!(html.contains("Responsible commissioner: <strong>chief@leeds.example</strong>"), "{html}");
    let case = server.get(Some(&people.alice), &format!("/api/cases/{id}")).await;
    assert_eq!(case.json["owner"], "chief@leeds.example");
}
on_both!(the_case_page_names_the_responsible_commissioner_and_reassigns, reassign_form);

/// `html` with the escapes the templates use for `/` and `"` undone, to look for text.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&quot;", "\"")
}

/// The checklist form offers "not applicable" only for the items the workflow allows it
/// on, takes a note with each answer, refuses answers it did not offer naming the item,
/// and a "no" keeps the step blocked, naming the item.
async fn checklist_form(backend: Backend) {
    let server = Server::start(backend).await;
    let people = People {
        alice: server.user("alice@leeds.example", &["commissioner"]),
        chief: String::new(),
        director: String::new(),
    };
    let id = open(&server, &people, "Day centre", "Kirkstall Trust", "Adults and Health", "2030-01-31").await;
    server.upload(Some(&people.alice), id, "needs_assessment", "needs.pdf", b"%PDF".to_vec()).await.expect(201);
    step(&server, &people.alice, id, "start_engagement").await;
    let client = signed_in(&server, &people.alice).await;
    let html = unescaped(&page(&client, &server, &format!("/cases/{id}")).await);
    let radio = |item: &str, value: &str| format!(r#"name="{item}" type="radio" value="{value}""#);
    assert!(html.contains(&radio("parents_and_carers", "n/a")), "n/a offered where allowed:\n{html}");
    assert!(html.contains(&radio("financial_requirements", "no")));
    assert!(!html.contains(&radio("financial_requirements", "n/a")), "and only there");
    assert!(html.contains(r#"name="note-financial_requirements""#), "a note with each answer");
    let csrf = csrf_of(&html);
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("_csrf", csrf.clone()), ("type", "decommissioning_checklist".to_string())];
        form.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
        client.post(server.url(&format!("/cases/{id}/checklist"))).form(&form).send()
    };
    let answers = |case: &serde_json::Value| case["evidence"].as_array().map(|e| e.len()).unwrap_or_default();
    let before = answers(&server.get(Some(&people.alice), &format!("/api/cases/{id}")).await.json);

    for (fields, says) in [
        (vec![("financial_requirements", "maybe")], "Financial requirements must be answered yes or no"),
        (
            vec![("parents_and_carers", "perhaps")],
            "Perspective of parents and carers must be answered yes, no or not applicable",
        ),
        (vec![("financial_requirements", "n/a")], "\"Financial requirements\" cannot be answered n/a"),
        (
            vec![("political_perspective", "yes"), ("note-service_user_needs", "See section 3")],
            "Needs of service users has a note but no answer",
        ),
    ] {
        let r = post(fields.clone()).await.unwrap();
        assert_eq!(r.status(), 422, "{fields:?}");
        let html = unescaped(&r.text().await.unwrap());
        assert!(html.contains(says), "{fields:?} should say {says}:\n{html}");
        let now = answers(&server.get(Some(&people.alice), &format!("/api/cases/{id}")).await.json);
        assert_eq!(now, before, "{fields:?}: nothing saved");
    }

    let r = post(vec![
        ("financial_requirements", "no"),
        ("note-financial_requirements", "Savings not yet agreed"),
        ("political_perspective", "yes"),
        ("service_user_needs", "yes"),
        ("parents_and_carers", "n/a"),
        ("note-parents_and_carers", "An adult day service"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let html = unescaped(&r.text().await.unwrap());
    assert!(html.contains("The answers are saved."), "{html}");
    assert!(html.contains("Financial requirements: <strong>no</strong> (Savings not yet agreed)"), "{html}");
    assert!(html.contains("Perspective of parents and carers: <strong>n/a</strong> (An adult day service)"));
    assert!(html.contains(r#"value="Savings not yet agreed""#), "the note is kept in the form");
    assert!(
        html.contains("Decommissioning evidence (LCC toolkit): answered no: Financial requirements"),
        "the no blocks, named:\n{html}"
    );
    let case = server.get(Some(&people.alice), &format!("/api/cases/{id}")).await;
    let checklist = case.json["evidence"].as_array().unwrap().iter().find(|e| e["type"] == "decommissioning_checklist");
    let answers = &checklist.expect("the checklist is held")["answers"];
    assert_eq!(answers["financial_requirements"], json!({"answer": "no", "note": "Savings not yet agreed"}));
    assert_eq!(answers["parents_and_carers"], json!({"answer": "n/a", "note": "An adult day service"}));
    assert_eq!(answers["political_perspective"], json!({"answer": "yes"}));
}
on_both!(the_checklist_form_offers_n_a_only_where_allowed_and_a_no_blocks, checklist_form);

/// The case page offers a transition exactly to whom the engine lets request it: one
/// whose workflow names no `by:` is for members of the workflow's roles, so a person
/// who reads the case through an oversight role sees who may move it, not a button the
/// engine would refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_case_page_offers_a_transition_only_to_whom_the_engine_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tiny.yaml"),
        "id: tiny\nversion: 1\ntitle: Tiny\nroles: { commissioner: { title: Commissioner } }\n\
         fields: { service_name: { type: text } }\n\
         states: { draft: { initial: true }, done: { terminal: true } }\n\
         transitions: [ { id: finish, title: Finish the case, from: draft, to: done } ]\n",
    )
    .unwrap();
    // The one template `serve` needs whatever the workflows (a failed email's escalation).
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    let escalation = "outbox-delivery-failed.txt";
    std::fs::copy(
        support::workflows_dir().join("templates").join(escalation),
        dir.path().join("templates").join(escalation),
    )
    .unwrap();
    let options = support::server::Options {
        env: vec![("GATEHOUSE_OVERSIGHT_ROLES".into(), "audit".into())],
        workflows: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let server = Server::start_with(Backend::Sqlite, options).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let auditor = server.user("auditor@leeds.example", &["audit"]);
    let opened = server.post(Some(&alice), "/api/cases", json!({"workflow": "tiny", "fields": {}})).await;
    opened.expect(201);
    let id = opened.json["id"].as_i64().unwrap();
    let button = r#"name="transition" value="finish""#;

    let theirs = page(&signed_in(&server, &auditor).await, &server, &format!("/cases/{id}")).await;
    assert!(!theirs.contains(button), "the page offers a move the engine refuses:\n{theirs}");
    assert!(theirs.contains("Requested by: members of this workflow&#x27;s roles"), "{theirs}");
    let path = format!("/api/cases/{id}/transitions");
    server.post(Some(&auditor), &path, json!({"transition": "finish"})).await.expect(403);

    let hers = page(&signed_in(&server, &alice).await, &server, &format!("/cases/{id}")).await;
    assert!(hers.contains(button), "{hers}");

    // The API answers the same question for whoever reads the case.
    let may_request = |json: &serde_json::Value| json["transitions"][0]["may_request"].clone();
    let case = format!("/api/cases/{id}");
    assert_eq!(may_request(&server.get(Some(&auditor), &case).await.json), json!(false));
    assert_eq!(may_request(&server.get(Some(&alice), &case).await.json), json!(true));
}
