//! The workflow as a policy document that a governance group can read and sign off:
//! who is involved, what a case records, what evidence is asked for, each stage with what
//! every step requires (each requirement citing its source), the reminders and notices
//! sent, and a sign-off block.
//!
//! Both formats are rendered from one description of the document (`Doc`), built from
//! the definition in file order, so the Markdown and the HTML cannot say different
//! things. Sentences are written here in plain English; CEL and ids appear as code so a
//! reader can find them in the workflow file.

use crate::AT_HOUR;
use crate::definition::{
    ApprovalGate, ChecklistItem, Definition, EvidenceKind, FieldType, Gate, GateKind, Origin, ParamValue, Schedule,
    Send, Separation, Timer, Transition, Trigger,
};
use crate::ids::{FieldId, RoleId, TransitionId};
use crate::load::humanize;
use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;
use std::fmt::Write;

mod markdown;
mod words;
use markdown::render_markdown;
use words::*;

/// The workflow as a Markdown policy document, ending with a sign-off table.
pub fn markdown(def: &Definition) -> String {
    render_markdown(&Doc::new(def))
}

/// The workflow as a complete, standalone HTML page (inline stylesheet, no scripts),
/// with the same content as [`markdown`]. Every piece of text taken from the workflow is
/// HTML-escaped.
pub fn html(def: &Definition) -> String {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The `.html` name turns on minijinja's HTML auto-escaping.
    env.add_template("explain.html", HTML_TEMPLATE).expect("the explain template parses");
    let template = env.get_template("explain.html").expect("the explain template was just added");
    // The template is fixed and the data is plain strings and lists, so rendering cannot
    // fail on a particular workflow; the tests render it.
    template.render(context! { doc => Doc::new(def) }).expect("the explain template renders")
}

/// The document, as plain data both renderers read.
#[derive(Serialize)]
struct Doc {
    title: String,
    id: String,
    version: u32,
    sha256: String,
    source: Option<String>,
    description: Vec<String>,
    timezone: String,
    calendar: Option<String>,
    params: Vec<Param>,
    roles: Vec<RoleRow>,
    fields: Vec<FieldRow>,
    evidence: Vec<EvidenceView>,
    /// Whether any state names a stage; if not, states are listed without stage headings.
    staged: bool,
    stages: Vec<Stage>,
    reminders: Vec<Item>,
    schedules: Vec<Item>,
    /// The kinds of child case its cases open (`children:`); none for most workflows.
    children: Vec<Item>,
    /// Transitions, timers and gates that are the installation's own choices.
    local_rules: Vec<LocalRule>,
}

/// A rule that is not in the source documents, and why it is ours.
#[derive(Serialize)]
struct LocalRule {
    what: String,
    reason: String,
}

/// The rules of `def` marked `local_policy:` (their source reads "Local policy: …").
fn local_rules(def: &Definition) -> Vec<LocalRule> {
    fn local(source: &Option<String>) -> Option<&str> {
        source.as_deref().and_then(|s| s.strip_prefix(crate::load::LOCAL_POLICY))
    }
    let mut out = Vec::new();
    for t in &def.transitions {
        if let Some(reason) = local(&t.source) {
            out.push(LocalRule { what: format!("Step “{}” ({})", t.title, t.id), reason: reason.to_string() });
        }
        let mut gates = Vec::new();
        t.gates.iter().for_each(|g| g.leaves(&mut gates));
        for g in gates {
            if let Some(reason) = local(&g.source) {
                let text = gate_text(def, g);
                let what = format!("Condition {} of “{}”: {}", g.id, t.title, text.trim_end_matches('.'));
                out.push(LocalRule { what, reason: reason.to_string() });
            }
        }
    }
    for g in def.children.values() {
        if let Origin::LocalPolicy(reason) = &g.origin {
            out.push(LocalRule { what: format!("Child cases “{}” ({})", g.one, g.id), reason: reason.clone() });
        }
    }
    for t in &def.timers {
        if let Some(reason) = local(&t.source) {
            let what = match &t.title {
                Some(title) => format!("Reminder “{title}” ({})", t.id),
                None => format!("Reminder {}", t.id),
            };
            out.push(LocalRule { what, reason: reason.to_string() });
        }
    }
    out
}

