//! Where values come from: params (a plain value, or `{ value, source }` /
//! `{ value, local_policy }`), quorums that name a param, and the warning for a
//! transition or timer that cites no source.

use super::*;

/// How a rule of our own shows where its source would be: "Local policy: <why>".
pub const LOCAL_POLICY: &str = "Local policy: ";

/// What a rule shows as its source: the citation, or "Local policy: <why>".
pub(super) fn origin_text(source: &Option<String>, local_policy: &Option<String>) -> Option<String> {
    match (source, local_policy) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(reason)) => Some(format!("{LOCAL_POLICY}{}", reason.trim())),
        (None, None) => None,
    }
}

impl Checker {
    /// An approval's `quorum:`: a whole number of at least 1, or `params.<id>` naming one.
    pub(super) fn quorum(&mut self, path: &str, raw: &serde_yaml::Value, scope: &Scope) -> Option<u32> {
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

    /// A duration, or `params.<id>` naming a param that holds one (so that a period of
    /// our own choosing is a param that says it is local policy).
    pub(super) fn duration_or_param(
        &mut self,
        path: &str,
        text: &str,
        has_calendar: bool,
        params: &IndexMap<String, ParamValue>,
    ) -> Option<crate::duration::Duration> {
        let Some(name) = text.trim().strip_prefix("params.") else {
            return self.duration(path, text, has_calendar);
        };
        match params.get(name) {
            Some(ParamValue::Text(d)) => self.duration(path, d, has_calendar),
            Some(_) => {
                self.err(path, format!("param `{name}` is not a duration"), Some("like `value: P12M`".into()));
                None
            }
            None => {
                let hint = hint_for(name, "params", params.keys().map(String::as_str));
                self.err(path, format!("unknown param `{name}`"), Some(hint));
                None
            }
        }
    }

    /// Warn of each transition and timer that cites no source: every rule of a shipped
    /// workflow must say where it comes from.
    pub(super) fn unsourced(&mut self, raw: &RawDefinition) {
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
    pub(super) fn params(
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
}
