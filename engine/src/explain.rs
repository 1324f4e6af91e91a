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
        }
        GateKind::Checklist(id) => {
            out.text(format!("every item of the {} is answered", checklist_name(&def.evidence[id].title)));
        }
        GateKind::Approval(a) => {
            out.text(format!("{} is given", approval_phrase(def, a)));
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

/// Cron text in words for the common shapes ("Every year on 1 April at 09:00"); `None`
/// for anything else, which is then shown as written.
fn cron_words(cron: &str) -> Option<String> {
    let f: Vec<&str> = cron.split_whitespace().collect();
    if !(f.len() == 6 || (f.len() == 7 && f[6] == "*")) || f[0] != "0" {
        return None;
    }
    let minute: u32 = f[1].parse().ok().filter(|m| *m < 60)?;
    let hour: u32 = f[2].parse().ok().filter(|h| *h < 24)?;
    let time = format!("{hour:02}:{minute:02}");
    let any = |s: &str| s == "*" || s == "?";
    let (day, month, weekday) = (f[3], f[4], f[5]);
    match (any(day), any(month), any(weekday)) {
        (true, true, true) => Some(format!("Every day at {time}")),
        (true, true, false) => Some(format!("Every {} at {time}", weekday_words(weekday)?)),
        (false, true, true) => Some(format!(
            "On the {} of every month at {time}",
            ordinal(day.parse().ok().filter(|d| (1..=31).contains(d))?)
        )),
        (false, false, true) => {
            let d: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
            Some(format!("Every year on {d} {} at {time}", month_name(month)?))
        }
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn month_name(s: &str) -> Option<&'static str> {
    if let Ok(n) = s.parse::<usize>() {
        return MONTHS.get(n.checked_sub(1)?).copied();
    }
    MONTHS.iter().copied().find(|m| s.len() >= 3 && m.to_lowercase().starts_with(&s.to_lowercase()))
}

/// Day-of-week names only: cron numbers days of the week differently from place to
/// place, so a number is left as written.
fn weekday_words(s: &str) -> Option<String> {
    let name =
        |w: &str| WEEKDAYS.iter().copied().find(|d| w.len() >= 3 && d.to_lowercase().starts_with(&w.to_lowercase()));
    match s.split_once('-') {
        Some((a, b)) => Some(format!("{} to {}", name(a)?, name(b)?)),
        None => name(s).map(str::to_string),
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "a", "a or b", "a, b or c".
/// A checklist item as the policy document lists it.
fn item_text(item: &ChecklistItem) -> String {
    if item.allow_na { format!("{} (may be answered not applicable)", item.label) } else { item.label.clone() }
}

fn or_list(items: impl Iterator<Item = String>) -> String {
    join_last(items.collect(), " or ")
}

/// "a", "a and b", "a, b and c".
fn and_list(items: impl Iterator<Item = String>) -> String {
    join_last(items.collect(), " and ")
}

fn join_last(mut items: Vec<String>, last: &str) -> String {
    match items.pop() {
        None => String::new(),
        Some(tail) if items.is_empty() => tail,
        Some(tail) => format!("{}{last}{tail}", items.join(", ")),
    }
}

/// Paragraphs of a description, each on one line.
fn paragraphs(text: Option<&str>) -> Vec<String> {
    let Some(text) = text else { return Vec::new() };
    text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|p| !p.is_empty()).collect()
}

/// A description on one line, for a table cell or a list item.
fn inline(text: Option<&str>) -> String {
    paragraphs(text).join(" ")
}

/// The text as a sentence: ends with a full stop unless it already ends a sentence.
fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '!', '?', ':']) { t.to_string() } else { format!("{t}.") }
}

fn trim_period(text: &str) -> &str {
    text.trim().trim_end_matches('.')
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
}

// ---------------------------------------------------------------------------------------
// Markdown

