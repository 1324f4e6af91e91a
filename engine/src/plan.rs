//! Timer planning: which timers a case arms when it enters a state, what a due timer
//! does when it fires, and how evidence and field changes move or stop timers.

use crate::decision::Refusal;
use crate::decision::{Decision, Event, Message};
use crate::definition::{Definition, Timer, Trigger};
use crate::gates::Evaluator;
use crate::ids::TimerId;
use crate::snapshot::{Actor, ArmedTimer, CaseSnapshot, FieldValue};
use jiff::Timestamp;
use jiff::civil::Date;

/// The hour, in the workflow's zone, at which timers on a date (`at:`) fire.
pub const AT_HOUR: i8 = 9;

/// Arm (or fire at once, for `on_enter`) the timers of the state `after` is now in.
pub(crate) fn enter_state(def: &Definition, after: &CaseSnapshot, now: Timestamp, decision: &mut Decision) {
    let ev = Evaluator::new(def, after, now);
    let zoned_now = now.to_zoned(def.timezone.clone());
    for timer in def.timers_in(&after.state) {
        if let Some(until) = &timer.until
            && ev.holds(until)
        {
            continue;
        }
        match &timer.trigger {
            Trigger::OnEnter(_) => {
                let next = timer
                    .every
                    .as_ref()
                    .filter(|_| timer.limit.is_none_or(|l| l > 1))
                    .and_then(|every| every.add_to(&zoned_now, def.calendar.as_deref()).ok())
                    .map(|due| due.timestamp());
                let deadline = reply_by(def, timer, next).or_else(|| first_reminder(def, after, timer, now));
                send(timer, after, 1, deadline, None, decision);
                if let Some(due) = next {
                    arm(decision, timer, due, 1);
                }
            }
            Trigger::After { after: d, .. } => {
                if let Ok(due) = d.add_to(&zoned_now, def.calendar.as_deref()) {
                    arm(decision, timer, due.timestamp(), 0);
                }
            }
            Trigger::At { .. } => {
                if let Some(due) = at_due(def, after, timer) {
                    arm(decision, timer, due.max(now), 0);
                }
            }
        }
    }
}

/// After evidence or fields changed: stop timers whose `until` now holds, and move
/// timers on a date field that changed.
pub(crate) fn replan(
    def: &Definition,
    before: &CaseSnapshot,
    after: &CaseSnapshot,
    now: Timestamp,
    decision: &mut Decision,
) {
    let ev = Evaluator::new(def, after, now);
    for timer in def.timers_in(&after.state) {
        let armed = after.timers.iter().find(|a| a.timer == timer.id);
        if let (Some(_), Some(until)) = (armed, &timer.until)
            && ev.holds(until)
        {
            stop(decision, &timer.id, "what it asks for has arrived");
            continue;
        }
        // What a timer asks for again and again has arrived for now: the case is no
        // longer being chased (the count of reminders, which marks it overdue, starts
        // again), and the timer keeps its schedule.
        if let (Some(armed), Some(unless)) = (armed, &timer.unless)
            && armed.occurrence > 0
            && ev.holds(unless)
        {
            arm(decision, timer, armed.due_at, 0);
        }
        if let Trigger::At { field, .. } = &timer.trigger {
            if before.fields.get(field) == after.fields.get(field) {
                continue;
            }
            match at_due(def, after, timer) {
                Some(due) => arm(decision, timer, due.max(now), armed.map_or(0, |a| a.occurrence)),
                None if armed.is_some() => stop(decision, &timer.id, &format!("`{field}` was cleared")),
                None => {}
            }
        }
    }
}

