//! Decisions that stay true, against the real server on both databases: a field a taken
//! transition relied on is locked; an amendment needs a role the workflow names and a
//! reason, is kept in the audit trail with the old value, and sends the case back when
//! it breaks a rule the case passed; an approval stops counting when what it approved is
//! replaced, says why, and its approver is emailed to look again.

#[macro_use]
mod support;

use serde_json::json;
use support::Backend;
use support::server::Server;
use support::smtp::{SmtpOptions, SmtpServer};
use support::web::{csrf_of, page, signed_in};

fn months_from_today(months: i64) -> String {
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/London").unwrap()).date();
    today.checked_add(jiff::Span::new().months(months)).unwrap().to_string()
}

async fn locked_facts_and_bound_approvals(backend: Backend) {
    let smtp = SmtpServer::start(SmtpOptions::default());
    let server =
        Server::start_with(backend, support::server::Options { smtp_url: Some(smtp.url()), ..Default::default() })
            .await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let colin = server.user("colin@leeds.example", &["chief_officer"]);
    let dan = server.user("dan@leeds.example", &["director"]);
    let (alice, colin, dan) = (Some(alice.as_str()), Some(colin.as_str()), Some(dan.as_str()));

    // An administrative decision: £45,000, the contract ending in nine months.
    let id = submitted_for_an_administrative_decision(&server, alice.unwrap()).await;
    let case = format!("/api/cases/{id}");
    let step = |t: &str| json!({ "transition": t });

    // The route rested on the value: it is locked, and the case says so.
    let refused = server.patch(alice, &format!("{case}/fields"), json!({"fields": {"annual_value": 650000}})).await;
    refused.problem(409, "not-available");
    let detail = refused.json["detail"].as_str().unwrap();
    assert!(detail.contains("locked") && detail.contains("submit_administrative_decision"), "{detail}");
    let read = server.get(alice, &case).await;
    assert_eq!(read.json["fields"]["annual_value"], 45000);
    let locks = read.json["locks"].as_array().unwrap();
    let value_lock = locks.iter().find(|l| l["field"] == "annual_value").expect("annual_value is locked");
    assert_eq!(value_lock["transition"], "submit_administrative_decision");
    assert_eq!(value_lock["amend_by"], json!(["director"]));

    // The chief officer approves; the approval carries a digest of what it saw.
    server
        .post(colin, &format!("{case}/approvals"), json!({"role": "chief_officer", "decision": "approve"}))
        .await
        .expect(201);
    let approved = server.get(alice, &case).await;
    assert_eq!(approved.blocked_by("approve_administrative_decision"), None);
    let approval = &approved.json["approvals"][0];
    assert_eq!(approval["digest"].as_str().unwrap().len(), 64, "{approval}");
    assert!(approval.get("stale").is_none(), "{approval}");

    // The equality impact assessment is replaced: the approval stops counting, the case
    // says why, and the chief officer is asked to look again.
    server.upload(alice, id, "equality_impact_assessment", "eia-v2.pdf", b"%PDF eia v2".to_vec()).await.expect(201);
    let stale = server.get(alice, &case).await;
    assert_eq!(stale.blocked_by("approve_administrative_decision"), Some(vec!["chief_officer".to_string()]));
    let why = stale.json["approvals"][0]["stale"].as_str().expect("the approval is stale").to_string();
    assert!(why.starts_with("approved on ") && why.contains("Equality impact assessment was replaced on"), "{why}");
    let mail = smtp.wait_for("colin@leeds.example", "please look again").await;
    assert!(mail.subject().contains(&format!("case {id}")), "{}", mail.subject());
    assert!(
        server.post(alice, &format!("{case}/transitions"), step("approve_administrative_decision")).await.status == 422
    );
    // Approved again on what is there now, it counts.
    server
        .post(colin, &format!("{case}/approvals"), json!({"role": "chief_officer", "decision": "approve"}))
        .await
        .expect(201);
    assert_eq!(server.get(alice, &case).await.blocked_by("approve_administrative_decision"), None);

    // An amendment: without a reason, or by a role the workflow does not name, is refused
    // and stores nothing.
    let version = server.get(alice, &case).await.json["version"].clone();
    let amend = format!("{case}/amendments");
    let no_reason = server.post(dan, &amend, json!({"fields": {"annual_value": 650000}})).await;
    no_reason.problem(422, "invalid-input");
    assert_eq!(no_reason.json["errors"][0]["field"], "reason", "{}", no_reason.text);
    let blank = server.post(dan, &amend, json!({"fields": {"annual_value": 650000}, "reason": "  "})).await;
    blank.problem(422, "invalid-input");
    let by_alice =
        server.post(alice, &amend, json!({"fields": {"annual_value": 650000}, "reason": "Revised costing"})).await;
    by_alice.problem(403, "forbidden");
    assert!(by_alice.json["detail"].as_str().unwrap().contains("Director"), "{}", by_alice.text);
    let unknown =
        server.post(dan, &amend, json!({"fields": {"annual_value": 650000}, "reason": "x", "why": "y"})).await;
    unknown.problem(422, "invalid-input");
    assert_eq!(server.get(alice, &case).await.json["version"], version, "a refused amendment stores nothing");

    // By a director, with a reason: over the key decision threshold the case would not
    // have gone for an administrative decision, so it goes back to engagement.
    let amended = server
        .post(
            dan,
            &amend,
            json!({"fields": {"annual_value": 650000}, "reason": "The revised costing includes transport."}),
        )
        .await;
    amended.expect(200);
    assert_eq!(amended.json["state"], "engagement");
    assert_eq!(amended.json["fields"]["annual_value"], 650000);
    assert!(amended.json["locks"].as_array().unwrap().iter().all(|l| l["field"] != "annual_value"));
    let trail = server.get(alice, &format!("{case}/events")).await;
    assert_eq!(trail.json["chain_intact"], true);
    let event =
        trail.json["events"].as_array().unwrap().iter().find(|e| e["kind"] == "amended").expect("amended").clone();
    assert_eq!(event["actor"], "dan@leeds.example");
    assert_eq!(event["payload"]["reason"], "The revised costing includes transport.");
    // The audit trail keeps money in pence, as every event does.
    assert_eq!(event["payload"]["previous"]["annual_value"], 4_500_000);
    assert_eq!(event["payload"]["set"]["annual_value"], 65_000_000);
    assert_eq!(event["payload"]["back_to"], "engagement");
    assert!(event["payload"]["broken"][0].as_str().unwrap().contains("submit_administrative_decision"), "{event}");
    // Back in engagement the value is open again, and the case goes on its proper route.
    server.post(alice, &format!("{case}/transitions"), step("submit_key_decision")).await.expect(200);
}