#[derive(Serialize)]
struct Param {
    id: String,
    value: String,
    /// The paragraph that sets it, or the reason it is a local choice.
    origin: String,
    /// A local choice, not in the source documents.
    local: bool,
}

#[derive(Serialize)]
struct RoleRow {
    id: String,
    title: String,
    reached: String,
    description: String,
}

#[derive(Serialize)]
struct FieldRow {
    id: String,
    title: String,
    kind: String,
    required: bool,
    description: String,
}

#[derive(Serialize)]
struct EvidenceView {
    id: String,
    title: String,
    kind: &'static str,
    description: Vec<String>,
    items: Vec<String>,
    valid_for: Option<String>,
    from: String,
    source: Option<String>,
}

#[derive(Serialize)]
struct Stage {
    name: String,
    states: Vec<StateView>,
}

#[derive(Serialize)]
struct StateView {
    id: String,
    title: String,
    description: Vec<String>,
    notes: Vec<String>,
    transitions: Vec<TransitionView>,
}

#[derive(Serialize)]
struct TransitionView {
    id: String,
    title: String,
    to: String,
    description: String,
    by: String,
    when: Rich,
    gates: Vec<Item>,
    source: Option<String>,
}

/// A sentence with its citation, checklist items and nested sentences (`all`, `any`).
#[derive(Serialize)]
struct Item {
    text: Rich,
    source: Option<String>,
    items: Vec<String>,
    children: Vec<Item>,
}

/// Text with code (CEL, ids, template names) and strong parts.
#[derive(Serialize, Default)]
#[serde(transparent)]
struct Rich(Vec<Span>);

#[derive(Serialize)]
struct Span {
    kind: &'static str,
    text: String,
}

impl Rich {
    fn push(&mut self, kind: &'static str, text: impl Into<String>) -> &mut Self {
        self.0.push(Span { kind, text: text.into() });
        self
    }

    fn text(&mut self, text: impl Into<String>) -> &mut Self {
        self.push("text", text)
    }

    fn code(&mut self, text: impl Into<String>) -> &mut Self {
        self.push("code", text)
    }

    fn strong(&mut self, text: impl Into<String>) -> &mut Self {
        self.push("strong", text)
    }
}

