//! The state diagram of a workflow, as Mermaid (`stateDiagram-v2`) or Graphviz DOT text,
//! for `gatehouse graph` and the web pages, and as SVG drawn on the server ([`svg`]).
//!
//! Each edge is labelled with its transition's title, its `when` routing and a compact
//! list of its gates, so a diagram can be checked against the policy at a glance. Output
//! follows file order, so the same workflow always gives the same text.

mod svg;
pub use svg::{Marks, svg};

use crate::definition::{Definition, Gate, GateKind, Separation, Transition};
use crate::ids::StateId;
use std::fmt::Write;

/// The workflow as a Mermaid `stateDiagram-v2`.
pub fn mermaid(def: &Definition) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for (id, state) in &def.states {
        let _ = writeln!(out, "    state \"{}\" as {}", mermaid_text(&state.title), mermaid_id(id));
    }
    let _ = writeln!(out, "    [*] --> {}", mermaid_id(&def.initial));
    for t in &def.transitions {
        let label = mermaid_text(&label_parts(t).join(" — "));
        for from in &t.from {
            let _ = writeln!(out, "    {} --> {} : {label}", mermaid_id(from), mermaid_id(&t.to));
        }
    }
    for (id, _) in def.states.iter().filter(|(_, s)| s.terminal) {
        let _ = writeln!(out, "    {} --> [*]", mermaid_id(id));
    }
    out
}

/// [`mermaid`], with the state `current` highlighted (the web page's "you are here").
/// A state that is not in `def` highlights nothing.
pub fn mermaid_highlight(def: &Definition, current: &StateId) -> String {
    let mut out = mermaid(def);
    if def.states.contains_key(current) {
        out.push_str("    classDef current fill:#ffdd00,stroke:#0b0c0c,stroke-width:3px,color:#0b0c0c\n");
        let _ = writeln!(out, "    class {} current", mermaid_id(current));
    }
    out
}

/// The workflow as a Graphviz `digraph`, left to right, terminal states drawn with a
/// double border and an invisible start node pointing at the initial state.
pub fn dot(def: &Definition) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_text(&def.id));
    out.push_str("    rankdir=LR;\n");
    let _ = writeln!(out, "    label=\"{} (version {})\";", dot_text(&def.title), def.version);
    out.push_str("    labelloc=t;\n");
    out.push_str("    fontname=\"Helvetica\";\n");
    out.push_str("    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("    edge [fontname=\"Helvetica\", fontsize=10];\n");
    // Snake-case ids start with a letter, so this name cannot clash with a state.
    out.push_str("    \"__start\" [shape=point, style=invis];\n");
    for (id, state) in &def.states {
        let terminal = if state.terminal { ", peripheries=2" } else { "" };
        let _ = writeln!(out, "    \"{id}\" [label=\"{}\"{terminal}];", dot_text(&state.title));
    }
    let _ = writeln!(out, "    \"__start\" -> \"{}\";", def.initial);
    for t in &def.transitions {
        // Graphviz does not wrap labels: one line per part keeps the diagram narrow.
        let label = dot_text(&label_parts(t).join("\n"));
        for from in &t.from {
            let _ = writeln!(out, "    \"{from}\" -> \"{}\" [label=\"{label}\"];", t.to);
        }
    }
    out.push_str("}\n");
    out
}

/// The parts of an edge label: the title, "if <when>", "needs: eia, checklist x, approval
/// pig ×2 (not submitter), rule six_months_notice".
fn label_parts(t: &Transition) -> Vec<String> {
    let mut parts = vec![t.title.clone()];
    if let Some(when) = &t.when {
        parts.push(format!("if {}", when.text()));
    }
    if !t.gates.is_empty() {
        parts.push(format!("needs: {}", gate_list(&t.gates)));
    }
    parts
}

fn gate_list(gates: &[Gate]) -> String {
    gates.iter().map(compact).collect::<Vec<_>>().join(", ")
}

/// A gate in a few words, by the ids people find in the workflow file.
pub(crate) fn compact(gate: &Gate) -> String {
    match &gate.kind {
        GateKind::Evidence(id) => id.to_string(),
        GateKind::Checklist(id) => format!("checklist {id}"),
        GateKind::Approval(a) => {
            let mut s = format!("approval {}", a.role);
            if a.quorum > 1 {
                let _ = write!(s, " ×{}", a.quorum);
            }
            if !a.not_by.is_empty() {
                let who: Vec<&str> = a
                    .not_by
                    .iter()
                    .map(|s| match s {
                        Separation::Submitter => "submitter",
                        Separation::Creator => "creator",
                    })
                    .collect();
                let _ = write!(s, " (not {})", who.join(" or "));
            }
            s
        }
        GateKind::Rule(_) => format!("rule {}", gate.id),
        GateKind::Children(c) => {
            format!("every {} in {}", c.group, c.states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("/"))
        }
        GateKind::All(inner) => format!("all of ({})", gate_list(inner)),
        GateKind::Any(inner) => format!("any of ({})", gate_list(inner)),
    }
}

/// Words Mermaid's state-diagram grammar reads as keywords when they stand alone.
const MERMAID_KEYWORDS: &[&str] = &[
    "state",
    "note",
    "end",
    "direction",
    "class",
    "classdef",
    "style",
    "click",
    "acctitle",
    "accdescr",
    "default",
    "as",
];