/// A due timer fires.
pub(crate) fn fire(
    def: &Definition,
    case: &CaseSnapshot,
    timer_id: &str,
    now: Timestamp,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    let Some(armed) = case.timers.iter().find(|a| a.timer.as_str() == timer_id) else {
        return Err(Refusal::NotAvailable(format!("timer `{timer_id}` is not armed on this case")));
    };
    let Some(timer) = def.timer(timer_id) else {
        return Err(Refusal::NotFound { what: "timer", id: timer_id.to_string(), hint: None });
    };
    if armed.due_at > now {
        return Err(Refusal::NotAvailable(format!("timer `{timer_id}` is not due until {}", armed.due_at)));
    }
    if timer.state() != &case.state {
        stop(decision, &timer.id, &format!("the case left `{}`", timer.state()));
        return Ok(());
    }
    if let Some(until) = &timer.until
        && Evaluator::new(def, case, now).holds(until)
    {
        stop(decision, &timer.id, "what it asks for has arrived");
        return Ok(());
    }
    // What it asks for is in, for now: nothing is sent this time, and the count of
    // reminders starts again; the timer keeps its schedule.
    let quiet = timer.unless.as_ref().is_some_and(|unless| Evaluator::new(def, case, now).holds(unless));
    let occurrence = if quiet { 0 } else { armed.occurrence + 1 };
    // When it fires next, if it repeats: `Some(None)` when that cannot be worked out.
    let next = timer
        .every
        .as_ref()
        .filter(|_| quiet || timer.limit.is_none_or(|l| occurrence < l))
        .map(|every| next_after(def, armed.due_at, every, now));
    if !quiet {
        let deadline = at_date(case, timer).or_else(|| reply_by(def, timer, next.flatten()));
        send(timer, case, occurrence, deadline, Some(armed.due_at), decision);
    }
    if let Some(t) = timer.fire.as_ref().filter(|_| !quiet) {
        match transition_to(def, case, t.as_str(), &Actor::system(), now, decision) {
            Ok(()) => return Ok(()),
            Err(refusal) => {
                decision.events.push(Event::TransitionBlocked { transition: t.clone(), reason: refusal.to_string() })
            }
        }
    }
    match next.flatten() {
        Some(due) => arm(decision, timer, due, occurrence),
        None => decision.cancel.push(timer.id.clone()),
    }
    Ok(())
}

/// The first occurrence every `every` from `due` that is after `now`: after downtime the
/// occurrences missed are skipped rather than sent in a burst. `None` when it cannot be
/// worked out (past the calendar's years).
fn next_after(
    def: &Definition,
    due: Timestamp,
    every: &crate::duration::Duration,
    now: Timestamp,
) -> Option<Timestamp> {
    let mut due = due.to_zoned(def.timezone.clone());
    loop {
        match every.add_to(&due, def.calendar.as_deref()) {
            Ok(next) if next.timestamp() > now => return Some(next.timestamp()),
            Ok(next) => due = next,
            Err(_) => return None,
        }
    }
}

/// The timer of the same state that reminds the recipients of `letter` (sent on
/// entering the state) of what it asks of them: one that waits (`until:`/`unless:`) for
/// evidence the letter asks its recipients for.
pub(crate) fn reminder_for<'a>(def: &'a Definition, letter: &'a Timer) -> Option<&'a Timer> {
    let send = letter.send.as_ref()?;
    let asked: Vec<_> = send.to.iter().flat_map(|r| def.evidence_asked(r.as_str(), Some(letter.id.as_str()))).collect();
    def.timers_in(letter.state()).filter(|t| t.id != letter.id).find(|t| {
        let mut awaited = Vec::new();
        t.until.iter().chain(&t.unless).for_each(|g| g.evidence_named(&mut awaited));
        awaited.iter().any(|e| asked.contains(e))
    })
}

/// The date a letter sent on entering a state asks for a reply by: the day the reminder
/// for what it asks ([`reminder_for`]) first fires.
fn first_reminder(def: &Definition, case: &CaseSnapshot, letter: &Timer, now: Timestamp) -> Option<Date> {
    let reminder = reminder_for(def, letter)?;
    let due = match &reminder.trigger {
        Trigger::After { after, .. } => {
            after.add_to(&now.to_zoned(def.timezone.clone()), def.calendar.as_deref()).ok()?.timestamp()
        }
        Trigger::At { .. } => at_due(def, case, reminder)?,
        Trigger::OnEnter(_) => return None,
    };
    Some(def.day(due))
}

/// The date a reminder asks for a reply by: the day it would remind again, for a timer
/// that waits for something (`until:` or `unless:`) and repeats.
fn reply_by(def: &Definition, timer: &Timer, next: Option<Timestamp>) -> Option<Date> {
    (timer.until.is_some() || timer.unless.is_some()).then_some(next?).map(|t| def.day(t))
}

