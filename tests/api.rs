//! The HTTP API end to end: the real `gatehouse serve` binary on a loopback port, over a
//! fresh SQLite file and a fresh PostgreSQL database, with mail going to a real SMTP
//! server, driven over HTTP the way another system or the web pages would.

mod support;

use serde_json::json;
use support::Backend;
use support::server::Server;
use support::smtp::{SmtpOptions, SmtpServer};

fn months_from_today(months: i64) -> String {
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/London").unwrap()).date();
    today.checked_add(jiff::Span::new().months(months)).unwrap().to_string()
}

/// A Leeds decommissioning case from opening to notice served and acknowledged by the
/// provider through the link in their email: every block, and every unblock.
async fn walk_a_leeds_decommissioning_case(backend: Backend) {
    let smtp = SmtpServer::start(SmtpOptions::default());
    let server =
        Server::start_with(backend, support::server::Options { smtp_url: Some(smtp.url()), ..Default::default() })
            .await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let eb = server.user("eb@leeds.example", &["exec_board"]);
    let chair = server.user("chair@leeds.example", &["commissioner", "exec_board"]);
    let alice = Some(alice.as_str());
    let eb = Some(eb.as_str());
    let chair = Some(chair.as_str());

    server.get(None, "/health").await.expect(200);
    assert_eq!(server.get(None, "/health").await.json, json!({"status": "ok"}));

    // Open the case. The contract ends in four months: too soon for six months' notice.
    let created = server
        .post(
            alice,
            "/api/cases",
            json!({"workflow": "lcc-decommissioning", "fields": {
                "service_name": "Day opportunities for older people",
                "provider_name": "Kirkstall Day Centre Trust",
                "provider_email": "director@kirkstall.example.org",
                "directorate": "Adults and Health",
                "annual_value": 650000,
                "contract_end": months_from_today(4),
                // In the forward plan long enough, and the decision notice published and past
                // its call-in period, by the time the Board decides and notice is served.
                "forward_plan_published_on": support::days_ago(40),
                "decision_meeting_on": months_from_today(2),
                "decision_reference": "D-2026-0211-07",
                "decision_published_on": support::days_ago(10),
            }}),
        )
        .await;
    created.expect(201);
    let id = created.json["id"].as_i64().unwrap();
    assert_eq!(created.json["state"], "proposal");
    assert_eq!(created.json["fields"]["annual_value"], 650000);
    let case = format!("/api/cases/{id}");

    // Blocked until the needs assessment is in; a blocked request changes nothing.
    let before = server.get(alice, &case).await;
    assert_eq!(before.blocked_by("start_engagement"), Some(vec!["needs_assessment".to_string()]));
    let blocked = server.post(alice, &format!("{case}/transitions"), json!({"transition": "start_engagement"})).await;
    blocked.problem(422, "blocked");
    assert_eq!(blocked.unmet(), ["needs_assessment"]);
    assert!(blocked.json["unmet"][0]["message"].as_str().unwrap().len() > 10, "{}", blocked.text);
    assert_eq!(server.get(alice, &case).await.json["version"], before.json["version"]);

    let uploaded = server.upload(alice, id, "needs_assessment", "needs.pdf", b"%PDF-1.7 needs".to_vec()).await;
    uploaded.expect(201);
    assert_eq!(uploaded.json["evidence"][0]["file"]["name"], "needs.pdf");
    assert_eq!(uploaded.blocked_by("start_engagement"), None);
    let moved = server
        .post(
            alice,
            &format!("{case}/transitions"),
            json!({"transition": "start_engagement", "expected_version": uploaded.json["version"]}),
        )
        .await;
    moved.expect(200);
    assert_eq!(moved.json["state"], "engagement");

    // The early engagement letter asks the provider for its response, and its link
    // cannot be used to acknowledge a notice that has not been served.
    let early = smtp.wait_for("director@kirkstall.example.org", "early conversation").await;
    let early = early.link_token().expect("the letter carries a link");
    let asked = server.get(Some(&early), "/api/link").await;
    let asked: Vec<&str> =
        asked.json["asked"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(asked, ["provider_response"]);
    server
        .post(Some(&early), &format!("{case}/evidence"), json!({"type": "notice_acknowledged"}))
        .await
        .problem(403, "forbidden");

    // The key decision route: every piece of evidence it asks for, one at a time.
    let all = [
        "decommissioning_checklist",
        "equality_impact_assessment",
        "service_impact_assessment",
        "consultation",
        "provider_engagement",
    ];
    assert_eq!(moved.blocked_by("submit_key_decision").unwrap(), all);
    let half = server
        .post(
            alice,
            &format!("{case}/evidence"),
            json!({"type": "decommissioning_checklist", "answers": {"financial_requirements": "yes", "political_perspective": "yes"}}),
        )
        .await;
    half.expect(201);
    assert_eq!(half.blocked_by("submit_key_decision").unwrap(), all, "half a checklist is not a checklist");
    let whole = server
        .post(
            alice,
            &format!("{case}/evidence"),
            json!({"type": "decommissioning_checklist", "answers": {
                "service_user_needs": {"answer": "yes", "note": "Needs assessment, section 3"},
                "parents_and_carers": "n/a"}}),
        )
        .await;
    whole.expect(201);
    assert_eq!(whole.blocked_by("submit_key_decision").unwrap(), all[1..]);
    for (n, evidence) in all[1..].iter().enumerate() {
        let r = server.upload(alice, id, evidence, &format!("{evidence}.pdf"), format!("%PDF {evidence}").into()).await;
        r.expect(201);
        let left = r.blocked_by("submit_key_decision").unwrap_or_default();
        assert_eq!(left, all[2 + n..], "after {evidence}");
    }
    server.post(chair, &format!("{case}/transitions"), json!({"transition": "submit_key_decision"})).await.expect(200);

    // The Executive Board decides; the commissioner who submitted cannot approve for it.
    let at_board = server.get(alice, &case).await;
    assert_eq!(at_board.json["state"], "executive_board_decision");
    assert_eq!(at_board.blocked_by("approve_key_decision").unwrap(), ["executive_member_briefing", "exec_board"]);
    server
        .post(alice, &format!("{case}/approvals"), json!({"role": "exec_board", "decision": "approve"}))
        .await
        .problem(403, "forbidden");
    server.upload(alice, id, "executive_member_briefing", "briefing.pdf", b"%PDF briefing".to_vec()).await.expect(201);
    // The chair is on the Board, but submitted the case: separation of duties.
    let own =
        server.post(chair, &format!("{case}/approvals"), json!({"role": "exec_board", "decision": "approve"})).await;
    own.problem(403, "forbidden");
    assert!(own.json["detail"].as_str().unwrap().contains("submit"), "{}", own.text);
    let approved = server
        .post(
            eb,
            &format!("{case}/approvals"),
            json!({"role": "exec_board", "decision": "approve", "comment": "Resolved to de-commission",
                   "meeting": {"name": "Executive Board", "date": "2026-02-11"}}),
        )
        .await;
    approved.expect(201);
    assert_eq!(approved.json["approvals"][0]["meeting"]["date"], "2026-02-11");
    assert_eq!(approved.blocked_by("approve_key_decision"), None);
    server.post(eb, &format!("{case}/transitions"), json!({"transition": "approve_key_decision"})).await.expect(200);

    // Notice: six months are needed, and the support offer.
    let decided = server.get(alice, &case).await;
    assert_eq!(decided.json["state"], "decided");
    assert_eq!(
        decided.blocked_by("serve_notice").unwrap(),
        ["six_months_notice", "support_offer", "decommissioning_plan"]
    );
    let later =
        server.patch(alice, &format!("{case}/fields"), json!({"fields": {"contract_end": months_from_today(9)}})).await;
    later.expect(200);
    assert_eq!(later.blocked_by("serve_notice").unwrap(), ["support_offer", "decommissioning_plan"]);
    server.upload(alice, id, "support_offer", "support.pdf", b"%PDF support".to_vec()).await.expect(201);
    let offered = server.upload(alice, id, "decommissioning_plan", "plan.pdf", b"%PDF plan".to_vec()).await;
    offered.expect(201);
    // Someone else changed the case since this version was read: 409, nothing moves.
    let stale = server
        .post(
            alice,
            &format!("{case}/transitions"),
            json!({"transition": "serve_notice", "expected_version": later.json["version"]}),
        )
        .await;
    stale.problem(409, "stale-version");
    assert_eq!(stale.json["actual_version"], offered.json["version"]);
    let served = server
        .post(
            alice,
            &format!("{case}/transitions"),
            json!({"transition": "serve_notice", "expected_version": offered.json["version"]}),
        )
        .await;
    served.expect(200);
    assert_eq!(served.json["state"], "notice");
    assert_eq!(served.blocked_by("complete_decommissioning").unwrap(), ["notice_acknowledged", "contract_ended"]);

    // The provider acknowledges notice from the link in the email they were sent.
    let notice = smtp.wait_for("director@kirkstall.example.org", "notice").await;
    let token = notice.link_token().expect("the notice carries a link");
    let link = server.get(Some(&token), "/api/link").await;
    link.expect(200);
    assert_eq!(link.json["case_id"], id);
    assert_eq!(link.json["asked"][0]["type"], "notice_acknowledged");
    assert!(link.json["asked"][0]["provided_at"].is_null());
    server.get(Some(&token), &case).await.problem(403, "forbidden");
    let acked = server
        .post(
            Some(&token),
            &format!("{case}/evidence"),
            json!({"type": "notice_acknowledged", "note": "Received, thank you"}),
        )
        .await;
    acked.expect(201);
    assert!(server.get(Some(&token), "/api/link").await.json["asked"][0]["provided_at"].is_string());
    let now = server.get(alice, &case).await;
    assert_eq!(now.blocked_by("complete_decommissioning").unwrap(), ["contract_ended"]);

    // Every step is in the audit trail, and its chain holds.
    let trail = server.get(alice, &format!("{case}/events")).await;
    trail.expect(200);
    assert_eq!(trail.json["chain_intact"], true);
    let events = trail.json["events"].as_array().unwrap();
    assert_eq!(events[0]["seq"], 1);
    assert!(events.iter().any(|e| e["actor"] == "link:provider"));
    assert!(events.windows(2).all(|w| w[1]["seq"].as_i64() == w[0]["seq"].as_i64().map(|s| s + 1)));
}
on_both!(walk_a_leeds_decommissioning_case, walk_a_leeds_decommissioning_case);

// ---------------------------------------------------------------------------------------
// Who may do what

const CALLERS: [&str; 11] = [
    "no token",
    "bad token",
    "revoked",
    "commissioner",
    "exec_board",
    "director",
    "link",
    "other link",
    "no role",
    "another workflow's role",
    "oversight",
];

/// Fields of a Leeds case whose contract ends in nine months.
fn lcc_case() -> serde_json::Value {
    json!({"workflow": "lcc-decommissioning", "fields": {
        "service_name": "Meals at home", "provider_name": "Hot Dinners CIC",
        "provider_email": "office@hotdinners.example.org", "directorate": "Adults and Health",
        "annual_value": 650000, "contract_end": months_from_today(9)}})
}

fn link(case: i64, evidence: &[&str]) -> String {
    let signer = gatehouse_adapters::links::LinkSigner::new(support::server::SECRET.as_bytes()).unwrap();
    signer.sign(&gatehouse_adapters::links::LinkClaims {
        case_id: case,
        role: "provider".into(),
        evidence: evidence.iter().map(|e| e.to_string()).collect(),
        expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24),
    })
}

