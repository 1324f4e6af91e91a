//! `gatehouse timers --due-before DATE`: what will happen, for people. Lists the armed
//! timers due before a date (in each workflow's time zone), earliest first, with whom
//! each will write to and what it will do.

use crate::cli::authoring::Status;
use crate::cli::service::published;
use anyhow::Result;
use gatehouse_adapters::store::ArmedTimerRow;
use gatehouse_engine::Definition;
use std::io::Write;
use std::path::Path;

/// `gatehouse timers --due-before DATE`, for the database at `url`; `workflows` is the
/// workflows folder (its templates and calendars are needed to read the definitions).
pub async fn list_timers(
    url: &str,
    workflows: &Path,
    due_before: jiff::civil::Date,
    out: &mut dyn Write,
) -> Result<Status> {
    let (store, definitions) = published(url, workflows, out).await?;
    // Wide enough for any zone; each row is then checked in its own workflow's zone.
    let cutoff =
        due_before.tomorrow().unwrap_or(due_before).at(0, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
    let mut shown = 0;
    for row in store.timers_due_before(cutoff).await? {
        let def = definitions.get(&row.workflow_id, row.workflow_version as u32);
        let zone = def.as_ref().map_or(jiff::tz::TimeZone::UTC, |d| d.timezone.clone());
        let due = row.timer.due_at.to_zoned(zone);
        if due.date() >= due_before {
            continue;
        }
        writeln!(out, "{}", describe(&row, &due, def.as_deref()))?;
        shown += 1;
    }
    writeln!(out, "{shown} timer(s) due before {due_before}")?;
    Ok(Status::Ok)
}

/// One line: when, which case, which timer, what it does.
pub fn describe(row: &ArmedTimerRow, due: &jiff::Zoned, def: Option<&Definition>) -> String {
    let t = &row.timer;
    let mut line = format!(
        "{} {}  case {}  {} ({})  {} #{}",
        due.strftime("%Y-%m-%d %H:%M"),
        due.time_zone().iana_name().unwrap_or("UTC"),
        t.case_id,
        row.workflow_id,
        row.state,
        t.timer_id,
        t.occurrence + 1
    );
    if let Some(timer) = def.and_then(|d| d.timer(&t.timer_id)) {
        if let Some(send) = &timer.send {
            let to: Vec<String> = send
                .to
                .iter()
                .map(|r| def.and_then(|d| d.roles.get(r)).map_or(r.to_string(), |role| role.title.clone()))
                .collect();
            line.push_str(&format!("  sends {} to {}", send.template, to.join(", ")));
        }
        if let Some(f) = &timer.fire {
            line.push_str(&format!("  then requests `{f}`"));
        }
        if let Some(every) = &timer.every {
            line.push_str(&format!("  every {every}"));
        }
    }
    if row.lease_owner.is_some() {
        line.push_str("  (firing now)");
    }
    line
}
