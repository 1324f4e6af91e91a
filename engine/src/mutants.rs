//! Mutation testing of a workflow's scenarios: are they strong enough that a weakened
//! rule would be noticed?
//!
//! [`mutants`] makes, from a workflow's text, every *mutant* of its rules: a copy with
//! one small change that a careless edit could make, such as a gate removed, a number
//! moved by one, a separation of duties dropped, a routing condition dropped or negated,
//! or a transition also allowed from the state before its `from`. [`judge`] loads a
//! mutant and runs the workflow's own scenarios on it: the mutant is *killed* when a
//! scenario fails, and *survives* when every scenario still passes, which means no
//! scenario pins the rule it changed. A mutant that does not load (a gate id a scenario
//! names, say) is neither: it is not counted as killed.
//!
//! Mutants are made on the YAML tree (`serde_yaml::Value`) and written out again, so
//! each is loaded exactly as a file would be; where each change is comes from the
//! original text's positions ([`PositionIndex`]).
//!
//! A number can be made weaker in either direction, depending on where it is used (a
//! lower notice period is weaker, a lower key-decision threshold is stronger), and the
//! engine cannot tell which in general: so every number in a param, a rule and a
//! duration is moved both one up and one down. A quorum only goes down.

use crate::load::{Library, load};
use crate::scenario;
use crate::source::PositionIndex;
use crate::templates::{TemplateSource, states_field};
use serde_yaml::Value;

/// One changed copy of a workflow.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// The path of the value changed (`transitions.3.gates.1`).
    pub path: String,
    /// Its line in the original file (1-based).
    pub line: usize,
    /// Its column in the original file (1-based).
    pub column: usize,
    /// What was changed, for people.
    pub description: String,
    /// The changed workflow, as YAML text.
    pub text: String,
    /// A letter changed instead: the template's name and its changed text.
    pub letter: Option<(String, TemplateSource)>,
}

/// What the scenarios made of a mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A scenario failed: the change was noticed.
    Killed {
        /// The first scenario that failed.
        scenario: String,
    },
    /// Every scenario passed: no scenario pins the changed rule.
    Survived,
    /// The mutant did not load, so nothing was run.
    DidNotLoad,
}

/// One step of a path into the YAML tree.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

type Path = Vec<Step>;

fn path_text(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn child(path: &[Step], step: Step) -> Path {
    let mut p = path.to_vec();
    p.push(step);
    p
}

fn at_mut<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut node = root;
    for step in path {
        node = match step {
            Step::Key(k) => node.as_mapping_mut()?.get_mut(k.as_str())?,
            Step::Index(i) => node.as_sequence_mut()?.get_mut(*i)?,
        };
    }
    Some(node)
}

/// How a change is made to a copy of the tree; `None` when it does not apply.
type Apply = Box<dyn Fn(&mut Value) -> Option<()>>;

/// A change to make: where, what it is, and how.
struct Change {
    path: Path,
    description: String,
    apply: Apply,
}

/// Every mutant of the workflow `text`. `Err` when the text is not a YAML mapping.
pub fn mutants(text: &str) -> Result<Vec<Mutant>, String> {
    let root: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if !root.is_mapping() {
        return Err("a workflow is a YAML mapping".into());
    }
    let mut changes = Vec::new();
    params(&root, &mut changes);
    transitions(&root, &mut changes);
    timers(&root, &mut changes);
    evidence(&root, &mut changes);

    let positions = PositionIndex::new(text);
    let mut out = Vec::new();
    for change in changes {
        let mut copy = root.clone();
        let Some(()) = (change.apply)(&mut copy) else { continue };
        let Ok(text) = serde_yaml::to_string(&copy) else { continue };
        let path = path_text(&change.path);
        let (line, column) = positions.value(&path);
        out.push(Mutant { path, line, column, description: change.description, text, letter: None });
    }
    Ok(out)
}