/// Every route against every kind of caller: no token, a made-up token, a revoked
/// user's token, members of three roles, a provider link to the case, a provider link
/// to another case, a person holding no role, one holding only another workflow's role
/// and one holding the installation's oversight role. Each route that changes a case
/// gets a fresh case per caller, so one caller's success cannot change what the next
/// is told. A case a person may not read is "not found" to them, whatever they ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_each_caller_as_the_workflow_allows() {
    let options = support::server::Options {
        env: vec![("GATEHOUSE_OVERSIGHT_ROLES".into(), "audit".into())],
        ..Default::default()
    };
    let server = Server::start_with(Backend::Sqlite, options).await;
    let nobody = server.user("nobody@leeds.example", &[]);
    let pig = server.user("pig@leeds.example", &["pig"]);
    let auditor = server.user("auditor@leeds.example", &["audit"]);
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let eb = server.user("eb@leeds.example", &["exec_board"]);
    let dan = server.user("dan@leeds.example", &["director"]);
    server.user("gone@leeds.example", &["commissioner"]);
    let revoked = {
        let t = server.user("revoked@leeds.example", &["commissioner"]);
        server.revoke("revoked@leeds.example");
        t
    };
    // A case with a needs assessment, so `start_engagement` is allowed; a second case
    // for the other link.
    let fresh = || async {
        let c = server.post(Some(&alice), "/api/cases", lcc_case()).await;
        c.expect(201);
        let id = c.json["id"].as_i64().unwrap();
        server.upload(Some(&alice), id, "needs_assessment", "needs.pdf", b"%PDF".to_vec()).await.expect(201);
        id
    };
    let other = fresh().await;
    let tokens = |case: i64| -> Vec<Option<String>> {
        vec![
            None,
            Some("not-a-real-token".into()),
            Some(revoked.clone()),
            Some(alice.clone()),
            Some(eb.clone()),
            Some(dan.clone()),
            Some(link(case, &["notice_acknowledged"])),
            Some(link(other, &["notice_acknowledged"])),
            Some(nobody.clone()),
            Some(pig.clone()),
            Some(auditor.clone()),
        ]
    };

    // (what, method, path with {id}, body, mutates, expected status per caller)
    type Row = (&'static str, &'static str, &'static str, serde_json::Value, bool, [u16; 11]);
    let rows: Vec<Row> = vec![
        ("health", "GET", "/health", json!(null), false, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
        (
            "openapi",
            "GET",
            "/api/openapi.json",
            json!(null),
            false,
            [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
        ),
        ("me", "GET", "/api/me", json!(null), false, [401, 401, 401, 200, 200, 200, 200, 200, 200, 200, 200]),
        (
            "catalogue",
            "GET",
            "/api/workflows",
            json!(null),
            false,
            [401, 401, 401, 200, 200, 200, 403, 403, 200, 200, 200],
        ),
        (
            "workflow",
            "GET",
            "/api/workflows/lcc-decommissioning",
            json!(null),
            false,
            [401, 401, 401, 200, 200, 200, 403, 403, 200, 200, 200],
        ),
        (
            "diagram",
            "GET",
            "/api/workflows/lcc-decommissioning/diagram",
            json!(null),
            false,
            [401, 401, 401, 200, 200, 200, 403, 403, 200, 200, 200],
        ),
        (
            "changes",
            "GET",
            "/api/workflows/lcc-decommissioning/changes",
            json!(null),
            false,
            [401, 401, 401, 404, 404, 404, 403, 403, 404, 404, 404],
        ),
        // Only an internal role of the workflow opens a case.
        ("open", "POST", "/api/cases", lcc_case(), false, [401, 401, 401, 201, 201, 201, 403, 403, 403, 403, 403]),
        ("list", "GET", "/api/cases", json!(null), false, [401, 401, 401, 200, 200, 200, 403, 403, 200, 200, 200]),
        ("read", "GET", "/api/cases/{id}", json!(null), false, [401, 401, 401, 200, 200, 200, 403, 403, 404, 404, 200]),
        (
            "events",
            "GET",
            "/api/cases/{id}/events",
            json!(null),
            false,
            [401, 401, 401, 200, 200, 200, 403, 403, 404, 404, 200],
        ),
        (
            "download",
            "GET",
            "/api/cases/{id}/evidence/needs_assessment/file",
            json!(null),
            false,
            [401, 401, 401, 200, 200, 200, 403, 403, 404, 404, 200],
        ),
        ("link", "GET", "/api/link", json!(null), false, [401, 401, 401, 403, 403, 403, 200, 200, 403, 403, 403]),
        (
            "fields",
            "PATCH",
            "/api/cases/{id}/fields",
            json!({"fields": {"contract_reference": "X-1"}}),
            true,
            [401, 401, 401, 200, 200, 200, 403, 403, 404, 404, 403],
        ),
        // Evidence without `from` comes from any internal role; a link provides only what it asks for.
        (
            "checklist",
            "POST",
            "/api/cases/{id}/evidence",
            json!({"type": "decommissioning_checklist", "answers": {"financial_requirements": "yes"}}),
            true,
            [401, 401, 401, 201, 201, 201, 403, 404, 404, 404, 403],
        ),
        // Only the provider acknowledges notice, and only on its own case.
        (
            "acknowledge",
            "POST",
            "/api/cases/{id}/evidence",
            json!({"type": "notice_acknowledged"}),
            true,
            [401, 401, 401, 403, 403, 403, 201, 404, 404, 404, 403],
        ),
        // Only the commissioner moves the case out of `proposal`.
        (
            "transition",
            "POST",
            "/api/cases/{id}/transitions",
            json!({"transition": "start_engagement"}),
            true,
            [401, 401, 401, 200, 403, 403, 403, 403, 404, 404, 403],
        ),
        // Only Executive Board members approve for it, and only when a gate asks for it.
        (
            "approve",
            "POST",
            "/api/cases/{id}/approvals",
            json!({"role": "exec_board", "decision": "approve"}),
            true,
            [401, 401, 401, 403, 409, 403, 403, 403, 404, 404, 403],
        ),
        (
            "conflict",
            "POST",
            "/api/cases/{id}/conflicts",
            json!({"role": "director", "reason": "My sister runs the provider"}),
            true,
            [401, 401, 401, 403, 403, 201, 403, 403, 404, 404, 403],
        ),
        // A link holder is refused before its body is read: it learns that it may not,
        // not what is wrong with a body it may not send.
        (
            "transition with a bad body",
            "POST",
            "/api/cases/{id}/transitions",
            json!({"transition": 5}),
            true,
            [401, 401, 401, 422, 422, 422, 403, 403, 422, 422, 422],
        ),
    ];
    // Every answer a route gives is one its OpenAPI operation documents.
    let doc = server.get(None, "/api/openapi.json").await.json;
    let documents = |method: &str, path: &str, status: u16| -> bool {
        let template = path.replace("lcc-decommissioning", "{id}").replace("needs_assessment", "{type}");
        let template = if template.starts_with("/api/cases/") {
            let mut parts: Vec<&str> = template.split('/').collect();
            parts[3] = "{id}";
            parts.join("/")
        } else {
            template
        };
        doc["paths"][&template][method.to_lowercase()]["responses"].get(status.to_string()).is_some()
    };
    let shared = fresh().await;
    let mut wrong = Vec::new();
    for (what, method, path, body, mutates, expected) in &rows {
        for (n, caller) in CALLERS.iter().enumerate() {
            let case = if *mutates { fresh().await } else { shared };
            let token = tokens(case)[n].clone();
            let url = server.url(&path.replace("{id}", &case.to_string()));
            let request = match *method {
                "GET" => server.client.get(url),
                "POST" => server.client.post(url).json(body),
                "PATCH" => server.client.patch(url).json(body),
                _ => unreachable!(),
            };
            let reply = server.send(support::server::auth(request, token.as_deref())).await;
            if reply.status != expected[n] {
                wrong
                    .push(format!("{what} as {caller}: expected {}, got {} {}", expected[n], reply.status, reply.text));
            }
            if path.starts_with("/api/") && *path != "/api/openapi.json" && !documents(method, path, reply.status) {
                wrong.push(format!(
                    "{what} as {caller}: {} is not in the OpenAPI document for {method} {path}",
                    reply.status
                ));
            }
            if reply.status >= 400 && path.starts_with("/api") {
                assert_eq!(reply.content_type, "application/problem+json", "{what} as {caller}: {}", reply.text);
            }
            if reply.status == 401 {
                assert_eq!(reply.json["type"], "urn:gatehouse:problem:unauthenticated");
            }
            // A refused change leaves the case as it was.
            if *mutates && reply.status >= 400 {
                let after = server.get(Some(&alice), &format!("/api/cases/{case}/events")).await;
                assert_eq!(
                    after.json["events"].as_array().unwrap().len(),
                    2,
                    "{what} as {caller} was refused but stored"
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{} cell(s) wrong:\n{}", wrong.len(), wrong.join("\n"));
}

/// Lists hold only the cases a person may read: none for a person without a role, those
/// of their workflows for a commissioner, every case for the oversight role. A provider
/// who sends what their link asks for is answered with that request alone: none of the
/// case's fields, approvers, comments or timers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_read_only_their_workflows_cases_and_a_link_only_its_request() {
    let options = support::server::Options {
        env: vec![("GATEHOUSE_OVERSIGHT_ROLES".into(), "audit".into())],
        ..Default::default()
    };
    let server = Server::start_with(Backend::Sqlite, options).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let nobody = server.user("nobody@leeds.example", &[]);
    let pig = server.user("pig@leeds.example", &["pig"]);
    let auditor = server.user("auditor@leeds.example", &["audit"]);
    let opened = server.post(Some(&alice), "/api/cases", lcc_case()).await;
    opened.expect(201);
    let id = opened.json["id"].as_i64().unwrap();

    let listed = |token: String| {
        let server = &server;
        async move {
            let r = server.get(Some(&token), "/api/cases").await;
            r.expect(200);
            r.json["cases"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(alice.clone()).await, [id]);
    assert_eq!(listed(auditor.clone()).await, [id]);
    assert!(listed(nobody.clone()).await.is_empty(), "a person without a role lists nothing");
    assert!(listed(pig.clone()).await.is_empty(), "another workflow's role lists nothing of this one");
    let hidden = server.get(Some(&nobody), &format!("/api/cases/{id}")).await;
    hidden.expect(404);
    let missing = server.get(Some(&nobody), "/api/cases/999999").await;
    assert_eq!(hidden.json["detail"], missing.json["detail"].as_str().unwrap().replace("999999", &id.to_string()));

    // The provider acknowledges through their link; the answer is their request alone.
    let token = link(id, &["notice_acknowledged"]);
    let sent =
        server.post(Some(&token), &format!("/api/cases/{id}/evidence"), json!({"type": "notice_acknowledged"})).await;
    sent.expect(201);
    let text = sent.text.to_lowercase();
    for secret in ["annual_value", "650000", "fields", "approvals", "timers", "alice@leeds.example", "directorate"] {
        assert!(!text.contains(secret), "a provider's answer shows `{secret}`: {}", sent.text);
    }
    assert_eq!(sent.json["case_id"], id);
    assert_eq!(sent.json["asked"][0]["type"], "notice_acknowledged");
    assert!(sent.json["asked"][0]["provided_at"].is_string(), "it says what they sent is in: {}", sent.text);
}

// ---------------------------------------------------------------------------------------
// Bad input

/// Each kind of bad request is a 4xx problem+json that says what is wrong, carries the
/// request id, and leaves nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_a_problem_that_says_why_and_stores_nothing() {
    let server = Server::start_with(
        Backend::Sqlite,
        support::server::Options { max_upload_bytes: Some(4096), ..Default::default() },
    )
    .await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let t = Some(alice.as_str());
    let c = server.post(t, "/api/cases", lcc_case()).await;
    c.expect(201);
    let id = c.json["id"].as_i64().unwrap();
    let case = format!("/api/cases/{id}");
    let events = || async { server.get(t, &format!("{case}/events")).await.json["events"].as_array().unwrap().len() };
    let cases = || async { server.get(t, "/api/cases").await.json["cases"].as_array().unwrap().len() };
    let files = || async { support::documents_in(&server.db.url).await.0 };
    assert_eq!((events().await, cases().await, files().await), (1, 1, 0));

    let raw = |path: &str, body: &'static str| {
        server.client.post(server.url(path)).bearer_auth(&alice).header("content-type", "application/json").body(body)
    };
    // (what, request, status, type slug, a field named in `errors`, words in `detail`)
    type Case = (&'static str, reqwest::RequestBuilder, u16, &'static str, Option<&'static str>, &'static str);
    let cases_: Vec<Case> = vec![
        ("malformed JSON", raw("/api/cases", "{\"workflow\": "), 400, "malformed-request", None, "not valid JSON"),
        (
            "a wrong type",
            raw("/api/cases", "{\"workflow\": 7}"),
            422,
            "invalid-input",
            Some("workflow"),
            "invalid type",
        ),
        (
            "an unknown key",
            raw("/api/cases", "{\"workflow\": \"lcc-decommissioning\", \"feilds\": {}}"),
            422,
            "invalid-input",
            None,
            "unknown field `feilds`",
        ),
        (
            "an unknown workflow",
            raw("/api/cases", "{\"workflow\": \"lcc-decomissioning\", \"fields\": {}}"),
            404,
            "not-found",
            None,
            "lcc-decomissioning",
        ),
        (
            "a field of the wrong type",
            raw(
                "/api/cases",
                r#"{"workflow": "lcc-decommissioning", "fields": {"service_name": "X", "provider_name": "Y", "provider_email": "not an email", "directorate": "Adults and Health", "annual_value": 1, "contract_end": "2027-01-01"}}"#,
            ),
            422,
            "invalid-input",
            Some("provider_email"),
            "provider_email",
        ),
        (
            "a list as a field",
            raw("/api/cases", r#"{"workflow": "lcc-decommissioning", "fields": {"service_name": ["X"]}}"#),
            422,
            "invalid-input",
            Some("fields.service_name"),
            "a list",
        ),
        (
            "a field given twice",
            raw(
                "/api/cases",
                r#"{"workflow": "lcc-decommissioning", "fields": {"service_name": "X", "annual_value": 1, "service_name": "Y"}}"#,
            ),
            422,
            "invalid-input",
            Some("fields.service_name"),
            "service_name",
        ),
        (
            "a field given twice in a change",
            server
                .client
                .patch(server.url(&format!("{case}/fields")))
                .bearer_auth(&alice)
                .header("content-type", "application/json")
                .body(r#"{"fields": {"annual_value": 5, "annual_value": 700000}}"#),
            422,
            "invalid-input",
            Some("fields.annual_value"),
            "annual_value",
        ),
        (
            "money with a comma that is not a thousands separator",
            server
                .client
                .patch(server.url(&format!("{case}/fields")))
                .bearer_auth(&alice)
                .json(&json!({"fields": {"annual_value": "1,2,3"}})),
            422,
            "invalid-input",
            Some("annual_value"),
            "money",
        ),
        (
            "a checklist item answered twice",
            raw(
                &format!("{case}/evidence"),
                r#"{"type": "decommissioning_checklist", "answers": {"financial_requirements": "yes", "financial_requirements": "no"}}"#,
            ),
            422,
            "invalid-input",
            Some("answers.financial_requirements"),
            "financial_requirements",
        ),
        (
            "a missing required field",
            raw("/api/cases", r#"{"workflow": "lcc-decommissioning", "fields": {}}"#),
            422,
            "invalid-input",
            Some("service_name"),
            "required",
        ),
        (
            "not JSON at all",
            server
                .client
                .post(server.url("/api/cases"))
                .bearer_auth(&alice)
                .header("content-type", "text/plain")
                .body("hello"),
            415,
            "unsupported-media-type",
            None,
            "JSON",
        ),
        (
            "an unknown transition",
            raw(&format!("{case}/transitions"), r#"{"transition": "serve_notis"}"#),
            404,
            "not-found",
            None,
            "serve_notis",
        ),
        (
            "a transition that does not leave this state",
            raw(&format!("{case}/transitions"), r#"{"transition": "serve_notice"}"#),
            409,
            "not-available",
            None,
            "serve_notice",
        ),
        (
            "a negative expected version",
            raw(&format!("{case}/transitions"), r#"{"transition": "start_engagement", "expected_version": -1}"#),
            409,
            "stale-version",
            None,
            "version",
        ),
        (
            "an unknown evidence type",
            raw(&format!("{case}/evidence"), r#"{"type": "eqia", "note": "x"}"#),
            404,
            "not-found",
            None,
            "eqia",
        ),
        (
            "an unknown checklist item",
            raw(
                &format!("{case}/evidence"),
                r#"{"type": "decommissioning_checklist", "answers": {"finances": "yes"}}"#,
            ),
            422,
            "invalid-input",
            Some("finances"),
            "finances",
        ),
        (
            "a bad answer",
            raw(
                &format!("{case}/evidence"),
                r#"{"type": "decommissioning_checklist", "answers": {"financial_requirements": "maybe"}}"#,
            ),
            422,
            "invalid-input",
            Some("answers.financial_requirements"),
            "yes",
        ),
        (
            "n/a for an item the workflow does not allow it on",
            raw(
                &format!("{case}/evidence"),
                r#"{"type": "decommissioning_checklist", "answers": {"financial_requirements": "n/a"}}"#,
            ),
            422,
            "invalid-input",
            Some("financial_requirements"),
            "cannot be answered n/a",
        ),
        (
            "an approval with a bad date",
            raw(
                &format!("{case}/approvals"),
                r#"{"role": "exec_board", "decision": "approve", "meeting": {"name": "EB", "date": "11/02/2026"}}"#,
            ),
            422,
            "invalid-input",
            Some("meeting.date"),
            "not a date",
        ),
        (
            "an unknown decision",
            raw(&format!("{case}/approvals"), r#"{"role": "exec_board", "decision": "maybe"}"#),
            422,
            "invalid-input",
            Some("decision"),
            "unknown variant",
        ),
        (
            "a case that does not exist",
            server.client.get(server.url("/api/cases/999999")).bearer_auth(&alice),
            404,
            "not-found",
            None,
            "999999",
        ),
        (
            "a case id that is not a number",
            server.client.get(server.url("/api/cases/abc")).bearer_auth(&alice),
            404,
            "not-found",
            None,
            "abc",
        ),
        (
            "an unknown route",
            server.client.get(server.url("/api/kases")).bearer_auth(&alice),
            404,
            "not-found",
            None,
            "/api/kases",
        ),
        (
            "a method a route does not take",
            server.client.delete(server.url(&case)).bearer_auth(&alice),
            405,
            "method-not-allowed",
            None,
            "DELETE",
        ),
        (
            "a bad list limit",
            server.client.get(server.url("/api/cases?limit=0")).bearer_auth(&alice),
            422,
            "invalid-input",
            Some("limit"),
            "between",
        ),
        (
            "a bad list parameter",
            server.client.get(server.url("/api/cases?after=soon")).bearer_auth(&alice),
            422,
            "invalid-input",
            None,
            "after",
        ),
        (
            "an unknown diagram format",
            server.client.get(server.url("/api/workflows/lcc-decommissioning/diagram?format=png")).bearer_auth(&alice),
            422,
            "invalid-input",
            Some("format"),
            "png",
        ),
        ("no token", server.client.get(server.url(&case)), 401, "unauthenticated", None, "Bearer"),
        (
            "a malformed Authorization header",
            server.client.get(server.url(&case)).header("authorization", "Basic YWxpY2U6cHc="),
            401,
            "unauthenticated",
            None,
            "Bearer",
        ),
        (
            "an altered link",
            server.client.get(server.url("/api/link")).bearer_auth(format!("{}x", link(id, &["notice_acknowledged"]))),
            401,
            "unauthenticated",
            None,
            "altered",
        ),
        (
            "a link for another case",
            server
                .client
                .post(server.url("/api/cases/424242/evidence"))
                .bearer_auth(link(id, &["notice_acknowledged"]))
                .json(&json!({"type": "notice_acknowledged"})),
            404,
            "not-found",
            None,
            "424242",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, request, status, slug, field, words) in cases_ {
        let r = server.send(request).await;
        let ok = r.status == status
            && r.content_type == "application/problem+json"
            && r.json["type"] == format!("urn:gatehouse:problem:{slug}")
            && r.json["detail"].as_str().is_some_and(|d| d.contains(words))
            && r.json["request_id"].as_str().is_some_and(|id| id == r.request_id && !id.is_empty())
            && field.is_none_or(|f| {
                r.json["errors"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["field"].as_str().is_some_and(|x| x.contains(f))))
            });
        if !ok {
            wrong.push(format!(
                "{what}: expected {status} {slug} naming {field:?} and saying {words:?}; got {} {}",
                r.status, r.text
            ));
        }
        assert!(!r.text.contains("panicked") && !r.text.contains("src/"), "{what} leaks internals: {}", r.text);
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));

    // Uploads: too large (cut off while streaming), empty, missing parts, a path for a
    // name. Only the last one is stored, under a name with no directories in it.
    let big = server.upload(t, id, "needs_assessment", "big.pdf", vec![b'x'; 10_000]).await;
    big.problem(413, "too-large");
    assert_eq!(big.json["errors"][0]["field"], "file");
    server.upload(t, id, "needs_assessment", "empty.pdf", Vec::new()).await.problem(422, "invalid-input");
    server.upload(t, id, "nonsense", "a.pdf", b"%PDF".to_vec()).await.problem(404, "not-found");
    let no_file = reqwest::multipart::Form::new().text("type", "needs_assessment");
    server
        .send(server.client.post(server.url(&format!("{case}/evidence"))).bearer_auth(&alice).multipart(no_file))
        .await
        .problem(422, "invalid-input");
    let two_types = reqwest::multipart::Form::new()
        .text("type", "needs_assessment")
        .text("type", "equality_impact_assessment")
        .part("file", reqwest::multipart::Part::bytes(b"%PDF".to_vec()).file_name("a.pdf"));
    let twice = server
        .send(server.client.post(server.url(&format!("{case}/evidence"))).bearer_auth(&alice).multipart(two_types))
        .await;
    twice.problem(422, "invalid-input");
    assert_eq!(twice.json["errors"][0]["field"], "type", "{}", twice.text);
    assert_eq!((events().await, cases().await, files().await), (1, 1, 0), "a refused request stored something");

    let sneaky = server.upload(t, id, "needs_assessment", "../../etc/passwd", b"%PDF real".to_vec()).await;
    sneaky.expect(201);
    assert_eq!(sneaky.json["evidence"][0]["file"]["name"], "passwd");
    assert_eq!((events().await, files().await), (2, 1));
    let download = server.get(t, &format!("{case}/evidence/needs_assessment/file")).await;
    download.expect(200);
    assert_eq!(download.text, "%PDF real");
}

// ---------------------------------------------------------------------------------------
// The API document, and operations

/// `/api/openapi.json` is OpenAPI 3.1, documents every route of the contract, and every
/// operation it documents exists (none falls through to "no route" or "wrong method").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openapi_document_matches_the_routes() {
    let server = Server::start(Backend::Sqlite).await;
    let doc = server.get(None, "/api/openapi.json").await;
    doc.expect(200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc.json["openapi"]);
    let mut documented = Vec::new();
    for (path, item) in doc.json["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let contract = [
        "GET /health",
        "GET /api/workflows",
        "GET /api/workflows/{id}",
        "GET /api/workflows/{id}/diagram",
        "GET /api/workflows/{id}/changes",
        "POST /api/cases",
        "GET /api/cases",
        "GET /api/cases/{id}",
        "POST /api/cases/{id}/children",
        "PATCH /api/cases/{id}/fields",
        "POST /api/cases/{id}/amendments",
        "POST /api/cases/{id}/evidence",
        "GET /api/cases/{id}/evidence/{type}/file",
        "POST /api/cases/{id}/approvals",
        "POST /api/cases/{id}/conflicts",
        "PUT /api/cases/{id}/owner",
        "POST /api/cases/{id}/transitions",
        "GET /api/cases/{id}/events",
        "GET /api/me",
        "GET /api/link",
        "GET /api/drafts",
        "POST /api/drafts",
        "GET /api/drafts/{id}",
        "PUT /api/drafts/{id}",
        "POST /api/drafts/{id}/{step}",
        "PUT /api/drafts/{id}/templates/{name}",
        "DELETE /api/drafts/{id}/templates/{name}",
        "PUT /api/drafts/{id}/calendars/{name}",
        "DELETE /api/drafts/{id}/calendars/{name}",
    ];
    let mut expected: Vec<String> = contract.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(documented, expected);
    for op in &documented {
        let (method, path) = op.split_once(' ').unwrap();
        let path = path.replace("{id}", "1").replace("{type}", "needs_assessment");
        let request = server.client.request(method.parse().unwrap(), server.url(&path));
        let r = server.send(request).await;
        assert!(
            r.status != 405 && !r.text.contains("there is no route"),
            "{op} is documented but not routed: {}",
            r.text
        );
        // Every documented operation but the health check needs a token.
        if path != "/health" {
            r.problem(401, "unauthenticated");
        }
    }
    // Every operation documents its problem answers as problem+json.
    let schemas = doc.json["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("Problem") && schemas.contains_key("CaseDto"), "{:?}", schemas.keys());
}

/// A workflow's state diagram in each format; the SVG is the one the pages draw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diagram_comes_as_mermaid_dot_or_svg() {
    let server = Server::start(Backend::Sqlite).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let at = |f: &str| format!("/api/workflows/lcc-decommissioning/diagram?format={f}");
    let mermaid = server.get(Some(&alice), &at("mermaid")).await;
    assert!(mermaid.text.starts_with("stateDiagram-v2") && mermaid.content_type.starts_with("text/plain"));
    let svg = server.get(Some(&alice), &at("svg")).await;
    svg.expect(200);
    assert_eq!(svg.content_type, "image/svg+xml");
    assert!(
        svg.text.starts_with("<svg ") && svg.text.contains("Leeds City Council decommissioning toolkit"),
        "{}",
        svg.text
    );
}

/// SIGTERM while an upload is still arriving: the upload finishes and is answered, then
/// the server exits cleanly; JSON logs carry a request id on every request's span.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_the_request_in_flight() {
    let mut server = Server::start(Backend::Sqlite).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let c = server.post(Some(&alice), "/api/cases", lcc_case()).await;
    let id = c.json["id"].as_i64().unwrap();

    // 40 chunks of 16 KiB, one every 50 ms: about two seconds on the wire.
    let chunks = futures::stream::unfold(0u32, |n| async move {
        if n == 40 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Some((Ok::<_, std::io::Error>(vec![b'%'; 16 * 1024]), n + 1))
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks)).file_name("slow.pdf");
    let form = reqwest::multipart::Form::new().text("type", "needs_assessment").part("file", part);
    let upload =
        server.client.post(server.url(&format!("/api/cases/{id}/evidence"))).bearer_auth(&alice).multipart(form);
    let in_flight = tokio::spawn(async move { upload.send().await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let exit = tokio::task::block_in_place(|| server.terminate());
    assert_eq!(in_flight.await.unwrap().expect("the upload is answered"), 201);
    assert!(exit.success(), "gatehouse serve exited with {exit}");
    let log = server.log();
    assert!(log.iter().any(|l| l.contains("shutting down")), "{log:?}");
    let spans: Vec<&String> = log.iter().filter(|l| l.contains("\"request_id\"")).collect();
    assert!(!spans.is_empty(), "no request ids in the log: {log:?}");
}
