//! Transitions, their gates and CEL expressions, and the checks on the state graph.

use super::*;

impl Checker {
    pub(super) fn transitions(&mut self, raw: &[RawTransition], refs: &Refs) -> Vec<Transition> {
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
            let mut clears = Vec::new();
            for (j, f) in t.clears.iter().enumerate() {
                match refs.scope.fields.iter().find(|(k, _)| k == f) {
                    Some((k, _)) => clears.push(FieldId::new(*k)),
                    None => {
                        let hint = hint_for(f, "fields", refs.scope.fields.iter().map(|(k, _)| *k));
                        self.err(&format!("{path}.clears.{j}"), format!("unknown field `{f}`"), Some(hint));
                    }
                }
            }
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
                    clears,
                });
            }
        }
        out
    }

    pub(super) fn expr(&mut self, path: &str, text: &str, scope: &Scope) -> Option<crate::expr::Expr> {
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

    pub(super) fn gates(&mut self, path: &str, raw: &[RawGate], refs: &Refs) -> Vec<Gate> {
        raw.iter().enumerate().filter_map(|(i, g)| self.gate(&format!("{path}.{i}"), g, refs)).collect()
    }

    pub(super) fn gate(&mut self, path: &str, g: &RawGate, refs: &Refs) -> Option<Gate> {
        let kinds: Vec<&str> = [
            g.evidence.as_ref().map(|_| "evidence"),
            g.checklist.as_ref().map(|_| "checklist"),
            g.approval.as_ref().map(|_| "approval"),
            g.rule.as_ref().map(|_| "rule"),
            g.children.as_ref().map(|_| "children"),
            g.all.as_ref().map(|_| "all"),
            g.any.as_ref().map(|_| "any"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() != 1 {
            let m = if kinds.is_empty() {
                "a gate needs one of: evidence, checklist, approval, rule, children, all, any".to_string()
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
            let covers = a.covers.as_ref().map(|c| self.covers(&format!("{path}.approval.covers"), c, refs));
            (
                GateKind::Approval(ApprovalGate { role: role.clone(), quorum, not_by, covers }),
                Some(GateId::new(role.as_str())),
            )
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
        } else if g.children.is_some() {
            let id = needs_id(self, "children")?;
            (GateKind::Children(self.children_gate(path, g, refs)?), Some(id))
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
        if g.children.is_none() && (g.in_states.is_some() || g.at_least.is_some()) {
            self.err(path, "`in:` and `at_least:` belong to a `children` gate", None);
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

    pub(super) fn graph_checks(
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
}
