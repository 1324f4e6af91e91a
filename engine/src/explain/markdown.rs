//! The policy document as Markdown.

use super::*;

pub(super) fn render_markdown(doc: &Doc) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md(&doc.title));
    for p in &doc.description {
        let _ = writeln!(o, "{}\n", md(p));
    }
    let _ = writeln!(o, "- Workflow: {}, version {}", code(&doc.id), doc.version);
    if let Some(s) = &doc.source {
        let _ = writeln!(o, "- Source document: {}", md(s));
    }
    let _ = writeln!(o, "- Dates and times are in the {} time zone.", md(&doc.timezone));
    if let Some(c) = &doc.calendar {
        let _ = writeln!(o, "- Working days follow the calendar {}.", md(c));
    }
    let _ = writeln!(o, "- File fingerprint (SHA-256): {}\n", code(&doc.sha256));

    if !doc.params.is_empty() {
        o.push_str("## Values set by this workflow\n\n| Value | Set to | Where it comes from |\n|---|---|---|\n");
        for p in &doc.params {
            let _ = writeln!(o, "| {} | {} | {} |", code(&format!("params.{}", p.id)), md(&p.value), md(&p.origin));
        }
        o.push('\n');
    }
    let local: Vec<&Param> = doc.params.iter().filter(|p| p.local).collect();
    if !local.is_empty() || !doc.local_rules.is_empty() {
        o.push_str(
            "## Local choices to confirm\n\nThese values and rules are not set by the source documents: they are \
             this installation's own choices, for the governance group to confirm or change.\n\n",
        );
        for p in local {
            let why = p.origin.strip_prefix(crate::load::LOCAL_POLICY).unwrap_or(&p.origin);
            let _ = writeln!(o, "- {} = {} — {}", code(&format!("params.{}", p.id)), md(&p.value), md(why));
        }
        for r in &doc.local_rules {
            let _ = writeln!(o, "- {} — {}", md(&r.what), md(&r.reason));
        }
        o.push('\n');
    }

    o.push_str("## Who is involved\n\n");
    if doc.roles.is_empty() {
        o.push_str("No roles are named.\n\n");
    } else {
        o.push_str("| Role | How they take part | Description |\n|---|---|---|\n");
        for r in &doc.roles {
            let _ = writeln!(o, "| {} ({}) | {} | {} |", md(&r.title), code(&r.id), md(&r.reached), md(&r.description));
        }
        o.push('\n');
    }

    o.push_str("## What a case records\n\n");
    if doc.fields.is_empty() {
        o.push_str("A case records no fields.\n\n");
    } else {
        o.push_str("| Field | Type | Required | Description |\n|---|---|---|---|\n");
        for f in &doc.fields {
            let required = if f.required { "yes" } else { "no" };
            let _ = writeln!(
                o,
                "| {} ({}) | {} | {required} | {} |",
                md(&f.title),
                code(&f.id),
                md(&f.kind),
                md(&f.description)
            );
        }
        o.push('\n');
    }

    o.push_str("## Evidence\n\n");
    if doc.evidence.is_empty() {
        o.push_str("No evidence is asked for.\n\n");
    }
    for e in &doc.evidence {
        let _ = writeln!(o, "### {}\n", md(&e.title));
        for p in &e.description {
            let _ = writeln!(o, "{}\n", md(p));
        }
        let _ = writeln!(o, "- Kind: {} ({})", e.kind, code(&e.id));
        if let Some(v) = &e.valid_for {
            let _ = writeln!(o, "- Valid for {} after it is attached.", md(v));
        }
        let _ = writeln!(o, "- Provided by: {}", md(&e.from));
        if !e.items.is_empty() {
            o.push_str("- Items to answer:\n");
            for i in &e.items {
                let _ = writeln!(o, "  - {}", md(i));
            }
        }
        if let Some(s) = &e.source {
            let _ = writeln!(o, "- {}", source(s));
        }
        o.push('\n');
    }

    o.push_str("## Stages\n\n");
    let state_heading = if doc.staged { "####" } else { "###" };
    for stage in &doc.stages {
        if doc.staged {
            let _ = writeln!(o, "### {}\n", md(&stage.name));
        }
        for s in &stage.states {
            let _ = writeln!(o, "{state_heading} {} ({})\n", md(&s.title), code(&s.id));
            for p in &s.description {
                let _ = writeln!(o, "{}\n", md(p));
            }
            if !s.notes.is_empty() {
                let _ = writeln!(o, "{}\n", md(&s.notes.join(" ")));
            }
            for t in &s.transitions {
                markdown_transition(&mut o, t);
            }
            if !s.transitions.is_empty() {
                o.push('\n');
            }
        }
    }

    if !doc.children.is_empty() {
        o.push_str("## Related cases\n\n");
        markdown_items(&mut o, &doc.children, "");
    }
    o.push_str("## Reminders and notices\n\n");
    markdown_items(&mut o, &doc.reminders, "This workflow sends no reminders or notices.");
    o.push_str("## Schedules\n\n");
    markdown_items(&mut o, &doc.schedules, "This workflow has no schedules.");

    o.push_str("## Sign-off\n\n");
    let _ = writeln!(
        o,
        "This document describes version {} of the workflow {} (SHA-256 {}). Approved as a faithful statement of the policy by:\n",
        doc.version,
        code(&doc.id),
        code(&doc.sha256)
    );
    o.push_str("| Approved by | On behalf of | Signature | Date |\n|---|---|---|---|\n");
    o.push_str("|   |   |   |   |\n|   |   |   |   |\n");
    o
}

