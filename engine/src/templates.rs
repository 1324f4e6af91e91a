//! Email templates (minijinja): checked when a workflow loads, rendered for each message.
//! Rendering is pure text work, so it lives here; sending lives in `adapters::mail`.
//!
//! A template is `templates/<name>.txt`: a first line `Subject: …`, a blank line, then
//! the plain-text body; `templates/<name>.html`, when present, is the HTML part.

use minijinja::{Environment, UndefinedBehavior, Value, context};
use std::collections::BTreeMap;

/// A template as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    /// The `.txt` file's path, for messages.
    pub file: String,
    /// The `.txt` file: `Subject:` line, blank line, body.
    pub text: String,
    /// The optional `.html` file.
    pub html: Option<String>,
}

/// The variables a template may use, for hints.
pub const VARIABLES: &str = "workflow.id, workflow.title, workflow.organisation, case.id, case.url, case.state, case.state_title, case.owner.name, case.owner.email, case.fields.<id>, parent.id, parent.url, parent.state, parent.state_title, parent.fields.<id> (a child case's, with `parent:`), recipient.role, recipient.title, link, deadline, timer.id";

/// What a message is rendered with.
#[derive(Debug, Clone, Default)]
pub struct TemplateData {
    /// Workflow id.
    pub workflow_id: String,
    /// Workflow title.
    pub workflow_title: String,
    /// The organisation that writes (`organisation:`, else the workflow's title).
    pub organisation: String,
    /// Case id.
    pub case_id: i64,
    /// Link to the case in the web interface.
    pub case_url: String,
    /// State id.
    pub state: String,
    /// State title.
    pub state_title: String,
    /// The name of the commissioner responsible for the case (its owner); empty for a
    /// message of no case.
    pub owner_name: String,
    /// Their email address.
    pub owner_email: String,
    /// Every declared field, shown for people; empty when not set.
    pub fields: BTreeMap<String, String>,
    /// The recipient's role id.
    pub recipient_role: String,
    /// The recipient's role title.
    pub recipient_title: String,
    /// A signed link for an external recipient; empty for others.
    pub link: String,
    /// The date something is asked for by; empty when there is none.
    pub deadline: String,
    /// The timer sending the message.
    pub timer: String,
    /// The case a child case was opened from (`parent:`); `None` for any other case.
    pub parent: Option<ParentData>,
}

/// The parent case, as a child case's letter reads it (`parent.*`).
#[derive(Debug, Clone, Default)]
pub struct ParentData {
    /// Its id.
    pub id: i64,
    /// Its page.
    pub url: String,
    /// Its state's id.
    pub state: String,
    /// Its state's title.
    pub state_title: String,
    /// Its fields that are set, shown for people.
    pub fields: BTreeMap<String, String>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, when the template has one.
    pub html: Option<String>,
}

