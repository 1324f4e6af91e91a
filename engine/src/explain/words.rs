//! Turning a workflow's parts into English: cron times, lists, sentences.

use super::*;

/// Cron text in words for the common shapes ("Every year on 1 April at 09:00"); `None`
/// for anything else, which is then shown as written.
pub(super) fn cron_words(cron: &str) -> Option<String> {
    let f: Vec<&str> = cron.split_whitespace().collect();
    if !(f.len() == 6 || (f.len() == 7 && f[6] == "*")) || f[0] != "0" {
        return None;
    }
    let minute: u32 = f[1].parse().ok().filter(|m| *m < 60)?;
    let hour: u32 = f[2].parse().ok().filter(|h| *h < 24)?;
    let time = format!("{hour:02}:{minute:02}");
    let any = |s: &str| s == "*" || s == "?";
    let (day, month, weekday) = (f[3], f[4], f[5]);
    match (any(day), any(month), any(weekday)) {
        (true, true, true) => Some(format!("Every day at {time}")),
        (true, true, false) => Some(format!("Every {} at {time}", weekday_words(weekday)?)),
        (false, true, true) => Some(format!(
            "On the {} of every month at {time}",
            ordinal(day.parse().ok().filter(|d| (1..=31).contains(d))?)
        )),
        (false, false, true) => {
            let d: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
            Some(format!("Every year on {d} {} at {time}", month_name(month)?))
        }
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

pub(super) fn month_name(s: &str) -> Option<&'static str> {
    if let Ok(n) = s.parse::<usize>() {
        return MONTHS.get(n.checked_sub(1)?).copied();
    }
    MONTHS.iter().copied().find(|m| s.len() >= 3 && m.to_lowercase().starts_with(&s.to_lowercase()))
}

/// Day-of-week names only: cron numbers days of the week differently from place to
/// place, so a number is left as written.
pub(super) fn weekday_words(s: &str) -> Option<String> {
    let name =
        |w: &str| WEEKDAYS.iter().copied().find(|d| w.len() >= 3 && d.to_lowercase().starts_with(&w.to_lowercase()));
    match s.split_once('-') {
        Some((a, b)) => Some(format!("{} to {}", name(a)?, name(b)?)),
        None => name(s).map(str::to_string),
    }
}

pub(super) fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "a", "a or b", "a, b or c".
/// A checklist item as the policy document lists it.
pub(super) fn item_text(item: &ChecklistItem) -> String {
    if item.allow_na { format!("{} (may be answered not applicable)", item.label) } else { item.label.clone() }
}

pub(super) fn or_list(items: impl Iterator<Item = String>) -> String {
    join_last(items.collect(), " or ")
}

/// "a", "a and b", "a, b and c".
pub(super) fn and_list(items: impl Iterator<Item = String>) -> String {
    join_last(items.collect(), " and ")
}

pub(super) fn join_last(mut items: Vec<String>, last: &str) -> String {
    match items.pop() {
        None => String::new(),
        Some(tail) if items.is_empty() => tail,
        Some(tail) => format!("{}{last}{tail}", items.join(", ")),
    }
}

/// Paragraphs of a description, each on one line.
pub(super) fn paragraphs(text: Option<&str>) -> Vec<String> {
    let Some(text) = text else { return Vec::new() };
    text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|p| !p.is_empty()).collect()
}

/// A description on one line, for a table cell or a list item.
pub(super) fn inline(text: Option<&str>) -> String {
    paragraphs(text).join(" ")
}

/// The text as a sentence: ends with a full stop unless it already ends a sentence.
pub(super) fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '!', '?', ':']) { t.to_string() } else { format!("{t}.") }
}

pub(super) fn trim_period(text: &str) -> &str {
    text.trim().trim_end_matches('.')
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
}

// ---------------------------------------------------------------------------------------
// Markdown
