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
       CAST(NULL AS TEXT) AS f, locks AS g, created_at AS t1, entered_at AS t2, updated_at AS t3, CAST(NULL AS DATE) AS dt, \
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

/// One row of [`LOAD_CASE`]: what each column holds depends on `kind`.
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

/// A case as read: its row, from which its definition is found, and the rest, which
/// [`LoadedCase::snapshot`] reads with that definition.
#[derive(Debug)]
pub struct LoadedCase {
    /// The case row.
    pub row: CaseRow,
    /// The last event of its audit trail.
    pub head: AuditHead,
    children: Vec<LoadPart>,
}

impl Store {
    /// Case `id` with every row the engine needs to decide about it, in one statement.
    pub async fn load(&self, id: i64) -> Result<LoadedCase, StoreError> {
        let statement = Statement::from_sql_and_values(self.backend(), LOAD_CASE, [id.into()]);
        let mut parts = LoadPart::find_by_statement(statement).all(&self.db).await?.into_iter();
        let Some(first) = parts.next().filter(|p| p.kind == CASE) else {
            return Err(StoreError::NotFound(format!("case {id}")));
        };
        let missing = |what: &str| StoreError::Corrupt(format!("case {id}: the case row has no {what}"));
        let row = CaseRow {
            id: first.id,
            workflow_id: first.a.ok_or_else(|| missing("workflow_id"))?,
            workflow_version: narrow(first.n3.ok_or_else(|| missing("workflow_version"))?, id)?,
            state: first.b.ok_or_else(|| missing("state"))?,
            version: first.n1.ok_or_else(|| missing("version"))?,
            visit: narrow(first.n2.ok_or_else(|| missing("visit"))?, id)?,
            fields: first.c.ok_or_else(|| missing("fields"))?,
            locks: first.g.ok_or_else(|| missing("locks"))?,
            created_by: first.d.ok_or_else(|| missing("created_by"))?,
            created_at: first.t1.ok_or_else(|| missing("created_at"))?,
            entered_by: first.e.ok_or_else(|| missing("entered_by"))?,
            entered_at: first.t2.ok_or_else(|| missing("entered_at"))?,
            updated_at: first.t3.ok_or_else(|| missing("updated_at"))?,
        };
        let mut children: Vec<LoadPart> = parts.collect();
        let head = match children.last() {
            Some(last) if last.kind == HEAD => {
                let last = children.pop().expect("a last row");
                AuditHead { seq: last.id, hash: last.a.ok_or_else(|| missing("hash on its last event"))? }
            }
            _ => AuditHead::genesis(),
        };
        Ok(LoadedCase { row, head, children })
    }
}

fn narrow(n: i64, case_id: i64) -> Result<i32, StoreError> {
    i32::try_from(n).map_err(|_| StoreError::Corrupt(format!("case {case_id}: {n} is out of range")))
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
        snapshot.entered_by = row.entered_by.clone();
        snapshot.entered_at = codec::to_jiff(row.entered_at);

        for p in self.children {
            let text = |v: Option<String>, what: &str| {
                v.ok_or_else(|| corrupt(format!("a {} row (id {}) has no {what}", &p.kind[1..], p.id)))
            };
            let at = codec::to_jiff(p.t1.ok_or_else(|| corrupt(format!("a {} row has no time", &p.kind[1..])))?);
            match p.kind.as_str() {
                EVIDENCE => {
                    let kind = text(p.a.clone(), "evidence_type")?;
                    let Some((id, _)) = def.evidence_kind(&kind) else {
                        return Err(corrupt(format!("unknown evidence `{kind}`")));
                    };
                    let value: serde_json::Value =
                        serde_json::from_str(&text(p.b.clone(), "content")?).map_err(|err| corrupt(err.to_string()))?;
                    let content = codec::content_from_json(&value).map_err(corrupt)?;
                    let by = text(p.c.clone(), "attached_by")?;
                    snapshot.evidence.insert(id.clone(), EvidenceRecord { evidence: id.clone(), content, by, at });
                }
                APPROVAL => {
                    let name = text(p.a.clone(), "role")?;
                    let role = role_id(def, &name).ok_or_else(|| corrupt(format!("unknown role `{name}`")))?;
                    let meeting = match (p.e.clone(), p.dt.and_then(codec::date_to_jiff)) {
                        (Some(name), Some(date)) => Some(Meeting { name, date }),
                        _ => None,
                    };
                    // Only what `codec::verdict_name` writes: anything else is not
                    // guessed to be an approval.
                    let verdict = match text(p.b.clone(), "verdict")?.as_str() {
                        "approve" => Verdict::Approve,
                        "reject" => Verdict::Reject,
                        other => {
                            return Err(corrupt(format!(
                                "an approval row (id {}) has verdict `{other}`, neither approve nor reject",
                                p.id
                            )));
                        }
                    };
                    snapshot.approvals.push(ApprovalRecord {
                        role,
                        verdict,
                        by: text(p.c.clone(), "approved_by")?,
                        at,
                        visit: p.n2.unwrap_or_default().max(0) as u32,
                        comment: p.d.clone(),
                        meeting,
                        conflict: p.f.clone(),
                        basis: p.g.as_deref().map(codec::basis_from_text).transpose().map_err(corrupt)?,
                    });
                }
                CONFLICT => {
                    let name = text(p.a.clone(), "role")?;
                    let role = role_id(def, &name).ok_or_else(|| corrupt(format!("unknown role `{name}`")))?;
                    snapshot.conflicts.push(ConflictRecord {
                        role,
                        reason: text(p.b.clone(), "reason")?,
                        by: text(p.c.clone(), "declared_by")?,
                        at,
                    });
                }
                TIMER => {
                    let name = text(p.a.clone(), "timer_id")?;
                    let timer = def
                        .timer(&name)
                        .map(|d| d.id.clone())
                        .ok_or_else(|| corrupt(format!("unknown timer `{name}`")))?;
                    snapshot.timers.push(ArmedTimer {
                        timer,
                        due_at: at,
                        occurrence: p.n1.unwrap_or_default().max(0) as u32,
                    });
                }
                other => return Err(corrupt(format!("the load statement returned a `{other}` row"))),
            }
        }
        snapshot.order_timers();
        Ok(snapshot)
    }
}

fn role_id(def: &Definition, role: &str) -> Option<RoleId> {
    def.role(role).map(|(id, _)| id.clone())
}
