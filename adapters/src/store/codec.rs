//! Conversions between engine types and what the database stores: field values as
//! JSON, evidence content as JSON, events as JSON payloads, jiff timestamps as chrono.
//! The engine's domain types are not serializable by design; this is the one place
//! that says how they are written down.

use gatehouse_engine::decide::Event;
use gatehouse_engine::definition::{Definition, FieldType};
use gatehouse_engine::ids::{FieldId, StateId};
use gatehouse_engine::snapshot::{
    Answer, Basis, CaseSnapshot, EvidenceContent, FieldValue, Meeting, Reliance, Verdict,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A jiff timestamp as chrono, truncated to microseconds (what PostgreSQL keeps).
pub fn to_chrono(t: jiff::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.as_microsecond()).unwrap_or_default()
}

/// A chrono timestamp as jiff.
pub fn to_jiff(t: chrono::DateTime<chrono::Utc>) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(t.timestamp_micros()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// A jiff date as chrono.
pub fn date_to_chrono(d: jiff::civil::Date) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(d.year().into(), d.month() as u32, d.day() as u32).unwrap_or_default()
}

/// A chrono date as jiff.
pub fn date_to_jiff(d: chrono::NaiveDate) -> Option<jiff::civil::Date> {
    use chrono::Datelike;
    jiff::civil::Date::new(d.year() as i16, d.month() as i8, d.day() as i8).ok()
}

/// One field value as JSON: money in pence as an integer, dates as `YYYY-MM-DD`.
pub fn field_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Text(s) => json!(s),
        FieldValue::Pence(p) => json!(p),
        FieldValue::Number(n) => json!(n),
        FieldValue::Integer(n) => json!(n),
        FieldValue::Bool(b) => json!(b),
        FieldValue::Date(d) => json!(d.to_string()),
    }
}

/// All fields as a JSON object text.
pub fn fields_text(fields: &BTreeMap<FieldId, FieldValue>) -> String {
    let map: Map<String, Value> = fields.iter().map(|(k, v)| (k.to_string(), field_json(v))).collect();
    Value::Object(map).to_string()
}

/// Fields read back with the types the definition declares. A value that no longer
/// fits its field (it cannot happen unless the row was edited by hand) is an error.
pub fn fields_from_text(def: &Definition, text: &str) -> Result<BTreeMap<FieldId, FieldValue>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("fields are not JSON: {e}"))?;
    let Value::Object(map) = value else { return Err("fields are not a JSON object".into()) };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let Some((id, field)) = def.fields.get_key_value(k.as_str()) else {
            return Err(format!("field `{k}` is not declared by {} v{}", def.id, def.version));
        };
        let value = match (&field.kind, &v) {
            (FieldType::Text | FieldType::Email | FieldType::Choice(_), Value::String(s)) => {
                FieldValue::Text(s.clone())
            }
            (FieldType::Money, Value::Number(n)) => FieldValue::Pence(n.as_i64().ok_or("money is not whole pence")?),
            (FieldType::Number, Value::Number(n)) => FieldValue::Number(n.as_f64().ok_or("not a number")?),
            (FieldType::Integer, Value::Number(n)) => FieldValue::Integer(n.as_i64().ok_or("not a whole number")?),
            (FieldType::Boolean, Value::Bool(b)) => FieldValue::Bool(*b),
            (FieldType::Date, Value::String(s)) => {
                FieldValue::Date(s.parse().map_err(|e| format!("bad date `{s}`: {e}"))?)
            }
            (kind, v) => return Err(format!("field `{k}` holds {v}, not a {}", kind.name())),
        };
        out.insert(id.clone(), value);
    }
    Ok(out)
}