fn render_markdown(doc: &Doc) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md(&doc.title));
    for p in &doc.description {
        let _ = writeln!(o, "{}\n", md(p));
    }
    let _ = writeln!(o, "- Workflow: {}, version {}", code(&doc.id), doc.version);
    if let Some(s) = &doc.source {
        let _ = writeln!(o, "- Source document: {}", md(s));
    }
    let _ = writeln!(o, "- Dates and times are in the {} time zone.", md(&doc.timezone));
    if let Some(c) = &doc.calendar {
        let _ = writeln!(o, "- Working days follow the calendar {}.", md(c));
    }
    let _ = writeln!(o, "- File fingerprint (SHA-256): {}\n", code(&doc.sha256));

    if !doc.params.is_empty() {
        o.push_str("## Values set by this workflow\n\n| Value | Set to | Where it comes from |\n|---|---|---|\n");
        for p in &doc.params {
            let _ = writeln!(o, "| {} | {} | {} |", code(&format!("params.{}", p.id)), md(&p.value), md(&p.origin));
        }
        o.push('\n');
    }
    let local: Vec<&Param> = doc.params.iter().filter(|p| p.local).collect();
    if !local.is_empty() || !doc.local_rules.is_empty() {
        o.push_str(
            "## Local choices to confirm\n\nThese values and rules are not set by the source documents: they are \
             this installation's own choices, for the governance group to confirm or change.\n\n",
        );
        for p in local {
            let why = p.origin.strip_prefix(crate::load::LOCAL_POLICY).unwrap_or(&p.origin);
            let _ = writeln!(o, "- {} = {} — {}", code(&format!("params.{}", p.id)), md(&p.value), md(why));
        }
        for r in &doc.local_rules {
            let _ = writeln!(o, "- {} — {}", md(&r.what), md(&r.reason));
        }
        o.push('\n');
    }

    o.push_str("## Who is involved\n\n");
    if doc.roles.is_empty() {
        o.push_str("No roles are named.\n\n");
    } else {
        o.push_str("| Role | How they take part | Description |\n|---|---|---|\n");
        for r in &doc.roles {
            let _ = writeln!(o, "| {} ({}) | {} | {} |", md(&r.title), code(&r.id), md(&r.reached), md(&r.description));
        }
        o.push('\n');
    }

    o.push_str("## What a case records\n\n");
    if doc.fields.is_empty() {
        o.push_str("A case records no fields.\n\n");
    } else {
        o.push_str("| Field | Type | Required | Description |\n|---|---|---|---|\n");
        for f in &doc.fields {
            let required = if f.required { "yes" } else { "no" };
            let _ = writeln!(
                o,
                "| {} ({}) | {} | {required} | {} |",
                md(&f.title),
                code(&f.id),
                md(&f.kind),
                md(&f.description)
            );
        }
        o.push('\n');
    }

    o.push_str("## Evidence\n\n");
    if doc.evidence.is_empty() {
        o.push_str("No evidence is asked for.\n\n");
    }
    for e in &doc.evidence {
        let _ = writeln!(o, "### {}\n", md(&e.title));
        for p in &e.description {
            let _ = writeln!(o, "{}\n", md(p));
        }
        let _ = writeln!(o, "- Kind: {} ({})", e.kind, code(&e.id));
        if let Some(v) = &e.valid_for {
            let _ = writeln!(o, "- Valid for {} after it is attached.", md(v));
        }
        let _ = writeln!(o, "- Provided by: {}", md(&e.from));
        if !e.items.is_empty() {
            o.push_str("- Items to answer:\n");
            for i in &e.items {
                let _ = writeln!(o, "  - {}", md(i));
            }
        }
        if let Some(s) = &e.source {
            let _ = writeln!(o, "- {}", source(s));
        }
        o.push('\n');
    }

    o.push_str("## Stages\n\n");
    let state_heading = if doc.staged { "####" } else { "###" };
    for stage in &doc.stages {
        if doc.staged {
            let _ = writeln!(o, "### {}\n", md(&stage.name));
        }
        for s in &stage.states {
            let _ = writeln!(o, "{state_heading} {} ({})\n", md(&s.title), code(&s.id));
            for p in &s.description {
                let _ = writeln!(o, "{}\n", md(p));
            }
            if !s.notes.is_empty() {
                let _ = writeln!(o, "{}\n", md(&s.notes.join(" ")));
            }
            for t in &s.transitions {
                markdown_transition(&mut o, t);
            }
            if !s.transitions.is_empty() {
                o.push('\n');
            }
        }
    }

    o.push_str("## Reminders and notices\n\n");
    markdown_items(&mut o, &doc.reminders, "This workflow sends no reminders or notices.");
    o.push_str("## Schedules\n\n");
    markdown_items(&mut o, &doc.schedules, "This workflow has no schedules.");

    o.push_str("## Sign-off\n\n");
    let _ = writeln!(
        o,
        "This document describes version {} of the workflow {} (SHA-256 {}). Approved as a faithful statement of the policy by:\n",
        doc.version,
        code(&doc.id),
        code(&doc.sha256)
    );
    o.push_str("| Approved by | On behalf of | Signature | Date |\n|---|---|---|---|\n");
    o.push_str("|   |   |   |   |\n|   |   |   |   |\n");
    o
}

