//! `children:`: the kinds of child case a workflow's cases open (one per applicant of a
//! grant round), and the `children:` gate that waits on them. The child workflow and
//! its states are in another file: [`crate::load::check_children`] checks them once a
//! folder is loaded.

use super::*;
use crate::definition::{ChildGroup, ChildrenGate, Origin};

impl Checker {
    /// The workflow's `children:` groups.
    pub(super) fn children(
        &mut self,
        raw: &IndexMap<String, RawChildGroup>,
        roles: &IndexMap<RoleId, Role>,
        states: &IndexMap<StateId, State>,
    ) -> IndexMap<String, ChildGroup> {
        let mut out = IndexMap::new();
        for (id, g) in raw {
            let path = format!("children.{id}");
            self.snake(&path, id, "kind of child case");
            let open_in: Vec<StateId> = g
                .open_in
                .to_vec()
                .iter()
                .enumerate()
                .filter_map(|(i, s)| self.state_ref(&format!("{path}.open_in.{i}"), s, states))
                .collect();
            let by: Vec<RoleId> =
                g.by.to_vec()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| self.role_ref(&format!("{path}.by.{i}"), r, roles))
                    .collect();
            for r in &by {
                if roles[r].is_external() {
                    self.err(&format!("{path}.by"), format!("external role `{r}` cannot open child cases"), None);
                }
            }
            if g.one.trim().is_empty() {
                self.err(&format!("{path}.one"), "say what one child is called, like `one: application`", None);
            }
            let origin = match (&g.source, &g.local_policy) {
                (Some(s), None) => Origin::Cited(s.clone()),
                (None, Some(why)) => Origin::LocalPolicy(why.trim().to_string()),
                (Some(_), Some(_)) => {
                    self.err(&path, format!("`{id}` has both `source` and `local_policy`"), None);
                    Origin::Unstated
                }
                (None, None) => {
                    self.warn(
                        &path,
                        format!("child cases `{id}` cite no source"),
                        Some("add `source:` or `local_policy:`".into()),
                    );
                    Origin::Unstated
                }
            };
            let group = ChildGroup {
                id: id.clone(),
                workflow: g.workflow.clone(),
                one: g.one.trim().to_string(),
                open_in,
                by,
                origin,
            };
            out.insert(id.clone(), group);
        }
        out
    }

    /// A `children:` gate: the group must be declared; its states are the child
    /// workflow's, checked with the folder.
    pub(super) fn children_gate(&mut self, path: &str, g: &RawGate, refs: &Refs) -> Option<ChildrenGate> {
        let group = g.children.as_ref()?;
        if !refs.children.contains_key(group) {
            let hint = hint_for(group, "children", refs.children.keys().map(String::as_str));
            self.err(&format!("{path}.children"), format!("unknown kind of child case `{group}`"), Some(hint));
            return None;
        }
        let Some(states) = &g.in_states else {
            self.err(
                path,
                "a `children` gate needs `in:`",
                Some("name the child states every child must be in, like `in: [funded, declined]`".into()),
            );
            return None;
        };
        let at_least = g.at_least.unwrap_or(1);
        let states = states.to_vec().iter().map(StateId::new).collect();
        Some(ChildrenGate { group: group.clone(), states, at_least })
    }
}

/// A problem [`check_children`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildProblem {
    /// The parent workflow's id.
    pub workflow: String,
    /// What is wrong.
    pub message: String,
    /// Whether it is an error (a state the child workflow does not have), or a warning
    /// (the child workflow was not among those loaded, so it could not be checked).
    pub error: bool,
}

/// Check each workflow's `children:` against the workflows it names: the child workflow
/// is among `defs`, declares the parent back (`parent:`), and has every state a
/// `children:` gate names; and each workflow with a `parent:` is opened by it, and its
/// letters read only fields the parent has.
pub fn check_children(defs: &[&Definition]) -> Vec<ChildProblem> {
    let mut problems = Vec::new();
    let find = |id: &str| defs.iter().filter(|d| d.id == id).max_by_key(|d| d.version);
    for def in defs {
        if let Some(parent_id) = &def.parent {
            problems.extend(check_parent(def, parent_id, find(parent_id).copied()));
        }
        for g in def.children.values() {
            if let Some(child) = find(&g.workflow)
                && child.parent.as_deref() != Some(def.id.as_str())
            {
                problems.push(ChildProblem {
                    workflow: def.id.clone(),
                    message: format!(
                        "children `{}` follow workflow `{}`, which must say whose children its cases are: add `parent: {}` to it",
                        g.id, g.workflow, def.id
                    ),
                    error: true,
                });
            }
        }
        for g in def.children.values() {
            if find(&g.workflow).is_none() {
                problems.push(ChildProblem {
                    workflow: def.id.clone(),
                    message: format!(
                        "children `{}` follow workflow `{}`, which was not loaded with it, so its states are not checked",
                        g.id, g.workflow
                    ),
                    error: false,
                });
            }
        }
        for t in &def.transitions {
            for gate in crate::definition::flatten(&t.gates) {
                let GateKind::Children(c) = &gate.kind else { continue };
                let Some(group) = def.children.get(&c.group) else { continue };
                let Some(child) = find(&group.workflow) else { continue };
                for s in &c.states {
                    if !child.states.contains_key(s) {
                        let known: Vec<&str> = child.states.keys().map(|k| k.as_str()).collect();
                        let hint = crate::diagnostics::did_you_mean(s.as_str(), known.iter().copied())
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                        problems.push(ChildProblem {
                            workflow: def.id.clone(),
                            message: format!(
                                "transition `{}`: gate `{}` names state `{s}`, which `{}` does not have{hint}",
                                t.id, gate.id, child.id
                            ),
                            error: true,
                        });
                    }
                }
            }
        }
    }
    problems
}

/// A child workflow `def` against its parent workflow, when that was loaded with it.
fn check_parent(def: &Definition, parent_id: &str, parent: Option<&Definition>) -> Vec<ChildProblem> {
    let problem = |message: String, error: bool| ChildProblem { workflow: def.id.clone(), message, error };
    let Some(parent) = parent else {
        return vec![problem(
            format!(
                "its cases are children of `{parent_id}` cases (`parent:`), which was not loaded with it, so what its letters read of them is not checked"
            ),
            false,
        )];
    };
    if !parent.children.values().any(|g| g.workflow == def.id) {
        return vec![problem(
            format!(
                "`parent: {parent_id}`, but `{parent_id}` opens no children of this workflow: add a `children:` group with `workflow: {}` to it",
                def.id
            ),
            true,
        )];
    }
    let mut problems = Vec::new();
    let known: Vec<&str> = parent.fields.keys().map(|k| k.as_str()).collect();
    for (name, source) in &def.letters {
        for f in crate::templates::parent_fields(source) {
            if !known.contains(&f.as_str()) {
                let hint = crate::diagnostics::did_you_mean(&f, known.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                problems.push(problem(
                    format!("template `{name}` reads `parent.fields.{f}`, which `{parent_id}` does not have{hint}"),
                    true,
                ));
            }
        }
    }
    problems
}
