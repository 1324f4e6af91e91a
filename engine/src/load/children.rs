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
/// is among `defs`, and every state a `children:` gate names is one of its states.
pub fn check_children(defs: &[&Definition]) -> Vec<ChildProblem> {
    let mut problems = Vec::new();
    let find = |id: &str| defs.iter().filter(|d| d.id == id).max_by_key(|d| d.version);
    for def in defs {
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
