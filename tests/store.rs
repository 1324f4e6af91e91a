//! The durable store through the app services, on real SQLite files and a real
//! PostgreSQL server: every case is either before or after an operation, nothing is
//! overwritten silently, and the audit trail catches tampering.

mod support;

use gatehouse::app::AppError;
use gatehouse_adapters::store::{Published, StoreError};
use gatehouse_engine::fields::Input;
use gatehouse_engine::snapshot::{Actor, Answer, Meeting, Verdict};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder};
use support::{Backend, alice, fresh_db, lcc_fields, text};

async fn ready_for_decision(app: &gatehouse::app::App, id: i64) {
    let a = alice();
    app.attach_document(&a, id, "needs_assessment", "needs.pdf", "application/pdf", b"needs").await.unwrap();
    app.request_transition(&a, id, "start_engagement", None).await.unwrap();
    let answers = ["financial_requirements", "political_perspective", "service_user_needs", "parents_and_carers"]
        .into_iter()
        .map(|k| (k.to_string(), (Answer::Yes, None)))
        .collect();
    app.answer_checklist(&a, id, "decommissioning_checklist", answers).await.unwrap();
    for e in ["equality_impact_assessment", "service_impact_assessment", "consultation", "provider_engagement"] {
        app.attach_document(&a, id, e, &format!("{e}.pdf"), "application/pdf", e.as_bytes()).await.unwrap();
    }
}

async fn lifecycle(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, clock) = db.app().await;
    let a = alice();
    let view = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap();
    let id = view.case.id;
    assert_eq!(view.case.state.as_str(), "proposal");

    // Blocked, with the reason, until the needs assessment is attached.
    let err = app.request_transition(&a, id, "start_engagement", None).await.unwrap_err();
    let AppError::Blocked { unmet, .. } = err else { panic!("expected blocked, got {err:?}") };
    assert_eq!(unmet.iter().map(|u| u.gate.as_str()).collect::<Vec<_>>(), ["needs_assessment"]);

    ready_for_decision(&app, id).await;
    // Over the threshold: only the key-decision route applies.
    let v = app.case(id).await.unwrap();
    let delegated = v.transitions.iter().find(|t| t.id.as_str() == "submit_delegated_decision").unwrap();
    assert!(!delegated.allowed && delegated.not_applicable.is_some());
    app.request_transition(&a, id, "submit_key_decision", None).await.unwrap();
    app.attach_document(&a, id, "executive_member_briefing", "brief.pdf", "application/pdf", b"brief").await.unwrap();

    // Only an Executive Board member may approve; the approval records its meeting.
    let eb = Actor::user("eb@leeds.example", ["exec_board"]);
    let err = app.record_approval(&a, id, "exec_board", Verdict::Approve, None, None, None).await.unwrap_err();
    assert!(matches!(err, AppError::NotAllowed(_)), "{err:?}");
    let meeting = Meeting { name: "Executive Board".into(), date: jiff::civil::date(2026, 2, 11) };
    clock.set(clock_at(2026, 2, 11));
    let conflicted = Actor::user("eb2@leeds.example", ["exec_board"]);
    app.declare_conflict(&conflicted, id, "exec_board", "My sister runs the provider").await.unwrap();
    app.record_approval(&eb, id, "exec_board", Verdict::Approve, Some("Resolved".into()), Some(meeting.clone()), None)
        .await
        .unwrap();
    let v = app.request_transition(&a, id, "approve_key_decision", None).await.unwrap();
    assert_eq!(v.case.approvals[0].meeting, Some(meeting));
    app.attach_document(&a, id, "support_offer", "support.pdf", "application/pdf", b"support").await.unwrap();
    app.attach_document(&a, id, "decommissioning_plan", "plan.pdf", "application/pdf", b"plan").await.unwrap();
    let v = app.request_transition(&a, id, "serve_notice", Some(v.case.version + 2)).await.unwrap();
    assert_eq!(v.case.state.as_str(), "notice");
    // Entering `notice` armed the chaser and queued the notice letter in the same transaction.
    assert!(v.case.timers.iter().any(|t| t.timer.as_str().contains("acknowledg")), "{:?}", v.case.timers);
    let outbox =
        gatehouse_adapters::store::entities::outbox::Entity::find().all(app.store().connection()).await.unwrap();
    assert!(
        outbox.iter().any(|m| m.template == "lcc-notice-of-decommissioning" && m.recipients == "[\"provider\"]"),
        "{outbox:?}"
    );

    // Read back from the database, the case is exactly what the last decision left in
    // memory: its fields, evidence, approval with its meeting, conflict and timers.
    let reread = app.case(id).await.unwrap().case;
    assert_eq!(reread, v.case);
    assert_eq!(reread.conflicts.len(), 1);
    assert!(!reread.evidence.is_empty() && !reread.timers.is_empty());

    // The trail has every step, chained.
    let (events, broken) = app.audit_trail(&gatehouse_engine::snapshot::Actor::system(), id).await.unwrap();
    assert_eq!(broken, None);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"opened"));
    assert_eq!(kinds.iter().filter(|k| **k == "transitioned").count(), 4, "{kinds:?}");
    assert!(events.windows(2).all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1));
    let (cases, broken) = app.store().verify_audit().await.unwrap();
    assert_eq!((cases, broken.len()), (1, 0));
}
on_both!(a_case_goes_from_proposal_to_notice_and_every_step_is_audited, lifecycle);

