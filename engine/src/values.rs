//! Plain data that cases and decisions are made of: who acts, field values, checklist
//! answers, evidence content, verdicts, meetings, what an approval rests on, and armed
//! timers. No behaviour beyond showing a value to people.

use crate::ids::TimerId;
use jiff::Timestamp;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// Who acts: a user with roles, a provider through an emailed link, or the system
/// (timers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A stable id: a user's email, `link:<role>` for a provider link, `system`.
    pub id: String,
    /// Role ids the actor holds.
    pub roles: Vec<String>,
    /// What kind of actor this is.
    pub kind: ActorKind,
}

/// The kinds of actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A person with an account.
    User,
    /// An external party acting through a signed link scoped to one case and role.
    Link,
    /// Gatehouse itself, firing a timer.
    System,
}

impl Actor {
    /// A user with roles.
    pub fn user(id: impl Into<String>, roles: impl IntoIterator<Item = impl Into<String>>) -> Actor {
        Actor { id: id.into(), roles: roles.into_iter().map(Into::into).collect(), kind: ActorKind::User }
    }

    /// An external role acting through a signed link.
    pub fn link(role: &str) -> Actor {
        Actor { id: format!("link:{role}"), roles: vec![role.to_string()], kind: ActorKind::Link }
    }

    /// Gatehouse itself.
    pub fn system() -> Actor {
        Actor { id: "system".into(), roles: Vec::new(), kind: ActorKind::System }
    }

    /// Whether the actor holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A typed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text, email and choice fields.
    Text(String),
    /// Money, in pence.
    Pence(i64),
    /// A decimal number.
    Number(f64),
    /// A whole number.
    Integer(i64),
    /// Yes or no.
    Bool(bool),
    /// A date.
    Date(Date),
}

impl FieldValue {
    /// The value for people: money as £1,234.50, dates as 2027-03-31.
    pub fn display(&self) -> String {
        match self {
            FieldValue::Text(s) => s.clone(),
            FieldValue::Pence(p) => format_pounds(*p),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Integer(n) => n.to_string(),
            FieldValue::Bool(b) => if *b { "yes" } else { "no" }.into(),
            FieldValue::Date(d) => d.to_string(),
        }
    }
}

fn format_pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    let pounds = (p / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in pounds.chars().enumerate() {
        if i > 0 && (pounds.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if p.is_multiple_of(100) { format!("{sign}£{grouped}") } else { format!("{sign}£{grouped}.{:02}", p % 100) }
}

/// An answer to one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Considered, and it applies.
    Yes,
    /// Considered, and it does not hold.
    No,
    /// Considered, and not relevant to this case.
    NotApplicable,
}

/// What a piece of evidence holds.
#[derive(Debug, Clone, PartialEq)]
pub enum EvidenceContent {
    /// A stored file, content-addressed.
    Document {
        /// sha256 of the content, hex.
        sha256: String,
        /// The file name as uploaded (for display only).
        name: String,
        /// Size in bytes.
        size: u64,
        /// Media type.
        media_type: String,
    },
    /// Checklist answers by item id, with an optional note each.
    Checklist(BTreeMap<String, (Answer, Option<String>)>),
    /// A confirmation.
    Acknowledgement {
        /// An optional note from whoever acknowledged.
        note: Option<String>,
    },
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// In favour.
    Approve,
    /// Against; blocks the gate.
    Reject,
}

/// Where an approval was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The meeting's name ("PIG, March").
    pub name: String,
    /// Its date.
    pub date: Date,
}

/// The facts an approval rests on, each as it was when given: `field:<id>` or
/// `evidence:<id>`, to a fingerprint of its value (empty when unset or not held).
pub type Basis = BTreeMap<String, String>;

/// A timer armed on the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmedTimer {
    /// Which timer.
    pub timer: TimerId,
    /// When it is next due.
    pub due_at: Timestamp,
    /// How many times it has fired already in this visit.
    pub occurrence: u32,
}

/// A value as it arrives from outside (JSON, a form, a test step), before it is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// No value: clears an optional field.
    Null,
    /// true / false.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// Text.
    Text(String),
}

/// The type of a field, checked on every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// An email address.
    Email,
    /// An amount in pounds, stored in pence.
    Money,
    /// A decimal number.
    Number,
    /// A whole number.
    Integer,
    /// Yes or no.
    Boolean,
    /// A calendar date.
    Date,
    /// One of a fixed list.
    Choice(Vec<String>),
}

impl FieldType {
    /// The name used in workflow files.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Email => "email",
            FieldType::Money => "money",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Choice(_) => "choice",
        }
    }
}

/// A value set in `params:`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A number (thresholds in pounds, counts).
    Number(f64),
    /// Text.
    Text(String),
    /// A flag.
    Bool(bool),
}
