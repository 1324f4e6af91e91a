//! Loading a case: the case row and every row the engine needs to decide about it
//! (current evidence, approvals, conflicts, armed timers) in one statement, so that a
//! read costs one round trip to the database however many tables it touches.
//!
//! It also reads the head of the case's audit chain (its last event's sequence number
//! and hash), which the next decision's events are chained to: the compare-and-set on
//! the case version when they are written guarantees that no event was added since.
//!
//! The statement is a `UNION ALL` of the five tables into one loose row shape
//! ([`LoadPart`]); each branch says which table it came from in `kind`. The same SQL
//! runs on SQLite and PostgreSQL: every `NULL` is cast, because PostgreSQL resolves the
//! column types of a union pairwise, left to right.

use super::audit::AuditHead;
use super::cases::CaseRow;
use super::{Store, StoreError, codec};
use chrono::{DateTime, NaiveDate, Utc};
use gatehouse_engine::decide::blank_case;
use gatehouse_engine::definition::Definition;
use gatehouse_engine::ids::RoleId;
use gatehouse_engine::snapshot::{
    Actor, ApprovalRecord, ArmedTimer, CaseSnapshot, ConflictRecord, EvidenceRecord, Meeting, Verdict,
};
use sea_orm::{FromQueryResult, Statement};

const CASE: &str = "0case";
const EVIDENCE: &str = "1evidence";
const APPROVAL: &str = "2approval";
const CONFLICT: &str = "3conflict";
const TIMER: &str = "4timer";
const HEAD: &str = "5head";

/// Columns: kind, id (the event's `seq` for the audit head), a–g (text), t1–t3 (timestamps), dt (a date), n1–n3 (integers).
/// Sorted by kind, then id: the case row first, and each table's rows in the order
/// they were written.
const LOAD_CASE: &str = "\
SELECT '0case' AS kind, id, workflow_id AS a, state AS b, fields AS c, created_by AS d, entered_by AS e, \
       owner AS f, locks AS g, created_at AS t1, entered_at AS t2, updated_at AS t3, CAST(NULL AS DATE) AS dt, \
       CAST(version AS BIGINT) AS n1, CAST(visit AS BIGINT) AS n2, CAST(workflow_version AS BIGINT) AS n3 \
  FROM cases WHERE id = $1 \
UNION ALL \
SELECT '1evidence', id, evidence_type, content, attached_by, CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
       CAST(NULL AS TEXT), CAST(NULL AS TEXT), attached_at, CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS DATE), \
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) \
  FROM evidence WHERE case_id = $1 AND superseded_by IS NULL \
UNION ALL \
SELECT '2approval', id, role, verdict, approved_by, comment, meeting_name, \
       conflict, basis, approved_at, CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), meeting_date, \
       CAST(NULL AS BIGINT), CAST(visit AS BIGINT), CAST(NULL AS BIGINT) \
  FROM approvals WHERE case_id = $1 \
UNION ALL \
SELECT '3conflict', id, role, reason, declared_by, CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
       CAST(NULL AS TEXT), CAST(NULL AS TEXT), declared_at, CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS DATE), \
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) \
  FROM conflicts WHERE case_id = $1 \
UNION ALL \
SELECT '4timer', id, timer_id, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
       CAST(NULL AS TEXT), CAST(NULL AS TEXT), due_at, CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS DATE), \
       CAST(occurrence AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) \
  FROM timers WHERE case_id = $1 \
UNION ALL \
SELECT '5head', seq, hash, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
       CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ), \
       CAST(NULL AS DATE), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) \
  FROM events WHERE case_id = $1 AND seq = (SELECT MAX(seq) FROM events WHERE case_id = $1) \
ORDER BY kind, id";

/// One row of [`LOAD_CASE`], as the union returns it: what each column holds depends
/// on `kind`. It is read into what it holds ([`LoadPart::case_row`], [`LoadPart::read`])
/// as soon as it arrives, and in those two places only, beside the statement that
/// fills it.
#[derive(Debug, FromQueryResult)]
struct LoadPart {
    kind: String,
    id: i64,
    a: Option<String>,
    b: Option<String>,
    c: Option<String>,
    d: Option<String>,
    e: Option<String>,
    f: Option<String>,
    g: Option<String>,
    t1: Option<DateTime<Utc>>,
    t2: Option<DateTime<Utc>>,
    t3: Option<DateTime<Utc>>,
    dt: Option<NaiveDate>,
    n1: Option<i64>,
    n2: Option<i64>,
    n3: Option<i64>,
}