impl Doc {
    fn new(def: &Definition) -> Doc {
        let mut stages: Vec<(Option<&str>, Vec<StateView>)> = Vec::new();
        for (id, state) in &def.states {
            let mut notes = Vec::new();
            if *id == def.initial {
                notes.push("New cases start here.".to_string());
            }
            if state.terminal {
                notes.push("Cases end here.".to_string());
            }
            let view = StateView {
                id: id.to_string(),
                title: state.title.clone(),
                description: paragraphs(state.description.as_deref()),
                notes,
                transitions: def.outgoing(id).map(|t| transition_view(def, t)).collect(),
            };
            let stage = state.stage.as_deref();
            match stages.iter_mut().find(|(s, _)| *s == stage) {
                Some((_, states)) => states.push(view),
                None => stages.push((stage, vec![view])),
            }
        }
        Doc {
            local_rules: local_rules(def),
            title: def.title.clone(),
            id: def.id.clone(),
            version: def.version,
            sha256: def.sha256.clone(),
            source: def.source.clone(),
            description: paragraphs(def.description.as_deref()),
            timezone: def.timezone_name.clone(),
            calendar: def.calendar.as_ref().map(|c| format!("{} ({})", c.title, c.name)),
            params: def
                .params
                .iter()
                .map(|(id, v)| {
                    let (origin, local) = match def.param_origins.get(id) {
                        Some(Origin::Cited(source)) => (source.clone(), false),
                        Some(Origin::LocalPolicy(reason)) => (format!("{}{reason}", crate::load::LOCAL_POLICY), true),
                        _ => ("Not stated".to_string(), false),
                    };
                    Param { id: id.clone(), value: param_value(v), origin, local }
                })
                .collect(),
            roles: def
                .roles
                .iter()
                .map(|(id, r)| RoleRow {
                    id: id.to_string(),
                    title: r.title.clone(),
                    reached: match &r.email_field {
                        Some(f) => match def.fields.get(f) {
                            Some(field) => format!("reached by email link, no account (address in {})", field.title),
                            None => "reached by email link, no account".into(),
                        },
                        None => "signs in with an account".into(),
                    },
                    description: inline(r.description.as_deref()),
                })
                .collect(),
            fields: def
                .fields
                .iter()
                .map(|(id, f)| FieldRow {
                    id: id.to_string(),
                    title: f.title.clone(),
                    kind: match &f.kind {
                        FieldType::Choice(choices) => format!("choice of: {}", choices.join(", ")),
                        FieldType::Money => "money (pounds)".into(),
                        FieldType::Date => "date".into(),
                        other => other.name().into(),
                    },
                    required: f.required,
                    description: inline(f.description.as_deref()),
                })
                .collect(),
            evidence: def
                .evidence
                .iter()
                .map(|(id, e)| EvidenceView {
                    id: id.to_string(),
                    title: e.title.clone(),
                    kind: e.kind.name(),
                    description: paragraphs(e.description.as_deref()),
                    items: match &e.kind {
                        EvidenceKind::Checklist(items) => items.iter().map(item_text).collect(),
                        _ => Vec::new(),
                    },
                    valid_for: e.valid_for.as_ref().map(|d| d.human()),
                    from: match e.from.as_ref().map(|r| &def.roles[r]) {
                        Some(r) if r.is_external() => format!("{} (by email link)", r.title),
                        Some(r) => r.title.clone(),
                        None => "anyone with an internal role".into(),
                    },
                    source: e.source.clone(),
                })
                .collect(),
            staged: def.states.values().any(|s| s.stage.is_some()),
            stages: stages
                .into_iter()
                .map(|(name, states)| Stage { name: name.unwrap_or("Other states").to_string(), states })
                .collect(),
            reminders: def.timers.iter().map(|t| timer_item(def, t)).collect(),
            schedules: def.schedules.iter().map(|s| schedule_item(def, s)).collect(),
            children: def.children.values().map(|g| child_group_item(def, g)).collect(),
        }
    }
}

fn transition_view(def: &Definition, t: &Transition) -> TransitionView {
    let mut when = Rich::default();
    match &t.when {
        None => when.text("every case."),
        Some(expr) => {
            when.text("only when ").code(expr.text());
            with_params(def, expr.text(), &mut when);
            when.text(".")
        }
    };
    TransitionView {
        id: t.id.to_string(),
        title: t.title.clone(),
        to: def.states[&t.to].title.clone(),
        description: inline(t.description.as_deref()),
        by: if t.by.is_empty() {
            "anyone with an internal role".into()
        } else {
            or_list(t.by.iter().map(|r| role(def, r)))
        },
        when,
        gates: t.gates.iter().map(|g| gate_item(def, g)).collect(),
        source: t.source.clone(),
    }
}

/// A gate as a requirement: "The Equality impact assessment must be attached (valid for
/// 12 months)." A gate's own `explain:` replaces the sentence (for a rule, it is the
/// sentence, followed by the CEL).
/// What a gate asks, as plain text: the same sentence the policy document prints, with
/// a checklist's items and a group's gates after it, separated by "; ".
pub fn gate_text(def: &Definition, gate: &Gate) -> String {
    fn plain(item: &Item) -> String {
        let mut out: String = item.text.0.iter().map(|s| s.text.as_str()).collect();
        let rest: Vec<String> = item.items.iter().cloned().chain(item.children.iter().map(plain)).collect();
        if !rest.is_empty() {
            out.push(' ');
            out.push_str(&rest.join("; "));
        }
        out
    }
    plain(&gate_item(def, gate))
}

