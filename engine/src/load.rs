//! Loading: YAML text becomes a checked `Definition`, or every problem in it, each with
//! `file:line:col` and a hint. Files are read by the caller; this module only sees text.

use crate::calendar::Calendar;
pub use crate::definition::flatten;
use crate::definition::*;
use crate::diagnostics::{Diagnostic, Severity, did_you_mean, hint_for};
use crate::duration::Duration;
use crate::expr::{self, Scope};
use crate::ids::*;
use crate::raw::*;
use crate::scenario::{self, Scenario};
use crate::source::PositionIndex;
use crate::templates::{self, TemplateSource};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;
use std::sync::Arc;

mod amend;
mod children;
mod contract;
mod origins;
mod roles;
mod rules;
mod timers;

pub use children::{ChildProblem, check_children};
pub use origins::LOCAL_POLICY;
use origins::origin_text;

/// What a workflow may refer to outside its own file: templates and calendars.
#[derive(Debug, Default, Clone)]
pub struct Library {
    /// Templates by name.
    pub templates: BTreeMap<String, TemplateSource>,
    /// Calendars by name.
    pub calendars: BTreeMap<String, Arc<Calendar>>,
}

impl Library {
    /// The templates and calendar `def` uses, as it loaded them: what a published
    /// version keeps with its text, so that it sends the same letters and counts the
    /// same working days on every node, whatever that node's folder holds.
    pub fn of(def: &Definition) -> Library {
        Library {
            templates: def.letters.iter().map(|(name, source)| (name.to_string(), source.clone())).collect(),
            calendars: def.calendar.iter().map(|c| (c.name.clone(), c.clone())).collect(),
        }
    }