/// A state id as a Mermaid node id. Ids that are Mermaid keywords get a suffix; the
/// suffix is upper case, which snake_case ids never are, so it cannot clash.
fn mermaid_id(id: &StateId) -> String {
    if MERMAID_KEYWORDS.contains(&id.as_str()) { format!("{id}_S") } else { id.to_string() }
}

/// Text made safe for a Mermaid label or state title. Mermaid ends a label at `:` or `;`
/// (in some versions), ends a title at `"`, and passes `<` and `&` to the browser as
/// HTML, so these (and `#`, which starts its escapes) are written as Mermaid entity codes
/// (`#58;`), which it shows as the character itself.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' | ':' | ';' | '"' | '<' | '&' => {
                let _ = write!(out, "#{};", c as u32);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe inside a DOT double-quoted string. Graphviz reads backslash escapes
/// (`\N`, `\l`) and HTML entities (`&amp;`) in labels, so `\` and `&` are escaped too.
fn dot_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Library, load};
    use expect_test::{Expect, expect};

    const WORKFLOW: &str = r#"
id: small-review
version: 3
title: "A small review: \"quoted\" in C:\\temp"
params:
  threshold: 500000
roles:
  commissioner: { title: Lead commissioner }
  pig: { title: Planning Implementation Group }
  director: { title: Director }
fields:
  annual_value: { type: money }
  contract_end: { type: date, required: true }
evidence:
  eia: { title: Equality impact assessment, kind: document, valid_for: P12M }
  consultation: { title: Consultation, kind: document }
  dimensions:
    title: Stakeholder dimensions
    kind: checklist
    items: { patients: Patients, staff: Staff }
states:
  draft: { initial: true, title: "Draft: gathering evidence" }
  end: { title: Decided; closed, terminal: true }
  withdrawn: { terminal: true, title: "Withdrawn #1 & <b>gone</b>" }
transitions:
  - id: decide
    from: draft
    to: end
    by: commissioner
    when: "case.fields.annual_value >= params.threshold"
    gates:
      - evidence: eia
      - checklist: dimensions
      - approval: { role: pig, quorum: 2, not_by: submitter }
      - rule: "case.fields.contract_end >= add_months(today, 6)"
        id: six_months_notice
        explain: Six months' notice
      - any:
          - evidence: consultation
          - approval: { role: director }
        id: either
  - id: withdraw
    from: [draft]
    to: withdrawn
"#;

    fn check(render: impl Fn(&Definition) -> String, expected: Expect) {
        let def = match load("small.yaml", WORKFLOW, &Library::default()) {
            Ok(l) => l.definition,
            Err(e) => panic!("{e:#?}"),
        };
        expected.assert_eq(&render(&def));
    }

    #[test]
    fn mermaid_lists_states_edges_and_gates() {
        check(
            mermaid,
            expect![[r#"
            stateDiagram-v2
                state "Draft#58; gathering evidence" as draft
                state "Decided#59; closed" as end_S
                state "Withdrawn #35;1 #38; #60;b>gone#60;/b>" as withdrawn
                [*] --> draft
                draft --> end_S : Decide — if case.fields.annual_value >= params.threshold — needs#58; eia, checklist dimensions, approval pig ×2 (not submitter), rule six_months_notice, any of (consultation, approval director)
                draft --> withdrawn : Withdraw
                end_S --> [*]
                withdrawn --> [*]
        "#]],
        );
    }

    #[test]
    fn mermaid_highlights_the_current_state() {
        check(
            |def| mermaid_highlight(def, def.state("draft").unwrap().0),
            expect![[r#"
            stateDiagram-v2
                state "Draft#58; gathering evidence" as draft
                state "Decided#59; closed" as end_S
                state "Withdrawn #35;1 #38; #60;b>gone#60;/b>" as withdrawn
                [*] --> draft
                draft --> end_S : Decide — if case.fields.annual_value >= params.threshold — needs#58; eia, checklist dimensions, approval pig ×2 (not submitter), rule six_months_notice, any of (consultation, approval director)
                draft --> withdrawn : Withdraw
                end_S --> [*]
                withdrawn --> [*]
                classDef current fill:#ffdd00,stroke:#0b0c0c,stroke-width:3px,color:#0b0c0c
                class draft current
        "#]],
        );
    }

    #[test]
    fn dot_escapes_quotes_and_marks_terminal_states() {
        check(
            dot,
            expect![[r#"
            digraph "small-review" {
                rankdir=LR;
                label="A small review: \"quoted\" in C:\\temp (version 3)";
                labelloc=t;
                fontname="Helvetica";
                node [shape=box, style=rounded, fontname="Helvetica"];
                edge [fontname="Helvetica", fontsize=10];
                "__start" [shape=point, style=invis];
                "draft" [label="Draft: gathering evidence"];
                "end" [label="Decided; closed", peripheries=2];
                "withdrawn" [label="Withdrawn #1 &amp; <b>gone</b>", peripheries=2];
                "__start" -> "draft";
                "draft" -> "end" [label="Decide\nif case.fields.annual_value >= params.threshold\nneeds: eia, checklist dimensions, approval pig ×2 (not submitter), rule six_months_notice, any of (consultation, approval director)"];
                "draft" -> "withdrawn" [label="Withdraw"];
            }
        "#]],
        );
    }
}