/// Every mutant of the letters of the workflow `text`: for each field a timer's letter
/// `must_state:`, its template (in `library`) with what states that field removed.
pub fn letter_mutants(text: &str, library: &Library) -> Result<Vec<Mutant>, String> {
    let root: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let positions = PositionIndex::new(text);
    let mut out = Vec::new();
    let timers = root.get("timers").and_then(Value::as_sequence).map(Vec::as_slice).unwrap_or_default();
    for (i, timer) in timers.iter().enumerate() {
        let Some(send) = timer.get("send") else { continue };
        let Some(name) = str_at(send, "template") else { continue };
        let Some(source) = library.templates.get(name) else { continue };
        let fields = send.get("must_state").and_then(Value::as_sequence).map(Vec::as_slice).unwrap_or_default();
        for (j, field) in fields.iter().enumerate() {
            let Some(field) = field.as_str() else { continue };
            let letter = TemplateSource {
                file: source.file.clone(),
                text: without_field(&source.text, field),
                html: source.html.as_deref().map(|h| without_field(h, field)),
            };
            if letter == *source {
                continue;
            }
            let path = format!("timers.{i}.send.must_state.{j}");
            let (line, column) = positions.value(&path);
            out.push(Mutant {
                path,
                line,
                column,
                description: format!("`{field}` removed from letter `{name}`"),
                text: text.to_string(),
                letter: Some((name.to_string(), letter)),
            });
        }
    }
    Ok(out)
}

