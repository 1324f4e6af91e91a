//! The Leeds decommissioning lifecycle as durable operations: one app service call each,
//! which loads the case, asks the engine and applies the decision in one transaction.
//! A case is opened, prepared for a key decision, decided by the Executive Board and
//! given notice: 17 operations. Every document has its own content, so every attachment
//! also writes (and fsyncs) a new evidence file, as it would in use.

use crate::rate::Worker;
use crate::support::{alice, lcc_fields};
use gatehouse::app::App;
use gatehouse_engine::snapshot::{Actor, Answer, Verdict};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One operation on an open case.
pub enum Op {
    /// Attach a document to this evidence.
    Attach(&'static str),
    /// Answer one checklist item of `decommissioning_checklist`.
    Answer(&'static str),
    /// The Executive Board approves.
    Approve,
    /// Request this transition.
    Move(&'static str),
}

/// What a case needs before it can start engagement.
pub const NEEDS_ASSESSMENT: Op = Op::Attach("needs_assessment");
/// The first transition of every case.
pub const START_ENGAGEMENT: Op = Op::Move("start_engagement");

/// Everything after opening, in order.
pub const LIFECYCLE: [Op; 17] = [
    NEEDS_ASSESSMENT,
    START_ENGAGEMENT,
    Op::Answer("financial_requirements"),
    Op::Answer("political_perspective"),
    Op::Answer("service_user_needs"),
    Op::Answer("parents_and_carers"),
    Op::Attach("equality_impact_assessment"),
    Op::Attach("service_impact_assessment"),
    Op::Attach("consultation"),
    Op::Attach("provider_engagement"),
    Op::Move("submit_key_decision"),
    Op::Attach("executive_member_briefing"),
    Op::Approve,
    Op::Move("approve_key_decision"),
    Op::Attach("support_offer"),
    Op::Attach("decommissioning_plan"),
    Op::Move("serve_notice"),
];

/// Takes case after case through the lifecycle, one durable operation per step.
pub struct Client {
    app: Arc<App>,
    /// The case being worked on, and the index in `LIFECYCLE` of its next operation.
    case: Option<(i64, usize)>,
    /// Shared by the clients of one measurement.
    times: Arc<Mutex<OpTimes>>,
}

/// How long the operations took, those that attach a document (and so also write and
/// fsync a file) apart from the others, added up over every client: what the evidence
/// files cost, beside what the database costs.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpTimes {
    pub documents: (u64, Duration),
    pub others: (u64, Duration),
}

impl OpTimes {
    /// The mean time of an operation that attaches a document, and of any other.
    pub fn means(&self) -> (Duration, Duration) {
        let mean = |(n, total): (u64, Duration)| if n == 0 { Duration::ZERO } else { total / n as u32 };
        (mean(self.documents), mean(self.others))
    }
}

/// `clients` clients, none of them working on a case yet, and where they add up their
/// operations' times.
pub fn clients(app: &Arc<App>, clients: usize) -> (Vec<Client>, Arc<Mutex<OpTimes>>) {
    let times = Arc::new(Mutex::new(OpTimes::default()));
    let clients = (0..clients).map(|_| Client { app: app.clone(), case: None, times: times.clone() }).collect();
    (clients, times)
}

impl Worker for Client {
    async fn step(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        let (case, document) = match self.case {
            None => (Some((open(&self.app).await?, 0)), false),
            Some((id, next)) => {
                let op = &LIFECYCLE[next];
                apply(&self.app, id, op).await?;
                ((next + 1 < LIFECYCLE.len()).then_some((id, next + 1)), matches!(op, Op::Attach(_)))
            }
        };
        self.case = case;
        let took = start.elapsed();
        let mut times = self.times.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let kind = if document { &mut times.documents } else { &mut times.others };
        kind.0 += 1;
        kind.1 += took;
        Ok(())
    }
}

/// Open a key-decision case (£650,000 a year, ending 31 March 2027). Returns its id.
pub async fn open(app: &App) -> anyhow::Result<i64> {
    Ok(app.create_case(&alice(), "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await?.case.id)
}

/// One operation on case `id`.
pub async fn apply(app: &App, id: i64, op: &Op) -> anyhow::Result<()> {
    let commissioner = alice();
    match op {
        Op::Attach(evidence) => {
            let content = format!("{evidence} of case {id}");
            let name = format!("{evidence}.pdf");
            app.attach_document(&commissioner, id, evidence, &name, "application/pdf", content.as_bytes()).await?;
        }
        Op::Answer(item) => {
            let answers = [(item.to_string(), (Answer::Yes, None))].into_iter().collect();
            app.answer_checklist(&commissioner, id, "decommissioning_checklist", answers).await?;
        }
        Op::Approve => {
            let board = Actor::user("eb@leeds.example", ["exec_board"]);
            app.record_approval(&board, id, "exec_board", Verdict::Approve, Some("Resolved".into()), None, None)
                .await?;
        }
        Op::Move(transition) => {
            app.request_transition(&commissioner, id, transition, None).await?;
        }
    }
    Ok(())
}
