//! Loading: YAML text becomes a checked `Definition`, or every problem in it, each with
//! `file:line:col` and a hint. Files are read by the caller; this module only sees text.

use crate::calendar::Calendar;
use crate::definition::*;
use crate::diagnostics::{Diagnostic, Severity, did_you_mean, hint_for};
use crate::duration::Duration;
use crate::expr::{self, Scope};
use crate::ids::*;
use crate::raw::*;
use crate::scenario;
use crate::source::PositionIndex;
use crate::templates::{self, TemplateSource};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;
use std::sync::Arc;

/// What a workflow may refer to outside its own file: templates and calendars.
#[derive(Debug, Default, Clone)]
pub struct Library {
    /// Templates by name.
    pub templates: BTreeMap<String, TemplateSource>,
    /// Calendars by name.
    pub calendars: BTreeMap<String, Arc<Calendar>>,
}

/// A definition that loaded, with any warnings.
#[derive(Debug)]
pub struct Loaded {
    /// The checked definition.
    pub definition: Definition,
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
        Some(d) if !cx.diags.iter().any(Diagnostic::is_error) => Ok(Loaded { definition: d, warnings: cx.diags }),
        _ => {
            cx.diags.sort_by_key(|d| (d.severity, d.line, d.column));
            Err(cx.diags)
        }
    }
}

/// How a rule of our own shows where its source would be: "Local policy: <why>".
pub const LOCAL_POLICY: &str = "Local policy: ";