/// A row of one of the case's other tables, read from a [`LoadPart`].
#[derive(Debug)]
enum Part {
    Evidence { evidence_type: String, content: String, attached_by: String, attached_at: DateTime<Utc> },
    Approval(ApprovalRow),
    Conflict { role: String, reason: String, declared_by: String, declared_at: DateTime<Utc> },
    Timer { timer_id: String, due_at: DateTime<Utc>, occurrence: i64 },
    Head { seq: i64, hash: String },
}

/// An approval row, as [`Part::Approval`] holds it.
#[derive(Debug)]
struct ApprovalRow {
    id: i64,
    role: String,
    verdict: String,
    approved_by: String,
    approved_at: DateTime<Utc>,
    visit: i64,
    comment: Option<String>,
    meeting: Option<(String, NaiveDate)>,
    conflict: Option<String>,
    basis: Option<String>,
}

impl LoadPart {
    /// The case row, from the first row (its columns as [`LOAD_CASE`]'s first branch
    /// names them).
    fn case_row(self) -> Result<CaseRow, String> {
        let missing = |what: &str| format!("the case row has no {what}");
        Ok(CaseRow {
            id: self.id,
            workflow_id: self.a.ok_or_else(|| missing("workflow_id"))?,
            workflow_version: narrow(self.n3.ok_or_else(|| missing("workflow_version"))?)?,
            state: self.b.ok_or_else(|| missing("state"))?,
            fields: self.c.ok_or_else(|| missing("fields"))?,
            created_by: self.d.ok_or_else(|| missing("created_by"))?,
            entered_by: self.e.ok_or_else(|| missing("entered_by"))?,
            owner: self.f.ok_or_else(|| missing("owner"))?,
            locks: self.g.ok_or_else(|| missing("locks"))?,
            created_at: self.t1.ok_or_else(|| missing("created_at"))?,
            entered_at: self.t2.ok_or_else(|| missing("entered_at"))?,
            updated_at: self.t3.ok_or_else(|| missing("updated_at"))?,
            version: self.n1.ok_or_else(|| missing("version"))?,
            visit: narrow(self.n2.ok_or_else(|| missing("visit"))?)?,
            // Not read with the case: a parent reads its children with `children_of`.
            parent_id: None,
            child_group: None,
            child_number: None,
        })
    }

    /// Any other row, by its `kind` (columns as the statement's branch for it names them).
    fn read(self) -> Result<Part, String> {
        let LoadPart { kind, id, a, b, c, d, e, f, g, t1, dt, n1, n2, .. } = self;
        let table = kind.get(1..).unwrap_or_default().to_string();
        let need = |v: Option<String>, what: &str| v.ok_or_else(|| format!("a {table} row (id {id}) has no {what}"));
        let at = |v: Option<DateTime<Utc>>| v.ok_or_else(|| format!("a {table} row (id {id}) has no time"));
        Ok(match kind.as_str() {
            EVIDENCE => Part::Evidence {
                evidence_type: need(a, "evidence_type")?,
                content: need(b, "content")?,
                attached_by: need(c, "attached_by")?,
                attached_at: at(t1)?,
            },
            APPROVAL => Part::Approval(ApprovalRow {
                id,
                role: need(a, "role")?,
                verdict: need(b, "verdict")?,
                approved_by: need(c, "approved_by")?,
                approved_at: at(t1)?,
                visit: n2.unwrap_or_default(),
                comment: d,
                meeting: e.zip(dt),
                conflict: f,
                basis: g,
            }),
            CONFLICT => Part::Conflict {
                role: need(a, "role")?,
                reason: need(b, "reason")?,
                declared_by: need(c, "declared_by")?,
                declared_at: at(t1)?,
            },
            TIMER => {
                Part::Timer { timer_id: need(a, "timer_id")?, due_at: at(t1)?, occurrence: n1.unwrap_or_default() }
            }
            HEAD => Part::Head { seq: id, hash: need(a, "hash")? },
            other => return Err(format!("the load statement returned a `{other}` row")),
        })
    }
}

/// A case as read: its row, from which its definition is found, and the rest, which
/// [`LoadedCase::snapshot`] reads with that definition.
#[derive(Debug)]
pub struct LoadedCase {
    /// The case row.
    pub row: CaseRow,
    /// The last event of its audit trail.
    pub head: AuditHead,
    parts: Vec<Part>,
}

impl Store {
    /// Case `id` with every row the engine needs to decide about it, in one statement.
    pub async fn load(&self, id: i64) -> Result<LoadedCase, StoreError> {
        let statement = Statement::from_sql_and_values(self.backend(), LOAD_CASE, [id.into()]);
        let mut rows = LoadPart::find_by_statement(statement).all(&self.db).await?.into_iter();
        let Some(first) = rows.next().filter(|p| p.kind == CASE) else {
            return Err(StoreError::NotFound(format!("case {id}")));
        };
        let corrupt = |m: String| StoreError::Corrupt(format!("case {id}: {m}"));
        let row = first.case_row().map_err(corrupt)?;
        let mut parts = rows.map(LoadPart::read).collect::<Result<Vec<_>, _>>().map_err(corrupt)?;
        let head = match parts.pop_if(|p| matches!(p, Part::Head { .. })) {
            Some(Part::Head { seq, hash }) => AuditHead { seq, hash },
            _ => AuditHead::genesis(),
        };
        Ok(LoadedCase { row, head, parts })
    }
}