fn clock_at(y: i16, m: i8, d: i8) -> jiff::Timestamp {
    jiff::civil::date(y, m, d).at(10, 0, 0, 0).in_tz("Europe/London").unwrap().timestamp()
}

async fn concurrent_transitions(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let app = std::sync::Arc::new(app);
    let mut winners = 0;
    for round in 0..3 {
        let view = app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap();
        let id = view.case.id;
        app.attach_document(
            &alice(),
            id,
            "needs_assessment",
            "n.pdf",
            "application/pdf",
            format!("n{round}").as_bytes(),
        )
        .await
        .unwrap();
        let version = app.case(id).await.unwrap().case.version;
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(
                    async move { app.request_transition(&alice(), id, "start_engagement", Some(version)).await },
                )
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(AppError::Conflict { expected, actual }) => assert_eq!((expected, actual), (version, version + 1)),
                Err(e) => panic!("expected a conflict, got {e:?}"),
            }
        }
        assert_eq!(ok, 1, "exactly one request wins");
        winners += ok;
        let (events, broken) = app.audit_trail(&gatehouse_engine::snapshot::Actor::system(), id).await.unwrap();
        assert_eq!(broken, None);
        assert_eq!(events.iter().filter(|e| e.kind == "transitioned").count(), 1);
    }
    assert_eq!(winners, 3);
}
on_both!(two_requests_moving_one_case_at_once_exactly_one_wins, concurrent_transitions);

