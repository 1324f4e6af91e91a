//! `amend:` (who may change a locked field, and where a breaking amendment sends the
//! case) and an approval's `covers:` (the facts it rests on).

use super::*;

impl Checker {
    /// The workflow's `amend:`, and each field's own, checked; fields get theirs.
    pub(super) fn amends(
        &mut self,
        raw: &RawDefinition,
        fields: &mut IndexMap<FieldId, Field>,
        roles: &IndexMap<RoleId, Role>,
        states: &IndexMap<StateId, State>,
    ) -> Option<Amend> {
        for (k, f) in &raw.fields {
            if let (Some(a), Some(field)) = (&f.amend, fields.get_mut(k.as_str())) {
                field.amend = self.amend(&format!("fields.{k}.amend"), a, roles, states);
            }
        }
        raw.amend.as_ref().and_then(|a| self.amend("amend", a, roles, states))
    }

    fn amend(
        &mut self,
        path: &str,
        raw: &RawAmend,
        roles: &IndexMap<RoleId, Role>,
        states: &IndexMap<StateId, State>,
    ) -> Option<Amend> {
        let mut by = Vec::new();
        for (i, r) in raw.by.to_vec().iter().enumerate() {
            let p = if matches!(raw.by, OneOrMany::One(_)) { format!("{path}.by") } else { format!("{path}.by.{i}") };
            let Some(id) = self.role_ref(&p, r, roles) else { continue };
            if roles[&id].is_external() {
                self.err(
                    &p,
                    format!("external role `{r}` cannot amend a case"),
                    Some("name the internal role that may correct a locked field, like `by: [director]`".into()),
                );
                continue;
            }
            by.push(id);
        }
        if raw.by.to_vec().is_empty() {
            self.err(&format!("{path}.by"), "`amend` needs at least one role in `by`", None);
        }
        let back_to = raw.back_to.as_ref().and_then(|s| {
            let id = self.state_ref(&format!("{path}.back_to"), s, states)?;
            if states[&id].terminal {
                self.err(
                    &format!("{path}.back_to"),
                    format!("`{s}` is a terminal state: a case sent back must be able to go on"),
                    Some("name the state where the decision is taken again".into()),
                );
                return None;
            }
            Some(id)
        });
        match (&raw.source, &raw.local_policy) {
            (None, None) => self.warn(
                path,
                "`amend` cites no source",
                Some("add `source:` with the paragraph that allows the correction, or `local_policy:` with why it is our own choice".into()),
            ),
            (Some(_), Some(_)) => self.err(path, "`amend` has both `source` and `local_policy`", None),
            _ => {}
        }
        (!by.is_empty()).then(|| Amend { by, back_to, source: origin_text(&raw.source, &raw.local_policy) })
    }

    /// `mutants: equivalent:`, each with a reason.
    pub(super) fn equivalent_mutants(&mut self, raw: &Option<RawMutants>) -> Vec<(String, String)> {
        let Some(raw) = raw else { return Vec::new() };
        let mut out = Vec::new();
        for (i, e) in raw.equivalent.iter().enumerate() {
            if e.why.trim().is_empty() {
                self.err(
                    &format!("mutants.equivalent.{i}.why"),
                    "say why no scenario can tell this mutant apart from the workflow",
                    None,
                );
            }
            out.push((e.mutant.trim().to_string(), e.why.trim().to_string()));
        }
        out
    }

    /// An approval gate's `covers:`: each a field or an evidence id.
    pub(super) fn covers(&mut self, path: &str, raw: &[String], refs: &Refs) -> Vec<Fact> {
        let mut out = Vec::new();
        for (i, name) in raw.iter().enumerate() {
            if let Some((id, _)) = refs.evidence.get_key_value(name.as_str()) {
                out.push(Fact::Evidence(id.clone()));
            } else if refs.scope.fields.iter().any(|(f, _)| f == name) {
                out.push(Fact::Field(FieldId::new(name)));
            } else {
                let names = refs.scope.fields.iter().map(|(f, _)| *f).chain(refs.evidence.keys().map(|k| k.as_str()));
                self.err(
                    &format!("{path}.{i}"),
                    format!("`{name}` is neither a field nor evidence of this workflow"),
                    Some(hint_for(name, "fields and evidence", names)),
                );
            }
        }
        out
    }
}