fn markdown_transition(o: &mut String, t: &TransitionView) {
    let mut first = format!("- **{}** ({}) moves the case to *{}*.", md(&t.title), code(&t.id), md(&t.to));
    if !t.description.is_empty() {
        let _ = write!(first, " {}", md(&t.description));
    }
    let _ = writeln!(o, "{first}");
    let _ = writeln!(o, "  - Who may ask for it: {}.", md(&t.by));
    let _ = writeln!(o, "  - When it applies: {}", rich_md(&t.when));
    if t.gates.is_empty() {
        o.push_str("  - What it requires: nothing more; it can happen as soon as it is asked for.\n");
    } else {
        o.push_str("  - What it requires:\n");
        for g in &t.gates {
            markdown_item(o, g, "    ");
        }
    }
    if let Some(s) = &t.source {
        let _ = writeln!(o, "  - {}", source(s));
    }
}

fn markdown_items(o: &mut String, items: &[Item], none: &str) {
    if items.is_empty() {
        let _ = writeln!(o, "{none}\n");
        return;
    }
    for i in items {
        markdown_item(o, i, "");
    }
    o.push('\n');
}

fn markdown_item(o: &mut String, item: &Item, indent: &str) {
    let _ = write!(o, "{indent}- {}", rich_md(&item.text));
    if let Some(s) = &item.source {
        let _ = write!(o, " {}", source(s));
    }
    o.push('\n');
    for i in &item.items {
        let _ = writeln!(o, "{indent}  - {}", md(i));
    }
    let deeper = format!("{indent}  ");
    for c in &item.children {
        markdown_item(o, c, &deeper);
    }
}

fn source(s: &str) -> String {
    format!("*Source: {}*", md(s))
}

fn rich_md(r: &Rich) -> String {
    r.0.iter()
        .map(|s| match s.kind {
            "code" => code(&s.text),
            "strong" => format!("**{}**", md(&s.text)),
            _ => md(&s.text),
        })
        .collect()
}

/// Text made literal in Markdown: characters that would start emphasis, code, links or
/// HTML are backslash-escaped (an `_` inside a word is left alone, as CommonMark does not
/// read it as emphasis), and line breaks become spaces.
fn md(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let word = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '_' if !(word(i.checked_sub(1)) && word(Some(i + 1))) => out.push_str("\\_"),
            '&' if chars.get(i + 1).is_some_and(|n| n.is_alphanumeric() || *n == '#') => out.push_str("\\&"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds any text, backticks included.
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    // A `|` would end a table cell even inside a code span.
    format!("{fence}{pad}{}{pad}{fence}", text.replace('|', "\\|"))
}

// ---------------------------------------------------------------------------------------
// HTML

const HTML_TEMPLATE: &str = include_str!("explain/policy.html");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Library, load};
    use crate::templates::TemplateSource;
    use expect_test::expect;

    fn definition(yaml: &str) -> Definition {
        let mut library = Library::default();
        for name in ["notice-of-decommissioning", "acknowledge-notice", "contract-ending", "annual-code-review"] {
            library.templates.insert(
                name.to_string(),
                TemplateSource {
                    file: format!("templates/{name}.txt"),
                    text: "Subject: Hello\n\nHello {{ recipient.title }}\n".into(),
                    html: None,
                },
            );
        }
        match load("test.yaml", yaml, &library) {
            Ok(l) => l.definition,
            Err(e) => panic!("{e:#?}"),
        }
    }

    const WORKFLOW: &str = r#"
