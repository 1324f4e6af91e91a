//! Timers, schedules and the outbox, end to end: the engine's decisions carried out by
//! the scheduler and the dispatcher, delivered to a real SMTP server over TCP on
//! loopback (python3-aiosmtpd), on real SQLite and PostgreSQL, with a fixed clock.
//! The tests call the worker steps directly; nothing sleeps.

mod support;

use gatehouse::app::App;
use gatehouse::clock::{Clock, FixedClock};
use gatehouse_adapters::mail::MailOutcome;
use gatehouse_adapters::scheduler::schedules::ScheduleOutcome;
use gatehouse_adapters::scheduler::timers::TimerOutcome;
use gatehouse_adapters::store::{CaseFilter, Delivery};
use gatehouse_engine::snapshot::{Actor, Answer, Verdict};
use jiff::ToSpan;
use std::sync::Arc;
use support::smtp::{SmtpOptions, SmtpServer, closed_port};
use support::workers::{Rig, rig, sent_keys, settings};
use support::{Backend, alice, fresh_db, lcc_fields};

const PROVIDER: &str = "director@kirkstall.example.org";

/// A Leeds decommissioning case taken to `engagement`: the early engagement letter is
/// queued for the provider.
async fn case_in_engagement(app: &App, contract_end: &str) -> i64 {
    let a = alice();
    let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, contract_end)).await.unwrap().case.id;
    app.attach_document(&a, id, "needs_assessment", "needs.pdf", "application/pdf", b"needs").await.unwrap();
    app.request_transition(&a, id, "start_engagement", None).await.unwrap();
    id
}

/// ... and on to `notice`: the notice letter is queued and the chaser armed.
async fn case_in_notice(rig: &Rig) -> i64 {
    let (app, a) = (&rig.app, alice());
    let id = case_in_engagement(app, "2027-03-31").await;
    let answers = ["financial_requirements", "political_perspective", "service_user_needs", "parents_and_carers"]
        .into_iter()
        .map(|k| (k.to_string(), (Answer::Yes, None)))
        .collect();
    app.answer_checklist(&a, id, "decommissioning_checklist", answers).await.unwrap();
    for e in ["equality_impact_assessment", "service_impact_assessment", "consultation", "provider_engagement"] {
        app.attach_document(&a, id, e, &format!("{e}.pdf"), "application/pdf", e.as_bytes()).await.unwrap();
    }
    app.request_transition(&a, id, "submit_key_decision", None).await.unwrap();
    app.attach_document(&a, id, "executive_member_briefing", "brief.pdf", "application/pdf", b"brief").await.unwrap();
    let eb = Actor::user("eb@leeds.example", ["exec_board"]);
    app.record_approval(&eb, id, "exec_board", Verdict::Approve, None, None, None).await.unwrap();
    app.request_transition(&a, id, "approve_key_decision", None).await.unwrap();
    app.attach_document(&a, id, "support_offer", "support.pdf", "application/pdf", b"support").await.unwrap();
    app.attach_document(&a, id, "decommissioning_plan", "plan.pdf", "application/pdf", b"plan").await.unwrap();
    let v = app.request_transition(&a, id, "serve_notice", None).await.unwrap();
    assert_eq!(v.case.state.as_str(), "notice");
    id
}