/// The timer's message, `occurrence` of this visit, for the firing that was `due` (none
/// as the case enters the state).
fn send(
    timer: &Timer,
    case: &CaseSnapshot,
    occurrence: u32,
    deadline: Option<Date>,
    due: Option<Timestamp>,
    decision: &mut Decision,
) {
    decision.events.push(Event::TimerFired { timer: timer.id.clone(), occurrence });
    if let Some(s) = &timer.send {
        // The key makes sending idempotent. A timer with `unless` counts its reminders
        // from 1 again each time what it asks for comes in, so its key is the firing's
        // due time, which no other firing has (and a retry of this one keeps).
        let key = match (&timer.unless, due) {
            (Some(_), Some(due)) => format!("{}/{}/{}", case.visit, timer.id, due.as_second()),
            _ => format!("{}/{}/{}", case.visit, timer.id, occurrence),
        };
        decision.messages.push(Message {
            to: s.to.clone(),
            template: s.template.clone(),
            timer: Some(timer.id.clone()),
            key,
            deadline,
        });
    }
}

fn arm(decision: &mut Decision, timer: &Timer, due_at: Timestamp, occurrence: u32) {
    decision.cancel.retain(|t| t != &timer.id);
    decision.arm.retain(|a| a.timer != timer.id);
    decision.arm.push(ArmedTimer { timer: timer.id.clone(), due_at, occurrence });
}

fn stop(decision: &mut Decision, timer: &TimerId, reason: &str) {
    decision.events.push(Event::TimerStopped { timer: timer.clone(), reason: reason.to_string() });
    decision.arm.retain(|a| &a.timer != timer);
    if !decision.cancel.contains(timer) {
        decision.cancel.push(timer.clone());
    }
}

fn at_date(case: &CaseSnapshot, timer: &Timer) -> Option<Date> {
    match &timer.trigger {
        Trigger::At { field, .. } => match case.fields.get(field) {
            Some(FieldValue::Date(d)) => Some(*d),
            _ => None,
        },
        _ => None,
    }
}

/// When an `at:` timer is due: the field's date shifted by the offset, at 09:00.
pub(crate) fn at_due(def: &Definition, case: &CaseSnapshot, timer: &Timer) -> Option<Timestamp> {
    let Trigger::At { offset, .. } = &timer.trigger else { return None };
    let mut date = at_date(case, timer)?;
    if let Some(o) = offset {
        date = o.add_to_date(date, def.calendar.as_deref()).ok()?;
    }
    date.at(AT_HOUR, 0, 0, 0).to_zoned(def.timezone.clone()).ok().map(|z| z.timestamp())
}

/// Request `transition` as `actor`, adding its events and timer changes to `decision`.
pub(crate) fn transition_to(
    def: &Definition,
    case: &CaseSnapshot,
    transition: &str,
    actor: &Actor,
    now: Timestamp,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    let Some(t) = def.transition(transition) else {
        let hint = crate::diagnostics::did_you_mean(transition, def.transitions.iter().map(|t| t.id.as_str()))
            .map(|c| format!("did you mean `{c}`?"));
        return Err(Refusal::NotFound { what: "transition", id: transition.to_string(), hint });
    };
    if !t.from.contains(&case.state) {
        let from: Vec<&str> = t.from.iter().map(|s| s.as_str()).collect();
        return Err(Refusal::NotAvailable(format!(
            "the case is in `{}`; `{}` leaves from {}",
            case.state,
            t.id,
            from.join(", ")
        )));
    }
    crate::access::may_request(def, t, actor).map_err(Refusal::NotAllowed)?;
    let status = Evaluator::new(def, case, now).transition(t);
    if let Err(reason) = status.applies {
        return Err(Refusal::NotAvailable(format!("`{}` {reason}", t.id)));
    }
    if !status.unmet.is_empty() {
        return Err(Refusal::Blocked { transition: t.id.clone(), unmet: status.unmet });
    }
    decision.events.push(Event::Transitioned {
        transition: t.id.clone(),
        from: case.state.clone(),
        to: t.to.clone(),
        relied_on: t.fields_read(def),
    });
    let cleared: Vec<_> = t.clears.iter().filter(|f| case.fields.contains_key(*f)).cloned().collect();
    if !cleared.is_empty() {
        decision.events.push(Event::FieldsSet { set: Default::default(), cleared });
    }
    for armed in &case.timers {
        if !decision.cancel.contains(&armed.timer) {
            decision.cancel.push(armed.timer.clone());
        }
    }
    decision.arm.clear();
    let mut after = case.clone();
    after.apply(decision);
    enter_state(def, &after, now, decision);
    Ok(())
}