async fn concurrent_evidence(backend: Backend) {
    // Without an expected version, concurrent changes are retried, not lost.
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let app = std::sync::Arc::new(app);
    let id =
        app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    let items = ["financial_requirements", "political_perspective", "service_user_needs", "parents_and_carers"];
    let tasks: Vec<_> = items
        .iter()
        .map(|item| {
            let app = app.clone();
            let answers = [(item.to_string(), (Answer::Yes, None))].into_iter().collect();
            tokio::spawn(async move { app.answer_checklist(&alice(), id, "decommissioning_checklist", answers).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let v = app.case(id).await.unwrap();
    let Some(gatehouse_engine::snapshot::EvidenceRecord {
        content: gatehouse_engine::snapshot::EvidenceContent::Checklist(a),
        ..
    }) = v.case.evidence.get("decommissioning_checklist")
    else {
        panic!("no checklist")
    };
    assert_eq!(a.len(), 4, "every concurrent answer is kept: {a:?}");
    assert_eq!(v.case.version, 5);
}
on_both!(concurrent_answers_are_all_kept, concurrent_evidence);

/// A fresh SQLite database, an app over it and `n` Leeds cases.
async fn sqlite_cases(n: usize) -> (support::TestDb, std::sync::Arc<gatehouse::app::App>, Vec<i64>) {
    let db = fresh_db(Backend::Sqlite).await;
    let (app, _) = db.app().await;
    let mut cases = Vec::new();
    for _ in 0..n {
        let view = app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap();
        cases.push(view.case.id);
    }
    (db, std::sync::Arc::new(app), cases)
}

/// SQLite's write lock, held by a transaction on a connection of its own until it ends.
async fn hold_write_lock(db: &support::TestDb) -> (sea_orm::DatabaseConnection, sea_orm::DatabaseTransaction) {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let other = sea_orm::Database::connect(&db.url).await.unwrap();
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let blocker = other.begin_with_options(immediate).await.unwrap();
    (other, blocker)
}

/// On SQLite, decisions that arrive while another writer holds the lock are committed
/// together, in one transaction. One of them failing in the database must fail alone:
/// the others are applied, and nothing of the failed one is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_decision_failing_in_a_group_commit_fails_alone() {
    let (db, app, cases) = sqlite_cases(6).await;
    // The database refuses one answer, as a full disk or a corrupt page would.
    let conn = app.store().connection();
    conn.execute_unprepared(
        "CREATE TRIGGER refuse BEFORE INSERT ON evidence WHEN NEW.content LIKE '%poison%' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .await
    .unwrap();
    // Another connection holds SQLite's write lock, so that the answers queue up behind
    // the first and the rest go in one group.
    let (_other, blocker) = hold_write_lock(&db).await;
    let answer = |id: i64, comment: &str| {
        let app = app.clone();
        let answers = [("financial_requirements".to_string(), (Answer::Yes, Some(comment.to_string())))];
        tokio::spawn(async move {
            app.answer_checklist(&alice(), id, "decommissioning_checklist", answers.into_iter().collect()).await
        })
    };
    let mut clean = Vec::new();
    for &id in &cases[..5] {
        clean.push(answer(id, "costed"));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let poisoned = answer(cases[5], "poison");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    blocker.rollback().await.unwrap();

    for task in clean {
        let view = task.await.unwrap().expect("a clean answer is applied");
        assert_eq!(view.case.version, 2);
    }
    let err = poisoned.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("refused by the test"), "{err}");
    let v = app.case(cases[5]).await.unwrap();
    assert_eq!(v.case.version, 1, "nothing of the refused answer is stored");
    assert!(!v.case.evidence.contains_key("decommissioning_checklist"));
    for &id in &cases {
        let (events, broken) = app.audit_trail(&gatehouse_engine::snapshot::Actor::system(), id).await.unwrap();
        assert_eq!(broken, None);
        assert_eq!(events.len(), if id == cases[5] { 1 } else { 2 }, "case {id}: {events:?}");
    }
}

/// On SQLite, a decision waits in a queue for the next group commit. A caller that goes
/// away meanwhile (a client that hung up) takes its decision with it: it is not applied
/// with the next group, nor by any later write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_decision_whose_caller_went_away_while_it_waited_is_not_applied() {
    let (db, app, cases) = sqlite_cases(4).await;
    // Another connection holds SQLite's write lock: the first answer takes the turn and
    // waits for the lock, the next two queue behind it.
    let (_other, blocker) = hold_write_lock(&db).await;
    let answer = |id: i64| {
        let app = app.clone();
        let answers = [("financial_requirements".to_string(), (Answer::Yes, None))];
        tokio::spawn(async move {
            app.answer_checklist(&alice(), id, "decommissioning_checklist", answers.into_iter().collect()).await
        })
    };
    let first = answer(cases[0]);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let kept = answer(cases[1]);
    let abandoned = answer(cases[2]);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());
    blocker.rollback().await.unwrap();

    assert_eq!(first.await.unwrap().unwrap().case.version, 2);
    assert_eq!(kept.await.unwrap().unwrap().case.version, 2, "the caller still waiting is answered");
    // A later write does not bring the abandoned decision back either.
    let later = [("financial_requirements".to_string(), (Answer::Yes, None))].into_iter().collect();
    app.answer_checklist(&alice(), cases[3], "decommissioning_checklist", later).await.unwrap();
    let v = app.case(cases[2]).await.unwrap();
    assert_eq!(v.case.version, 1, "the abandoned answer is not stored");
    assert!(!v.case.evidence.contains_key("decommissioning_checklist"));
    let (events, broken) = app.audit_trail(&gatehouse_engine::snapshot::Actor::system(), cases[2]).await.unwrap();
    assert_eq!((events.len(), broken), (1, None));
}

async fn bad_input(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let a = alice();
    // Field types are checked on every write.
    let mut fields = lcc_fields(650_000, "2027-02-30");
    fields.push(("annual_value".into(), text("lots")));
    let err = app.create_case(&a, "lcc-decommissioning", &fields).await.unwrap_err();
    let AppError::Invalid(problems) = err else { panic!("{err:?}") };
    let at_fault: Vec<&str> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
    assert!(at_fault.contains(&"contract_end") && at_fault.contains(&"annual_value"), "{problems:?}");
    let err = app.create_case(&a, "no-such-workflow", &[]).await.unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");

    let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    let err = app.set_fields(&a, id, vec![("provider_email".into(), text("not-an-email"))]).await.unwrap_err();
    assert!(matches!(err, AppError::Invalid(_)), "{err:?}");
    // An evidence type the workflow does not declare is refused, with a suggestion.
    let err = app.attach_document(&a, id, "needs_asessment", "n.pdf", "application/pdf", b"x").await.unwrap_err();
    assert!(err.to_string().contains("did you mean `needs_assessment`"), "{err}");
    // A file over the limit is refused before anything is stored.
    let big = vec![7u8; 1024 * 1024 + 1];
    let err = app.attach_document(&a, id, "needs_assessment", "big.pdf", "application/pdf", &big).await.unwrap_err();
    assert!(matches!(err, AppError::Invalid(_)), "{err:?}");
    assert_eq!(support::files_under(&db.dir.path().join("data")), 0, "no file was kept");
    assert_eq!(support::documents_in(&db.url).await, (0, 0), "no document was stored");
    // A path-like file name is kept for display only, never as a path.
    let v = app.attach_document(&a, id, "needs_assessment", "../../etc/passwd", "text/plain", b"x").await.unwrap();
    let rec = &v.case.evidence["needs_assessment"];
    assert!(
        matches!(&rec.content, gatehouse_engine::snapshot::EvidenceContent::Document { name, .. } if name == "passwd")
    );
    let (events, _) = app.audit_trail(&gatehouse_engine::snapshot::Actor::system(), id).await.unwrap();
    assert_eq!(events.len(), 2, "only the opening and the one good attachment are recorded");
}
on_both!(bad_input_is_refused_and_nothing_is_stored, bad_input);

async fn superseded(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let a = alice();
    let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    app.attach_document(&a, id, "needs_assessment", "v1.pdf", "application/pdf", b"first").await.unwrap();
    let v = app.attach_document(&a, id, "needs_assessment", "v2.pdf", "application/pdf", b"second").await.unwrap();
    let gatehouse_engine::snapshot::EvidenceContent::Document { sha256, .. } =
        &v.case.evidence["needs_assessment"].content
    else {
        panic!()
    };
    assert_eq!(app.store().document_bytes(sha256).await.unwrap(), b"second");
    use gatehouse_adapters::store::entities::evidence;
    let rows = evidence::Entity::find().order_by_asc(evidence::Column::Id).all(app.store().connection()).await.unwrap();
    assert_eq!(rows.len(), 2, "the superseded file stays in history");
    assert_eq!(rows[0].superseded_by, Some(rows[1].id));
    assert_eq!(app.store().document_bytes(rows[0].file_sha256.as_ref().unwrap()).await.unwrap(), b"first");
}
on_both!(a_superseded_document_stays_in_history, superseded);

/// An approval row whose verdict is neither `approve` nor `reject` (a hand edit, a
/// fault elsewhere) makes the case unreadable as corrupt; it is never read as an approval.
async fn unknown_verdict(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let a = alice();
    let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    ready_for_decision(&app, id).await;
    app.request_transition(&a, id, "submit_key_decision", None).await.unwrap();
    let eb = Actor::user("eb@leeds.example", ["exec_board"]);
    app.record_approval(&eb, id, "exec_board", Verdict::Reject, None, None, None).await.unwrap();
    app.store()
        .connection()
        .execute_unprepared(&format!("UPDATE approvals SET verdict = 'maybe' WHERE case_id = {id}"))
        .await
        .unwrap();
    let err = app.case(id).await.unwrap_err();
    assert!(matches!(&err, AppError::Internal(StoreError::Corrupt(m)) if m.contains("verdict `maybe`")), "{err:?}");
}
on_both!(an_approval_row_with_an_unknown_verdict_is_corrupt, unknown_verdict);

async fn versions(backend: Backend) {
    let db = fresh_db(backend).await;
    let store = db.store().await;
    let folder = db.dir.path().join("workflows");
    copy_dir(&support::workflows_dir(), &folder);
    let file = folder.join("annual-code-review.yaml");
    let now = support::start();
    let (_, report) = gatehouse::app::publish_folder(&store, &folder, now).await.unwrap();
    assert!(report.files.iter().all(|f| f.3 == Published::New));
    let (_, report) = gatehouse::app::publish_folder(&store, &folder, now).await.unwrap();
    assert!(report.files.iter().all(|f| f.3 == Published::Unchanged), "an unchanged file is a no-op");

    let original = std::fs::read_to_string(&file).unwrap();
    let shipped = support::workflow_version(&original);
    std::fs::write(&file, original.replace("title: Annual review", "title: The annual review")).unwrap();
    let err = gatehouse::app::publish_folder(&store, &folder, now).await.unwrap_err();
    let err = err.downcast::<StoreError>().unwrap();
    assert!(
        matches!(&err, StoreError::VersionNotBumped { workflow, version, .. }
            if workflow == "annual-code-review" && *version == shipped),
        "{err}"
    );

    // Bumped, it publishes; the old version stays for the cases pinned to it.
    let bumped = original.replace("title: Annual review", "title: The annual review").replacen(
        &format!("version: {shipped}"),
        &format!("version: {}", shipped + 1),
        1,
    );
    std::fs::write(&file, bumped).unwrap();
    gatehouse::app::publish_folder(&store, &folder, now).await.unwrap();
    // Every version keeps the letters and calendar it was published with, so it loads
    // without the folder's.
    let (defs, problems) = store.definitions(&gatehouse_engine::Library::default()).await.unwrap();
    assert!(problems.is_empty(), "each version carries its templates: {problems:?}");
    assert_eq!(defs.len(), report.files.len() + 1);

    // A letter changed in the folder is a change to every version that sends it: refused
    // until the version is bumped, naming the letter.
    let letter = folder.join("templates").join("review-papers-ready.txt");
    let words = std::fs::read_to_string(&letter).unwrap();
    std::fs::write(&letter, words.replacen("\n\n", "\n\nPlease read the papers before the meeting.\n", 1)).unwrap();
    let err = gatehouse::app::publish_folder(&store, &folder, now).await.unwrap_err().downcast::<StoreError>().unwrap();
    assert!(
        matches!(&err, StoreError::LettersNotBumped { workflow, version, what, .. }
            if workflow == "annual-code-review" && *version == shipped + 1 && what.contains("review-papers-ready")),
        "{err}"
    );
    assert!(err.to_string().contains("bump `version:`"), "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen(&format!("version: {}", shipped + 1), &format!("version: {}", shipped + 2), 1))
        .unwrap();
    gatehouse::app::publish_folder(&store, &folder, now).await.unwrap();
    let (defs, _) = store.definitions(&gatehouse_engine::Library::default()).await.unwrap();
    let letter_of =
        |v: u32| defs.get("annual-code-review", v).unwrap().letters.get("review-papers-ready").unwrap().text.clone();
    assert_eq!(letter_of(shipped + 1), words, "the version before keeps its words");
    assert!(letter_of(shipped + 2).contains("Please read the papers"));

    // A version published before versions kept their letters reads the folder's, and
    // keeps them from the next publish on.
    store
        .connection()
        .execute_unprepared("UPDATE workflow_definitions SET library = NULL WHERE workflow_id = 'lcc-decommissioning'")
        .await
        .unwrap();
    let (_, problems) = store.definitions(&gatehouse_engine::Library::default()).await.unwrap();
    assert!(problems.iter().any(|p| p.contains("lcc-decommissioning")), "{problems:?}");
    let (_, report) = gatehouse::app::publish_folder(&store, &folder, now).await.unwrap();
    assert!(report.files.iter().all(|f| f.3 == Published::Unchanged));
    let (_, problems) = store.definitions(&gatehouse_engine::Library::default()).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let mut config = db.config();
    config.workflows = folder.clone();
    let _ = defs;
    let clock = std::sync::Arc::new(gatehouse::clock::FixedClock::new(now));
    let (app, _) = gatehouse::app::App::new(db.store().await, &config, clock).await.unwrap();
    assert_eq!(app.workflow("annual-code-review").unwrap().version, shipped + 2);
}
on_both!(a_changed_workflow_must_bump_its_version, versions);

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let t = dst.join(p.file_name().unwrap());
        if p.is_dir() { copy_dir(&p, &t) } else { std::fs::copy(&p, &t).map(|_| ()).unwrap() }
    }
}

async fn pinned(backend: Backend) {
    // A case stays on the version it was opened with.
    let db = fresh_db(backend).await;
    let folder = db.dir.path().join("workflows");
    copy_dir(&support::workflows_dir(), &folder);
    let mut config = db.config();
    config.workflows = folder.clone();
    let clock = std::sync::Arc::new(gatehouse::clock::FixedClock::new(support::start()));
    let (app, _) = gatehouse::app::App::new(db.store().await, &config, clock.clone()).await.unwrap();
    let id =
        app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    drop(app);
    let file = folder.join("lcc-decommissioning.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let shipped = support::workflow_version(&text);
    let text = text
        .replacen(&format!("version: {shipped}"), &format!("version: {}", shipped + 1), 1)
        .replace("key_decision_threshold: 500000", "key_decision_threshold: 900000");
    std::fs::write(&file, text).unwrap();
    let (app, _) = gatehouse::app::App::new(db.store().await, &config, clock).await.unwrap();
    let v = app.case(id).await.unwrap();
    assert_eq!(v.definition.version, shipped);
    assert_eq!(app.workflow("lcc-decommissioning").unwrap().version, shipped + 1);
    let new = app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap();
    assert_eq!(new.definition.version, shipped + 1);
}
on_both!(a_case_stays_on_the_version_it_was_opened_with, pinned);

async fn tamper(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let id =
        app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    app.attach_document(&alice(), id, "needs_assessment", "n.pdf", "application/pdf", b"n").await.unwrap();
    app.request_transition(&alice(), id, "start_engagement", None).await.unwrap();
    app.store()
        .connection()
        .execute_unprepared(&format!("UPDATE events SET actor = 'mallory' WHERE case_id = {id} AND seq = 2"))
        .await
        .unwrap();
    let (_, broken) = app.store().verify_audit().await.unwrap();
    assert_eq!(broken.len(), 1);
    assert_eq!((broken[0].case_id, broken[0].seq), (id, 2));
    assert!(broken[0].reason.contains("does not match its hash"), "{}", broken[0].reason);
    app.store()
        .connection()
        .execute_unprepared(&format!("DELETE FROM events WHERE case_id = {id} AND seq = 3"))
        .await
        .unwrap();
    let count =
        gatehouse_adapters::store::entities::event::Entity::find().count(app.store().connection()).await.unwrap();
    assert!(count >= 3);
}
on_both!(a_tampered_audit_trail_is_reported_at_its_first_broken_link, tamper);

/// Time in states, as the governance dashboard shows it, is kept by the decisions that
/// move a case (an amendment that sends it back included) and worked out by the
/// database; a database from before it was kept is given it from the audit trails when
/// the store starts, to the same figures.
async fn time_in_states(backend: Backend) {
    let db = fresh_db(backend).await;
    let (app, clock) = db.app().await;
    let a = alice();
    let dan = Actor::user("dan@leeds.example", ["director"]);
    let day = |d: i8| clock_at(2026, 3, d);
    clock.set(day(1));
    let first = app.create_case(&a, "lcc-decommissioning", &lcc_fields(45_000, "2027-03-31")).await.unwrap().case.id;
    app.create_case(&a, "lcc-decommissioning", &lcc_fields(45_000, "2027-03-31")).await.unwrap();
    clock.set(day(2));
    app.create_case(&a, "lcc-decommissioning", &lcc_fields(45_000, "2027-03-31")).await.unwrap();
    clock.set(day(3));
    ready_for_decision(&app, first).await;
    clock.set(day(4));
    app.request_transition(&a, first, "submit_administrative_decision", None).await.unwrap();
    clock.set(day(5));
    app.create_case(&a, "lcc-decommissioning", &lcc_fields(45_000, "2027-03-31")).await.unwrap();
    clock.set(day(8));
    let amended = app
        .amend(&dan, first, vec![("annual_value".into(), Input::Int(650_000))], "Revised costing".into())
        .await
        .unwrap();
    assert_eq!(amended.case.state.as_str(), "engagement", "the amendment sent the case back");

    let now = day(10);
    let days = |d: i64| d * 86_400_000;
    let expected = vec![
        // Two days there, then four; then back in engagement since day 8.
        ("administrative_decision", 1, 0, days(4), days(4)),
        ("engagement", 1, 1, days(1) + days(2), days(3)),
        // The first case left after 2 days; the others are there still, 9, 8 and 5
        // days in: the median is the mean of the middle two.
        ("proposal", 4, 3, (days(5) + days(8)) / 2, days(9)),
    ];
    let times = |store: gatehouse_adapters::store::Store| async move {
        let rows = store.state_times(None, now).await.unwrap();
        rows.into_iter()
            .map(|t| {
                assert_eq!(t.workflow_id, "lcc-decommissioning");
                (t.state, t.cases, t.current, t.median_ms, t.longest_ms)
            })
            .collect::<Vec<_>>()
    };
    let expected: Vec<_> = expected.into_iter().map(|(s, n, c, m, l)| (s.to_string(), n, c, m, l)).collect();
    assert_eq!(times(app.store().clone()).await, expected);
    // The same as the engine works out from the audit trail.
    let entries = app.store().state_entries(None, None).await.unwrap();
    let stays: Vec<_> = entries
        .chunk_by(|a, b| a.case_id == b.case_id)
        .flat_map(|case| {
            let visits: Vec<(String, jiff::Timestamp)> = case.iter().map(|e| (e.state.clone(), e.at)).collect();
            gatehouse_engine::dwell::stays(&visits, now)
        })
        .collect();
    let from_trail: Vec<_> = gatehouse_engine::dwell::summarise(&stays)
        .into_iter()
        .map(|(s, t)| {
            let ms = |d: jiff::SignedDuration| d.as_millis() as i64;
            (s, t.cases as i64, t.current as i64, ms(t.median), ms(t.longest))
        })
        .collect();
    assert_eq!(from_trail, expected);
    // Only the cases of the versions the reader may read.
    assert!(app.store().state_times(Some(&[]), now).await.unwrap().is_empty());
    assert!(app.store().state_times(Some(&[("ccg-decommissioning".into(), 1)]), now).await.unwrap().is_empty());

    // A database whose cases were stored before time in states was kept.
    app.store().connection().execute_unprepared("DELETE FROM state_stays").await.unwrap();
    assert!(app.store().state_times(None, now).await.unwrap().is_empty());
    let store = db.store().await;
    store.migrate().await.unwrap();
    assert_eq!(times(store).await, expected);
}
on_both!(time_in_states_is_kept_as_cases_move, time_in_states);

/// Said at once, with the connection's own error: not "pool timed out" after 30 s.
#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let started = std::time::Instant::now();
    let err = gatehouse_adapters::store::Store::connect(&gatehouse_adapters::store::StoreConfig::new(
        "postgres://gatehouse:secret@127.0.0.1:1/nowhere",
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot open the database at postgres://gatehouse:***@127.0.0.1:1/nowhere"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains("secret"));
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[allow(dead_code)]
fn unused(_: Input) {}