    /// This library with `over`'s templates and calendars in place of its own of the
    /// same name, and added where it has none.
    pub fn overlaid(&self, over: &Library) -> Library {
        let mut out = self.clone();
        out.templates.extend(over.templates.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.calendars.extend(over.calendars.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// A definition that loaded, with any warnings.
#[derive(Debug)]
pub struct Loaded {
    /// The checked definition.
    pub definition: Definition,
    /// Its scenarios (`tests:`), for `gatehouse test`: not part of the definition a case
    /// runs on.
    pub scenarios: Vec<Scenario>,
    /// Problems that do not stop it loading.
    pub warnings: Vec<Diagnostic>,
}

/// Load and check one workflow file. `Err` holds every error (and the warnings).
pub fn load(file: &str, text: &str, library: &Library) -> Result<Loaded, Vec<Diagnostic>> {
    let (pos, duplicates) = PositionIndex::with_duplicates(text);
    let mut cx = Checker { file: file.to_string(), pos, diags: Vec::new() };
    for (key, line, column) in duplicates {
        cx.push_at(
            line,
            column,
            Severity::Error,
            format!("duplicate key `{key}`"),
            Some("each id may be declared once".into()),
        );
    }
    let raw: RawDefinition = match serde_yaml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            cx.diags.push(yaml_error(file, &e));
            return Err(cx.diags);
        }
    };
    if cx.diags.iter().any(Diagnostic::is_error) {
        return Err(cx.diags);
    }
    let definition = cx.definition(raw, text, library);
    match definition {
        Some((definition, scenarios)) if !cx.diags.iter().any(Diagnostic::is_error) => {
            Ok(Loaded { definition, scenarios, warnings: cx.diags })
        }
        _ => {
            cx.diags.sort_by_key(|d| (d.severity, d.line, d.column));
            Err(cx.diags)
        }
    }
}

/// A serde_yaml error as a diagnostic, with a "did you mean" for unknown keys.
fn yaml_error(file: &str, e: &serde_yaml::Error) -> Diagnostic {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let mut message = e.to_string();
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    let hint = unknown_key_hint(&message).or_else(|| {
        if message.contains("missing field") {
            Some("add the missing key; see the workflow language reference in README.md".into())
        } else if message.contains("did not match any variant") {
            Some("check the shape of this entry against the examples in README.md".into())
        } else {
            None
        }
    });
    Diagnostic { file: file.to_string(), line, column, severity: Severity::Error, message, hint }
}

/// From "unknown field `statse`, expected one of `id`, `states`": "did you mean `states`?"
fn unknown_key_hint(message: &str) -> Option<String> {
    // serde_yaml puts the path first: "transitions[0]: unknown field `gate`, …".
    let start = ["unknown field `", "unknown variant `"].iter().find_map(|p| message.find(p).map(|i| i + p.len()))?;
    let rest = &message[start..];
    let (word, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match did_you_mean(word, expected.iter().copied()) {
        Some(c) => Some(format!("did you mean `{c}`?")),
        None if !expected.is_empty() => Some(format!("allowed here: {}", expected.join(", "))),
        None => None,
    }
}

struct Checker {
    file: String,
    pos: PositionIndex,
    diags: Vec<Diagnostic>,
}

impl Checker {
    fn push_at(&mut self, line: usize, column: usize, severity: Severity, message: String, hint: Option<String>) {
        self.diags.push(Diagnostic { file: self.file.clone(), line, column, severity, message, hint });
    }

    fn err(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let (l, c) = self.pos.value(path);
        self.push_at(l, c, Severity::Error, message.into(), hint);
    }

    fn err_key(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let (l, c) = self.pos.key(path);
        self.push_at(l, c, Severity::Error, message.into(), hint);
    }

    fn warn(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let (l, c) = self.pos.key(path);
        self.push_at(l, c, Severity::Warning, message.into(), hint);
    }

    fn snake(&mut self, path: &str, id: &str, what: &str) {
        if !is_snake_id(id) {
            self.err_key(
                path,
                format!("{what} id `{id}` is not snake_case"),
                Some("use lowercase letters, digits and `_`, starting with a letter".into()),
            );
        }
    }

    fn duration(&mut self, path: &str, text: &str, calendar: bool) -> Option<Duration> {
        match Duration::parse(text) {
            Ok(d) if d.needs_calendar() && !calendar => {
                self.err(
                    path,
                    format!("`{text}` counts working days, but the workflow names no calendar"),
                    Some("add `calendar: england-and-wales` at the top level".into()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                self.err(
                    path,
                    m,
                    Some("ISO 8601: P6M is six months, P10D ten days, P2W two weeks, PT12H twelve hours".into()),
                );
                None
            }
        }
    }

    fn definition(&mut self, raw: RawDefinition, text: &str, library: &Library) -> Option<(Definition, Vec<Scenario>)> {
        if !is_kebab_id(&raw.id) {
            self.err(
                "id",
                format!("workflow id `{}` is not kebab-case", raw.id),
                Some("use lowercase letters, digits and `-`, like `lcc-decommissioning`".into()),
            );
        }
        if raw.version == 0 {
            self.err("version", "version must be 1 or more", None);
        }
        let timezone_name = raw.timezone.clone().unwrap_or_else(|| "Europe/London".into());
        let timezone = match jiff::tz::TimeZone::get(&timezone_name) {
            Ok(tz) => tz,
            Err(_) => {
                self.err(
                    "timezone",
                    format!("`{timezone_name}` is not an IANA time zone"),
                    Some("for England use `Europe/London`".into()),
                );
                jiff::tz::TimeZone::UTC
            }
        };
        let calendar = raw.calendar.as_ref().and_then(|name| match library.calendars.get(name) {
            Some(c) => Some(c.clone()),
            None => {
                let hint = hint_for(name, "calendars", library.calendars.keys().map(String::as_str));
                self.err("calendar", format!("calendar `{name}` not found in calendars/"), Some(hint));
                None
            }
        });
        let has_calendar = raw.calendar.is_some();

        let (params, param_origins) = self.params(&raw.params);
        self.unsourced(&raw);
        let mut fields = self.fields(&raw.fields);
        let roles = self.roles(&raw.roles, &fields);
        let evidence = self.evidence(&raw.evidence, &roles, has_calendar, &params);
        let (states, initial) = self.states(&raw.states);
        let amend = self.amends(&raw, &mut fields, &roles, &states);
        let children = self.children(&raw.children, &roles, &states);
        let scope = Scope {
            fields: fields.iter().map(|(k, f)| (k.as_str(), &f.kind)).collect(),
            params: params.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            calendar: calendar.clone(),
        };
        let refs = Refs {
            roles: &roles,
            evidence: &evidence,
            states: &states,
            scope: &scope,
            has_calendar,
            params: &params,
            children: &children,
        };
        let transitions = self.transitions(&raw.transitions, &refs);
        for (i, t) in raw.transitions.iter().enumerate() {
            for (j, f) in t.clears.iter().enumerate() {
                if fields.get(f.as_str()).is_some_and(|f| f.required) {
                    self.err(
                        &format!("transitions.{i}.clears.{j}"),
                        format!("`{f}` is required, so it cannot be cleared"),
                        None,
                    );
                }
            }
        }
        self.graph_checks(&raw, &states, initial.as_ref(), &transitions);
        let timers = self.timers(&raw.timers, &refs, &fields, &transitions);
        let schedules = self.schedules(&raw.schedules, &roles, &timezone_name);
        let contract = raw.contract.as_ref().map(|c| self.contract(c, &fields, &states, &params, &scope));

        let mut template_names: Vec<(String, TemplateName)> = Vec::new();
        // From the raw file, so that a template is checked even when its timer has
        // another problem.
        for (i, t) in raw.timers.iter().enumerate() {
            if let Some(s) = &t.send {
                template_names.push((format!("timers.{i}.send.template"), TemplateName::new(&s.template)));
            }
        }
        for (i, s) in raw.schedules.iter().enumerate() {
            template_names.push((format!("schedules.{i}.send.template"), TemplateName::new(&s.send.template)));
        }
        if raw.parent.as_deref().is_some_and(|p| p.trim().is_empty()) {
            self.err("parent", "name the workflow whose cases open this one's, like `parent: glos-grant-round`", None);
        }
        self.templates(&template_names, library, &fields, raw.parent.is_some());
        self.letters_state(&raw.timers, library, &roles);
        self.unused_roles(&raw, &roles);

        let tests = self.scenarios(&raw.tests);
        let initial = initial?;
        let mut templates: Vec<TemplateName> = template_names.into_iter().map(|(_, t)| t).collect();
        // An approval can go stale, and its role is then emailed ([`crate::basis`]).
        if transitions.iter().flat_map(|t| flatten(&t.gates)).any(|g| matches!(g.kind, GateKind::Approval(_))) {
            templates.push(TemplateName::new(crate::basis::STALE_TEMPLATE));
        }
        templates.sort();
        templates.dedup();
        let letters = templates
            .iter()
            .filter_map(|t| library.templates.get(t.as_str()).map(|s| (t.clone(), s.clone())))
            .collect();
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let def = Definition {
            id: raw.id,
            version: raw.version,
            organisation: raw.organisation.clone().unwrap_or_else(|| raw.title.clone()),
            title: raw.title,
            description: raw.description,
            source: raw.source,
            timezone_name,
            timezone,
            calendar,
            params,
            param_origins,
            roles,
            fields,
            evidence,
            states,
            initial,
            transitions,
            timers,
            schedules,
            templates,
            letters,
            equivalent_mutants: self.equivalent_mutants(&raw.mutants),
            amend,
            contract,
            children,
            parent: raw.parent.clone(),
            sha256,
        };
        if !self.diags.iter().any(Diagnostic::is_error) {
            self.letters_say_when(&def, library);
        }
        // Scenarios are checked against a sound workflow only: otherwise one misspelt
        // state would also be reported at every step that uses what it broke.
        if !self.diags.iter().any(Diagnostic::is_error) {
            scenario::check_references(&def, &tests, &mut |path, message, hint| self.err(path, message, hint));
        }
        Some((def, tests))
    }

    fn fields(&mut self, raw: &IndexMap<String, RawField>) -> IndexMap<FieldId, Field> {
        let mut out = IndexMap::new();
        for (k, f) in raw {
            let path = format!("fields.{k}");
            self.snake(&path, k, "field");
            let kind = match f.kind {
                RawFieldType::Text => FieldType::Text,
                RawFieldType::Email => FieldType::Email,
                RawFieldType::Money => FieldType::Money,
                RawFieldType::Number => FieldType::Number,
                RawFieldType::Integer => FieldType::Integer,
                RawFieldType::Boolean => FieldType::Boolean,
                RawFieldType::Date => FieldType::Date,
                RawFieldType::Choice => FieldType::Choice(f.choices.clone()),
            };
            if f.kind == RawFieldType::Choice && f.choices.is_empty() {
                self.err(
                    &path,
                    format!("choice field `{k}` needs `choices:`"),
                    Some("list the allowed values, like `choices: [grant, contract]`".into()),
                );
            }
            if f.kind != RawFieldType::Choice && !f.choices.is_empty() {
                self.err(&format!("{path}.choices"), "`choices` only applies to `type: choice`", None);
            }
            let title = f.title.clone().unwrap_or_else(|| humanize(k));
            out.insert(
                FieldId::new(k),
                Field { kind, title, description: f.description.clone(), required: f.required, amend: None },
            );
        }
        out
    }

    fn evidence(
        &mut self,
        raw: &IndexMap<String, RawEvidence>,
        roles: &IndexMap<RoleId, Role>,
        has_calendar: bool,
        params: &IndexMap<String, ParamValue>,
    ) -> IndexMap<EvidenceId, Evidence> {
        let mut out = IndexMap::new();
        for (k, e) in raw {
            let path = format!("evidence.{k}");
            self.snake(&path, k, "evidence");
            let kind = match e.kind {
                RawEvidenceKind::Document => EvidenceKind::Document,
                RawEvidenceKind::Acknowledgement => EvidenceKind::Acknowledgement,
                RawEvidenceKind::Checklist => {
                    if e.items.is_empty() {
                        self.err(
                            &path,
                            format!("checklist `{k}` needs `items:`"),
                            Some("list the items as `item_id: Label`".into()),
                        );
                    }
                    for item in e.items.keys() {
                        self.snake(&format!("{path}.items.{item}"), item, "checklist item");
                    }
                    EvidenceKind::Checklist(
                        e.items
                            .iter()
                            .map(|(id, item)| ChecklistItem {
                                id: id.clone(),
                                label: item.label.clone(),
                                allow_na: item.allow_na,
                            })
                            .collect(),
                    )
                }
            };
            if e.kind != RawEvidenceKind::Checklist && !e.items.is_empty() {
                self.err(&format!("{path}.items"), "`items` only applies to `kind: checklist`", None);
            }
            let valid_for = e.valid_for.as_ref().and_then(|v| {
                let vpath = format!("{path}.valid_for");
                self.duration_or_param(&vpath, v, has_calendar, params)
            });
            let from = e.from.as_ref().and_then(|r| self.role_ref(&format!("{path}.from"), r, roles));
            out.insert(
                EvidenceId::new(k),
                Evidence {
                    title: e.title.clone(),
                    kind,
                    description: e.description.clone(),
                    source: e.source.clone(),
                    valid_for,
                    from,
                },
            );
        }
        out
    }

    fn role_ref(&mut self, path: &str, role: &str, roles: &IndexMap<RoleId, Role>) -> Option<RoleId> {
        match roles.get_key_value(role) {
            Some((id, _)) => Some(id.clone()),
            None => {
                let hint = hint_for(role, "roles", roles.keys().map(|k| k.as_str()));
                self.err(path, format!("unknown role `{role}`"), Some(hint));
                None
            }
        }
    }

    fn state_ref(&mut self, path: &str, state: &str, states: &IndexMap<StateId, State>) -> Option<StateId> {
        match states.get_key_value(state) {
            Some((id, _)) => Some(id.clone()),
            None => {
                let hint = hint_for(state, "states", states.keys().map(|k| k.as_str()));
                self.err(path, format!("unknown state `{state}`"), Some(hint));
                None
            }
        }
    }

    fn states(&mut self, raw: &IndexMap<String, RawState>) -> (IndexMap<StateId, State>, Option<StateId>) {
        let mut out = IndexMap::new();
        let mut initial = Vec::new();
        for (k, s) in raw {
            let path = format!("states.{k}");
            self.snake(&path, k, "state");
            if s.initial {
                initial.push(k.clone());
            }
            if s.initial && s.terminal {
                self.err(&path, format!("state `{k}` cannot be both initial and terminal"), None);
            }
            out.insert(
                StateId::new(k),
                State {
                    title: s.title.clone().unwrap_or_else(|| humanize(k)),
                    description: s.description.clone(),
                    terminal: s.terminal,
                    stage: s.stage.clone(),
                },
            );
        }
        match initial.len() {
            1 => {}
            0 => self.err(
                "states",
                "no state is marked `initial: true`",
                Some("mark the state new cases start in with `initial: true`".into()),
            ),
            _ => {
                for k in &initial[1..] {
                    self.err(
                        &format!("states.{k}.initial"),
                        format!("more than one initial state (`{}` is already initial)", initial[0]),
                        None,
                    );
                }
            }
        }
        let initial = (initial.len() == 1).then(|| StateId::new(&initial[0]));
        (out, initial)
    }

    fn scenarios(&mut self, raw: &[RawScenario]) -> Vec<scenario::Scenario> {
        raw.iter()
            .enumerate()
            .map(|(i, s)| {
                let (line, _) = self.pos.value(&format!("tests.{i}"));
                scenario::Scenario::from_raw(
                    s,
                    line,
                    |j| self.pos.value(&format!("tests.{i}.steps.{j}")).0,
                    format!("tests.{i}"),
                )
            })
            .collect()
    }
}

struct Refs<'a> {
    roles: &'a IndexMap<RoleId, Role>,
    evidence: &'a IndexMap<EvidenceId, Evidence>,
    states: &'a IndexMap<StateId, State>,
    scope: &'a Scope<'a>,
    has_calendar: bool,
    /// The workflow's params, which a timer's durations may name (`every: params.x`).
    params: &'a IndexMap<String, ParamValue>,
    /// Its kinds of child case, which a `children:` gate names.
    children: &'a IndexMap<String, ChildGroup>,
}

/// `submit_for_decision` → "Submit for decision".
pub fn humanize(id: &str) -> String {
    let s = id.replace(['_', '-'], " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}