fn gate_item(def: &Definition, gate: &Gate) -> Item {
    let mut text = Rich::default();
    let mut items = Vec::new();
    let mut children = Vec::new();
    let explain = gate.explain.as_deref();
    match &gate.kind {
        GateKind::Evidence(id) => {
            let e = &def.evidence[id];
            let default = || {
                let needed = match (&e.kind, &e.from) {
                    (EvidenceKind::Acknowledgement, Some(r)) => {
                        format!("An acknowledgement must be received from the {}: {}", role(def, r), e.title)
                    }
                    (EvidenceKind::Acknowledgement, None) => {
                        format!("An acknowledgement must be recorded: {}", e.title)
                    }
                    (_, Some(r)) => format!("The {} must be received from the {}", e.title, role(def, r)),
                    (_, None) => format!("The {} must be attached", e.title),
                };
                format!("{needed}{}.", validity(e.valid_for.as_ref()))
            };
            text.text(explain.map_or_else(default, sentence));
        }
        GateKind::Checklist(id) => {
            let e = &def.evidence[id];
            let default = || {
                let by = e.from.as_ref().map(|r| format!(" by the {}", role(def, r))).unwrap_or_default();
                let na = matches!(&e.kind, EvidenceKind::Checklist(list) if list.iter().any(|i| i.allow_na));
                format!(
                    "Every item of the {} must be answered yes{by}{}{}:",
                    checklist_name(&e.title),
                    validity(e.valid_for.as_ref()),
                    if na { ", or not applicable where the item says so" } else { "" }
                )
            };
            text.text(explain.map_or_else(default, sentence));
            if let EvidenceKind::Checklist(list) = &e.kind {
                items = list.iter().map(item_text).collect();
            }
        }
        GateKind::Approval(a) => {
            let default = || {
                let mut s = capitalise(&approval_phrase(def, a));
                for sep in &a.not_by {
                    s.push_str(match sep {
                        Separation::Submitter => "; not the person who submitted it",
                        Separation::Creator => "; not the person who opened the case",
                    });
                }
                s + "; members who declared a conflict of interest do not count; any rejection blocks."
            };
            text.text(explain.map_or_else(default, sentence));
        }
        GateKind::Rule(expr) => {
            text.text(trim_period(explain.unwrap_or("This rule must hold"))).text(" (rule ").code(expr.text());
            with_params(def, expr.text(), &mut text);
            text.text(").");
        }
        GateKind::Children(c) => {
            let default = || capitalise(&children_phrase(def, c)) + ".";
            text.text(explain.map_or_else(default, sentence));
        }
        GateKind::All(gates) => {
            text.text(explain.map_or_else(|| "All of the following:".to_string(), sentence));
            children = gates.iter().map(|g| gate_item(def, g)).collect();
        }
        GateKind::Any(gates) => {
            text.text(explain.map_or_else(|| "At least one of the following:".to_string(), sentence));
            children = gates.iter().map(|g| gate_item(def, g)).collect();
        }
    }
    Item { text, source: gate.source.clone(), items, children }
}

/// A gate as a condition after "until": "an acknowledgement is received from the Provider
/// (Provider acknowledges notice)".
fn condition(def: &Definition, gate: &Gate, out: &mut Rich) {
    if let (Some(explain), false) = (&gate.explain, matches!(gate.kind, GateKind::Rule(_))) {
        out.text(format!("this holds: {}", trim_period(explain)));
        return;
    }
    match &gate.kind {
        GateKind::Evidence(id) => {
            let e = &def.evidence[id];
            out.text(match (&e.kind, &e.from) {
                (EvidenceKind::Acknowledgement, Some(r)) => {
                    format!("an acknowledgement is received from the {} ({})", role(def, r), e.title)
                }
                (EvidenceKind::Acknowledgement, None) => format!("an acknowledgement is recorded ({})", e.title),
                (_, Some(r)) => format!("the {} is received from the {}", e.title, role(def, r)),
                (_, None) => format!("the {} is attached", e.title),
            });
            // Evidence that expires holds only while it is current.
            if let Some(valid_for) = &e.valid_for {
                out.text(format!(" within the last {}", valid_for.human()));
            }
        }
        GateKind::Checklist(id) => {
            out.text(format!("every item of the {} is answered", checklist_name(&def.evidence[id].title)));
        }
        GateKind::Approval(a) => {
            out.text(format!("{} is given", approval_phrase(def, a)));
        }
        GateKind::Children(c) => {
            out.text(children_phrase(def, c));
        }
        GateKind::Rule(expr) => {
            out.text(format!("this holds: {} (", trim_period(gate.explain.as_deref().unwrap_or("the rule"))))
                .code(expr.text())
                .text(")");
        }
        GateKind::All(gates) | GateKind::Any(gates) => {
            let (intro, joiner) = if matches!(gate.kind, GateKind::All(_)) {
                ("all of these hold: ", "; ")
            } else {
                ("one of these holds: ", "; or ")
            };
            out.text(intro);
            for (i, g) in gates.iter().enumerate() {
                if i > 0 {
                    out.text(joiner);
                }
                condition(def, g, out);
            }
        }
    }
}

