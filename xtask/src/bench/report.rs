//! Rendering BENCHMARKS.md: when, on what machine, with which command, and the figures.

use std::fmt::Write;

use super::Section;
use crate::machine::Machine;

/// Everything BENCHMARKS.md says.
pub struct Report<'a> {
    pub date: jiff::Timestamp,
    pub machine: &'a Machine,
    pub invocation: &'a str,
    pub sections: &'a [Section],
}

/// The Markdown text of BENCHMARKS.md.
pub fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    header(&mut out, report);
    machine(&mut out, report.machine);
    for section in report.sections {
        figures(&mut out, section);
    }
    out
}

fn header(out: &mut String, report: &Report<'_>) {
    let date = report.date.strftime("%Y-%m-%d %H:%M UTC");
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(out, "Written by `{}` on {date}. Run it again to refresh this file.\n", report.invocation);
}

fn machine(out: &mut String, machine: &Machine) {
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} |", cell(&machine.cpu_model));
    let _ = writeln!(out, "| CPUs (nproc) | {} |", machine.cpus);
    let _ = writeln!(out, "| memory | {} |", machine.memory());
    let _ = writeln!(out, "| compiler | {} |", cell(&machine.rustc));
    out.push('\n');
}

fn figures(out: &mut String, section: &Section) {
    let _ = writeln!(out, "## {}\n", section.title);
    if let Some(command) = &section.command {
        let _ = writeln!(out, "Command: `{command}`\n");
    }
    if let Some(note) = &section.note {
        let _ = writeln!(out, "{note}\n");
    }
    if section.figures.is_empty() {
        return;
    }
    let _ = writeln!(out, "| benchmark | value | unit |\n|---|---:|---|");
    for figure in &section.figures {
        let _ = writeln!(out, "| {} | {} | {} |", cell(&figure.name), figure.value, cell(&figure.unit));
    }
    out.push('\n');
}

/// `text` made safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', r"\|")
}

/// "met" or "missed", for a target in a note.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

/// KiB as MiB, one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// `text` fit for inline code in Markdown, on one line and at most 300 characters.
pub fn quoted(text: &str) -> String {
    let line = text.replace(['`', '\n', '\r'], " ");
    match line.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}
