//! Governance groups change workflows in the product, end to end over two `gatehouse
//! serve` nodes on one database: a draft started from a published workflow, saved with
//! an error (shown at its line), saved by two members at once (the second is refused,
//! and what they typed is shown again), previewed (what it changes in words, its
//! scenarios, the open cases it would affect), proposed, refused approval by its
//! author, approved by two others, published as the next version (numbered by
//! Gatehouse), and served by the second node without a restart. A change that breaks
//! the workflow's own scenarios cannot be proposed.

mod support;

use serde_json::json;
use support::Backend;
use support::server::{Options, Server};
use support::web::{csrf_of, page, signed_in};

fn options() -> Options {
    Options {
        env: vec![
            ("GATEHOUSE_GOVERNANCE_ROLES".into(), "governance".into()),
            ("GATEHOUSE_DRAFT_QUORUM".into(), "2".into()),
            ("GATEHOUSE_DEFINITIONS_POLL_SECS".into(), "1".into()),
        ],
        ..Options::default()
    }
}

/// Post `form` to `path` (with the page's CSRF token), not following a redirect: the
/// status and where it sends, or the page it answers with.
async fn post(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    csrf: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let mut fields: Vec<(&str, &str)> = vec![("_csrf", csrf)];
    fields.extend_from_slice(form);
    let r = client.post(server.url(path)).form(&fields).send().await.unwrap();
    let status = r.status().as_u16();
    let path = r.url().path().to_string();
    let body = r.text().await.unwrap();
    (status, if status == 200 { format!("{path}\n{body}") } else { body })
}