/// A timer in words: "10 days after a case enters Notice served, and every 7 days after
/// that until …, the Provider is sent `acknowledge-notice`."
fn timer_item(def: &Definition, t: &Timer) -> Item {
    let state = &def.states[t.state()].title;
    let mut text = Rich::default();
    if let Some(title) = &t.title {
        text.strong(sentence(title)).text(" ");
    }
    match &t.trigger {
        Trigger::OnEnter(_) => text.text(format!("When a case enters {state}")),
        Trigger::After { after, .. } => text.text(format!("{} after a case enters {state}", after.human())),
        Trigger::At { field, offset, .. } => {
            let date = date_name(def, field);
            let day = match offset {
                None => format!(" on {date}"),
                Some(o) if o.is_negative() => format!(", {} before {date},", o.human()),
                Some(o) => format!(", {} after {date},", o.human()),
            };
            text.text(format!("At {AT_HOUR:02}:00{day} if the case is in {state}"))
        }
    };
    if let Some(every) = &t.every {
        text.text(format!(", and every {} after that", every.human()));
    }
    if let Some(limit) = t.limit {
        text.text(if limit == 1 { " (at most once)".to_string() } else { format!(" (at most {limit} times)") });
    }
    if let Some(until) = &t.until {
        text.text(" until ");
        condition(def, until, &mut text);
    }
    text.text(", ");
    action(def, t.send.as_ref(), t.fire.as_ref(), &mut text);
    if let Some(unless) = &t.unless {
        text.text(", except while ");
        condition(def, unless, &mut text);
    }
    text.text(".");
    if !matches!(t.trigger, Trigger::OnEnter(_)) {
        text.text(format!(" This stops when the case leaves {state}."));
    }
    Item { text, source: t.source.clone(), items: Vec::new(), children: Vec::new() }
}

fn schedule_item(def: &Definition, s: &Schedule) -> Item {
    let mut text = Rich::default();
    let title = s.title.clone().unwrap_or_else(|| humanize(&s.id));
    text.strong(sentence(&title)).text(" ");
    match cron_words(&s.cron_text) {
        Some(words) => text.text(format!("{words} ({} time; cron ", def.timezone_name)).code(&s.cron_text).text("), "),
        None => text.text("On the schedule ").code(&s.cron_text).text(format!(" ({} time), ", def.timezone_name)),
    };
    action(def, Some(&s.send), None, &mut text);
    text.text(".");
    Item { text, source: s.source.clone(), items: Vec::new(), children: Vec::new() }
}

/// "the Provider is sent `notice`, and the Close transition is requested (`close`) …"
fn action(def: &Definition, send: Option<&Send>, fire: Option<&TransitionId>, out: &mut Rich) {
    if let Some(s) = send {
        let who = and_list(s.to.iter().map(|r| format!("the {}", role(def, r))));
        out.text(format!("{who} {} sent ", if s.to.len() == 1 { "is" } else { "are" })).code(s.template.as_str());
    }
    if let Some(f) = fire {
        if send.is_some() {
            out.text(", and ");
        }
        let title = def.transition(f.as_str()).map_or_else(|| f.to_string(), |t| t.title.clone());
        out.text(format!("the {title} transition is requested ("))
            .code(f.as_str())
            .text("), which goes ahead only if its gates hold");
    }
}