fn markdown_transition(o: &mut String, t: &TransitionView) {
    let mut first = format!("- **{}** ({}) moves the case to *{}*.", md(&t.title), code(&t.id), md(&t.to));
    if !t.description.is_empty() {
        let _ = write!(first, " {}", md(&t.description));
    }
    let _ = writeln!(o, "{first}");
    let _ = writeln!(o, "  - Who may ask for it: {}.", md(&t.by));
    let _ = writeln!(o, "  - When it applies: {}", rich_md(&t.when));
    if t.gates.is_empty() {
        o.push_str("  - What it requires: nothing more; it can happen as soon as it is asked for.\n");
    } else {
        o.push_str("  - What it requires:\n");
        for g in &t.gates {
            markdown_item(o, g, "    ");
        }
    }
    if let Some(s) = &t.source {
        let _ = writeln!(o, "  - {}", source(s));
    }
}

fn markdown_items(o: &mut String, items: &[Item], none: &str) {
    if items.is_empty() {
        let _ = writeln!(o, "{none}\n");
        return;
    }
    for i in items {
        markdown_item(o, i, "");
    }
    o.push('\n');
}

fn markdown_item(o: &mut String, item: &Item, indent: &str) {
    let _ = write!(o, "{indent}- {}", rich_md(&item.text));
    if let Some(s) = &item.source {
        let _ = write!(o, " {}", source(s));
    }
    o.push('\n');
    for i in &item.items {
        let _ = writeln!(o, "{indent}  - {}", md(i));
    }
    let deeper = format!("{indent}  ");
    for c in &item.children {
        markdown_item(o, c, &deeper);
    }
}

fn source(s: &str) -> String {
    format!("*Source: {}*", md(s))
}

fn rich_md(r: &Rich) -> String {
    r.0.iter()
        .map(|s| match s.kind {
            "code" => code(&s.text),
            "strong" => format!("**{}**", md(&s.text)),
            _ => md(&s.text),
        })
        .collect()
}

/// Text made literal in Markdown: characters that would start emphasis, code, links or
/// HTML are backslash-escaped (an `_` inside a word is left alone, as CommonMark does not
/// read it as emphasis), and line breaks become spaces.
fn md(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let word = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '_' if !(word(i.checked_sub(1)) && word(Some(i + 1))) => out.push_str("\\_"),
            '&' if chars.get(i + 1).is_some_and(|n| n.is_alphanumeric() || *n == '#') => out.push_str("\\&"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds any text, backticks included.
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    // A `|` would end a table cell even inside a code span.
    format!("{fence}{pad}{}{pad}{fence}", text.replace('|', "\\|"))
}

// ---------------------------------------------------------------------------------------
// HTML