id: lcc-decommissioning
version: 2
title: Leeds decommissioning toolkit
description: |
  How Leeds decides to stop funding a service.

  Second paragraph.
source: leeds-commissioning-code-of-practice-2018.txt, "De-commissioning"
params:
  key_decision_threshold: 500000
roles:
  commissioner: { title: Lead commissioner }
  pig: { title: Planning Implementation Group, description: Chaired by the director }
  exec_board: { title: Executive Board }
  provider: { title: Provider, external: true, email_field: provider_email }
  pcg: { title: People Commissioning Group }
fields:
  service_name: { type: text, required: true }
  provider_email: { type: email, required: true }
  annual_value: { type: money }
  contract_end: { type: date, required: true, title: Contract end date }
  route: { type: choice, choices: [grant, contract] }
evidence:
  eia: { title: Equality impact assessment, kind: document, valid_for: P12M, source: "Toolkit, para 4.2" }
  dimensions:
    title: Stakeholder dimensions
    kind: checklist
    items: { financial: Financial requirements, users: { label: Needs of service users, allow_na: true } }
  ack: { title: Provider acknowledges notice, kind: acknowledgement, from: provider }
states:
  evidence: { initial: true, title: Gathering evidence, stage: Analysis, description: The commissioner gathers evidence. }
  decision: { title: Awaiting decision, stage: Decision }
  notice: { title: Notice served, stage: Decision }
  closed: { terminal: true }
transitions:
  - id: submit_for_decision
    from: evidence
    to: decision
    by: commissioner
    source: "Toolkit, para 5"
    gates:
      - evidence: eia
        source: "Toolkit, para 4.2"
      - checklist: dimensions
      - approval: { role: pig, quorum: 2, not_by: submitter }
  - id: approve_key_decision
    from: decision
    to: notice
    when: "case.fields.annual_value >= params.key_decision_threshold"
    gates:
      - rule: "case.fields.contract_end >= add_months(today, 6)"
        id: six_months_notice
        explain: At least six months' notice before the contract ends.
        source: Compact for Leeds
      - any:
          - approval: { role: exec_board }
          - all:
              - evidence: ack
            id: acknowledged
        id: decided
  - id: close
    from: [notice]
    to: closed
timers:
  - id: notice_letter
    on_enter: notice
    send: { to: provider, template: notice-of-decommissioning }
  - id: chase_acknowledgement
    in: notice
    after: P10D
    every: P7D
    until: { evidence: ack }
    send: { to: provider, template: acknowledge-notice }
  - id: contract_end_reached
    title: Contract ending
    in: notice
    at: contract_end
    offset: -P1M
    fire: close
    send: { to: [commissioner, pig], template: contract-ending }
    source: "Toolkit, para 9"
schedules:
  - id: annual_code_review
    cron: "0 0 9 1 4 *"
    send: { to: pcg, template: annual-code-review }
    source: Code of practice, review