/// Appends ", where `params.x = 500000`" for each param the CEL text reads.
fn with_params(def: &Definition, cel: &str, out: &mut Rich) {
    let mut seen: Vec<&str> = Vec::new();
    for (at, _) in cel.match_indices("params.") {
        // `xparams.a` or `case.params.a` is not the workflow's params.
        if cel[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let after = &cel[at + "params.".len()..];
        let name = &after[..after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len())];
        if def.params.contains_key(name) && !seen.contains(&name) {
            seen.push(name);
        }
    }
    for (i, name) in seen.iter().enumerate() {
        out.text(if i == 0 { ", where " } else { " and " });
        out.code(format!("params.{name} = {}", param_value(&def.params[*name])));
    }
}

fn approval_phrase(def: &Definition, a: &ApprovalGate) -> String {
    let role = role(def, &a.role);
    if a.quorum == 1 { format!("approval by {role}") } else { format!("approval by {} members of {role}", a.quorum) }
}

fn validity(valid_for: Option<&crate::duration::Duration>) -> String {
    valid_for.map(|d| format!(" (valid for {})", d.human())).unwrap_or_default()
}

/// "Stakeholder dimensions checklist", without doubling a title that already says so.
fn checklist_name(title: &str) -> String {
    if title.to_lowercase().ends_with("checklist") { title.to_string() } else { format!("{title} checklist") }
}

/// "the Contract end date", without doubling a title that ends in "date".
fn date_name(def: &Definition, field: &FieldId) -> String {
    let title = def.fields.get(field).map_or_else(|| field.to_string(), |f| f.title.clone());
    if title.to_lowercase().ends_with("date") { format!("the {title}") } else { format!("the {title} date") }
}

fn role(def: &Definition, id: &RoleId) -> String {
    def.roles.get(id).map_or_else(|| id.to_string(), |r| r.title.clone())
}

fn param_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        ParamValue::Number(n) => n.to_string(),
        ParamValue::Text(s) => format!("{s:?}"),
        ParamValue::Bool(b) => b.to_string(),
    }
}

const HTML_TEMPLATE: &str = include_str!("explain/policy.html");

#[cfg(test)]
mod tests;

/// "at least 1 application has been opened and every application is funded or declined
/// (Gloucestershire grant application)".
fn children_phrase(def: &Definition, c: &crate::definition::ChildrenGate) -> String {
    let (one, workflow) =
        def.children.get(&c.group).map_or((c.group.as_str(), ""), |g| (g.one.as_str(), g.workflow.as_str()));
    let states: Vec<&str> = c.states.iter().map(|s| s.as_str()).collect();
    let states = match states.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    };
    match c.at_least {
        0 => format!("every {one} opened is {states} (each a case of `{workflow}`)"),
        1 => format!("at least one {one} has been opened and every {one} is {states} (each a case of `{workflow}`)"),
        n => format!("at least {n} {one}s have been opened and every {one} is {states} (each a case of `{workflow}`)"),
    }
}

/// "Each application is a case of its own, following `glos-grant-application`: a
/// Commissioner opens one while the case is in Open for applications."
fn child_group_item(def: &Definition, g: &crate::definition::ChildGroup) -> Item {
    let by: Vec<String> = g.by.iter().map(|r| role(def, r)).collect();
    let states: Vec<String> = g.open_in.iter().map(|s| format!("“{}”", def.states[s].title)).collect();
    let mut text = Rich::default();
    text.text(format!("Each {} is a case of its own, following ", g.one))
        .code(g.workflow.clone())
        .text(format!(
            ", numbered from 1 within the case that opened it: a {} opens one while the case is in {}. Gates of the form “every {} is …” wait on them.",
            by.join(" or "),
            states.join(" or "),
            g.one
        ));
    let source = match &g.origin {
        Origin::Cited(s) => Some(s.clone()),
        Origin::LocalPolicy(why) => Some(format!("{}{why}", crate::load::LOCAL_POLICY)),
        Origin::Unstated => None,
    };
    Item { text, source, items: Vec::new(), children: Vec::new() }
}