/// `template` with every `{{ … }}` that states `field` removed.
fn without_field(template: &str, field: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}").map(|e| e + 2) else { break };
        out.push_str(&rest[..start]);
        let expression = &rest[start..start + len];
        if !states_field(expression, field) {
            out.push_str(expression);
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// Load `mutant` as `file` and run its scenarios, stopping at the first that fails.
pub fn judge(file: &str, mutant: &Mutant, library: &Library) -> Verdict {
    let changed;
    let library = match &mutant.letter {
        Some((name, letter)) => {
            let mut l = library.clone();
            l.templates.insert(name.clone(), letter.clone());
            changed = l;
            &changed
        }
        None => library,
    };
    let Ok(loaded) = load(file, &mutant.text, library) else { return Verdict::DidNotLoad };
    let def = &loaded.definition;
    for s in &loaded.scenarios {
        if scenario::run(def, s).failure.is_some() {
            return Verdict::Killed { scenario: s.name.clone() };
        }
    }
    Verdict::Survived
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Each number param, one up and one down.
fn params(root: &Value, changes: &mut Vec<Change>) {
    let Some(params) = root.get("params").and_then(Value::as_mapping) else { return };
    for (k, v) in params {
        let Some(name) = k.as_str() else { continue };
        let mut path = vec![Step::Key("params".into()), Step::Key(name.into())];
        // `{ value, source }` or `{ value, local_policy }`: the number is its `value`.
        let v = match v.get("value") {
            Some(value) => {
                path.push(Step::Key("value".into()));
                value
            }
            None => v,
        };
        if let Some(text) = v.as_str() {
            // A duration (a period of our own choosing, say): moved one unit each way.
            for (description, moved) in moved_durations(text) {
                changes.push(set_string(path.clone(), format!("param `{name}` {description}"), moved));
            }
            continue;
        }
        let Some(n) = v.as_f64() else { continue };
        for delta in [-1.0, 1.0] {
            let moved = n + delta;
            changes.push(set_number(path.clone(), format!("param `{name}` {} → {}", num(n), num(moved)), moved));
        }
    }
}

fn num(n: f64) -> String {
    if n.fract() == 0.0 { format!("{}", n as i64) } else { format!("{n}") }
}

fn set_number(path: Path, description: String, to: f64) -> Change {
    let target = path.clone();
    Change {
        path,
        description,
        apply: Box::new(move |root| {
            let value = if to.fract() == 0.0 { Value::from(to as i64) } else { Value::from(to) };
            *at_mut(root, &target)? = value;
            Some(())
        }),
    }
}

fn set_string(path: Path, description: String, to: String) -> Change {
    let target = path.clone();
    Change {
        path,
        description,
        apply: Box::new(move |root| {
            *at_mut(root, &target)? = Value::from(to.clone());
            Some(())
        }),
    }
}

fn remove_key(path: Path, key: &'static str, description: String) -> Change {
    let target = path.clone();
    Change {
        path: child(&path, Step::Key(key.into())),
        description,
        apply: Box::new(move |root| {
            at_mut(root, &target)?.as_mapping_mut()?.remove(key)?;
            Some(())
        }),
    }
}

/// Gates, quorums, separations of duties, rules, routing and where each transition
/// may leave from.
fn transitions(root: &Value, changes: &mut Vec<Change>) {
    let Some(list) = root.get("transitions").and_then(Value::as_sequence) else { return };
    // The states each state is entered from, for "also allowed from the state before".
    let mut before: Vec<(String, String)> = Vec::new();
    for t in list {
        let Some(to) = str_at(t, "to") else { continue };
        for from in states_of(t.get("from")) {
            before.push((to.to_string(), from));
        }
    }
    for (i, t) in list.iter().enumerate() {
        let path = vec![Step::Key("transitions".into()), Step::Index(i)];
        let id = str_at(t, "id").unwrap_or("?").to_string();
        if let Some(gates) = t.get("gates").and_then(Value::as_sequence) {
            gate_list(&child(&path, Step::Key("gates".into())), gates, &id, changes);
        }
        if let Some(when) = str_at(t, "when") {
            changes.push(remove_key(path.clone(), "when", format!("`when` of `{id}` dropped")));
            changes.push(set_string(
                child(&path, Step::Key("when".into())),
                format!("`when` of `{id}` negated"),
                format!("!({when})"),
            ));
        }
        let from = states_of(t.get("from"));
        let to = str_at(t, "to").unwrap_or_default();
        let mut earlier: Vec<&str> = before
            .iter()
            .filter(|(entered, by)| from.contains(entered) && !from.contains(by) && by != to)
            .map(|(_, by)| by.as_str())
            .collect();
        earlier.sort();
        earlier.dedup();
        for state in earlier {
            let target = path.clone();
            let extra = state.to_string();
            changes.push(Change {
                path: child(&path, Step::Key("from".into())),
                description: format!("`{id}` also allowed from `{state}`"),
                apply: Box::new(move |root| {
                    let t = at_mut(root, &target)?.as_mapping_mut()?;
                    let mut from = states_of(t.get("from"));
                    from.push(extra.clone());
                    t.insert(Value::from("from"), Value::Sequence(from.into_iter().map(Value::from).collect()));
                    Some(())
                }),
            });
        }
    }
}

fn states_of(from: Option<&Value>) -> Vec<String> {
    match from {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The id people know a gate by.
fn gate_name(gate: &Value) -> String {
    let named = |k: &str| str_at(gate, k).map(str::to_string);
    named("id")
        .or_else(|| named("evidence"))
        .or_else(|| named("checklist"))
        .or_else(|| gate.get("approval").and_then(|a| str_at(a, "role")).map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn gate_list(path: &[Step], gates: &[Value], transition: &str, changes: &mut Vec<Change>) {
    for (j, gate) in gates.iter().enumerate() {
        let here = child(path, Step::Index(j));
        let name = gate_name(gate);
        changes.push(remove_gate(path.to_vec(), j, transition, gate, &name));
        gate_changes(&here, gate, &name, transition, changes);
    }
}

/// Remove gate `index` of the list at `list`, and forget it (and the gates inside it)
/// in the scenarios' `expect_blocked: { missing: […] }` of that transition: the rule is
/// gone, and a scenario that named it should be judged by what else it expects, not
/// stop the mutant loading. A scenario that expected the transition blocked by that
/// gate alone then finds it allowed, and kills the mutant.
fn remove_gate(list: Path, index: usize, transition: &str, gate: &Value, name: &str) -> Change {
    let mut names = Vec::new();
    gate_names(gate, &mut names);
    let transition = transition.to_string();
    let target = list.clone();
    Change {
        path: child(&list, Step::Index(index)),
        description: format!("gate `{name}` of `{transition}` removed"),
        apply: Box::new(move |root| {
            let seq = at_mut(root, &target)?.as_sequence_mut()?;
            (index < seq.len()).then(|| seq.remove(index))?;
            forget_gates(root, &transition, &names);
            Some(())
        }),
    }
}

/// The ids of `gate` and of every gate inside it.
fn gate_names(gate: &Value, out: &mut Vec<String>) {
    out.push(gate_name(gate));
    for kind in ["all", "any"] {
        for g in gate.get(kind).and_then(Value::as_sequence).into_iter().flatten() {
            gate_names(g, out);
        }
    }
}

fn forget_gates(root: &mut Value, transition: &str, names: &[String]) {
    let Some(tests) = root.get_mut("tests").and_then(Value::as_sequence_mut) else { return };
    for scenario in tests {
        let Some(steps) = scenario.get_mut("steps").and_then(Value::as_sequence_mut) else { continue };
        for step in steps {
            let Some(blocked) = step.get_mut("expect_blocked").and_then(Value::as_mapping_mut) else { continue };
            if blocked.get("transition").and_then(Value::as_str) != Some(transition) {
                continue;
            }
            if let Some(missing) = blocked.get_mut("missing").and_then(Value::as_sequence_mut) {
                missing.retain(|m| !m.as_str().is_some_and(|m| names.iter().any(|n| n == m)));
            }
        }
    }
}

fn gate_changes(path: &[Step], gate: &Value, name: &str, transition: &str, changes: &mut Vec<Change>) {
    if let Some(approval) = gate.get("approval") {
        let at = child(path, Step::Key("approval".into()));
        if let Some(q) = approval.get("quorum").and_then(Value::as_i64)
            && q > 1
        {
            let description = format!("quorum of `{name}` in `{transition}` {q} → {}", q - 1);
            changes.push(set_number(child(&at, Step::Key("quorum".into())), description, (q - 1) as f64));
        }
        if approval.get("not_by").is_some() {
            changes.push(remove_key(at, "not_by", format!("`not_by` of `{name}` in `{transition}` dropped")));
        }
    }
    if let Some(rule) = str_at(gate, "rule") {
        let at = child(path, Step::Key("rule".into()));
        for (description, text) in moved_numbers(rule) {
            changes.push(set_string(at.clone(), format!("rule `{name}` of `{transition}`: {description}"), text));
        }
    }
    for kind in ["all", "any"] {
        if let Some(children) = gate.get(kind).and_then(Value::as_sequence) {
            gate_list(&child(path, Step::Key(kind.into())), children, transition, changes);
        }
    }
}

/// Every integer in a CEL expression moved one up and one down: (what, new text).
fn moved_numbers(expr: &str) -> Vec<(String, String)> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'\'' || b == b'"' {
            quote = Some(b);
            i += 1;
            continue;
        }
        let starts_word =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b'.');
        if b.is_ascii_digit() && starts_word {
            let end = (i..bytes.len()).find(|&j| !bytes[j].is_ascii_digit()).unwrap_or(bytes.len());
            let fractional = bytes.get(end) == Some(&b'.');
            let in_word = bytes.get(end).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
            if let (false, false, Ok(n)) = (fractional, in_word, expr[i..end].parse::<i64>()) {
                for moved in [n - 1, n + 1] {
                    if moved < 0 {
                        continue;
                    }
                    let text = format!("{}{moved}{}", &expr[..i], &expr[end..]);
                    out.push((format!("{n} → {moved}"), text));
                }
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// A duration moved one unit up and one down: `P6M` → `P5M`, `P7M`;
/// `10 working days` → `9 working days`, `11 working days`.
fn moved_durations(text: &str) -> Vec<(String, String)> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", t),
    };
    let (prefix, digits, suffix) = if let Some(days) = rest.strip_suffix(" working days") {
        ("", days, " working days")
    } else if let Some(body) = rest.strip_prefix("PT").or_else(|| rest.strip_prefix('P')) {
        let prefix = &rest[..rest.len() - body.len()];
        let split = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
        let (digits, unit) = body.split_at(split);
        if unit.len() != 1 {
            return Vec::new();
        }
        (prefix, digits, unit)
    } else {
        return Vec::new();
    };
    let Ok(n) = digits.parse::<i64>() else { return Vec::new() };
    [n - 1, n + 1]
        .into_iter()
        .filter(|m| *m >= 1)
        .map(|m| (format!("{t} → {sign}{prefix}{m}{suffix}"), format!("{sign}{prefix}{m}{suffix}")))
        .collect()
}

fn durations(path: &[Step], node: &Value, keys: &[&str], owner: &str, changes: &mut Vec<Change>) {
    for key in keys {
        let Some(text) = str_at(node, key) else { continue };
        for (description, moved) in moved_durations(text) {
            changes.push(set_string(
                child(path, Step::Key((*key).into())),
                format!("`{key}` of {owner}: {description}"),
                moved,
            ));
        }
    }
}

/// Timer durations.
fn timers(root: &Value, changes: &mut Vec<Change>) {
    let Some(list) = root.get("timers").and_then(Value::as_sequence) else { return };
    for (i, t) in list.iter().enumerate() {
        let path = vec![Step::Key("timers".into()), Step::Index(i)];
        let owner = format!("timer `{}`", str_at(t, "id").unwrap_or("?"));
        durations(&path, t, &["after", "every", "offset"], &owner, changes);
    }
}

/// How long each kind of evidence stays valid.
fn evidence(root: &Value, changes: &mut Vec<Change>) {
    let Some(map) = root.get("evidence").and_then(Value::as_mapping) else { return };
    for (k, e) in map {
        let Some(id) = k.as_str() else { continue };
        let path = vec![Step::Key("evidence".into()), Step::Key(id.into())];
        durations(&path, e, &["valid_for"], &format!("evidence `{id}`"), changes);
    }
}

/// What judging one workflow's mutants found.
#[derive(Debug, Default)]
pub struct Tally {
    /// Mutants a scenario noticed.
    pub killed: usize,
    /// Mutants every scenario passed.
    pub survived: Vec<Mutant>,
    /// Mutants that did not load (not counted as killed).
    pub did_not_load: usize,
}

/// Judge every mutant of `text` (the workflow in `file`) with its scenarios.
pub fn judge_all(file: &str, text: &str, library: &Library) -> Result<Tally, String> {
    let mut all = mutants(text)?;
    all.extend(letter_mutants(text, library)?);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(all.len().max(1));
    let verdicts: Vec<(usize, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(mutant) = all.get(i) else { return mine };
                        mine.push((i, judge(file, mutant, library)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut tally = Tally::default();
    let mut survived: Vec<usize> = Vec::new();
    for (i, verdict) in verdicts {
        match verdict {
            Verdict::Killed { .. } => tally.killed += 1,
            Verdict::Survived => survived.push(i),
            Verdict::DidNotLoad => tally.did_not_load += 1,
        }
    }
    survived.sort_by_key(|&i| (all[i].line, all[i].column, i));
    tally.survived = survived.into_iter().map(|i| all[i].clone()).collect();
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_rules_move_both_ways_outside_strings_and_names() {
        let moved: Vec<String> =
            moved_numbers("x >= add_months(today, 6) && y2 == 'P6M' && z > 0.5").into_iter().map(|(d, _)| d).collect();
        assert_eq!(moved, ["6 → 5", "6 → 7"]);
        let (_, text) = &moved_numbers("a < 28")[0];
        assert_eq!(text, "a < 27");
    }

    #[test]
    fn durations_move_one_unit() {
        let moved: Vec<String> = moved_durations("P6M").into_iter().map(|(_, t)| t).collect();
        assert_eq!(moved, ["P5M", "P7M"]);
        let moved: Vec<String> = moved_durations("-P1M").into_iter().map(|(_, t)| t).collect();
        assert_eq!(moved, ["-P2M"]);
        let moved: Vec<String> = moved_durations("10 working days").into_iter().map(|(_, t)| t).collect();
        assert_eq!(moved, ["9 working days", "11 working days"]);
        let moved: Vec<String> = moved_durations("PT12H").into_iter().map(|(_, t)| t).collect();
        assert_eq!(moved, ["PT11H", "PT13H"]);
        assert!(moved_durations("contract_end").is_empty());
    }

    #[test]
    fn a_period_held_in_a_param_moves_one_unit_and_a_letter_loses_only_its_field() {
        let root: Value =
            serde_yaml::from_str("params: { eia_valid_for: { value: P12M, local_policy: ours }, note: hello }")
                .unwrap();
        let mut changes = Vec::new();
        params(&root, &mut changes);
        let moved: Vec<&str> = changes.iter().map(|c| c.description.as_str()).collect();
        assert_eq!(moved, ["param `eia_valid_for` P12M → P11M", "param `eia_valid_for` P12M → P13M"]);
        let letter =
            "Dear {{ case.fields.provider_name }}, {{case.fields.reasons}} and {{ case.fields.reasons_note }}.";
        assert_eq!(
            without_field(letter, "reasons"),
            "Dear {{ case.fields.provider_name }},  and {{ case.fields.reasons_note }}."
        );
    }
}
