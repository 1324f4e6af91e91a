//! The web pages in a real headless Chromium (Debian's, driven through ChromeDriver),
//! against the real `gatehouse serve`: a commissioner opens a case, is blocked, uploads
//! evidence and moves it; an approver approves; the provider follows the link in the
//! email in the outbox and acknowledges notice. Every main page is checked with axe-core
//! for serious accessibility violations and saved as a screenshot in
//! `target/screenshots/`. `cargo xtask test` installs Chromium, ChromeDriver and axe-core.

mod support;

use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;
use support::Backend;
use support::browser::{Driver, check_page, screenshots};
use support::server::{Options, Server};

/// The text of the page's state diagram (SVG), its lines joined by spaces.
async fn diagram_text(c: &Client) -> String {
    let js = "return Array.from(document.querySelectorAll('.gh-diagram text'))
        .map(t => Array.from(t.querySelectorAll('tspan')).map(s => s.textContent.trim()).join(' ')).join(' | ');";
    c.execute(js, vec![]).await.unwrap().as_str().unwrap_or_default().to_string()
}

/// A screenshot of the state diagram alone, whole: the page shows it at its own size in
/// a region that scrolls, so for the picture the region is let out and the window made
/// wide and tall enough to hold it.
async fn diagram_screenshot(c: &Client, name: &str) {
    let size = c
        .execute(
            "document.querySelector('.gh-diagram-wrap').style.overflow = 'visible';
             const r = document.querySelector('.gh-diagram').getBoundingClientRect();
             return [Math.ceil(r.right + 40), Math.ceil(r.height + 200)];",
            vec![],
        )
        .await
        .unwrap();
    let (w, h) = (size[0].as_u64().unwrap() as u32, size[1].as_u64().unwrap() as u32);
    c.set_window_size(w.max(1280), h.max(1400)).await.unwrap();
    let svg = c.find(Locator::Css(".gh-diagram")).await.unwrap();
    c.execute("arguments[0].scrollIntoView()", vec![serde_json::to_value(&svg).unwrap()]).await.unwrap();
    let png = svg.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
    c.set_window_size(1280, 1400).await.unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).text().await.unwrap()
}