/// What a rule shows as its source: the citation, or "Local policy: <why>".
fn origin_text(source: &Option<String>, local_policy: &Option<String>) -> Option<String> {
    match (source, local_policy) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(reason)) => Some(format!("{LOCAL_POLICY}{}", reason.trim())),
        (None, None) => None,
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

    fn definition(&mut self, raw: RawDefinition, text: &str, library: &Library) -> Option<Definition> {
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
        let fields = self.fields(&raw.fields);
        let roles = self.roles(&raw.roles, &fields);
        let evidence = self.evidence(&raw.evidence, &roles, has_calendar);
        let (states, initial) = self.states(&raw.states);
        let scope = Scope {
            fields: fields.iter().map(|(k, f)| (k.as_str(), &f.kind)).collect(),
            params: params.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            calendar: calendar.clone(),
        };
        let refs = Refs { roles: &roles, evidence: &evidence, states: &states, scope: &scope, has_calendar };
        let transitions = self.transitions(&raw.transitions, &refs);
        self.graph_checks(&raw, &states, initial.as_ref(), &transitions);
        let timers = self.timers(&raw.timers, &refs, &fields, &transitions);
        let schedules = self.schedules(&raw.schedules, &roles);
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
        self.templates(&template_names, library, &fields);
        self.unused_roles(&raw, &roles);

        let tests = self.scenarios(&raw.tests);
        let initial = initial?;
        let mut templates: Vec<TemplateName> = template_names.into_iter().map(|(_, t)| t).collect();
        templates.sort();
        templates.dedup();
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let def = Definition {
            id: raw.id,
            version: raw.version,
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
            tests,
            templates,
            contract,
            sha256,
        };
        // Scenarios are checked against a sound workflow only: otherwise one misspelt
        // state would also be reported at every step that uses what it broke.
        if !self.diags.iter().any(Diagnostic::is_error) {
            scenario::check_references(&def, &mut |path, message, hint| self.err(path, message, hint));
        }
        Some(def)
    }

    fn contract(
        &mut self,
        raw: &RawContract,
        fields: &IndexMap<FieldId, Field>,
        states: &IndexMap<StateId, State>,
        params: &IndexMap<String, ParamValue>,
        scope: &Scope,
    ) -> crate::contract::Contract {
        // `want` says which field types fit: none means any.
        let field = |cx: &mut Self, key: &str, id: &Option<String>, want: &[&str]| -> Option<FieldId> {
            let id = id.as_ref()?;
            let path = format!("contract.{key}");
            let Some((fid, f)) = fields.get_key_value(id.as_str()) else {
                let hint = hint_for(id, "fields", fields.keys().map(|k| k.as_str()));
                cx.err(&path, format!("unknown field `{id}`"), Some(hint));
                return None;
            };
            if !want.is_empty() && !want.contains(&f.kind.name()) {
                cx.err(
                    &path,
                    format!("field `{id}` is a {} field; `{key}` needs a {} field", f.kind.name(), want.join(" or ")),
                    None,
                );
                return None;
            }
            Some(fid.clone())
        };
        let service = field(self, "service", &raw.service, &[]);
        let provider = field(self, "provider", &raw.provider, &[]);
        let value = field(self, "value", &raw.value, &["money"]);
        let ends = field(self, "ends", &raw.ends, &["date"]);
        let directorate = field(self, "directorate", &raw.directorate, &[]);
        let notice = raw.notice.as_ref().and_then(|n| {
            let state = self.state_ref("contract.notice.state", &n.state, states);
            let until = match &n.until {
                Some(_) => field(self, "notice.until", &n.until, &["date"]),
                None if raw.ends.is_some() => ends.clone(),
                None => {
                    self.err_key(
                        "contract.notice",
                        "notice needs the date it runs to",
                        Some("add `until: <date field>`, or `ends:` to the contract".into()),
                    );
                    None
                }
            };
            let (months, months_param) = self.notice_months(&n.months, params);
            let when = n.when.as_ref().and_then(|w| self.expr("contract.notice.when", w, scope));
            Some(crate::contract::Notice {
                state: state?,
                until: until?,
                months: months?,
                months_param,
                when,
                source: n.source.clone(),
            })
        });
        crate::contract::Contract { service, provider, value, ends, directorate, notice }
    }

    /// `months:` is a whole number of months, or `params.<id>` naming one.
    fn notice_months(
        &mut self,
        raw: &serde_yaml::Value,
        params: &IndexMap<String, ParamValue>,
    ) -> (Option<u32>, Option<String>) {
        let path = "contract.notice.months";
        let whole = |n: f64| (n.fract() == 0.0 && (1.0..=120.0).contains(&n)).then_some(n as u32);
        let hint =
            Some("a whole number of months from 1 to 120, like `months: 6`, or `months: params.notice_months`".into());
        match raw {
            serde_yaml::Value::Number(n) => match n.as_f64().and_then(whole) {
                Some(m) => (Some(m), None),
                None => {
                    self.err(path, format!("`{n}` is not a whole number of months"), hint);
                    (None, None)
                }
            },
            serde_yaml::Value::String(s) => {
                let name = s.strip_prefix("params.").unwrap_or(s).trim();
                match params.get(name) {
                    Some(ParamValue::Number(n)) => match whole(*n) {
                        Some(m) => (Some(m), Some(name.to_string())),
                        None => {
                            self.err(path, format!("param `{name}` is {n}, not a whole number of months"), hint);
                            (None, None)
                        }
                    },
                    Some(_) => {
                        self.err(path, format!("param `{name}` is not a number"), hint);
                        (None, None)
                    }
                    None => {
                        let h = hint_for(name, "params", params.keys().map(String::as_str));
                        self.err(path, format!("unknown param `{name}`"), Some(h));
                        (None, None)
                    }
                }
            }
            _ => {
                self.err(path, "`months` must be a number or `params.<id>`", hint);
                (None, None)
            }
        }
    }

    /// An approval's `quorum:`: a whole number of at least 1, or `params.<id>` naming one.
    fn quorum(&mut self, path: &str, raw: &serde_yaml::Value, scope: &Scope) -> Option<u32> {
        let hint = || Some("a whole number of approvers, like `quorum: 2`, or `quorum: params.pig_quorum`".to_string());
        let whole = |n: f64| (n.fract() == 0.0 && (1.0..=100.0).contains(&n)).then_some(n as u32);
        let (n, what) = match raw {
            serde_yaml::Value::Number(n) => (n.as_f64(), format!("`{n}`")),
            serde_yaml::Value::String(s) => {
                let name = s.strip_prefix("params.").unwrap_or(s).trim();
                match scope.params.iter().find(|(k, _)| *k == name) {
                    Some((_, ParamValue::Number(n))) => (Some(*n), format!("param `{name}` ({n})")),
                    Some(_) => (None, format!("param `{name}`, which is not a number,")),
                    None => {
                        let h = hint_for(name, "params", scope.params.iter().map(|(k, _)| *k));
                        self.err(path, format!("unknown param `{name}`"), Some(h));
                        return None;
                    }
                }
            }
            _ => (None, "it".to_string()),
        };
        let quorum = n.and_then(whole);
        if quorum.is_none() {
            self.err(path, format!("{what} is not a quorum: it must be a whole number from 1 to 100"), hint());
        }
        quorum
    }

    /// Warn of each transition and timer that cites no source: every rule of a shipped
    /// workflow must say where it comes from.
    fn unsourced(&mut self, raw: &RawDefinition) {
        let hint = || {
            Some("add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice".to_string())
        };
        let items = raw
            .transitions
            .iter()
            .enumerate()
            .map(|(i, t)| ("transition", format!("transitions.{i}"), &t.id, &t.source, &t.local_policy));
        let timers = raw
            .timers
            .iter()
            .enumerate()
            .map(|(i, t)| ("timer", format!("timers.{i}"), &t.id, &t.source, &t.local_policy));
        for (what, path, id, source, local) in items.chain(timers).collect::<Vec<_>>() {
            match (source, local) {
                (None, None) => self.warn(&path, format!("{what} `{id}` cites no source"), hint()),
                (Some(_), Some(_)) => self.err(
                    &path,
                    format!("{what} `{id}` has both `source` and `local_policy`"),
                    Some("a rule either comes from the document or is a local choice: keep one".into()),
                ),
                (None, Some(reason)) if reason.trim().is_empty() => self.err(
                    &format!("{path}.local_policy"),
                    format!("{what} `{id}`: say why it is a local choice"),
                    None,
                ),
                _ => {}
            }
        }
    }

    /// Params, each a plain value or `{ value, source }` / `{ value, local_policy }`; and
    /// where each comes from.
    fn params(
        &mut self,
        raw: &IndexMap<String, serde_yaml::Value>,
    ) -> (IndexMap<String, ParamValue>, IndexMap<String, Origin>) {
        let mut out = IndexMap::new();
        let mut origins = IndexMap::new();
        for (k, v) in raw {
            let path = format!("params.{k}");
            self.snake(&path, k, "param");
            let (v, origin) = match v {
                serde_yaml::Value::Mapping(m) => {
                    let text = |key: &str| m.get(key).and_then(serde_yaml::Value::as_str).map(str::to_string);
                    for key in m.keys() {
                        let known = key.as_str().is_some_and(|k| ["value", "source", "local_policy"].contains(&k));
                        if !known {
                            let name = key.as_str().unwrap_or("?");
                            self.err(
                                &format!("{path}.{name}"),
                                format!("unknown key `{name}` in param `{k}`"),
                                Some("a param is `value` with `source` (where the document sets it) or `local_policy` (why it is our own choice)".into()),
                            );
                        }
                    }
                    let origin = match (text("source"), text("local_policy")) {
                        (Some(_), Some(_)) => {
                            self.err(
                                &path,
                                format!("param `{k}` has both `source` and `local_policy`"),
                                Some("a value either comes from the document or is a local choice: keep one".into()),
                            );
                            Origin::Unstated
                        }
                        (Some(s), None) => Origin::Cited(s),
                        (None, Some(reason)) if reason.trim().is_empty() => {
                            self.err(
                                &format!("{path}.local_policy"),
                                format!("param `{k}`: say why it is a local choice"),
                                None,
                            );
                            Origin::Unstated
                        }
                        (None, Some(reason)) => Origin::LocalPolicy(reason),
                        (None, None) => Origin::Unstated,
                    };
                    match m.get("value") {
                        Some(v) => (v, origin),
                        None => {
                            self.err(&path, format!("param `{k}` needs a `value`"), None);
                            continue;
                        }
                    }
                }
                v => (v, Origin::Unstated),
            };
            let value = match v {
                serde_yaml::Value::Number(n) => n.as_f64().map(ParamValue::Number),
                serde_yaml::Value::String(s) => Some(ParamValue::Text(s.clone())),
                serde_yaml::Value::Bool(b) => Some(ParamValue::Bool(*b)),
                _ => None,
            };
            match value {
                Some(value) => {
                    if origin == Origin::Unstated {
                        self.warn(
                            &path,
                            format!("param `{k}` says neither where it comes from nor that it is a local choice"),
                            Some(format!("write `{k}: {{ value: …, source: \"<document>, <paragraph>\" }}`, or `local_policy: <why>` when the documents do not set it")),
                        );
                    }
                    out.insert(k.clone(), value);
                    origins.insert(k.clone(), origin);
                }
                None => self.err(&path, format!("param `{k}` must be a number, text or true/false"), None),
            }
        }
        (out, origins)
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
                Field { kind, title, description: f.description.clone(), required: f.required },
            );
        }
        out
    }

    fn roles(&mut self, raw: &IndexMap<String, RawRole>, fields: &IndexMap<FieldId, Field>) -> IndexMap<RoleId, Role> {
        let mut out = IndexMap::new();
        for (k, r) in raw {
            let path = format!("roles.{k}");
            self.snake(&path, k, "role");
            let email_field = match (&r.email_field, r.external) {
                (Some(f), true) => match fields.get_key_value(f.as_str()) {
                    Some((id, field)) if field.kind == FieldType::Email => Some(id.clone()),
                    Some(_) => {
                        self.err(&format!("{path}.email_field"), format!("field `{f}` is not an email field"), None);
                        None
                    }
                    None => {
                        let hint = hint_for(f, "fields", fields.keys().map(|k| k.as_str()));
                        self.err(&format!("{path}.email_field"), format!("unknown field `{f}`"), Some(hint));
                        None
                    }
                },
                (None, true) => {
                    self.err(
                        &path,
                        format!("external role `{k}` needs `email_field:`"),
                        Some(
                            "name the case field holding their email address, like `email_field: provider_email`"
                                .into(),
                        ),
                    );
                    None
                }
                (Some(_), false) => {
                    self.err(&format!("{path}.email_field"), "`email_field` only applies to external roles", Some("add `external: true`, or remove it: internal roles are reached through their members' accounts".into()));
                    None
                }
                (None, false) => None,
            };
            // An external role whose field is broken is still external for the checks
            // that follow; give it a placeholder so they do not cascade.
            let email_field = email_field.or_else(|| r.external.then(|| FieldId::new("")));
            out.insert(
                RoleId::new(k),
                Role { title: r.title.clone(), description: r.description.clone(), email_field },
            );
        }
        out
    }

    fn evidence(
        &mut self,
        raw: &IndexMap<String, RawEvidence>,
        roles: &IndexMap<RoleId, Role>,
        has_calendar: bool,
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
            let valid_for =
                e.valid_for.as_ref().and_then(|v| self.duration(&format!("{path}.valid_for"), v, has_calendar));
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

    fn transitions(&mut self, raw: &[RawTransition], refs: &Refs) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, t) in raw.iter().enumerate() {
            let path = format!("transitions.{i}");
            if !seen.insert(t.id.clone()) {
                self.err(&format!("{path}.id"), format!("duplicate transition id `{}`", t.id), None);
            }
            self.snake(&format!("{path}.id"), &t.id, "transition");
            let from_path = format!("{path}.from");
            let raw_from = t.from.to_vec();
            let from: Vec<StateId> = raw_from
                .iter()
                .enumerate()
                .filter_map(|(j, s)| {
                    let p = if matches!(t.from, OneOrMany::One(_)) {
                        from_path.clone()
                    } else {
                        format!("{from_path}.{j}")
                    };
                    self.state_ref(&p, s, refs.states)
                })
                .collect();
            let from_ok = from.len() == raw_from.len();
            let to = self.state_ref(&format!("{path}.to"), &t.to, refs.states);
            let by =
                t.by.as_ref()
                    .map(|b| {
                        b.to_vec()
                            .iter()
                            .filter_map(|r| {
                                let id = self.role_ref(&format!("{path}.by"), r, refs.roles)?;
                                if refs.roles[&id].is_external() {
                                    self.err(
                                        &format!("{path}.by"),
                                        format!("external role `{r}` cannot request transitions"),
                                        Some(
                                            "providers act by attaching evidence; let an internal role move the case"
                                                .into(),
                                        ),
                                    );
                                }
                                Some(id)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            let when = t.when.as_ref().and_then(|w| self.expr(&format!("{path}.when"), w, refs.scope));
            let gates = self.gates(&format!("{path}.gates"), &t.gates, refs);
            let mut gate_ids = BTreeSet::new();
            for g in flatten(&gates) {
                if !gate_ids.insert(g.id.clone()) {
                    self.err(
                        &format!("{path}.gates"),
                        format!("two gates of `{}` have the id `{}`", t.id, g.id),
                        Some("give one of them a distinct `id:`".into()),
                    );
                }
            }
            // A transition with a broken end is left out; the graph checks that would
            // then give confusing errors are skipped (see `graph_checks`).
            if let (Some(to), true) = (to, from_ok) {
                out.push(Transition {
                    id: TransitionId::new(&t.id),
                    title: t.title.clone().unwrap_or_else(|| humanize(&t.id)),
                    description: t.description.clone(),
                    from,
                    to,
                    by,
                    when,
                    source: origin_text(&t.source, &t.local_policy),
                    gates,
                });
            }
        }
        out
    }

    fn expr(&mut self, path: &str, text: &str, scope: &Scope) -> Option<crate::expr::Expr> {
        match expr::compile(text, scope) {
            Ok(e) => Some(e),
            Err(m) => {
                self.err(
                    path,
                    format!("`{text}`: {m}"),
                    Some(format!(
                        "CEL can use case.fields.<id>, params.<id>, today, now and {}",
                        expr::FUNCTIONS.join(", ")
                    )),
                );
                None
            }
        }
    }

    fn gates(&mut self, path: &str, raw: &[RawGate], refs: &Refs) -> Vec<Gate> {
        raw.iter().enumerate().filter_map(|(i, g)| self.gate(&format!("{path}.{i}"), g, refs)).collect()
    }

    fn gate(&mut self, path: &str, g: &RawGate, refs: &Refs) -> Option<Gate> {
        let kinds: Vec<&str> = [
            g.evidence.as_ref().map(|_| "evidence"),
            g.checklist.as_ref().map(|_| "checklist"),
            g.approval.as_ref().map(|_| "approval"),
            g.rule.as_ref().map(|_| "rule"),
            g.all.as_ref().map(|_| "all"),
            g.any.as_ref().map(|_| "any"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() != 1 {
            let m = if kinds.is_empty() {
                "a gate needs one of: evidence, checklist, approval, rule, all, any".to_string()
            } else {
                format!("a gate has exactly one kind, this one has {}", kinds.join(" and "))
            };
            self.err(path, m, Some("split it into separate gates in the list".into()));
            return None;
        }
        let evidence_ref = |cx: &mut Self, key: &str, id: &str| -> Option<EvidenceId> {
            match refs.evidence.get_key_value(id) {
                Some((eid, _)) => Some(eid.clone()),
                None => {
                    let hint = hint_for(id, "evidence", refs.evidence.keys().map(|k| k.as_str()));
                    cx.err(&format!("{path}.{key}"), format!("unknown evidence `{id}`"), Some(hint));
                    None
                }
            }
        };
        let needs_id = |cx: &mut Self, kind: &str| -> Option<GateId> {
            match &g.id {
                Some(id) => Some(GateId::new(id)),
                None => {
                    cx.err(
                        path,
                        format!("a `{kind}` gate needs an `id:`"),
                        Some("the id is how people and tests refer to this gate, like `id: six_months_notice`".into()),
                    );
                    None
                }
            }
        };
        let (kind, default_id) = if let Some(e) = &g.evidence {
            let id = evidence_ref(self, "evidence", e)?;
            if matches!(refs.evidence[&id].kind, EvidenceKind::Checklist(_)) {
                self.err(
                    &format!("{path}.evidence"),
                    format!("`{e}` is a checklist"),
                    Some(format!("use `checklist: {e}` so that every item must be answered")),
                );
            }
            (GateKind::Evidence(id.clone()), Some(GateId::new(id.as_str())))
        } else if let Some(c) = &g.checklist {
            let id = evidence_ref(self, "checklist", c)?;
            if !matches!(refs.evidence[&id].kind, EvidenceKind::Checklist(_)) {
                self.err(
                    &format!("{path}.checklist"),
                    format!("`{c}` is not a checklist"),
                    Some(format!("use `evidence: {c}`")),
                );
            }
            (GateKind::Checklist(id.clone()), Some(GateId::new(id.as_str())))
        } else if let Some(a) = &g.approval {
            let role = self.role_ref(&format!("{path}.approval.role"), &a.role, refs.roles)?;
            if refs.roles[&role].is_external() {
                self.err(&format!("{path}.approval.role"), format!("external role `{}` cannot approve", a.role), None);
            }
            let quorum = match &a.quorum {
                None => 1,
                Some(q) => self.quorum(&format!("{path}.approval.quorum"), q, refs.scope).unwrap_or(1),
            };
            let not_by = a
                .not_by
                .as_ref()
                .map(|n| n.to_vec())
                .unwrap_or_default()
                .iter()
                .filter_map(|s| match s.as_str() {
                    "submitter" => Some(Separation::Submitter),
                    "creator" => Some(Separation::Creator),
                    other => {
                        let hint = did_you_mean(other, ["submitter", "creator"])
                            .map_or("use `submitter` or `creator`".into(), |c| format!("did you mean `{c}`?"));
                        self.err(
                            &format!("{path}.approval.not_by"),
                            format!("unknown separation of duties `{other}`"),
                            Some(hint),
                        );
                        None
                    }
                })
                .collect();
            (GateKind::Approval(ApprovalGate { role: role.clone(), quorum, not_by }), Some(GateId::new(role.as_str())))
        } else if let Some(r) = &g.rule {
            if g.explain.is_none() {
                self.err(
                    path,
                    "a `rule` gate needs `explain:`",
                    Some("say in a sentence what the rule requires, for the people it blocks".into()),
                );
            }
            let id = needs_id(self, "rule")?;
            (GateKind::Rule(self.expr(&format!("{path}.rule"), r, refs.scope)?), Some(id))
        } else if let Some(all) = &g.all {
            let id = needs_id(self, "all")?;
            (GateKind::All(self.gates(&format!("{path}.all"), all, refs)), Some(id))
        } else if let Some(any) = &g.any {
            let id = needs_id(self, "any")?;
            if any.len() < 2 {
                self.err(&format!("{path}.any"), "`any` needs at least two alternatives", None);
            }
            (GateKind::Any(self.gates(&format!("{path}.any"), any, refs)), Some(id))
        } else {
            return None;
        };
        if let Some(id) = &g.id {
            self.snake(&format!("{path}.id"), id, "gate");
        }
        let id = g.id.as_ref().map(GateId::new).or(default_id)?;
        if g.source.is_some() && g.local_policy.is_some() {
            self.err(
                path,
                "a gate has both `source` and `local_policy`",
                Some("a rule either comes from the document or is a local choice: keep one".into()),
            );
        }
        Some(Gate { id, kind, source: origin_text(&g.source, &g.local_policy), explain: g.explain.clone() })
    }

    fn graph_checks(
        &mut self,
        raw: &RawDefinition,
        states: &IndexMap<StateId, State>,
        initial: Option<&StateId>,
        transitions: &[Transition],
    ) {
        for (k, s) in states {
            let out = transitions.iter().filter(|t| t.from.contains(k)).count();
            if s.terminal && out > 0 {
                self.err(
                    &format!("states.{k}"),
                    format!("terminal state `{k}` has {out} outgoing transition(s)"),
                    Some("remove `terminal: true` or the transitions that leave it".into()),
                );
            }
            if !s.terminal && out == 0 && raw.transitions.len() == transitions.len() {
                self.err(
                    &format!("states.{k}"),
                    format!("state `{k}` has no way out"),
                    Some("add a transition from it, or mark it `terminal: true`".into()),
                );
            }
        }
        let Some(initial) = initial else { return };
        let mut reached = BTreeSet::from([initial.clone()]);
        let mut queue = VecDeque::from([initial.clone()]);
        while let Some(s) = queue.pop_front() {
            for t in transitions.iter().filter(|t| t.from.contains(&s)) {
                if reached.insert(t.to.clone()) {
                    queue.push_back(t.to.clone());
                }
            }
        }
        if raw.transitions.len() == transitions.len() {
            for k in states.keys().filter(|k| !reached.contains(*k)) {
                self.err(
                    &format!("states.{k}"),
                    format!("state `{k}` cannot be reached from the initial state `{initial}`"),
                    Some("add a transition into it, or remove it".into()),
                );
            }
        }
    }

    fn timers(
        &mut self,
        raw: &[RawTimer],
        refs: &Refs,
        fields: &IndexMap<FieldId, Field>,
        transitions: &[Transition],
    ) -> Vec<Timer> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, t) in raw.iter().enumerate() {
            let path = format!("timers.{i}");
            if !seen.insert(t.id.clone()) {
                self.err(&format!("{path}.id"), format!("duplicate timer id `{}`", t.id), None);
            }
            self.snake(&format!("{path}.id"), &t.id, "timer");
            let trigger = match (&t.on_enter, &t.in_state) {
                (Some(s), None) => {
                    if t.after.is_some() || t.at.is_some() {
                        self.err(
                            &path,
                            "an `on_enter` timer fires on entry: it takes no `after` or `at`",
                            Some("use `in:` with `after:` or `at:` instead".into()),
                        );
                    }
                    self.state_ref(&format!("{path}.on_enter"), s, refs.states).map(Trigger::OnEnter)
                }
                (None, Some(s)) => {
                    let state = self.state_ref(&format!("{path}.in"), s, refs.states);
                    match (&t.after, &t.at) {
                        (Some(a), None) => {
                            let after = self.duration(&format!("{path}.after"), a, refs.has_calendar);
                            if after.as_ref().is_some_and(Duration::is_negative) {
                                self.err(&format!("{path}.after"), "`after` cannot be negative", None);
                            }
                            state.zip(after).map(|(state, after)| Trigger::After { state, after })
                        }
                        (None, Some(f)) => {
                            let field = match fields.get_key_value(f.as_str()) {
                                Some((id, field)) if field.kind == FieldType::Date => Some(id.clone()),
                                Some(_) => {
                                    self.err(&format!("{path}.at"), format!("field `{f}` is not a date field"), None);
                                    None
                                }
                                None => {
                                    let hint = hint_for(f, "fields", fields.keys().map(|k| k.as_str()));
                                    self.err(&format!("{path}.at"), format!("unknown field `{f}`"), Some(hint));
                                    None
                                }
                            };
                            let offset = t
                                .offset
                                .as_ref()
                                .and_then(|o| self.duration(&format!("{path}.offset"), o, refs.has_calendar));
                            state.zip(field).map(|(state, field)| Trigger::At { state, field, offset })
                        }
                        _ => {
                            self.err(&path, "a timer `in:` a state needs exactly one of `after:` or `at:`", Some("`after: P10D` counts from entering the state; `at: contract_end` uses a date field".into()));
                            None
                        }
                    }
                }
                _ => {
                    self.err(&path, "a timer needs exactly one of `on_enter:` or `in:`", None);
                    None
                }
            };
            if t.offset.is_some() && t.at.is_none() {
                self.err(&format!("{path}.offset"), "`offset` only applies with `at:`", None);
            }
            let every = t.every.as_ref().and_then(|e| self.duration(&format!("{path}.every"), e, refs.has_calendar));
            if every.as_ref().is_some_and(Duration::is_negative) {
                self.err(&format!("{path}.every"), "`every` cannot be negative", None);
            }
            if t.limit == Some(0) {
                self.err(&format!("{path}.limit"), "limit must be 1 or more", None);
            }
            let until = t.until.as_ref().and_then(|u| self.gate(&format!("{path}.until"), u, refs));
            let send = t.send.as_ref().and_then(|s| self.send(&format!("{path}.send"), s, refs.roles, false));
            let fire = t.fire.as_ref().and_then(|f| match transitions.iter().find(|tr| tr.id.as_str() == f) {
                Some(tr) => {
                    if let Some(trigger) = &trigger {
                        let state = match trigger {
                            Trigger::OnEnter(s) | Trigger::After { state: s, .. } | Trigger::At { state: s, .. } => s,
                        };
                        if !tr.from.contains(state) {
                            self.err(
                                &format!("{path}.fire"),
                                format!("transition `{f}` does not leave from `{state}`"),
                                None,
                            );
                        }
                    }
                    Some(tr.id.clone())
                }
                None => {
                    let hint = hint_for(f, "transitions", transitions.iter().map(|t| t.id.as_str()));
                    self.err(&format!("{path}.fire"), format!("unknown transition `{f}`"), Some(hint));
                    None
                }
            });
            if t.send.is_none() && t.fire.is_none() {
                self.err(
                    &path,
                    format!("timer `{}` neither sends a message nor fires a transition", t.id),
                    Some("add `send: { to: <role>, template: <name> }` or `fire: <transition>`".into()),
                );
            }
            if matches!(trigger, Some(Trigger::OnEnter(_))) && t.fire.is_some() {
                self.err(
                    &format!("{path}.fire"),
                    "an `on_enter` timer cannot fire a transition",
                    Some("give the transition to the case's next step, or use `in:` with `after:`".into()),
                );
            }
            if let Some(trigger) = trigger {
                out.push(Timer {
                    id: TimerId::new(&t.id),
                    title: t.title.clone(),
                    source: origin_text(&t.source, &t.local_policy),
                    trigger,
                    every,
                    limit: t.limit,
                    until,
                    send,
                    fire,
                });
            }
        }
        out
    }

    fn send(&mut self, path: &str, s: &RawSend, roles: &IndexMap<RoleId, Role>, internal_only: bool) -> Option<Send> {
        let to: Vec<RoleId> =
            s.to.to_vec().iter().filter_map(|r| self.role_ref(&format!("{path}.to"), r, roles)).collect();
        if internal_only {
            for r in &to {
                if roles[r].is_external() {
                    self.err(
                        &format!("{path}.to"),
                        format!(
                            "a schedule cannot write to external role `{r}`: it has no case to find their address in"
                        ),
                        None,
                    );
                }
            }
        }
        if !is_kebab_id(&s.template) {
            self.err(&format!("{path}.template"), format!("template name `{}` is not kebab-case", s.template), None);
        }
        (!to.is_empty()).then(|| Send { to, template: TemplateName::new(&s.template) })
    }

    fn schedules(&mut self, raw: &[RawSchedule], roles: &IndexMap<RoleId, Role>) -> Vec<Schedule> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, s) in raw.iter().enumerate() {
            let path = format!("schedules.{i}");
            if !seen.insert(s.id.clone()) {
                self.err(&format!("{path}.id"), format!("duplicate schedule id `{}`", s.id), None);
            }
            self.snake(&format!("{path}.id"), &s.id, "schedule");
            let cron = match cron::Schedule::from_str(&s.cron) {
                Ok(c) => Some(c),
                Err(e) => {
                    let reason = e.to_string().lines().last().unwrap_or_default().trim().to_string();
                    self.err(&format!("{path}.cron"), format!("`{}` is not a valid cron expression: {reason}", s.cron), Some("six or seven fields: sec min hour day-of-month month day-of-week [year], like \"0 0 9 1 4 *\" for 09:00 on 1 April".into()));
                    None
                }
            };
            let send = self.send(&format!("{path}.send"), &s.send, roles, true);
            if let (Some(cron), Some(send)) = (cron, send) {
                out.push(Schedule {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    cron_text: s.cron.clone(),
                    cron,
                    send,
                    source: s.source.clone(),
                });
            }
        }
        out
    }

    fn templates(&mut self, used: &[(String, TemplateName)], library: &Library, fields: &IndexMap<FieldId, Field>) {
        let field_ids: Vec<&str> = fields.keys().map(|k| k.as_str()).collect();
        let mut checked = BTreeSet::new();
        for (path, name) in used {
            match library.templates.get(name.as_str()) {
                None => {
                    let hint = hint_for(name.as_str(), "templates", library.templates.keys().map(String::as_str));
                    self.err(
                        path,
                        format!("template `{name}` not found in templates/ (expected templates/{name}.txt)"),
                        Some(hint),
                    );
                }
                Some(source) => {
                    if !checked.insert(name.clone()) {
                        continue;
                    }
                    for problem in templates::check(source, &field_ids) {
                        self.err(
                            path,
                            format!("template `{name}`: {problem}"),
                            Some(format!("templates can use {}", templates::VARIABLES)),
                        );
                    }
                }
            }
        }
    }

    fn unused_roles(&mut self, raw: &RawDefinition, roles: &IndexMap<RoleId, Role>) {
        let mut used = BTreeSet::new();
        for t in &raw.transitions {
            if let Some(b) = &t.by {
                used.extend(b.to_vec());
            }
            collect_gate_roles(&t.gates, &mut used);
        }
        for t in &raw.timers {
            if let Some(s) = &t.send {
                used.extend(s.to.to_vec());
            }
        }
        for s in &raw.schedules {
            used.extend(s.send.to.to_vec());
        }
        for e in raw.evidence.values() {
            used.extend(e.from.clone());
        }
        for r in roles.keys() {
            if !used.contains(r.as_str()) {
                self.warn(
                    &format!("roles.{r}"),
                    format!("role `{r}` is not used by any transition, gate, timer or evidence"),
                    Some("remove it, or give it something to do".into()),
                );
            }
        }
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
}

fn collect_gate_roles(gates: &[RawGate], used: &mut BTreeSet<String>) {
    for g in gates {
        if let Some(a) = &g.approval {
            used.insert(a.role.clone());
        }
        for nested in [&g.all, &g.any].into_iter().flatten() {
            collect_gate_roles(nested, used);
        }
    }
}

/// Every gate, nested ones included.
pub fn flatten(gates: &[Gate]) -> Vec<&Gate> {
    let mut out = Vec::new();
    for g in gates {
        out.push(g);
        if let GateKind::All(inner) | GateKind::Any(inner) = &g.kind {
            out.extend(flatten(inner));
        }
    }
    out
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
