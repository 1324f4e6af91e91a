//! `contract:`: which fields hold a case's contract, and the notice it must be given.

use super::*;

impl Checker {
    pub(super) fn contract(
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
}
