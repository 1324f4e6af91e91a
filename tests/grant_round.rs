//! Many applicants, end to end against the real `gatehouse serve` and a real SMTP
//! server: a Gloucestershire grant round (`glos-grant-round`) opens one child case per
//! application (`glos-grant-application`); each applicant is acknowledged by email; one
//! application is funded and two are declined with reasons, each applicant told by
//! email; the round closes only once every application has its decision. The README's
//! walkthrough tells this story.

mod support;

use serde_json::json;
use support::server::{Options, Server};
use support::smtp::{SmtpOptions, SmtpServer};

/// A date `days` from today, as the API takes it.
fn day(days: i64) -> String {
    jiff::Zoned::now().date().checked_add(jiff::Span::new().days(days)).unwrap().to_string()
}

fn application(organisation: &str, email: &str, project: &str) -> serde_json::Value {
    json!({"group": "applications", "fields": {
        "organisation_name": organisation, "applicant_email": email, "project": project,
        "received_on": day(0), "application_officer": "Sam Patel", "decision_due_on": day(30)}})
}

async fn grant_round(backend: support::Backend) {
    let smtp = SmtpServer::start(SmtpOptions::default());
    let server = Server::start_with(backend, Options { smtp_url: Some(smtp.url()), ..Options::default() }).await;
    let alice = server.user("alice@glos.example", &["commissioner"]);
    let (pam, pat) =
        (server.user("pam@glos.example", &["funding_panel"]), server.user("pat@glos.example", &["funding_panel"]));
    let bob = server.user("bob@glos.example", &["funding_panel"]);

    // The round: announced with its prospectus and three months to apply; the deadline
    // has passed by the time it is assessed.
    let id = server.grant_round(&alice, &day(-120), &day(-1)).await;
    let at = |path: &str| format!("/api/cases/{id}{path}");

    // No application before the round is announced.
    let early = server.post(Some(&alice), &at("/children"), application("A", "a@example.org", "A")).await;
    assert_eq!(early.status, 409, "{}", early.text);
    server.post(Some(&alice), &at("/transitions"), json!({"transition": "announce"})).await.expect(200);

    // Three applications, each a case of its own, numbered within the round. Only a
    // commissioner records one: a panel member holds no role in the round, which is
    // answered as if it did not exist.
    let refused = server.post(Some(&bob), &at("/children"), application("B", "b@example.org", "B")).await;
    assert_eq!(refused.status, 404, "{}", refused.text);
    let mut children = Vec::new();
    for (organisation, email, project) in [
        ("Forest Friends CIO", "grants@forestfriends.example.org", "Befriending in the Forest of Dean"),
        ("Stroud Valley Youth Trust", "office@svyt.example.org", "Holiday activities"),
        ("Cotswold Carers", "hello@cotswoldcarers.example.org", "Carers' respite"),
    ] {
        let child = server.post(Some(&alice), &at("/children"), application(organisation, email, project)).await;
        child.expect(201);
        assert_eq!(child.json["workflow"], "glos-grant-application");
        assert_eq!(child.json["parent"]["id"], id, "a child names its round: {}", child.text);
        children.push((child.json["id"].as_i64().unwrap(), email));
        // Each applicant is told who deals with it and when decisions will be made.
        let ack = smtp.wait_for(email, "we have received your application").await;
        assert!(ack.body.contains("Sam Patel"), "{}", ack.body);
        // The letter reads the round's own fields (`parent.fields`), as the round has them.
        assert!(ack.body.contains("Rural isolation fund"), "{}", ack.body);
    }
    // An application is opened from its round, never on its own.
    let alone = json!({"workflow": "glos-grant-application", "fields": {"organisation_name": "E"}});
    let alone = server.post(Some(&alice), "/api/cases", alone).await;
    assert_eq!(alone.status, 422, "{}", alone.text);
    assert!(alone.text.contains("glos-grant-round"), "{}", alone.text);

    let parent = server.get(Some(&alice), &at("")).await;
    let listed: Vec<(i64, u64, &str)> = parent.json["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["number"].as_u64().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    let expected: Vec<(i64, u64, &str)> =
        children.iter().enumerate().map(|(i, (cid, _))| (*cid, i as u64 + 1, "received")).collect();
    assert_eq!(listed, expected);

    server.post(Some(&alice), &at("/transitions"), json!({"transition": "close_applications"})).await.expect(200);
    // Closed to applications: none can be added.
    let late = server.post(Some(&alice), &at("/children"), application("D", "d@example.org", "D")).await;
    assert_eq!(late.status, 409, "{}", late.text);

    // Decide each application: the first funded, the other two declined with reasons.
    let decide = |cid: i64, fields: serde_json::Value, transition: &'static str| {
        let (server, alice, pam, pat) = (&server, &alice, &pam, &pat);
        async move {
            let case = format!("/api/cases/{cid}");
            server
                .post(Some(alice), &format!("{case}/transitions"), json!({"transition": "start_assessment"}))
                .await
                .expect(200);
            server.patch(Some(alice), &format!("{case}/fields"), json!({ "fields": fields })).await.expect(200);
            for member in [pam, pat] {
                let vote = json!({"role": "funding_panel", "decision": "approve"});
                server.post(Some(member), &format!("{case}/approvals"), vote).await.expect(201);
            }
            server
                .post(Some(alice), &format!("{case}/transitions"), json!({ "transition": transition }))
                .await
                .expect(200);
        }
    };
    let close = json!({"transition": "close_round"});
    decide(children[0].0, json!({"decision_reasons": "Meets the criteria for rural isolation", "amount_awarded": 10000,
        "payment_schedule": "£5,000 on signing and £5,000 in October", "funding_conditions": "Quarterly monitoring returns"}), "fund").await;
    decide(
        children[1].0,
        json!({"decision_reasons": "The round funds work with adults; the project is for young people"}),
        "decline",
    )
    .await;

    // One application still undecided: the round cannot close, and says which.
    let blocked = server.post(Some(&alice), &at("/transitions"), close.clone()).await;
    assert_eq!(blocked.status, 422, "{}", blocked.text);
    assert!(blocked.text.contains("application 3 is in `received`"), "{}", blocked.text);

    decide(children[2].0, json!({"decision_reasons": "Respite is funded by the county's carers' service"}), "decline")
        .await;
    let closed = server.post(Some(&alice), &at("/transitions"), close).await;
    closed.expect(200);
    assert_eq!(closed.json["state"], "closed");

    // Every applicant has their decision and its reasons by email.
    let funded = smtp.wait_for(children[0].1, "your application has been successful").await;
    assert!(funded.body.contains("Quarterly monitoring returns"), "{}", funded.body);
    for (i, reasons) in [(1, "funds work with adults"), (2, "carers' service")] {
        let declined = smtp.wait_for(children[i].1, "decision on your application").await;
        assert!(declined.body.contains(reasons), "{}", declined.body);
        assert!(declined.body.contains("feedback"), "{}", declined.body);
        assert!(declined.body.contains("Rural isolation fund"), "{}", declined.body);
    }

    // The round's audit trail records each application opened.
    let events = server.get(Some(&alice), &at("/events")).await;
    let opened =
        events.json["events"].as_array().map_or(0, |e| e.iter().filter(|e| e["kind"] == "child_opened").count());
    assert_eq!(opened, 3, "{}", events.text);
}
on_both!(a_grant_round_with_three_applicants_closes_once_each_is_decided_and_told, grant_round);
