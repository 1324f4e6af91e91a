//! Timers, what they send, workflow schedules, and the templates they use.

use super::*;

impl Checker {
    pub(super) fn timers(
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
                            let after =
                                self.duration_or_param(&format!("{path}.after"), a, refs.has_calendar, refs.params);
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
            let every = t
                .every
                .as_ref()
                .and_then(|e| self.duration_or_param(&format!("{path}.every"), e, refs.has_calendar, refs.params));
            if every.as_ref().is_some_and(Duration::is_negative) {
                self.err(&format!("{path}.every"), "`every` cannot be negative", None);
            }
            if t.limit == Some(0) {
                self.err(&format!("{path}.limit"), "limit must be 1 or more", None);
            }
            let until = t.until.as_ref().and_then(|u| self.gate(&format!("{path}.until"), u, refs));
            let unless = t.unless.as_ref().and_then(|u| self.gate(&format!("{path}.unless"), u, refs));
            if t.unless.is_some() && t.every.is_none() {
                self.err(
                    &format!("{path}.unless"),
                    "`unless` only applies to a timer that repeats",
                    Some("add `every:`; for a timer that stops for good once something holds, use `until:`".into()),
                );
            }
            let fields: Vec<&str> = refs.scope.fields.iter().map(|(f, _)| *f).collect();
            let send = t.send.as_ref().and_then(|s| self.send(&format!("{path}.send"), s, refs.roles, &fields, false));
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
                    unless,
                    send,
                    fire,
                });
            }
        }
        out
    }

    pub(super) fn send(
        &mut self,
        path: &str,
        s: &RawSend,
        roles: &IndexMap<RoleId, Role>,
        fields: &[&str],
        internal_only: bool,
    ) -> Option<Send> {
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
        let mut must_state = Vec::new();
        for (i, f) in s.must_state.iter().enumerate() {
            let p = format!("{path}.must_state.{i}");
            if internal_only {
                self.err(&p, "a schedule's message belongs to no case, so it states no case field", None);
            } else if let Some(id) = fields.iter().find(|k| **k == f.as_str()) {
                must_state.push(FieldId::new(*id));
            } else {
                self.err(&p, format!("unknown field `{f}`"), Some(hint_for(f, "fields", fields.iter().copied())));
            }
        }
        (!to.is_empty()).then(|| Send { to, template: TemplateName::new(&s.template), must_state })
    }

    pub(super) fn schedules(
        &mut self,
        raw: &[RawSchedule],
        roles: &IndexMap<RoleId, Role>,
        timezone: &str,
    ) -> Vec<Schedule> {
        let mut out = Vec::new();
        let zone = match timezone.parse::<chrono_tz::Tz>() {
            Ok(zone) => Some(zone),
            Err(_) if raw.is_empty() => None,
            Err(_) => {
                self.err(
                    "timezone",
                    format!("`{timezone}` is not a time zone schedules can run in"),
                    Some("for England use `Europe/London`".into()),
                );
                None
            }
        };
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
            let send = self.send(&format!("{path}.send"), &s.send, roles, &[], true);
            if let (Some(cron), Some(send), Some(zone)) = (cron, send, zone) {
                out.push(Schedule {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    cron_text: s.cron.clone(),
                    cron,
                    zone,
                    send,
                    source: s.source.clone(),
                });
            }
        }
        out
    }

    /// Warn of each letter whose template does not state a field its `must_state:` names,
    /// of each reminder that asks for something without saying by when, and of each
    /// letter to someone outside (a provider) that does not name the
    /// commissioner responsible for the case, whom they can reply to (`--strict` refuses
    /// both).
    pub(super) fn letters_state(&mut self, raw: &[RawTimer], library: &Library, roles: &IndexMap<RoleId, Role>) {
        for (i, t) in raw.iter().enumerate() {
            let Some(send) = &t.send else { continue };
            let Some(source) = library.templates.get(send.template.as_str()) else { continue };
            let text = format!("{}\n{}", source.text, source.html.as_deref().unwrap_or(""));
            if (t.until.is_some() || t.unless.is_some()) && t.every.is_some() && !text.contains("deadline") {
                self.warn(
                    &format!("timers.{i}.send.template"),
                    format!(
                        "template `{}` asks again and again for something but gives no date to reply by",
                        send.template
                    ),
                    Some(format!(
                        "say by when in templates/{}.txt with {{{{ deadline }}}}: the day it would remind again",
                        send.template
                    )),
                );
            }
            let outside = send.to.to_vec().into_iter().find(|r| roles.get(r.as_str()).is_some_and(Role::is_external));
            if let Some(role) = outside
                && !text.contains("case.owner.name")
            {
                self.warn(
                    &format!("timers.{i}.send.template"),
                    format!(
                        "template `{}` writes to `{role}` but does not name the commissioner responsible for the case",
                        send.template
                    ),
                    Some(format!("sign templates/{}.txt with {{{{ case.owner.name }}}}", send.template)),
                );
            }
            for (j, f) in send.must_state.iter().enumerate() {
                if !crate::templates::states_field(&text, f) {
                    self.warn(
                        &format!("timers.{i}.send.must_state.{j}"),
                        format!("template `{}` does not state `{f}`, which this letter must", send.template),
                        Some(format!("put {{{{ case.fields.{f} }}}} in templates/{}.txt", send.template)),
                    );
                }
            }
        }
    }

    /// Warn of each letter sent on entering a state that asks for something a reminder
    /// of that state waits for, when its template gives no date to reply by (the day the
    /// reminder first fires). Run on a sound workflow only.
    pub(super) fn letters_say_when(&mut self, def: &Definition, library: &Library) {
        for (i, t) in def.timers.iter().enumerate() {
            let Some(send) = t.send.as_ref().filter(|_| matches!(t.trigger, Trigger::OnEnter(_))) else { continue };
            let Some(source) = library.templates.get(send.template.as_str()) else { continue };
            let text = format!("{}\n{}", source.text, source.html.as_deref().unwrap_or(""));
            if let Some(reminder) = crate::plan::reminder_for(def, t)
                && !text.contains("deadline")
            {
                self.warn(
                    &format!("timers.{i}.send.template"),
                    format!(
                        "template `{}` asks for something that `{}` reminds of, but gives no date to reply by",
                        send.template, reminder.id
                    ),
                    Some(format!(
                        "say by when in templates/{}.txt with {{{{ deadline }}}}: the day the reminder first fires",
                        send.template
                    )),
                );
            }
        }
    }

    pub(super) fn templates(
        &mut self,
        used: &[(String, TemplateName)],
        library: &Library,
        fields: &IndexMap<FieldId, Field>,
        has_parent: bool,
    ) {
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
                    for problem in templates::check(source, &field_ids, has_parent) {
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
}