async fn sign_in(c: &Client, server: &Server, token: &str, check: bool) {
    c.goto(&server.url("/cases")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/sign-in"), "signed out: sent to sign in");
    if check {
        check_page(c, "sign-in").await;
    }
    c.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
    click_through(c, "form button[type=submit]").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/cases");
}

async fn sign_out(c: &Client) {
    click_through(c, "form.gh-sign-out button").await;
}

async fn submit(c: &Client, form_action_suffix: &str) {
    click_through(c, &format!("form[action$='{form_action_suffix}'] button[type=submit]")).await;
}

/// Click a button that submits a form, and wait until the page it leads to has loaded:
/// ChromeDriver's click returns before the navigation it starts has finished.
async fn click_through(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).click().await.unwrap();
    for _ in 0..400 {
        // The old document's element goes stale once the new document replaces it.
        if old.tag_name().await.is_err() {
            let ready = c.execute("return document.readyState", vec![]).await.ok();
            if ready.as_ref().and_then(|v| v.as_str()) == Some("complete") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("clicking {css} did not lead to a new page");
}

/// The provider link in the newest message in the outbox whose text mentions `subject`.
async fn link_from_outbox(outbox: &std::path::Path, subject: &str) -> String {
    for _ in 0..200 {
        for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
            let raw = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // Undo quoted-printable soft line breaks and `=3D`.
            let text = raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
            if text.contains(subject)
                && let Some(at) = text.find("/p/")
            {
                return text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "/-_.".contains(*c))
                    .collect::<String>()
                    .trim_end_matches('.')
                    .to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message about {subject:?} in {}", outbox.display());
}

fn months_from_today(months: i64) -> jiff::civil::Date {
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/London").unwrap()).date();
    today.checked_add(jiff::Span::new().months(months)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_from_opening_to_notice_acknowledged_in_a_browser() {
    let server = Server::start(Backend::Sqlite).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let chair = server.user("chair@leeds.example", &["commissioner"]);
    let eb = server.user("eb@leeds.example", &["exec_board"]);
    let driver = Driver::start();
    let c = driver.client().await;

    // The commissioner opens a case; a wrong form comes back with an error summary, and
    // markup in a field is shown as text.
    sign_in(&c, &server, &alice, true).await;
    check_page(&c, "cases-empty").await;
    c.goto(&server.url("/cases/new")).await.unwrap();
    c.find(Locator::Css("input[value='lcc-decommissioning']")).await.unwrap().click().await.unwrap();
    submit(&c, "/cases/new").await;
    c.find(Locator::Id("f-service_name")).await.unwrap().send_keys("<b>Day</b> opportunities").await.unwrap();
    c.find(Locator::Id("f-annual_value")).await.unwrap().send_keys("650000").await.unwrap();
    submit(&c, "/cases/new").await;
    assert!(text(&c, ".govuk-error-summary").await.contains("Provider is required"));
    check_page(&c, "new-case-errors").await;
    assert_eq!(
        c.find(Locator::Id("f-service_name")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("<b>Day</b> opportunities"),
        "what was typed is kept"
    );
    c.find(Locator::Id("f-provider_name")).await.unwrap().send_keys("Kirkstall Day Centre Trust").await.unwrap();
    c.find(Locator::Id("f-provider_email")).await.unwrap().send_keys("director@kirkstall.example.org").await.unwrap();
    c.find(Locator::Css("#f-directorate option[value='Adults and Health']")).await.unwrap().click().await.unwrap();
    let end = months_from_today(9);
    c.find(Locator::Id("f-contract_end")).await.unwrap().send_keys(&end.day().to_string()).await.unwrap();
    c.find(Locator::Id("f-contract_end-month")).await.unwrap().send_keys(&end.month().to_string()).await.unwrap();
    c.find(Locator::Id("f-contract_end-year")).await.unwrap().send_keys(&end.year().to_string()).await.unwrap();
    submit(&c, "/cases/new").await;
    let case_path = c.current_url().await.unwrap().path().to_string();
    let id: i64 = case_path.trim_start_matches("/cases/").parse().unwrap();
    assert_eq!(text(&c, "h1").await, "<b>Day</b> opportunities", "markup is escaped");
    assert!(c.find_all(Locator::Css("h1 b")).await.unwrap().is_empty());
    // A key decision: in the forward plan long enough, its decision notice published and past
    // its call-in period by the time it is acted on (recorded over the API).
    let dates = json!({"fields": {"forward_plan_published_on": support::days_ago(40),
        "decision_meeting_on": months_from_today(2).to_string(),
        "decision_reference": "D-2026-0211-07", "decision_published_on": support::days_ago(10)}});
    server.patch(Some(&alice), &format!("/api/cases/{id}/fields"), dates).await.expect(200);

    // Blocked: the next step says what is missing, with its source, and offers no button.
    let step = text(&c, "#step-start_engagement").await;
    assert!(step.contains("Blocked") && step.contains("Missing"), "{step}");
    assert!(
        c.find_all(Locator::Css("#step-start_engagement form")).await.unwrap().is_empty(),
        "no button for a blocked step"
    );
    check_page(&c, "case-blocked").await;

    // Upload the needs assessment; the step is ready; move the case.
    let file = server.db.dir.path().join("needs-assessment.pdf");
    std::fs::write(&file, b"%PDF-1.7 needs assessment").unwrap();
    c.find(Locator::Css("#upload-type option[value='needs_assessment']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("upload-file")).await.unwrap().send_keys(&file.display().to_string()).await.unwrap();
    submit(&c, "/evidence").await;
    assert!(text(&c, ".govuk-notification-banner").await.contains("attached"));
    assert!(text(&c, "#step-start_engagement").await.contains("Ready"));
    click_through(&c, "#step-start_engagement form button").await;
    assert!(text(&c, ".govuk-notification-banner").await.contains("moved on"));
    assert!(text(&c, "p.govuk-body strong.govuk-tag").await.contains("Engaging"));

    // The rest of the evidence over the API; the chair submits it for a key decision.
    let api = |t: &str| Some(t.to_string());
    server
        .post(api(&alice).as_deref(), &format!("/api/cases/{id}/evidence"), json!({"type": "decommissioning_checklist",
            "answers": {"financial_requirements": "yes", "political_perspective": "yes", "service_user_needs": "yes", "parents_and_carers": "n/a"}}))
        .await
        .expect(201);
    for e in [
        "equality_impact_assessment",
        "service_impact_assessment",
        "consultation",
        "provider_engagement",
        "executive_member_briefing",
    ] {
        server.upload(Some(&alice), id, e, &format!("{e}.pdf"), b"%PDF".to_vec()).await.expect(201);
        if e == "provider_engagement" {
            server
                .post(
                    Some(&chair),
                    &format!("/api/cases/{id}/transitions"),
                    json!({"transition": "submit_key_decision"}),
                )
                .await
                .expect(200);
        }
    }
    sign_out(&c).await;

    // The approver approves in the browser and moves the case on.
    sign_in(&c, &server, &eb, false).await;
    c.goto(&server.url("/cases?mine=1")).await.unwrap();
    assert!(text(&c, "table").await.contains(&format!("Case {id}")), "the case waits for the approver");
    check_page(&c, "cases-waiting").await;
    c.goto(&server.url(&case_path)).await.unwrap();
    check_page(&c, "case-decision").await;
    // The state diagram, drawn on the server, says where the case is, where it has been
    // and which next step is blocked, in words as well as colour.
    let diagram = diagram_text(&c).await;
    for mark in ["(current state)", "(passed through)", "(blocked)"] {
        assert!(diagram.contains(mark), "the diagram says {mark}: {diagram}");
    }
    diagram_screenshot(&c, "case-diagram").await;
    c.find(Locator::Id("comment-exec_board")).await.unwrap().send_keys("Resolved to de-commission").await.unwrap();
    submit(&c, "/approvals").await;
    assert!(text(&c, ".govuk-notification-banner").await.contains("decision is recorded"));
    assert!(text(&c, "#step-approve_key_decision").await.contains("Ready"));
    click_through(&c, "#step-approve_key_decision form button").await;
    assert!(text(&c, "p.govuk-body strong.govuk-tag").await.contains("Decision made"), "{}", text(&c, "main").await);
    sign_out(&c).await;

    // Notice is served (over the API); the provider follows the emailed link.
    server.upload(Some(&alice), id, "support_offer", "support.pdf", b"%PDF".to_vec()).await.expect(201);
    server.upload(Some(&alice), id, "decommissioning_plan", "plan.pdf", b"%PDF plan".to_vec()).await.expect(201);
    server
        .post(Some(&alice), &format!("/api/cases/{id}/transitions"), json!({"transition": "serve_notice"}))
        .await
        .expect(200);
    let link = link_from_outbox(&server.db.dir.path().join("outbox"), "Notice of de-commissioning").await;
    c.goto(&server.url(&link)).await.unwrap();
    assert!(text(&c, "main").await.contains("Provider acknowledges notice"));
    check_page(&c, "provider").await;
    c.find(Locator::Css("textarea[name='note']")).await.unwrap().send_keys("Received, thank you").await.unwrap();
    click_through(&c, "main form button[type=submit]").await;
    assert!(text(&c, ".govuk-notification-banner").await.contains("received"));
    let case = server.get(Some(&alice), &format!("/api/cases/{id}")).await;
    assert_eq!(case.blocked_by("complete_decommissioning").unwrap(), ["contract_ended"], "the acknowledgement is in");

    // A changed link is refused with a page that says so.
    c.goto(&server.url(&format!("{link}x"))).await.unwrap();
    assert!(text(&c, "main").await.contains("altered"));

    // The case page as the commissioner sees it at the end, for the README.
    sign_in(&c, &server, &alice, false).await;
    c.goto(&server.url(&case_path)).await.unwrap();
    check_page(&c, "case-notice").await;
    let messages = text(&c, "#messages").await;
    assert!(
        messages.contains("Sent") && messages.contains("Provider"),
        "the notice letter is listed as sent: {messages}"
    );
    c.goto(&server.url("/workflows/lcc-decommissioning")).await.unwrap();
    check_page(&c, "workflow").await;
    // The largest shipped workflow's diagram, which must stay readable.
    c.goto(&server.url("/workflows/gloucestershire-compact")).await.unwrap();
    check_page(&c, "workflow-largest").await;
    let diagram = diagram_text(&c).await;
    assert!(diagram.contains("Needs analysis and consultation") && !diagram.contains("(current state)"), "{diagram}");
    diagram_screenshot(&c, "workflow-diagram").await;
    // The governance dashboard and the contracts register, with this case on them.
    c.goto(&server.url("/governance")).await.unwrap();
    assert!(text(&c, "#compliance + p + table").await.contains("Met"), "{}", text(&c, "main").await);
    check_page(&c, "governance").await;
    c.goto(&server.url("/contracts")).await.unwrap();
    assert!(text(&c, "main table").await.contains("Adults and Health"), "{}", text(&c, "main").await);
    check_page(&c, "contracts").await;
    c.close().await.unwrap();
}

/// A grant round in a browser: the round's page lists its applications, each a case of
/// its own, and records a new one through the application's own form; the application's
/// page names the round it belongs to.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grant_round_records_its_applications_in_a_browser() {
    let server = Server::start(Backend::Sqlite).await;
    let alice = server.user("alice@glos.example", &["commissioner"]);
    let today = months_from_today(0);
    let id = server.grant_round(&alice, &today.to_string(), &months_from_today(3).to_string()).await;
    server
        .post(Some(&alice), &format!("/api/cases/{id}/transitions"), json!({"transition": "announce"}))
        .await
        .expect(200);
    for (organisation, email) in [
        ("Forest Friends CIO", "grants@forestfriends.example.org"),
        ("Stroud Valley Youth Trust", "office@svyt.example.org"),
    ] {
        let application = json!({"group": "applications", "fields": {"organisation_name": organisation, "applicant_email": email,
            "project": "Befriending", "received_on": today.to_string(), "application_officer": "Sam Patel",
            "decision_due_on": months_from_today(4).to_string()}});
        server.post(Some(&alice), &format!("/api/cases/{id}/children"), application).await.expect(201);
    }
    let driver = Driver::start();
    let c = driver.client().await;
    sign_in(&c, &server, &alice, false).await;

    c.goto(&server.url(&format!("/cases/{id}"))).await.unwrap();
    c.find(Locator::LinkText("Record a new application")).await.unwrap().click().await.unwrap();
    for _ in 0..200 {
        if c.current_url().await.unwrap().path() == "/cases/new" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let type_in = |field: String, value: String| {
        let c = c.clone();
        async move { c.find(Locator::Id(&field)).await.unwrap().send_keys(&value).await.unwrap() }
    };
    for (field, value) in [
        ("organisation_name", "Cotswold Carers"),
        ("applicant_email", "hello@cotswoldcarers.example.org"),
        ("project", "Carers' respite"),
        ("application_officer", "Sam Patel"),
    ] {
        type_in(format!("f-{field}"), value.to_string()).await;
    }
    for (field, date) in [("received_on", today), ("decision_due_on", months_from_today(4))] {
        type_in(format!("f-{field}"), date.day().to_string()).await;
        type_in(format!("f-{field}-month"), date.month().to_string()).await;
        type_in(format!("f-{field}-year"), date.year().to_string()).await;
    }
    submit(&c, "/cases/new").await;
    assert!(text(&c, "#parent").await.contains(&format!("case {id}")), "the application names its round");
    assert!(text(&c, "#parent").await.contains("number 3"));

    c.goto(&server.url(&format!("/cases/{id}"))).await.unwrap();
    let listed = text(&c, "#children-applications + table").await;
    for n in 1..=3 {
        assert!(listed.contains(&format!("Application {n}")), "{listed}");
    }
    check_page(&c, "grant-round").await;
}

/// A governance member changes a workflow in the browser: a draft started from the
/// published workflow, saved with an error (the error summary links to the line, and
/// the line shows it), then with a state renamed (the preview says what changes in
/// words, draws the diagram, and lists the open case it would affect).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_governance_member_edits_and_previews_a_draft_in_a_browser() {
    let env = vec![
        ("GATEHOUSE_GOVERNANCE_ROLES".into(), "governance".into()),
        ("GATEHOUSE_ADMIN_ROLES".into(), "governance".into()),
    ];
    let options = Options { env, ..Options::default() };
    let server = Server::start_with(Backend::Sqlite, options).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let gina = server.user("gina@leeds.example", &["governance"]);
    let open = json!({"workflow": "lcc-decommissioning", "fields": {"service_name": "Day centre", "provider_name": "Kirkstall Trust",
        "provider_email": "p@provider.example.org", "directorate": "Adults and Health", "annual_value": 80000, "contract_end": "2030-01-31"}});
    server.post(Some(&alice), "/api/cases", open).await.expect(201);
    let driver = Driver::start();
    let c = driver.client().await;
    sign_in(&c, &server, &gina, false).await;

    c.goto(&server.url("/drafts")).await.unwrap();
    check_page(&c, "drafts").await;
    c.execute("document.getElementById('workflow').value = 'lcc-decommissioning'", vec![]).await.unwrap();
    click_through(&c, "form[action='/drafts'] button.govuk-button:not(.govuk-button--secondary)").await;
    let draft = c.current_url().await.unwrap().path().to_string();
    assert!(draft.starts_with("/drafts/"), "{draft}");
    let original = c.execute("return document.getElementById('source').value", vec![]).await.unwrap();
    let original = original.as_str().unwrap().to_string();

    // Saved with a misspelt state: the summary links to the line, which shows the error.
    let set = "document.getElementById('source').value = arguments[0]";
    let broken = original.replacen("to: engagement\n", "to: engagment\n", 1);
    c.execute(set, vec![json!(broken)]).await.unwrap();
    click_through(&c, &format!("form[action='{draft}'] button")).await;
    assert!(text(&c, ".govuk-error-summary").await.contains("unknown state `engagment`"));
    let line = broken.lines().position(|l| l.contains("engagment")).unwrap() + 1;
    let noted = text(&c, &format!("#line-{line}")).await;
    assert!(noted.contains("did you mean `engagement`?"), "{noted}");
    check_page(&c, "draft-errors").await;

    // Saved with the first state renamed: the preview and the case it would affect.
    let renamed = support::lcc_first_state_renamed(&original, support::workflow_version(&original));
    c.execute(set, vec![json!(renamed)]).await.unwrap();
    click_through(&c, &format!("form[action='{draft}'] button")).await;
    assert!(text(&c, "#changes").await.contains("state `proposal` removed"));
    assert!(text(&c, "#impact + p + table").await.contains("is in `proposal`"));
    c.execute("document.getElementById('preview').scrollIntoView()", vec![]).await.unwrap();
    check_page(&c, "draft-preview").await;
    c.execute("document.getElementById('impact').scrollIntoView()", vec![]).await.unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join("draft-impact.png"), png).unwrap();
    // Its letters are edited beside it: the early engagement letter, from the list.
    c.goto(&server.url(&draft)).await.unwrap();
    c.find(Locator::LinkText("lcc-early-engagement")).await.unwrap().click().await.unwrap();
    for _ in 0..200 {
        if c.current_url().await.unwrap().path().ends_with("/templates/lcc-early-engagement") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(text(&c, "h1").await.contains("lcc-early-engagement"));
    let letter = c.execute("return document.getElementById('text').value", vec![]).await.unwrap();
    assert!(letter.as_str().unwrap().starts_with("Subject: Early conversation"), "{letter}");
    check_page(&c, "draft-letter").await;
    // The workflow page offers a governance member the move of open cases.
    c.goto(&server.url("/workflows/lcc-decommissioning")).await.unwrap();
    assert!(text(&c, "#migrate").await.contains("Move open cases"));
    check_page(&c, "workflow-migrate").await;
    // An API token for a script, shown once.
    c.goto(&server.url("/tokens")).await.unwrap();
    c.find(Locator::Id("token-name")).await.unwrap().send_keys("nightly export").await.unwrap();
    click_through(&c, "form[action='/tokens'] button").await;
    assert!(text(&c, "#made").await.contains("gh_"));
    check_page(&c, "tokens").await;
    // People and roles, for an administrator.
    c.goto(&server.url("/people")).await.unwrap();
    assert!(text(&c, "#people").await.contains("alice@leeds.example"));
    assert!(text(&c, "#roles").await.contains("Leeds City Council decommissioning toolkit"));
    check_page(&c, "people").await;
    c.close().await.unwrap();
}