async fn chaser(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions::default());
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(Some(smtp.url()), db.dir.path()), clock, "worker-1").await;
    rig.add_user("alice@leeds.example", &["commissioner"]).await;
    rig.add_user("eb@leeds.example", &["exec_board"]).await;
    let id = case_in_notice(&rig).await;

    // What the case's decisions queued goes out after commit: the early engagement
    // letter, the key decision request to the Executive Board, the decision told to the
    // people who use the service (here to the commissioner's copy alone: no contact for
    // them was recorded), the notice.
    let sent = sent_keys(&rig.send_due_mail().await);
    assert_eq!(sent.len(), 4, "{sent:?}");
    let mail = smtp.messages();
    let notice =
        mail.iter().find(|m| m.subject().starts_with("Notice of de-commissioning")).expect("the notice was sent");
    assert_eq!(notice.rcpt_to, [PROVIDER]);
    let decision =
        mail.iter().find(|m| m.subject().starts_with("Decision on the future of")).expect("the decision letter");
    assert_eq!(
        decision.rcpt_to,
        ["alice@leeds.example"],
        "the commissioner's copy; the people affected have no contact"
    );
    // It asks for an acknowledgement by the day the first reminder would go: 15 January.
    assert!(notice.body.contains("acknowledge by 15 January 2026"), "{}", notice.body);
    let key_decision = mail.iter().find(|m| m.rcpt_to == ["eb@leeds.example"]).expect("the Executive Board was asked");
    assert!(!key_decision.body.contains("/p/"), "internal recipients get no provider link");
    // The provider's link is scoped to this case, their role and what they are asked for.
    let claims = rig.signer.verify(&notice.link_token().expect("a link"), rig.clock.now()).unwrap();
    assert_eq!((claims.case_id, claims.role.as_str()), (id, "provider"));
    assert!(claims.evidence.contains(&"notice_acknowledged".to_string()), "{claims:?}");

    // Nothing is due for ten days; then the chaser fires, and again a week later. Once it
    // has chased, the case is overdue.
    let overdue = || async {
        let filter = CaseFilter { overdue_at: Some(rig.clock.now()), ..CaseFilter::default() };
        rig.app
            .list_cases(&gatehouse_engine::snapshot::Actor::system(), &filter)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(rig.fire_due_timers().await, []);
    assert_eq!(overdue().await, Vec::<i64>::new(), "nothing has chased yet");
    rig.advance(10.days());
    let fired = rig.fire_due_timers().await;
    assert_eq!(fired, [TimerOutcome::Fired { case_id: id, timer: "acknowledgement_reminder".into() }]);
    assert_eq!(overdue().await, [id], "the reminder has chased, and the acknowledgement is still awaited");
    assert_eq!(sent_keys(&rig.send_due_mail().await).len(), 1);
    rig.advance(7.days());
    assert_eq!(rig.fire_due_timers().await.len(), 1);
    assert_eq!(sent_keys(&rig.send_due_mail().await).len(), 1);
    let reminders: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.subject().starts_with("Reminder - please acknowledge notice"))
        .collect();
    assert_eq!(reminders.len(), 2);
    // Each asks for a reply by the day it would remind again: 15 January, then 22.
    assert!(reminders[0].body.contains("by 22 January 2026"), "{}", reminders[0].body);
    assert!(reminders[1].body.contains("by 29 January 2026"), "{}", reminders[1].body);
    let visit = rig.app.case(id).await.unwrap().case.visit;
    assert_eq!(
        reminders[0].message_id(),
        format!("<case.{id}.{visit}.acknowledgement_reminder.1.provider@leeds.example>")
    );
    assert_eq!(
        reminders[1].message_id(),
        format!("<case.{id}.{visit}.acknowledgement_reminder.2.provider@leeds.example>")
    );
    let link = rig.signer.verify(&reminders[1].link_token().unwrap(), rig.clock.now()).unwrap();
    assert_eq!(link.evidence, ["notice_acknowledged"], "a reminder asks for what its timer waits for");

    // The provider acknowledges through their link: the reminders stop by themselves.
    rig.app.acknowledge(&Actor::link("provider"), id, "notice_acknowledged", None).await.unwrap();
    let timers = rig.app.case(id).await.unwrap().case.timers;
    assert!(timers.iter().all(|t| t.timer.as_str() != "acknowledgement_reminder"), "{timers:?}");
    assert_eq!(overdue().await, Vec::<i64>::new(), "nothing is awaited any more");
    for _ in 0..3 {
        rig.advance(7.days());
        assert_eq!(rig.fire_due_timers().await, []);
        assert_eq!(rig.send_due_mail().await, []);
    }
    assert_eq!(smtp.messages().len(), 6, "no reminder after the acknowledgement");
    db.drop_database().await;
}
on_both!(a_chaser_sends_through_smtp_until_the_evidence_arrives, chaser);