"#;

    #[test]
    fn markdown_reads_as_a_policy_document() {
        let def = definition(WORKFLOW);
        let md = markdown(&def).replace(&def.sha256, "<sha256>");
        expect![[r##"
            # Leeds decommissioning toolkit

            How Leeds decides to stop funding a service.

            Second paragraph.

            - Workflow: `lcc-decommissioning`, version 2
            - Source document: leeds-commissioning-code-of-practice-2018.txt, "De-commissioning"
            - Dates and times are in the Europe/London time zone.
            - File fingerprint (SHA-256): `<sha256>`

            ## Values set by this workflow

            | Value | Set to | Where it comes from |
            |---|---|---|
            | `params.key_decision_threshold` | 500000 | Not stated |

            ## Who is involved

            | Role | How they take part | Description |
            |---|---|---|
            | Lead commissioner (`commissioner`) | signs in with an account |  |
            | Planning Implementation Group (`pig`) | signs in with an account | Chaired by the director |
            | Executive Board (`exec_board`) | signs in with an account |  |
            | Provider (`provider`) | reached by email link, no account (address in Provider email) |  |
            | People Commissioning Group (`pcg`) | signs in with an account |  |

            ## What a case records

            | Field | Type | Required | Description |
            |---|---|---|---|
            | Service name (`service_name`) | text | yes |  |
            | Provider email (`provider_email`) | email | yes |  |
            | Annual value (`annual_value`) | money (pounds) | no |  |
            | Contract end date (`contract_end`) | date | yes |  |
            | Route (`route`) | choice of: grant, contract | no |  |

            ## Evidence

            ### Equality impact assessment

            - Kind: document (`eia`)
            - Valid for 12 months after it is attached.
            - Provided by: anyone with an internal role
            - *Source: Toolkit, para 4.2*

            ### Stakeholder dimensions

            - Kind: checklist (`dimensions`)
            - Provided by: anyone with an internal role
            - Items to answer:
              - Financial requirements
              - Needs of service users (may be answered not applicable)

            ### Provider acknowledges notice

            - Kind: acknowledgement (`ack`)
            - Provided by: Provider (by email link)

            ## Stages

            ### Analysis

            #### Gathering evidence (`evidence`)

            The commissioner gathers evidence.

            New cases start here.

            - **Submit for decision** (`submit_for_decision`) moves the case to *Awaiting decision*.
              - Who may ask for it: Lead commissioner.
              - When it applies: every case.
              - What it requires:
                - The Equality impact assessment must be attached (valid for 12 months). *Source: Toolkit, para 4.2*
                - Every item of the Stakeholder dimensions checklist must be answered yes, or not applicable where the item says so:
                  - Financial requirements
                  - Needs of service users (may be answered not applicable)
                - Approval by 2 members of Planning Implementation Group; not the person who submitted it; members who declared a conflict of interest do not count; any rejection blocks.
              - *Source: Toolkit, para 5*

            ### Decision

            #### Awaiting decision (`decision`)

            - **Approve key decision** (`approve_key_decision`) moves the case to *Notice served*.
              - Who may ask for it: anyone with an internal role.
              - When it applies: only when `case.fields.annual_value >= params.key_decision_threshold`, where `params.key_decision_threshold = 500000`.
              - What it requires:
                - At least six months' notice before the contract ends (rule `case.fields.contract_end >= add_months(today, 6)`). *Source: Compact for Leeds*
                - At least one of the following:
                  - Approval by Executive Board; members who declared a conflict of interest do not count; any rejection blocks.
                  - All of the following:
                    - An acknowledgement must be received from the Provider: Provider acknowledges notice.

            #### Notice served (`notice`)

            - **Close** (`close`) moves the case to *Closed*.
              - Who may ask for it: anyone with an internal role.
              - When it applies: every case.
              - What it requires: nothing more; it can happen as soon as it is asked for.

            ### Other states

            #### Closed (`closed`)

            Cases end here.

            ## Reminders and notices

            - When a case enters Notice served, the Provider is sent `notice-of-decommissioning`.
            - 10 days after a case enters Notice served, and every 7 days after that until an acknowledgement is received from the Provider (Provider acknowledges notice), the Provider is sent `acknowledge-notice`. This stops when the case leaves Notice served.
            - **Contract ending.** At 09:00, 1 month before the Contract end date, if the case is in Notice served, the Lead commissioner and the Planning Implementation Group are sent `contract-ending`, and the Close transition is requested (`close`), which goes ahead only if its gates hold. This stops when the case leaves Notice served. *Source: Toolkit, para 9*

            ## Schedules

            - **Annual code review.** Every year on 1 April at 09:00 (Europe/London time; cron `0 0 9 1 4 *`), the People Commissioning Group is sent `annual-code-review`. *Source: Code of practice, review*

            ## Sign-off

            This document describes version 2 of the workflow `lcc-decommissioning` (SHA-256 `<sha256>`). Approved as a faithful statement of the policy by:

            | Approved by | On behalf of | Signature | Date |
            |---|---|---|---|
            |   |   |   |   |
            |   |   |   |   |
        "##]].assert_eq(&md);
    }

    #[test]
    fn html_is_a_complete_page_with_the_same_content() {
        let def = definition(WORKFLOW);
        let html = html(&def);
        assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{html}");
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.trim_end().ends_with("</html>"));
        for text in [
            "<h3>Analysis</h3>",
            "<h4>Gathering evidence <code>evidence</code></h4>",
            "The Equality impact assessment must be attached (valid for 12 months). <span class=\"source\">Source: Toolkit, para 4.2</span>",
            "<li>Needs of service users (may be answered not applicable)</li>",
            "<p><strong>Approve key decision</strong> <code>approve_key_decision</code> moves the case to <strong>Notice served</strong>.</p>",
            "only when <code>case.fields.annual_value &gt;= params.key_decision_threshold</code>, where <code>params.key_decision_threshold = 500000</code>.",
            "the Provider is sent <code>notice-of-decommissioning</code>.",
            "<th>Approved by</th>",
        ] {
            assert!(html.contains(text), "missing {text:?} in\n{html}");
        }
    }

    #[test]
    fn html_escapes_every_text_from_the_workflow() {
        let def = definition(
            r#"
id: hostile
version: 1
title: "<script>alert('title')</script>"
description: "Fish & chips <b>bold</b>"
roles:
  commissioner: { title: "<img src=x onerror=alert(1)>" }
states:
  open: { initial: true, title: "A \"quoted\" <state>" }
  done: { terminal: true }
transitions:
  - id: finish
    from: open
    to: done
    by: commissioner
    source: "</span><script>x</script>"
"#,
        );
        let html = html(&def);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("<h1>&lt;script&gt;alert(&#x27;title&#x27;)&lt;&#x2f;script&gt;</h1>"), "{html}");
        assert!(html.contains("Fish &amp; chips &lt;b&gt;bold&lt;&#x2f;b&gt;"), "{html}");
        assert!(html.contains("A &quot;quoted&quot; &lt;state&gt;"), "{html}");
    }

    #[test]
    fn markdown_escapes_text_and_shows_no_timers() {
        let def = definition(
            r#"
id: plain
version: 1
title: "Use *care* with [links] | pipes and snake_case"
states:
  open: { initial: true }
  done: { terminal: true }
transitions:
  - { id: finish, from: open, to: done }
"#,
        );
        let md = markdown(&def);
        assert!(md.starts_with("# Use \\*care\\* with \\[links\\] \\| pipes and snake_case\n"), "{md}");
        assert!(md.contains("## Reminders and notices\n\nThis workflow sends no reminders or notices.\n"), "{md}");
        assert!(md.contains("- Who may ask for it: anyone with an internal role."), "{md}");
    }

    #[test]
    fn cron_in_words() {
        let words: Vec<Option<String>> = [
            "0 0 9 1 4 *",
            "0 30 8 * * *",
            "0 0 9 * * Mon",
            "0 0 9 * * MON-FRI",
            "0 0 9 15 * *",
            "0 0 9 1 4 * 2027",
            "0 */5 * * * *",
        ]
        .into_iter()
        .map(cron_words)
        .collect();
        expect![[r#"
            [
                Some(
                    "Every year on 1 April at 09:00",
                ),
                Some(
                    "Every day at 08:30",
                ),
                Some(
                    "Every Monday at 09:00",
                ),
                Some(
                    "Every Monday to Friday at 09:00",
                ),
                Some(
                    "On the 15th of every month at 09:00",
                ),
                None,
                None,
            ]
        "#]]
        .assert_debug_eq(&words);
    }
}