/// The revision a draft page's forms carry.
fn revision_of(html: &str) -> String {
    html.split(r#"name="revision" value=""#).nth(1).and_then(|r| r.split('"').next()).unwrap().to_string()
}

/// The text in a draft page's editor, as the browser would send it back.
fn editor_text(html: &str) -> String {
    let start = html.find(r#"id="source""#).unwrap();
    let body = &html[start..];
    let text = &body[body.find('>').unwrap() + 1..body.find("</textarea>").unwrap()];
    unescape(text)
}

/// HTML text as a browser reads it: `&#x2f;` and the like, `&lt;`, `&gt;`, `&quot;`,
/// `&amp;` (last).
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("&#x") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        match after.find(';').and_then(|end| u32::from_str_radix(&after[..end], 16).ok().map(|c| (end, c))) {
            Some((end, code)) => {
                out.push(char::from_u32(code).unwrap_or('?'));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("&#x");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

async fn change_a_workflow(backend: Backend) {
    let node_a = Server::start_with(backend, options()).await;
    let second_db = support::TestDb { url: node_a.db.url.clone(), dir: tempfile::tempdir().unwrap(), backend };
    let node_b = Server::start_on(second_db, options()).await;
    let gina = node_a.user("gina@leeds.example", &["governance"]);
    let (gus, gail) =
        (node_a.user("gus@leeds.example", &["governance"]), node_a.user("gail@leeds.example", &["governance"]));
    let alice = node_a.user("alice@leeds.example", &["commissioner"]);
    let open = json!({"workflow": "lcc-decommissioning", "fields": {"service_name": "Day centre", "provider_name": "Kirkstall Trust",
        "provider_email": "p@provider.example.org", "directorate": "Adults and Health", "annual_value": 80000, "contract_end": "2030-01-31"}});
    let case = node_a.post(Some(&alice), "/api/cases", open.clone()).await;
    case.expect(201);
    let case_id = case.json["id"].as_i64().unwrap();
    let shipped = case.json["workflow_version"].as_u64().unwrap();

    // Only the governance role changes workflows.
    let commissioner = signed_in(&node_a, &alice).await;
    let r = commissioner.get(node_a.url("/drafts")).send().await.unwrap();
    assert_eq!(r.status(), 403, "a commissioner does not govern workflows");

    // Gina starts a draft from the published workflow.
    let g = signed_in(&node_a, &gina).await;
    let list = page(&g, &node_a, "/drafts").await;
    let (status, body) = post(&g, &node_a, "/drafts", &csrf_of(&list), &[("workflow", "lcc-decommissioning")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("/drafts/"), "{body}");
    let draft = body.lines().next().unwrap().to_string();
    let html = page(&g, &node_a, &draft).await;
    let original = editor_text(&html);
    assert!(
        original.contains("id: lcc-decommissioning") && html.contains("No errors"),
        "the draft starts as published"
    );

    // A draft with an error is saved, and the error is listed and shown at its line.
    let broken = original.replacen("to: engagement\n", "to: engagment\n", 1);
    let (status, body) =
        post(&g, &node_a, &draft, &csrf_of(&html), &[("source", &broken), ("revision", &revision_of(&html))]).await;
    assert_eq!(status, 200, "{body}");
    let line = broken.lines().position(|l| l.contains("engagment")).unwrap() + 1;
    assert!(body.contains("There is a problem") && body.contains(&format!("href=\"#line-{line}\"")), "{body}");
    let text = unescape(&body);
    assert!(text.contains("unknown state `engagment`") && text.contains("did you mean `engagement`?"), "{body}");
    // It cannot be proposed while it has an error.
    let (status, body) =
        post(&g, &node_a, &format!("{draft}/propose"), &csrf_of(&body), &[("revision", &revision_of(&body))]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("can be saved, but not proposed"), "{body}");

    // Two members save the same revision: the second is refused, and their text is
    // shown again, so nothing they typed is lost.
    let seen_by_gus = {
        let gus_client = signed_in(&node_a, &gus).await;
        let html = page(&gus_client, &node_a, &draft).await;
        (gus_client, html)
    };
    let html = page(&g, &node_a, &draft).await;
    let renamed = support::lcc_first_state_renamed(&original, support::workflow_version(&original));
    let (status, body) =
        post(&g, &node_a, &draft, &csrf_of(&html), &[("source", &renamed), ("revision", &revision_of(&html))]).await;
    assert_eq!(status, 200, "{body}");
    let (gus_client, gus_html) = seen_by_gus;
    let his = format!("{original}\n# Gus's note\n");
    let (status, body) = post(
        &gus_client,
        &node_a,
        &draft,
        &csrf_of(&gus_html),
        &[("source", &his), ("revision", &revision_of(&gus_html))],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("the draft changed since you opened it"), "{body}");
    assert_eq!(editor_text(&body), his, "what Gus typed is in the editor still");

    // The preview: what it changes in words, its scenarios, and the open case it would affect.
    let html = page(&g, &node_a, &draft).await;
    assert!(html.contains("No errors"), "{html}");
    let text = unescape(&html);
    for said in ["state `proposal` removed", "state `preparing` added", "cases start in `preparing`, not `proposal`"] {
        assert!(text.contains(said), "the preview says {said}");
    }
    assert!(html.contains("Pass") && !html.contains("govuk-tag--red\">Fail"), "its scenarios pass");
    assert!(
        html.contains(&format!("href=\"/cases/{case_id}\"")) && html.contains("Cannot be moved as it is"),
        "{html}"
    );
    assert!(html.contains("<svg"), "the draft's diagram");

    // Proposed; its author cannot approve it; two others do; then it is published as
    // the next version, which Gatehouse numbers.
    let (status, body) =
        post(&g, &node_a, &format!("{draft}/propose"), &csrf_of(&html), &[("revision", &revision_of(&html))]).await;
    assert_eq!(status, 200, "{body}");
    let html = page(&g, &node_a, &draft).await;
    assert!(!html.contains("id=\"approve\""), "the author is not offered an approval");
    let (status, body) =
        post(&g, &node_a, &format!("{draft}/approve"), &csrf_of(&html), &[("revision", &revision_of(&html))]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("the author of a draft cannot approve it"), "{body}");
    for member in [&gus, &gail] {
        let client = signed_in(&node_a, member).await;
        let html = page(&client, &node_a, &draft).await;
        assert!(!html.contains("id=\"publish\""), "not publishable before the quorum");
        let (status, body) =
            post(&client, &node_a, &format!("{draft}/approve"), &csrf_of(&html), &[("revision", &revision_of(&html))])
                .await;
        assert_eq!(status, 200, "{body}");
    }
    let next = shipped + 1;
    let html = page(&g, &node_a, &draft).await;
    assert!(html.contains(&format!("Publish as version {next}")), "{html}");
    let (status, body) =
        post(&g, &node_a, &format!("{draft}/publish"), &csrf_of(&html), &[("revision", &revision_of(&html))]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("published as version {next}")), "the history says so");

    // Node A opens new cases on it at once; node B within its poll, without a restart.
    let on_a = node_a.post(Some(&alice), "/api/cases", open.clone()).await;
    on_a.expect(201);
    assert_eq!((on_a.json["workflow_version"].as_u64(), on_a.json["state"].as_str()), (Some(next), Some("preparing")));
    let mut on_b = None;
    for _ in 0..50 {
        let w = node_b.get(Some(&alice), "/api/workflows/lcc-decommissioning").await;
        if w.json["version"].as_u64() == Some(next) {
            on_b = Some(w);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(on_b.is_some(), "node B serves version {next}");
    let changes = node_b.get(Some(&alice), "/api/workflows/lcc-decommissioning/changes").await;
    assert!(changes.text.contains("state `preparing` added"), "{}", changes.text);
    // The case opened before stays on its version until it is moved.
    let before = node_b.get(Some(&alice), &format!("/api/cases/{case_id}")).await;
    assert_eq!(before.json["workflow_version"].as_u64(), Some(shipped));

    // From the workflow page: what would happen, then the move, with the state mapped.
    let wf = "/workflows/lcc-decommissioning";
    let html = page(&g, &node_a, wf).await;
    // Its page keeps the history of the change: who proposed, approved and published it.
    let trail = unescape(&html[html.find("Changes made in the product").expect("the workflow's change history")..]);
    for step in [format!("published as version {next}"), "gail@leeds.example".into(), "gus@leeds.example".into()] {
        assert!(trail.contains(&step), "the history shows {step}");
    }
    let migrate = format!("{wf}/migrate");
    let (status, body) = post(&g, &node_a, &migrate, &csrf_of(&html), &[("map", ""), ("action", "preview")]).await;
    assert_eq!(status, 200, "{body}");
    let text = unescape(&body);
    assert!(text.contains("0 case(s) would move") && text.contains("is in `proposal`, which version"), "{text}");
    let (status, body) =
        post(&g, &node_a, &migrate, &csrf_of(&html), &[("map", "proposal=preparing"), ("action", "preview")]).await;
    assert_eq!(status, 200, "{body}");
    let text = unescape(&body);
    assert!(text.contains(&format!("1 case(s) would move to version {next}")), "{text}");
    assert!(text.contains("proposal=preparing</textarea>"), "the mapping stays in the form");
    let still = node_a.get(Some(&alice), &format!("/api/cases/{case_id}")).await;
    assert_eq!(still.json["workflow_version"].as_u64(), Some(shipped), "a preview changes nothing");
    let (status, body) =
        post(&g, &node_a, &migrate, &csrf_of(&html), &[("map", "proposal=preparing"), ("action", "move")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(unescape(&body).contains(&format!("1 case(s) moved to version {next}")), "{body}");
    // Node B serves the moved case on the new version.
    let moved = node_b.get(Some(&alice), &format!("/api/cases/{case_id}")).await;
    assert_eq!(
        (moved.json["workflow_version"].as_u64(), moved.json["state"].as_str()),
        (Some(next), Some("preparing")),
        "{}",
        moved.text
    );
    // A commissioner does not move cases.
    let html = page(&commissioner, &node_a, wf).await;
    assert!(!html.contains("Move them"));
    let (status, _) = post(&commissioner, &node_a, &migrate, &csrf_of(&html), &[("action", "move")]).await;
    assert_eq!(status, 403);
}
on_both!(a_governance_group_changes_a_workflow_in_the_product, change_a_workflow);

/// A change that breaks the workflow's own scenarios (Gloucestershire's notice from
/// three months to four, which its scenarios pin) shows them failing, and cannot be
/// proposed until they are brought up to date in the same draft.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draft_whose_scenarios_fail_cannot_be_proposed() {
    let server = Server::start_with(Backend::Sqlite, options()).await;
    let gina = signed_in(&server, &server.user("gina@glos.example", &["governance"])).await;
    let list = page(&gina, &server, "/drafts").await;
    let (_, body) = post(&gina, &server, "/drafts", &csrf_of(&list), &[("workflow", "gloucestershire-compact")]).await;
    let draft = body.lines().next().unwrap().to_string();
    let html = page(&gina, &server, &draft).await;
    // As published, its scenarios notice every weakened rule (`gatehouse test --mutants`).
    let (status, body) = post(&gina, &server, &format!("{draft}/mutants"), &csrf_of(&html), &[]).await;
    assert_eq!(status, 200, "{body}");
    let verdict = &body[body.find("id=\"mutants-verdict\"").expect("the mutants' verdict")..];
    assert!(verdict.contains("mutant(s) killed, 0 survived"), "{}", &verdict[..200.min(verdict.len())]);
    let four = editor_text(&html).replacen("  notice_months:\n    value: 3", "  notice_months:\n    value: 4", 1);
    let (status, body) =
        post(&gina, &server, &draft, &csrf_of(&html), &[("source", &four), ("revision", &revision_of(&html))]).await;
    assert_eq!(status, 200, "{body}");
    let text = unescape(&body);
    assert!(text.contains("param `notice_months` 3 → 4"), "{body}");
    assert!(text.contains("Fail</strong> three months' notice to reduce"), "{body}");
    let (status, body) =
        post(&gina, &server, &format!("{draft}/propose"), &csrf_of(&body), &[("revision", &revision_of(&body))]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("failing scenario(s)"), "{body}");
    // Nor are its mutants judged while a scenario fails on the draft itself.
    let (status, body) = post(&gina, &server, &format!("{draft}/mutants"), &csrf_of(&body), &[]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("a scenario fails on the draft itself"), "{body}");
}

/// The same over the API, for scripts: problems at their lines, a stale save refused as
/// problem+json, the review's steps, and the author's own approval refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drafts_over_the_api() {
    let server = Server::start_with(Backend::Sqlite, options()).await;
    let gina = server.user("gina@leeds.example", &["governance"]);
    let (gus, gail) =
        (server.user("gus@leeds.example", &["governance"]), server.user("gail@leeds.example", &["governance"]));
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let refused = server.post(Some(&alice), "/api/drafts", json!({"workflow": "lcc-decommissioning"})).await;
    assert_eq!(refused.status, 403, "{}", refused.text);

    let draft = server.post(Some(&gina), "/api/drafts", json!({"workflow": "lcc-decommissioning"})).await;
    draft.expect(201);
    let id = draft.json["id"].as_i64().unwrap();
    assert_eq!(draft.json["problems"], json!([]));
    let source = draft.json["source"].as_str().unwrap().to_string();
    let at = format!("/api/drafts/{id}");
    let put = |token: String, body: serde_json::Value| {
        let (server, at) = (&server, at.clone());
        async move { server.send(support::server::auth(server.client.put(server.url(&at)), Some(&token)).json(&body)).await }
    };

    let broken = source.replacen("to: engagement\n", "to: engagment\n", 1);
    let saved = put(gina.clone(), json!({"source": broken, "revision": 1})).await;
    saved.expect(200);
    let problem = &saved.json["problems"][0];
    assert_eq!(problem["severity"], "error");
    assert_eq!(
        problem["line"].as_u64().unwrap() as usize,
        broken.lines().position(|l| l.contains("engagment")).unwrap() + 1
    );
    // Saved on a revision someone has saved since: refused, nothing written.
    let stale = put(gus.clone(), json!({"source": source, "revision": 1})).await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert_eq!(stale.content_type, "application/problem+json");
    assert_eq!(stale.json["type"], "urn:gatehouse:problem:stale-version");
    let propose = server.post(Some(&gina), &format!("{at}/propose"), json!({"revision": 2})).await;
    assert_eq!(propose.status, 409, "{}", propose.text);

    let title = source.replacen("title: Preparing the proposal", "title: Preparing the proposal and its evidence", 1);
    put(gina.clone(), json!({"source": title, "revision": 2})).await.expect(200);
    let proposed = server.post(Some(&gina), &format!("{at}/propose"), json!({"revision": 3})).await;
    proposed.expect(200);
    assert_eq!(
        proposed.json["changes"][0],
        "state `proposal` is called “Preparing the proposal and its evidence” (was “Preparing the proposal”)"
    );
    let own = server.post(Some(&gina), &format!("{at}/approve"), json!({"revision": 4})).await;
    assert_eq!(own.status, 403, "{}", own.text);
    let early = server.post(Some(&gina), &format!("{at}/publish"), json!({"revision": 4})).await;
    assert_eq!(early.status, 409, "{}", early.text);
    for member in [&gus, &gail] {
        server.post(Some(member), &format!("{at}/approve"), json!({"revision": 4})).await.expect(200);
    }
    // Cases are opened all the while it is published: each on one version or the other,
    // whole, and none on the old one after one opened on the new.
    let open = json!({"workflow": "lcc-decommissioning", "fields": {"service_name": "Day centre", "provider_name": "Kirkstall Trust",
        "provider_email": "p@provider.example.org", "directorate": "Adults and Health", "annual_value": 80000, "contract_end": "2030-01-31"}});
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opener = {
        let (client, url, token, open, stop) =
            (server.client.clone(), server.url("/api/cases"), alice.clone(), open.clone(), stop.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client.post(&url).bearer_auth(&token).json(&open).send().await.unwrap();
                assert_eq!(r.status(), 201);
                let body: serde_json::Value = r.json().await.unwrap();
                ids.push((body["id"].as_i64().unwrap(), body["workflow_version"].as_i64().unwrap()));
            }
            ids
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let published = server.post(Some(&gina), &format!("{at}/publish"), json!({"revision": 4})).await;
    published.expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let opened = opener.await.unwrap();
    let new_version = published.json["published_version"].as_i64().unwrap();
    assert!(opened.iter().any(|(_, v)| *v == new_version), "some cases opened on the new version");
    assert!(opened.windows(2).all(|w| w[0].1 <= w[1].1), "no case on the old version after one on the new: {opened:?}");
    for (case, version) in &opened {
        let read = server.get(Some(&alice), &format!("/api/cases/{case}")).await;
        read.expect(200);
        assert_eq!(read.json["workflow_version"].as_i64(), Some(*version));
    }
    assert_eq!(published.json["status"], "published");
    let version = published.json["published_version"].as_i64().unwrap();
    let workflow = server.get(Some(&alice), "/api/workflows/lcc-decommissioning").await;
    assert_eq!(workflow.json["version"].as_i64(), Some(version));

    // A folder whose file takes that version number with other content is refused,
    // saying the product published it.
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&support::workflows_dir(), dir.path());
    let file = dir.path().join("lcc-decommissioning.yaml");
    let shipped = std::fs::read_to_string(&file).unwrap();
    let clash = shipped.replacen(
        &format!("version: {}", support::workflow_version(&shipped)),
        &format!("version: {version}"),
        1,
    );
    std::fs::write(&file, clash).unwrap();
    let out = support::server::gatehouse()
        .args(["workflows", "publish", "--database-url", &server.db.url])
        .arg(dir.path())
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!("`lcc-decommissioning` version {version} is already published with different content (published in the product from draft {id})")),
        "{said}"
    );
}

/// Drafts from files, and what cannot be one: a file too large, a file that is not
/// text, YAML that does not parse (saved, with the problem at its line).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drafts_from_files_and_bad_input() {
    let server = Server::start_with(Backend::Sqlite, options()).await;
    let gina = signed_in(&server, &server.user("gina@leeds.example", &["governance"])).await;
    let list = page(&gina, &server, "/drafts").await;
    let upload = |path: String, csrf: String, revision: Option<String>, bytes: Vec<u8>| {
        let (gina, url) = (gina.clone(), server.url(&path));
        async move {
            let mut form = reqwest::multipart::Form::new().text("_csrf", csrf);
            if let Some(r) = revision {
                form = form.text("revision", r);
            }
            form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name("wf.yaml"));
            let r = gina.post(url).multipart(form).send().await.unwrap();
            let (status, path) = (r.status().as_u16(), r.url().path().to_string());
            (status, path, r.text().await.unwrap())
        }
    };
    // A new workflow from its file.
    let shipped = std::fs::read_to_string(support::workflows_dir().join("annual-code-review.yaml")).unwrap();
    let new = shipped.replacen("id: annual-code-review", "id: annual-code-review-copy", 1);
    let (status, draft, body) = upload("/drafts/file".into(), csrf_of(&list), None, new.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        draft.starts_with("/drafts/") && body.contains("annual-code-review-copy") && body.contains("No errors"),
        "{body}"
    );

    // YAML that does not parse is saved, with where it stops.
    let html = page(&gina, &server, &draft).await;
    let broken = shipped.replacen("id: annual-code-review", "id: annual-code-review-copy", 1).replacen(
        "states:",
        "states: [",
        1,
    );
    let (status, _, body) =
        upload(format!("{draft}/file"), csrf_of(&html), Some(revision_of(&html)), broken.clone().into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("There is a problem") && body.contains("href=\"#line-"), "{body}");

    // Too large, or not text: refused, and the draft is as it was.
    let html = page(&gina, &server, &draft).await;
    let large = format!("{broken}\n#{}\n", "x".repeat(300 * 1024)).into_bytes();
    let (status, _, body) = upload(format!("{draft}/file"), csrf_of(&html), Some(revision_of(&html)), large).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("larger than 256 KiB"), "{body}");
    let (status, _, body) =
        upload(format!("{draft}/file"), csrf_of(&html), Some(revision_of(&html)), vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not text (UTF-8)"), "{body}");
    assert_eq!(editor_text(&page(&gina, &server, &draft).await), broken, "the draft is as it was");
}

/// The letters and the working-day calendar are part of a version: a draft changes the
/// early engagement letter and adds a bank holiday (a broken letter is shown, a calendar
/// that does not parse is refused and nothing saved), says so in words, and is
/// published; cases on the new version get the new letter, a case on the old version
/// keeps the old one, whichever node sends it, and a node whose folder has neither the
/// workflow nor its templates serves both versions from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_keeps_its_letters_and_calendar() {
    let smtp = support::smtp::SmtpServer::start(support::smtp::SmtpOptions::default());
    let with_mail = |mut o: Options| {
        o.smtp_url = Some(smtp.url());
        o
    };
    let node_a = Server::start_with(Backend::Postgres, with_mail(options())).await;
    let gina = node_a.user("gina@leeds.example", &["governance"]);
    let (gus, gail) =
        (node_a.user("gus@leeds.example", &["governance"]), node_a.user("gail@leeds.example", &["governance"]));
    let alice = node_a.user("alice@leeds.example", &["commissioner"]);
    let open = |provider: &str| {
        json!({"workflow": "lcc-decommissioning", "fields": {"service_name": "Day centre", "provider_name": "Kirkstall Trust",
        "provider_email": provider, "directorate": "Adults and Health", "annual_value": 80000, "contract_end": "2030-01-31"}})
    };
    let old_case = node_a.post(Some(&alice), "/api/cases", open("old@provider.example.org")).await;
    old_case.expect(201);
    let shipped = old_case.json["workflow_version"].as_u64().unwrap();

    let draft = node_a.post(Some(&gina), "/api/drafts", json!({"workflow": "lcc-decommissioning"})).await;
    draft.expect(201);
    let id = draft.json["id"].as_i64().unwrap();
    let names: Vec<&str> =
        draft.json["templates"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"lcc-early-engagement"), "{names:?}");
    assert_eq!(draft.json["calendars"][0]["name"], "england-and-wales");
    let letter_at = format!("/api/drafts/{id}/templates/lcc-early-engagement");
    let put = |path: String, token: String, body: serde_json::Value| {
        let server = &node_a;
        async move {
            server.send(support::server::auth(server.client.put(server.url(&path)), Some(&token)).json(&body)).await
        }
    };

    // A letter that names a field the workflow does not have is saved, and the check says so.
    let broken = "Subject: Early conversation\n\nAbout {{ case.fields.servise_name }}: {{ link }}\n";
    let saved = put(letter_at.clone(), gina.clone(), json!({"text": broken, "revision": 1})).await;
    saved.expect(200);
    let problems = saved.json["problems"].to_string();
    assert!(problems.contains("template `lcc-early-engagement`") && problems.contains("servise_name"), "{problems}");
    let propose = node_a.post(Some(&gina), &format!("/api/drafts/{id}/propose"), json!({"revision": 2})).await;
    assert_eq!(propose.status, 409, "a draft whose letter is broken cannot be proposed: {}", propose.text);

    // Fixed, on the web page: the letter's page shows it, saving checks it.
    let g = signed_in(&node_a, &gina).await;
    let letter_page = page(&g, &node_a, &format!("/drafts/{id}/templates/lcc-early-engagement")).await;
    assert!(letter_page.contains("servise_name") && letter_page.contains("problem"), "the page shows the problem");
    let revised = "Subject: Revised early conversation about {{ case.fields.service_name }}\n\n\
                   Dear {{ case.fields.provider_name }}, please tell us your views: {{ link }}\n\n{{ case.owner.name }}\n";
    let (status, body) = post(
        &g,
        &node_a,
        &format!("/drafts/{id}/templates/lcc-early-engagement"),
        &csrf_of(&letter_page),
        &[("text", revised), ("html", ""), ("revision", "2")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with(&format!("/drafts/{id}\n")), "saved, back on the draft");

    // A calendar that does not parse is refused with why, and nothing is saved.
    let calendar_at = format!("/api/drafts/{id}/calendars/england-and-wales");
    let bad = put(
        calendar_at.clone(),
        gina.clone(),
        json!({"text": "title: E\nholidays:\n  - { date: 2031-02-30, title: X }\n", "revision": 3}),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("2031-02-30"), "{}", bad.text);
    let calendar = draft.json["calendars"][0]["text"].as_str().unwrap();
    let added = calendar.replacen("holidays:\n", "holidays:\n  - { date: 2031-01-02, title: A local holiday }\n", 1);
    let saved = put(calendar_at, gina.clone(), json!({"text": added, "revision": 3})).await;
    saved.expect(200);
    assert_eq!(saved.json["revision"], 4);
    let changes: Vec<&str> = saved.json["changes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(changes.iter().any(|c| c.starts_with("letter `lcc-early-engagement`: subject")), "{changes:?}");
    assert!(changes.contains(&"letter `lcc-early-engagement`: its words changed"), "{changes:?}");
    assert!(changes.contains(&"calendar `england-and-wales`: holidays added 2031-01-02"), "{changes:?}");
    assert_eq!(saved.json["problems"], json!([]), "fixed");

    // Proposed, approved by two others, published.
    node_a.post(Some(&gina), &format!("/api/drafts/{id}/propose"), json!({"revision": 4})).await.expect(200);
    node_a.post(Some(&gus), &format!("/api/drafts/{id}/approve"), json!({"revision": 5})).await.expect(200);
    node_a.post(Some(&gail), &format!("/api/drafts/{id}/approve"), json!({"revision": 5})).await.expect(200);
    let published = node_a.post(Some(&gus), &format!("/api/drafts/{id}/publish"), json!({"revision": 5})).await;
    published.expect(200);
    let version = published.json["published_version"].as_u64().unwrap();
    assert_eq!(version, shipped + 1);

    // A second node whose folder holds only another workflow serves both versions, with
    // the letters they were published with.
    let only_review = tempfile::tempdir().unwrap();
    let shipped_dir = support::workflows_dir();
    std::fs::copy(shipped_dir.join("annual-code-review.yaml"), only_review.path().join("annual-code-review.yaml"))
        .unwrap();
    std::fs::create_dir(only_review.path().join("templates")).unwrap();
    for entry in std::fs::read_dir(shipped_dir.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("review-") || name.starts_with("outbox-") {
            std::fs::copy(&path, only_review.path().join("templates").join(name)).unwrap();
        }
    }
    let second_db =
        support::TestDb { url: node_a.db.url.clone(), dir: tempfile::tempdir().unwrap(), backend: Backend::Postgres };
    let mut b_options = with_mail(options());
    b_options.workflows = Some(only_review.path().to_path_buf());
    let node_b = Server::start_on(second_db, b_options).await;
    let served = node_b.get(Some(&alice), "/api/workflows/lcc-decommissioning").await;
    served.expect(200);
    let changes = node_b
        .get(Some(&alice), &format!("/api/workflows/lcc-decommissioning/changes?from={shipped}&to={version}"))
        .await;
    changes.expect(200);
    assert!(
        changes.text.contains("holidays added 2031-01-02"),
        "node B reads the version's calendar: {}",
        changes.text
    );

    // A case opened on node B is on the new version and gets the new letter; the case on
    // the old version gets the old one.
    let new_case = node_b.post(Some(&alice), "/api/cases", open("new@provider.example.org")).await;
    new_case.expect(201);
    assert_eq!(new_case.json["workflow_version"].as_u64().unwrap(), version);
    for (node, case) in [(&node_b, &new_case), (&node_a, &old_case)] {
        let case_id = case.json["id"].as_i64().unwrap();
        let uploaded = node.upload(Some(&alice), case_id, "needs_assessment", "needs.pdf", b"%PDF-1.7".to_vec()).await;
        uploaded.expect(201);
        let moved = node
            .post(
                Some(&alice),
                &format!("/api/cases/{case_id}/transitions"),
                json!({"transition": "start_engagement", "expected_version": uploaded.json["version"]}),
            )
            .await;
        moved.expect(200);
    }
    let new_letter = smtp.wait_for("new@provider.example.org", "early conversation").await;
    assert_eq!(new_letter.subject(), "Revised early conversation about Day centre");
    assert!(new_letter.body.contains("please tell us your views"), "{}", new_letter.body);
    let old_letter = smtp.wait_for("old@provider.example.org", "early conversation").await;
    assert_eq!(old_letter.subject(), "Early conversation about Day centre - Leeds City Council");
    assert!(old_letter.body.contains("earliest possible stage"), "{}", old_letter.body);
}

/// Bad input to a draft's letters and calendars is refused with why, and nothing is
/// saved: a name that cannot be a file's, a letter over the size limit, a save on a
/// revision saved since; undoing a change goes back to the version's letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drafts_letters_refuse_bad_input() {
    let server = Server::start_with(Backend::Sqlite, options()).await;
    let gina = server.user("gina@leeds.example", &["governance"]);
    let draft = server.post(Some(&gina), "/api/drafts", json!({"workflow": "lcc-decommissioning"})).await;
    draft.expect(201);
    let id = draft.json["id"].as_i64().unwrap();
    let put = |path: String, body: serde_json::Value| {
        let (server, gina) = (&server, gina.clone());
        async move {
            server.send(support::server::auth(server.client.put(server.url(&path)), Some(&gina)).json(&body)).await
        }
    };
    let letter = format!("/api/drafts/{id}/templates/lcc-early-engagement");

    let bad_name =
        put(format!("/api/drafts/{id}/templates/Early%20Letter"), json!({"text": "Subject: x\n\ny\n", "revision": 1}))
            .await;
    assert_eq!(bad_name.status, 422, "{}", bad_name.text);
    assert!(bad_name.text.contains("a template's name is its file's"), "{}", bad_name.text);
    let huge = format!("Subject: x\n\n{}\n", "y".repeat(300 * 1024));
    let too_big = put(letter.clone(), json!({"text": huge, "revision": 1})).await;
    assert!(matches!(too_big.status, 413 | 422), "{}: {}", too_big.status, too_big.text);
    let unchanged = server.get(Some(&gina), &format!("/api/drafts/{id}")).await;
    assert_eq!(unchanged.json["revision"], 1, "nothing saved");

    let saved =
        put(letter.clone(), json!({"text": "Subject: Hello\n\n{{ link }}\n{{ case.owner.name }}\n", "revision": 1}))
            .await;
    saved.expect(200);
    let stale = put(letter.clone(), json!({"text": "Subject: Other\n\n{{ link }}\n", "revision": 1})).await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    let changed = |json: &serde_json::Value| {
        json["templates"].as_array().unwrap().iter().find(|t| t["name"] == "lcc-early-engagement").unwrap().clone()
    };
    assert_eq!(changed(&saved.json)["changed"], true);
    assert_eq!(changed(&saved.json)["text"].as_str().unwrap(), "Subject: Hello\n\n{{ link }}\n{{ case.owner.name }}\n");

    let undo = server
        .send(support::server::auth(server.client.delete(server.url(&format!("{letter}?revision=2"))), Some(&gina)))
        .await;
    undo.expect(200);
    assert_eq!(changed(&undo.json)["changed"], false);
    assert!(changed(&undo.json)["text"].as_str().unwrap().starts_with("Subject: Early conversation"));
    assert_eq!(undo.json["changes"], json!([]), "back as it was");
}