fn narrow(n: i64) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("{n} is out of range"))
}

impl LoadedCase {
    /// What the engine sees of the case, read with `def`, the definition its row names.
    /// A row the definition cannot explain (an unknown state, role, evidence type or
    /// timer) means the database was edited by hand: it is reported, not guessed at.
    pub fn snapshot(self, def: &Definition) -> Result<CaseSnapshot, StoreError> {
        let row = &self.row;
        let corrupt = |m: String| StoreError::Corrupt(format!("case {}: {m}", row.id));
        let fields = codec::fields_from_text(def, &row.fields).map_err(corrupt)?;
        let state = def
            .state(&row.state)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| corrupt(format!("unknown state `{}`", row.state)))?;
        let mut snapshot = blank_case(def, &Actor::system(), codec::to_jiff(row.created_at));
        snapshot.id = row.id;
        snapshot.state = state;
        snapshot.version = row.version;
        snapshot.visit = row.visit as u32;
        snapshot.fields = fields;
        (snapshot.visited, snapshot.relied) = codec::locks_from_text(def, &row.locks).map_err(corrupt)?;
        snapshot.created_by = row.created_by.clone();
        snapshot.owner = row.owner.clone();
        snapshot.entered_by = row.entered_by.clone();
        snapshot.entered_at = codec::to_jiff(row.entered_at);

        for part in self.parts {
            match part {
                Part::Evidence { evidence_type, content, attached_by, attached_at } => {
                    let Some((id, _)) = def.evidence_kind(&evidence_type) else {
                        return Err(corrupt(format!("unknown evidence `{evidence_type}`")));
                    };
                    let value: serde_json::Value =
                        serde_json::from_str(&content).map_err(|err| corrupt(err.to_string()))?;
                    let content = codec::content_from_json(&value).map_err(corrupt)?;
                    let at = codec::to_jiff(attached_at);
                    snapshot
                        .evidence
                        .insert(id.clone(), EvidenceRecord { evidence: id.clone(), content, by: attached_by, at });
                }
                Part::Approval(a) => {
                    let role = role_id(def, &a.role).ok_or_else(|| corrupt(format!("unknown role `{}`", a.role)))?;
                    let meeting =
                        a.meeting.and_then(|(name, date)| Some(Meeting { name, date: codec::date_to_jiff(date)? }));
                    // Only what `codec::verdict_name` writes: anything else is not
                    // guessed to be an approval.
                    let verdict = match a.verdict.as_str() {
                        "approve" => Verdict::Approve,
                        "reject" => Verdict::Reject,
                        other => {
                            return Err(corrupt(format!(
                                "an approval row (id {}) has verdict `{other}`, neither approve nor reject",
                                a.id
                            )));
                        }
                    };
                    snapshot.approvals.push(ApprovalRecord {
                        role,
                        verdict,
                        by: a.approved_by,
                        at: codec::to_jiff(a.approved_at),
                        visit: a.visit.max(0) as u32,
                        comment: a.comment,
                        meeting,
                        conflict: a.conflict,
                        basis: a.basis.as_deref().map(codec::basis_from_text).transpose().map_err(corrupt)?,
                    });
                }
                Part::Conflict { role, reason, declared_by, declared_at } => {
                    let role = role_id(def, &role).ok_or_else(|| corrupt(format!("unknown role `{role}`")))?;
                    snapshot.conflicts.push(ConflictRecord {
                        role,
                        reason,
                        by: declared_by,
                        at: codec::to_jiff(declared_at),
                    });
                }
                Part::Timer { timer_id, due_at, occurrence } => {
                    let timer = def
                        .timer(&timer_id)
                        .map(|d| d.id.clone())
                        .ok_or_else(|| corrupt(format!("unknown timer `{timer_id}`")))?;
                    snapshot.timers.push(ArmedTimer {
                        timer,
                        due_at: codec::to_jiff(due_at),
                        occurrence: occurrence.max(0) as u32,
                    });
                }
                Part::Head { .. } => return Err(corrupt("the audit head came before the case's last row".into())),
            }
        }
        snapshot.order_timers();
        Ok(snapshot)
    }
}

fn role_id(def: &Definition, role: &str) -> Option<RoleId> {
    def.role(role).map(|(id, _)| id.clone())
}