/// Whether template `text` states case field `field` (`{{ case.fields.<field> }}`).
pub fn states_field(text: &str, field: &str) -> bool {
    let needle = format!("case.fields.{field}");
    text.match_indices(&needle).any(|(i, _)| {
        let next = text[i + needle.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The template of the email that tells a role an approval it gave has gone stale.
/// A workflow folder may hold its own `templates/approval-stale.txt`; otherwise
/// Gatehouse's ([`builtin`]) is used.
pub const STALE_TEMPLATE: &str = "approval-stale";

/// Gatehouse's own template for `name`, used when a workflow folder has none of that
/// name: the email telling a role that an approval it gave no longer counts.
pub fn builtin(name: &str) -> Option<TemplateSource> {
    (name == STALE_TEMPLATE).then(|| TemplateSource {
        file: "(built in) approval-stale.txt".into(),
        text: STALE_TEXT.into(),
        html: None,
    })
}

const STALE_TEXT: &str = "Subject: Please look again: {{ workflow.title }}, case {{ case.id }}

Dear {{ recipient.title }},

An approval or rejection given for {{ recipient.title }} on case {{ case.id }}
({{ case.state_title }}) no longer counts: what it was given on has changed since.
The case page says what changed. Please look at the case again and give your decision.

{{ case.url }}

{{ workflow.organisation }}
";

/// Render `source` with `data`.
pub fn render(source: &TemplateSource, data: &TemplateData) -> Result<Rendered, String> {
    let (subject, body) = split(&source.text)?;
    let ctx = context! {
        workflow => context! { id => &data.workflow_id, title => &data.workflow_title, organisation => &data.organisation },
        case => context! {
            id => data.case_id,
            url => &data.case_url,
            state => &data.state,
            state_title => &data.state_title,
            owner => context! { name => &data.owner_name, email => &data.owner_email },
            fields => Value::from(data.fields.clone()),
        },
        recipient => context! { role => &data.recipient_role, title => &data.recipient_title },
        link => &data.link,
        deadline => &data.deadline,
        timer => context! { id => &data.timer },
        parent => data.parent.as_ref().map(|p| context! {
            id => p.id,
            url => &p.url,
            state => &p.state,
            state_title => &p.state_title,
            fields => Value::from(p.fields.clone()),
        }),
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let one = |what: &str, text: &str, autoescape: bool| -> Result<String, String> {
        let mut env = env.clone();
        if autoescape {
            env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        }
        env.render_str(text, ctx.clone()).map_err(|e| describe(what, &e))
    };
    let subject = one("subject", subject, false)?.trim().to_string();
    if subject.contains(['\r', '\n']) {
        return Err("the subject renders to more than one line".into());
    }
    let text = one("body", body, false)?;
    let html = source.html.as_deref().map(|h| one("html", h, true)).transpose()?;
    Ok(Rendered { subject, text, html })
}

/// Problems in `source` for a workflow with `fields`: syntax errors, unknown variables,
/// and anything that fails when rendered with sample values. `parent.*` is known only
/// to a workflow whose cases have a parent (`has_parent`); which fields the parent has
/// is checked with the folder ([`parent_fields`], `load::check_children`).
pub fn check(source: &TemplateSource, fields: &[&str], has_parent: bool) -> Vec<String> {
    let (subject, body) = match split(&source.text) {
        Ok(parts) => parts,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let env = Environment::new();
    let parts = [("subject", subject), ("body", body)].into_iter().chain(source.html.as_deref().map(|h| ("html", h)));
    for (what, text) in parts {
        match env.template_from_str(text) {
            Err(e) => problems.push(describe(what, &e)),
            Ok(t) => {
                let mut names: Vec<String> = t.undeclared_variables(true).into_iter().collect();
                names.sort();
                for name in names {
                    if let Some(p) = unknown_variable(&name, fields, has_parent) {
                        problems.push(format!("{what}: {p}"));
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        let data = TemplateData {
            workflow_id: "sample".into(),
            fields: fields.iter().map(|f| (f.to_string(), "sample".to_string())).collect(),
            parent: has_parent.then(|| ParentData {
                fields: parent_fields(source).into_iter().map(|f| (f, "sample".to_string())).collect(),
                ..ParentData::default()
            }),
            ..TemplateData::default()
        };
        if let Err(e) = render(source, &data) {
            problems.push(e);
        }
    }
    problems
}

/// The parent's fields `source` reads (`parent.fields.<id>`), in every part.
pub fn parent_fields(source: &TemplateSource) -> std::collections::BTreeSet<String> {
    let env = Environment::new();
    let Ok((subject, body)) = split(&source.text) else { return Default::default() };
    [Some(subject), Some(body), source.html.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(|text| env.template_from_str(text).ok())
        .flat_map(|t| t.undeclared_variables(true))
        .filter_map(|name| name.strip_prefix("parent.fields.").map(|f| f.split('.').next().unwrap_or(f).to_string()))
        .collect()
}

fn unknown_variable(name: &str, fields: &[&str], has_parent: bool) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.first() == Some(&"parent") && !has_parent {
        return Some(format!(
            "`{name}` reads a parent case, but this workflow's cases have none: declare `parent: <workflow>` if they are opened as its children"
        ));
    }
    let ok = match parts.as_slice() {
        ["link"] | ["deadline"] => true,
        ["workflow"] | ["workflow", "id" | "title" | "organisation"] => true,
        ["case"] | ["case", "id" | "url" | "state" | "state_title" | "fields" | "owner"] => true,
        ["case", "owner", "name" | "email"] => true,
        ["case", "fields", f, ..] => {
            if !fields.contains(f) {
                let hint = crate::diagnostics::did_you_mean(f, fields.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                return Some(format!("unknown field `case.fields.{f}`{hint}"));
            }
            true
        }
        ["recipient"] | ["recipient", "role" | "title"] => true,
        ["timer"] | ["timer", "id"] => true,
        ["parent"] | ["parent", "id" | "url" | "state" | "state_title" | "fields"] | ["parent", "fields", _, ..] => {
            true
        }
        _ => false,
    };
    (!ok).then(|| format!("unknown variable `{name}`"))
}

fn split(text: &str) -> Result<(&str, &str), String> {
    let Some(rest) = text.strip_prefix("Subject:") else {
        return Err("the first line must be `Subject: …`".into());
    };
    let (subject, body) = rest.split_once('\n').unwrap_or((rest, ""));
    let body = body.strip_prefix("\r\n").or_else(|| body.strip_prefix('\n')).unwrap_or(body);
    if subject.trim().is_empty() {
        return Err("the subject line is empty".into());
    }
    Ok((subject.trim(), body))
}

fn describe(what: &str, e: &minijinja::Error) -> String {
    let mut m = format!("{what}: {}", e.kind());
    if let Some(d) = e.detail() {
        m.push_str(&format!(": {d}"));
    }
    if let Some(line) = e.line() {
        m.push_str(&format!(" (line {line} of the {what})"));
    }
    m
}