/// What locks a case's fields, as stored in `cases.locks`: the states it has been in,
/// and the taken transitions that relied on fields.
pub fn locks_text(case: &CaseSnapshot) -> String {
    let relied: Vec<Value> = case
        .relied
        .iter()
        .map(|r| {
            json!({
                "transition": r.transition.as_str(), "from": r.from.as_str(), "visit": r.visit,
                "fields": r.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(), "at": r.at.to_string(),
                "visited": r.visited.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let visited: Vec<&str> = case.visited.iter().map(|s| s.as_str()).collect();
    json!({ "visited": visited, "relied": relied }).to_string()
}

/// `cases.locks` read back against `def`: the states visited, and the reliances.
pub fn locks_from_text(def: &Definition, text: &str) -> Result<(Vec<StateId>, Vec<Reliance>), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("locks are not JSON: {e}"))?;
    let state = |v: &Value| -> Result<StateId, String> {
        let name = v.as_str().ok_or("a state in locks is not text")?;
        def.state(name).map(|(id, _)| id.clone()).ok_or(format!("locks name unknown state `{name}`"))
    };
    let states = |v: Option<&Value>| -> Result<Vec<StateId>, String> {
        v.and_then(Value::as_array).map(|l| l.iter().map(state).collect()).unwrap_or(Ok(Vec::new()))
    };
    let visited = states(value.get("visited"))?;
    let mut relied = Vec::new();
    for item in value.get("relied").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let text = |key: &str| item.get(key).and_then(Value::as_str).ok_or(format!("a reliance has no `{key}`"));
        let transition = text("transition")?;
        let transition = def.transition(transition).map(|t| t.id.clone()).ok_or(format!(
            "a reliance names transition `{transition}`, not declared by {} v{}",
            def.id, def.version
        ))?;
        let mut fields = Vec::new();
        for f in item.get("fields").and_then(Value::as_array).ok_or("a reliance has no `fields`")? {
            let name = f.as_str().unwrap_or_default();
            let (id, _) = def.fields.get_key_value(name).ok_or(format!("a reliance names unknown field `{name}`"))?;
            fields.push(id.clone());
        }
        relied.push(Reliance {
            transition,
            from: state(item.get("from").ok_or("a reliance has no `from`")?)?,
            visit: item.get("visit").and_then(Value::as_u64).ok_or("a reliance has no `visit`")? as u32,
            fields,
            at: text("at")?.parse().map_err(|e| format!("a reliance's time is not a time: {e}"))?,
            visited: states(item.get("visited"))?,
        });
    }
    Ok((visited, relied))
}

/// An approval's basis, as stored in `approvals.basis`.
pub fn basis_text(basis: &Basis) -> String {
    serde_json::to_string(basis).unwrap_or_default()
}

/// `approvals.basis` read back.
pub fn basis_from_text(text: &str) -> Result<Basis, String> {
    serde_json::from_str(text).map_err(|e| format!("an approval's basis is not a JSON object of text: {e}"))
}

fn answer_name(a: Answer) -> &'static str {
    match a {
        Answer::Yes => "yes",
        Answer::No => "no",
        Answer::NotApplicable => "not_applicable",
    }
}

/// Parse an answer as stored, or as sent by a client.
pub fn answer_from(s: &str) -> Option<Answer> {
    match s {
        "yes" | "true" => Some(Answer::Yes),
        "no" | "false" => Some(Answer::No),
        "not_applicable" | "n/a" | "na" => Some(Answer::NotApplicable),
        _ => None,
    }
}

/// Evidence content as JSON.
pub fn content_json(c: &EvidenceContent) -> Value {
    match c {
        EvidenceContent::Document { sha256, name, size, media_type } => {
            json!({ "kind": "document", "sha256": sha256, "name": name, "size": size, "media_type": media_type })
        }
        EvidenceContent::Checklist(answers) => {
            let items: Map<String, Value> = answers
                .iter()
                .map(|(k, (a, note))| (k.clone(), json!({ "answer": answer_name(*a), "note": note })))
                .collect();
            json!({ "kind": "checklist", "answers": items })
        }
        EvidenceContent::Acknowledgement { note } => json!({ "kind": "acknowledgement", "note": note }),
    }
}

/// Evidence content read back.
pub fn content_from_json(v: &Value) -> Result<EvidenceContent, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match v.get("kind").and_then(Value::as_str) {
        Some("document") => Ok(EvidenceContent::Document {
            sha256: s("sha256").ok_or("document without sha256")?,
            name: s("name").unwrap_or_default(),
            size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
            media_type: s("media_type").unwrap_or_default(),
        }),
        Some("checklist") => {
            let mut answers = BTreeMap::new();
            for (k, item) in v.get("answers").and_then(Value::as_object).ok_or("checklist without answers")? {
                let a = item.get("answer").and_then(Value::as_str).and_then(answer_from).ok_or("bad answer")?;
                let note = item.get("note").and_then(Value::as_str).map(str::to_string);
                answers.insert(k.clone(), (a, note));
            }
            Ok(EvidenceContent::Checklist(answers))
        }
        Some("acknowledgement") => Ok(EvidenceContent::Acknowledgement { note: s("note") }),
        other => Err(format!("unknown evidence content kind {other:?}")),
    }
}

/// A verdict as stored.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    }
}

fn meeting_json(m: &Option<Meeting>) -> Value {
    match m {
        Some(m) => json!({ "name": m.name, "date": m.date.to_string() }),
        None => Value::Null,
    }
}

