//! `roles:`: each role checked against the fields (an external role's email field),
//! and a warning for a role nothing uses.

use super::*;

impl Checker {
    pub(super) fn roles(
        &mut self,
        raw: &IndexMap<String, RawRole>,
        fields: &IndexMap<FieldId, Field>,
    ) -> IndexMap<RoleId, Role> {
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

    pub(super) fn unused_roles(&mut self, raw: &RawDefinition, roles: &IndexMap<RoleId, Role>) {
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
        for a in raw.fields.values().filter_map(|f| f.amend.as_ref()).chain(&raw.amend) {
            used.extend(a.by.to_vec());
        }
        for c in raw.children.values() {
            used.extend(c.by.to_vec());
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