/// A letter names the commissioner responsible for the case, by name: who opened it,
/// until it is given to a colleague, whom the letters then name and who is told when one
/// cannot be delivered. Reassigning is kept in the audit trail, and only to a colleague
/// who holds one of the workflow's roles.
async fn owner(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions { reject: vec!["nowhere".into()], ..SmtpOptions::default() });
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(Some(smtp.url()), db.dir.path()), clock, "worker-1").await;
    let now = rig.clock.now();
    let store = rig.app.store();
    store.add_user("alice@leeds.example", "Alice Adeyemi", &["commissioner".into()], now).await.unwrap();
    store.add_user("dan@leeds.example", "Dan Dawson", &["director".into()], now).await.unwrap();
    store.add_user("pat@leeds.example", "Pat Pig", &["pig".into()], now).await.unwrap();
    let a = alice();

    // Who opened it, by name.
    let first = case_in_engagement(&rig.app, "2027-03-31").await;
    assert_eq!(rig.app.case(first).await.unwrap().case.owner, "alice@leeds.example");
    sent_keys(&rig.send_due_mail().await);
    let letter = smtp.messages().into_iter().find(|m| m.rcpt_to == [PROVIDER]).expect("the early engagement letter");
    assert!(letter.body.contains("Alice Adeyemi"), "{}", letter.body);

    // Only to a colleague who holds one of the workflow's roles, by one who does.
    let second = case_in_engagement(&rig.app, "2027-03-31").await;
    let refused = rig.app.reassign(&a, second, "pat@leeds.example").await.unwrap_err();
    assert!(refused.to_string().contains("holds none of this workflow's roles"), "{refused}");
    let unknown = rig.app.reassign(&a, second, "nobody@leeds.example").await.unwrap_err();
    assert!(unknown.to_string().contains("is not the email address of a user"), "{unknown}");
    let outsider = rig.app.reassign(&Actor::link("provider"), second, "dan@leeds.example").await.unwrap_err();
    assert!(matches!(outsider, gatehouse::app::AppError::NotAllowed(_)), "{outsider:?}");
    let view = rig.app.reassign(&a, second, " Dan@Leeds.example ").await.unwrap();
    assert_eq!(view.case.owner, "dan@leeds.example");
    let again = rig.app.reassign(&a, second, "dan@leeds.example").await.unwrap_err();
    assert!(again.to_string().contains("already responsible"), "{again}");
    let (events, broken) = rig.app.audit_trail(&Actor::system(), second).await.unwrap();
    assert!(broken.is_none());
    let changed = events.iter().find(|e| e.kind == "owner_changed").expect("kept in the audit trail");
    assert_eq!(changed.actor, "alice@leeds.example");
    let payload: serde_json::Value = serde_json::from_str(&changed.payload).unwrap();
    assert_eq!(payload, serde_json::json!({"from": "alice@leeds.example", "to": "dan@leeds.example"}));

    // Its letters now name Dan; one that cannot be delivered is told to Dan (and to the
    // commissioners, as every failure is).
    sent_keys(&rig.send_due_mail().await);
    let letters: Vec<_> = smtp.messages().into_iter().filter(|m| m.rcpt_to == [PROVIDER]).collect();
    assert_eq!(letters.len(), 2);
    assert!(letters[1].body.contains("Dan Dawson") && !letters[1].body.contains("Alice"), "{}", letters[1].body);
    let third = case_in_engagement(&rig.app, "2027-03-31").await;
    rig.app.reassign(&a, third, "dan@leeds.example").await.unwrap();
    rig.app
        .set_fields(&a, third, vec![("provider_email".into(), support::text("office@nowhere.example"))])
        .await
        .unwrap();
    let before = smtp.messages().len();
    rig.send_due_mail().await;
    let mut told: Vec<String> = smtp.messages()[before..].iter().flat_map(|m| m.rcpt_to.clone()).collect();
    told.sort();
    assert_eq!(told, ["alice@leeds.example", "dan@leeds.example"], "the owner and the commissioners");
    db.drop_database().await;
}
on_both!(letters_name_the_responsible_commissioner_who_may_be_reassigned, owner);