/// An event's payload for the audit trail.
pub fn event_payload(e: &Event) -> Value {
    match e {
        Event::Opened { state, fields } => {
            let f: Map<String, Value> = fields.iter().map(|(k, v)| (k.to_string(), field_json(v))).collect();
            json!({ "state": state.as_str(), "fields": f })
        }
        Event::FieldsSet { set, cleared } => {
            let f: Map<String, Value> = set.iter().map(|(k, v)| (k.to_string(), field_json(v))).collect();
            json!({ "set": f, "cleared": cleared.iter().map(|c| c.as_str()).collect::<Vec<_>>() })
        }
        Event::EvidenceAttached { evidence, content } => {
            json!({ "evidence": evidence.as_str(), "content": content_json(content) })
        }
        Event::Amended { set, cleared, previous, reason, broken, back_to } => {
            let f: Map<String, Value> = set.iter().map(|(k, v)| (k.to_string(), field_json(v))).collect();
            let was: Map<String, Value> =
                previous.iter().map(|(k, v)| (k.to_string(), v.as_ref().map_or(Value::Null, field_json))).collect();
            json!({
                "set": f, "cleared": cleared.iter().map(|c| c.as_str()).collect::<Vec<_>>(), "previous": was,
                "reason": reason, "broken": broken, "back_to": back_to.as_ref().map(|s| s.as_str()),
            })
        }
        Event::ApprovalRecorded { role, verdict, comment, meeting, conflict, basis, visit } => json!({
            "role": role.as_str(), "verdict": verdict_name(*verdict), "comment": comment, "visit": visit,
            "meeting": meeting_json(meeting), "conflict": conflict,
            "basis": basis, "digest": basis.as_ref().map(gatehouse_engine::basis::digest),
        }),
        Event::ConflictDeclared { role, reason } => json!({ "role": role.as_str(), "reason": reason }),
        Event::OwnerChanged { from, to } => json!({ "from": from, "to": to }),
        Event::ChildOpened { group, number, state } => {
            json!({ "group": group, "number": number, "state": state.as_str() })
        }
        Event::Transitioned { transition, from, to, relied_on } => json!({
            "transition": transition.as_str(), "from": from.as_str(), "to": to.as_str(),
            "relied_on": relied_on.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        }),
        Event::TimerFired { timer, occurrence } => json!({ "timer": timer.as_str(), "occurrence": occurrence }),
        Event::TimerStopped { timer, reason } => json!({ "timer": timer.as_str(), "reason": reason }),
        Event::TransitionBlocked { transition, reason } => {
            json!({ "transition": transition.as_str(), "reason": reason })
        }
        Event::Migrated { from_version, to_version, from_state, to_state } => json!({
            "from_version": from_version, "to_version": to_version,
            "from_state": from_state.as_str(), "to_state": to_state.as_str(),
        }),
    }
}

/// A library (templates and calendars) as kept in the database: JSON with the names in
/// order, so the same library is always the same text.
///
/// `{"templates": {"chase": {"text": "Subject: …", "html": null}}, "calendars":
/// {"england-and-wales": "title: …"}}`
pub fn library_json(library: &gatehouse_engine::Library) -> String {
    let templates: Map<String, Value> =
        library.templates.iter().map(|(name, t)| (name.clone(), json!({"text": t.text, "html": t.html}))).collect();
    let calendars: Map<String, Value> =
        library.calendars.iter().map(|(name, c)| (name.clone(), Value::String(c.source.clone()))).collect();
    json!({"templates": templates, "calendars": calendars}).to_string()
}

/// A library from [`library_json`]'s text.
pub fn library_from_json(text: &str) -> Result<gatehouse_engine::Library, String> {
    #[derive(serde::Deserialize)]
    struct Stored {
        #[serde(default)]
        templates: BTreeMap<String, StoredTemplate>,
        #[serde(default)]
        calendars: BTreeMap<String, String>,
    }
    #[derive(serde::Deserialize)]
    struct StoredTemplate {
        text: String,
        html: Option<String>,
    }
    let stored: Stored = serde_json::from_str(text).map_err(|e| format!("its templates and calendars: {e}"))?;
    let mut library = gatehouse_engine::Library::default();
    for (name, t) in stored.templates {
        let file = format!("templates/{name}.txt");
        library
            .templates
            .insert(name, gatehouse_engine::templates::TemplateSource { file, text: t.text, html: t.html });
    }
    for (name, text) in stored.calendars {
        let calendar =
            gatehouse_engine::calendar::Calendar::parse(&name, &text).map_err(|e| format!("calendar `{name}`: {e}"))?;
        library.calendars.insert(name, std::sync::Arc::new(calendar));
    }
    Ok(library)
}