on_both!(locked_facts_and_bound_approvals, locked_facts_and_bound_approvals);

/// The case page shows what is locked and which decisions no longer count, and offers
/// the amendment form only to whom the workflow lets amend; a refused amendment is the
/// form's error and stores nothing.
async fn the_case_page_shows_locks_and_amends(backend: Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let colin = server.user("colin@leeds.example", &["chief_officer"]);
    let dan = server.user("dan@leeds.example", &["director"]);
    let id = submitted_for_an_administrative_decision(&server, &alice).await;
    let case = format!("/api/cases/{id}");
    server
        .post(Some(&colin), &format!("{case}/approvals"), json!({"role": "chief_officer", "decision": "approve"}))
        .await
        .expect(201);
    server.upload(Some(&alice), id, "equality_impact_assessment", "eia-v2.pdf", b"%PDF v2".to_vec()).await.expect(201);

    let commissioner = signed_in(&server, &alice).await;
    let html = page(&commissioner, &server, &format!("/cases/{id}")).await;
    assert!(html.contains("Locked: “Submit for an administrative decision” relied on it"), "{html}");
    assert!(html.contains("No longer counts"), "{html}");
    assert!(html.contains("Equality impact assessment was replaced on"), "{html}");
    assert!(!html.contains("Amend a locked detail"), "a commissioner may not amend:\n{html}");

    let director = signed_in(&server, &dan).await;
    let html = page(&director, &server, &format!("/cases/{id}")).await;
    assert!(html.contains("Amend a locked detail"), "{html}");
    assert!(html.contains(r#"<option value="annual_value">"#), "{html}");
    let csrf = csrf_of(&html);
    let url = server.url(&format!("/cases/{id}/amendments"));
    let version = server.get(Some(&alice), &case).await.json["version"].clone();
    let form = [("_csrf", csrf.as_str()), ("field", "annual_value"), ("value", "650000"), ("reason", "")];
    let r = director.post(url.clone()).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("reason: is required"));
    assert_eq!(server.get(Some(&alice), &case).await.json["version"], version, "nothing stored");

    let form =
        [("_csrf", csrf.as_str()), ("field", "annual_value"), ("value", "650000"), ("reason", "Revised costing")];
    let r = director.post(url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("The amendment is recorded."));
    let after = server.get(Some(&alice), &case).await;
    assert_eq!(after.json["state"], "engagement");
    assert_eq!(after.json["fields"]["annual_value"], 650000);
}

on_both!(the_case_page_shows_locks_and_amends, the_case_page_shows_locks_and_amends);

/// A Leeds case of £45,000, its contract ending in nine months, submitted for an
/// administrative decision by `alice` (a commissioner's token). Its id.
async fn submitted_for_an_administrative_decision(server: &Server, alice: &str) -> i64 {
    let alice = Some(alice);
    let created = server
        .post(
            alice,
            "/api/cases",
            json!({"workflow": "lcc-decommissioning", "fields": {
                "service_name": "Community lunch club", "provider_name": "Bramley Lunch Club",
                "provider_email": "secretary@bramley.example.org", "directorate": "Communities and Environment",
                "annual_value": 45000, "contract_end": months_from_today(9),
                "decision_meeting_on": months_from_today(3)}}),
        )
        .await;
    created.expect(201);
    let id = created.json["id"].as_i64().unwrap();
    let case = format!("/api/cases/{id}");
    let step = |t: &str| json!({ "transition": t });
    server.upload(alice, id, "needs_assessment", "needs.pdf", b"%PDF needs".to_vec()).await.expect(201);
    server.post(alice, &format!("{case}/transitions"), step("start_engagement")).await.expect(200);
    server
        .post(
            alice,
            &format!("{case}/evidence"),
            json!({"type": "decommissioning_checklist", "answers": {"financial_requirements": "yes",
                "political_perspective": "yes", "service_user_needs": "yes", "parents_and_carers": "yes"}}),
        )
        .await
        .expect(201);
    for evidence in ["equality_impact_assessment", "service_impact_assessment", "consultation", "provider_engagement"] {
        server.upload(alice, id, evidence, "doc.pdf", format!("%PDF {evidence}").into_bytes()).await.expect(201);
    }
    server.post(alice, &format!("{case}/transitions"), step("submit_administrative_decision")).await.expect(200);
    id
}