async fn smtp_down(backend: Backend) {
    let db = fresh_db(backend).await;
    let port = closed_port();
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(Some(format!("smtp://127.0.0.1:{port}")), db.dir.path()), clock, "worker-1").await;
    let id = case_in_engagement(&rig.app, "2027-03-31").await;
    let key = format!("case/{id}/1/early_engagement_letter/1");

    // The server is down: the message waits, its error kept, backing off with jitter.
    let MailOutcome::Retry { error, next_attempt_at, .. } = rig.send_due_mail().await.remove(0) else {
        panic!("expected a retry")
    };
    let now = rig.clock.now();
    assert!(!error.is_empty());
    let wait = next_attempt_at.duration_since(now).as_secs();
    assert!((15..=30).contains(&wait), "first retry after 15-30 s, not {wait} s");
    assert_eq!(rig.send_due_mail().await, [], "not retried before its time");
    let (_, delivery) = rig.app.store().message_by_key(&key).await.unwrap().unwrap();
    assert!(
        matches!(&delivery, Delivery::Pending { attempts: 1, last_error: Some(e), .. } if *e == error),
        "{delivery:?}"
    );

    rig.advance(31.seconds());
    let MailOutcome::Retry { next_attempt_at, .. } = rig.send_due_mail().await.remove(0) else {
        panic!("expected a retry")
    };
    let wait = next_attempt_at.duration_since(rig.clock.now()).as_secs();
    assert!((30..=60).contains(&wait), "second retry after 30-60 s, not {wait} s");

    // The server comes back: the message goes, once.
    let smtp = SmtpServer::start_on(port, SmtpOptions::default());
    rig.advance(61.seconds());
    assert_eq!(sent_keys(&rig.send_due_mail().await), std::slice::from_ref(&key));
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(smtp.messages()[0].rcpt_to, [PROVIDER]);
    let (m, delivery) = rig.app.store().message_by_key(&key).await.unwrap().unwrap();
    assert!(matches!(delivery, Delivery::Sent { note: None, .. }), "{delivery:?}");
    assert_eq!(m.attempts, 3);
    db.drop_database().await;
}
on_both!(smtp_down_is_retried_with_backoff_and_nothing_is_dropped, smtp_down);

async fn refused(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions { reject: vec!["kirkstall".into()], ..SmtpOptions::default() });
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(Some(smtp.url()), db.dir.path()), clock, "worker-1").await;
    rig.add_user("alice@leeds.example", &["commissioner"]).await;
    rig.add_user("bob@leeds.example", &["commissioner"]).await;
    let id = case_in_engagement(&rig.app, "2027-03-31").await;
    let key = format!("case/{id}/1/early_engagement_letter/1");

    // 550 from the server: failed for good, not retried, and the case's owner and its
    // commissioners are told.
    let outcomes = rig.send_due_mail().await;
    assert!(
        matches!(&outcomes[0], MailOutcome::Failed { escalated: true, error, .. } if error.contains("550")),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[1], MailOutcome::Sent { key: k, .. } if *k == format!("{key}/escalation")),
        "{outcomes:?}"
    );
    let (_, delivery) = rig.app.store().message_by_key(&key).await.unwrap().unwrap();
    assert!(matches!(&delivery, Delivery::Failed { error, .. } if error.contains("no such mailbox")), "{delivery:?}");
    let mail = smtp.messages();
    let mut told: Vec<String> = mail.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    told.sort();
    assert_eq!(told, ["alice@leeds.example", "bob@leeds.example"], "alice (owner and commissioner) once, bob once");
    assert!(
        mail[0].subject().contains(&format!("could not deliver a message about case {id}")),
        "{}",
        mail[0].subject()
    );
    assert!(mail[0].body.contains(&format!("https://gatehouse.test/cases/{id}")), "{}", mail[0].body);

    rig.advance(1.day());
    assert_eq!(rig.send_due_mail().await, [], "a failed message is not retried");
    let messages = rig.app.store().case_messages(id).await.unwrap();
    assert_eq!(messages.len(), 2, "the failure and its escalation are shown on the case");
    db.drop_database().await;
}
on_both!(a_refused_message_fails_for_good_and_is_escalated, refused);

async fn schedule(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions::default());
    let clock = Arc::new(FixedClock::new(support::start()));
    let s = settings(Some(smtp.url()), db.dir.path());
    let one = rig(&db, &s, clock.clone(), "worker-1").await;
    let two = rig(&db, &s, clock.clone(), "worker-2").await;
    one.add_user("pcg@leeds.example", &["people_commissioning_group"]).await;
    one.add_user("lead@leeds.example", &["review_lead"]).await;

    // First seen in January: nothing is sent for the Aprils that went before.
    assert_eq!(one.fire_due_schedules().await, []);
    assert_eq!(two.fire_due_schedules().await, []);
    // 09:00 on 1 April, London time, is 08:00 UTC.
    clock.set("2026-04-01T07:59:59Z".parse().unwrap());
    assert_eq!(one.fire_due_schedules().await, []);
    clock.set("2026-04-01T08:00:00Z".parse().unwrap());
    let fired = one.fire_due_schedules().await;
    assert!(
        matches!(&fired[..], [ScheduleOutcome::Fired { schedule, .. }] if schedule == "annual_code_review"),
        "{fired:?}"
    );
    assert_eq!(two.fire_due_schedules().await, [], "another process does not fire it again");
    assert_eq!(sent_keys(&two.send_due_mail().await).len(), 1);
    let mut to: Vec<String> = smtp.messages().iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    assert_eq!(to, ["lead@leeds.example", "pcg@leeds.example"]);
    assert!(smtp.messages()[0].subject().contains("annual review"), "{}", smtp.messages()[0].subject());

    // A year later, once again.
    clock.set("2027-06-01T00:00:00Z".parse().unwrap());
    assert_eq!(two.fire_due_schedules().await.len(), 1);
    assert_eq!(one.fire_due_schedules().await, []);
    db.drop_database().await;
}
on_both!(a_schedule_fires_once_per_occurrence_in_the_workflow_zone, schedule);

async fn eml_files(backend: Backend) {
    let db = fresh_db(backend).await;
    let outbox = db.dir.path().join("outbox");
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(None, &outbox), clock, "worker-1").await;
    let id = case_in_engagement(&rig.app, "2027-03-31").await;
    assert_eq!(sent_keys(&rig.send_due_mail().await).len(), 1);
    let file = outbox.join(format!("case.{id}.1.early_engagement_letter.1.provider.eml"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(text.contains(&format!("To: {PROVIDER}")), "{text}");
    assert!(text.contains("https://gatehouse.test/p/"), "{text}");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);
    db.drop_database().await;
}
on_both!(without_smtp_messages_are_written_as_eml_files, eml_files);

async fn listing(backend: Backend) {
    let db = fresh_db(backend).await;
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(None, &db.dir.path().join("outbox")), clock, "worker-1").await;
    let id = case_in_notice(&rig).await;
    // 2026-01-05 + 10 days: the first reminder; the contract-end timers are in 2027.
    let mut out = Vec::new();
    gatehouse::cli::timers::list_timers(&db.url, &support::workflows_dir(), jiff::civil::date(2026, 1, 16), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let expected = format!(
        "2026-01-15 09:00 Europe/London  case {id}  lcc-decommissioning (notice)  acknowledgement_reminder #1  sends lcc-acknowledge-notice-reminder to Provider  every P7D\n1 timer(s) due before 2026-01-16\n"
    );
    assert_eq!(text, expected);
    let mut out = Vec::new();
    gatehouse::cli::timers::list_timers(&db.url, &support::workflows_dir(), jiff::civil::date(2027, 12, 31), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("3 timer(s) due before 2027-12-31\n"), "{text}");
    assert!(text.contains("contract_end_reached #1  sends lcc-contract-end-reached to Lead commissioner  then requests `complete_decommissioning`"), "{text}");
    db.drop_database().await;
}
on_both!(armed_timers_are_listed_with_what_they_will_do, listing);

async fn batch(backend: Backend) {
    let db = fresh_db(backend).await;
    let clock = Arc::new(FixedClock::new(support::start()));
    let rig = rig(&db, &settings(None, db.dir.path()), clock, "worker-1").await;
    rig.add_user("eb@leeds.example", &["exec_board"]).await;
    let (a, b) = (case_in_notice(&rig).await, case_in_notice(&rig).await);
    rig.advance(10.days());

    // Both chasers fire in one batch, committed together. The same timer of case `a`
    // again in the batch was decided against the case as it was before the batch: its
    // compare-and-set fails, it is decided again on its own, and by then it is not due.
    // A timer the workflow does not have is refused. Each gets its own answer.
    let reminder = "acknowledgement_reminder".to_string();
    let answers = rig
        .app
        .fire_timers(&[(a, reminder.clone()), (b, reminder.clone()), (a, reminder.clone()), (b, "no_such".into())])
        .await;
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    assert!(answers[2].is_err() && answers[3].is_err(), "{answers:?}");

    for id in [a, b] {
        let case = rig.app.case(id).await.unwrap().case;
        let chaser = case.timers.iter().find(|t| t.timer.as_str() == reminder).expect("armed again");
        assert_eq!(chaser.occurrence, 1, "fired once: {chaser:?}");
        let queued = rig.app.store().case_messages(id).await.unwrap();
        let chased = queued.iter().filter(|(m, _)| m.message.key.contains(&reminder)).count();
        assert_eq!(chased, 1, "one reminder queued for case {id}");
    }
    let (cases, broken) = rig.app.store().verify_audit().await.unwrap();
    assert_eq!((cases, broken.len()), (2, 0));
    db.drop_database().await;
}
on_both!(timers_due_together_fire_in_one_batch_each_once, batch);
