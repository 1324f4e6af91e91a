//! The state diagram as SVG, laid out on the server (`layout-rs`, a Rust
//! implementation of Graphviz's layered layout), for pages that show it without
//! JavaScript. A case's diagram marks where it is, where it has been and which of its
//! next steps are blocked; each mark is said in words as well as in colour.

use crate::definition::Definition;
use crate::ids::{StateId, TransitionId};
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use std::collections::{BTreeMap, BTreeSet};

/// What a case's diagram marks; the default marks nothing (a workflow's own diagram).
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// The state the case is in.
    pub current: Option<StateId>,
    /// The states it has been in before.
    pub visited: BTreeSet<StateId>,
    /// Its next steps from the current state: whether each may be taken now.
    pub next: BTreeMap<TransitionId, bool>,
}

/// GOV.UK colours: text and borders, the focus yellow for "you are here", a pale blue
/// for states passed through, green for a step that may be taken, red for a blocked one.
const BLACK: u32 = 0x0b0c0cff;
const GREY: u32 = 0x505a5fff;
const WHITE: u32 = 0xffffffff;
const YELLOW: u32 = 0xffdd00ff;
const PALE_BLUE: u32 = 0xd2e2f1ff;
const GREEN: u32 = 0x00703cff;
const RED: u32 = 0xd4351cff;
const FONT: usize = 14;
/// Labels are wrapped to lines of about this many characters.
const WRAP: usize = 18;
/// A transition that leaves more states than this (withdrawing from any stage) is drawn
/// once, from a note that says how many, rather than once from each.
const FAN_IN: usize = 3;

/// The workflow's state diagram as an SVG document, left to right, with `marks`.
/// `title` names it for people using a screen reader.
pub fn svg(def: &Definition, marks: &Marks, title: &str) -> String {
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    // The layout is drawn left to right, so shapes are sized in the flipped direction,
    // as layout-rs's own DOT reader does.
    let dir = Orientation::TopToBottom.flip();
    let mut nodes = BTreeMap::new();
    for (id, state) in &def.states {
        let (fill, width, note) = if marks.current.as_ref() == Some(id) {
            (YELLOW, 3, Some("(current state)"))
        } else if marks.visited.contains(id) {
            (PALE_BLUE, 1, Some("(passed through)"))
        } else {
            (WHITE, 1, None)
        };
        let mut label = wrap(&state.title);
        if let Some(note) = note {
            label.push('\n');
            label.push_str(note);
        }
        if state.terminal {
            label.push_str("\n(end)");
        }
        let shape = ShapeKind::new_box(&label);
        let look = StyleAttr::new(Color::new(BLACK), width, Some(Color::new(fill)), 8, FONT);
        let size = layout::std_shapes::render::get_shape_size(dir, &shape, FONT, false);
        nodes.insert(id.clone(), graph.add_node(Element::create(shape, look, dir, size)));
    }
    for t in &def.transitions {
        let from_many = t.from.len() > FAN_IN;
        let (colour, width, style, note) = match marks.next.get(&t.id) {
            Some(true) => (GREEN, 3, LineStyleKind::Normal, " (can be taken now)"),
            Some(false) => (RED, 2, LineStyleKind::Dashed, " (blocked)"),
            None => (GREY, 1, LineStyleKind::Normal, ""),
        };
        let look = StyleAttr::new(Color::new(colour), width, None, 0, FONT - 2);
        let Some(to) = nodes.get(&t.to).copied() else { continue };
        let label = wrap(&format!("{}{note}", t.title));
        if from_many {
            // One note for all the states it leaves, the current one named if it is one.
            let here = marks.current.as_ref().filter(|c| t.from.contains(c)).and_then(|c| def.states.get(c));
            let mut text = wrap(&format!("From any of {} states", t.from.len()));
            if let Some(here) = here {
                text.push_str(&format!("\nincluding {}", wrap(&here.title)));
            }
            let shape = ShapeKind::new_box(&text);
            let look_note = StyleAttr::new(Color::new(GREY), 1, Some(Color::new(0xf3f2f1ff)), 0, FONT - 2);
            let size = layout::std_shapes::render::get_shape_size(dir, &shape, FONT - 2, false);
            let from = graph.add_node(Element::create(shape, look_note, dir, size));
            let arrow = Arrow::new(LineEndKind::None, LineEndKind::Arrow, style, &label, &look, &None, &None);
            graph.add_edge(arrow, from, to);
            continue;
        }
        for from in &t.from {
            // A next step is marked only on the edge that leaves the current state.
            let (look, style, label) = if marks.current.as_ref() == Some(from) || note.is_empty() {
                (look.clone(), style, label.clone())
            } else {
                (StyleAttr::new(Color::new(GREY), 1, None, 0, FONT - 2), LineStyleKind::Normal, wrap(&t.title))
            };
            let Some(a) = nodes.get(from).copied() else { continue };
            let arrow = Arrow::new(LineEndKind::None, LineEndKind::Arrow, style, &label, &look, &None, &None);
            graph.add_edge(arrow, a, to);
        }
    }
    let mut writer = SVGWriter::new();
    graph.do_it(false, false, false, &mut writer);
    // layout-rs grows the drawing by ten pixels downwards for each character of a
    // label; the shapes' own extent, with room for the curves below them, is the height.
    let bottom = graph.iter_nodes().map(|n| graph.pos(n).bottom(true)).fold(0.0, f64::max) + 40.0;
    accessible(&fit_height(&writer.finalize(), bottom), title)
}

/// `svg` with its height (and its view box's) cut to `height` when it is taller.
fn fit_height(svg: &str, height: f64) -> String {
    let Some(start) = svg.find("<svg ") else { return svg.to_string() };
    let Some(end) = svg[start..].find('>').map(|i| start + i) else { return svg.to_string() };
    let open = &svg[start..end];
    let number = |key: &str| -> Option<f64> {
        let rest = &open[open.find(key)? + key.len()..];
        rest[..rest.find('"')?].parse().ok()
    };
    let (Some(width), Some(old)) = (number("width=\""), number("height=\"")) else { return svg.to_string() };
    if old <= height {
        return svg.to_string();
    }
    let fitted = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\""
    );
    format!("{}{fitted}{}", &svg[..start], &svg[end..])
}

/// The SVG layout-rs writes, made fit for a GOV.UK page: a role and a title for screen
/// readers, and its text styled with presentation attributes in the page's font rather
/// than a `<style>` element, which a page's Content-Security-Policy (`style-src 'self'`)
/// would refuse.
fn accessible(svg: &str, title: &str) -> String {
    let mut svg = svg.to_string();
    if let (Some(start), Some(end)) = (svg.find("<style>"), svg.find("</style>")) {
        svg.replace_range(start..end + "</style>".len(), "");
    }
    // Each font size layout-rs used is a class `a<size>`; a label of an edge that spans
    // ranks comes in its default size (15), drawn as the other labels are.
    for size in 1..=40 {
        let class = format!("class=\"a{size}\"");
        if svg.contains(&class) {
            let shown = if size == 15 { FONT - 2 } else { size };
            let styled = format!("font-size=\"{shown}\" font-family=\"arial, sans-serif\" fill=\"#0b0c0c\"");
            svg = svg.replace(&class, &styled);
        }
    }
    let Some(start) = svg.find("<svg ") else { return svg };
    let Some(end) = svg[start..].find('>').map(|i| start + i) else { return svg };
    let open = &svg[start..end];
    format!(
        "{open} role=\"img\" aria-labelledby=\"gh-diagram-title\" class=\"gh-diagram\"><title id=\"gh-diagram-title\">{}</title>{}",
        escape(title),
        &svg[end + 1..]
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `text` in lines of about [`WRAP`] characters, broken between words.
fn wrap(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= WRAP => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Library, load};

    const WORKFLOW: &str = r#"
id: review
version: 2
title: Review
roles:
  commissioner: { title: Commissioner }
states:
  draft: { initial: true, title: "Draft: gathering evidence & views" }
  review: { title: Under review }
  decided: { title: Decided, terminal: true }
  parked: { title: Parked }
  held: { title: Held }
  withdrawn: { title: Withdrawn, terminal: true }
transitions:
  - { id: submit, from: draft, to: review, by: commissioner }
  - { id: decide, from: review, to: decided, by: commissioner }
  - { id: park, from: review, to: parked, by: commissioner }
  - { id: resume, from: parked, to: review, by: commissioner }
  - { id: hold, from: review, to: held, by: commissioner }
  - { id: release, from: held, to: review, by: commissioner }
  - { id: reopen, from: parked, to: draft, by: commissioner }
  - { id: withdraw, title: Withdraw the proposal, from: [draft, review, parked, held], to: withdrawn, by: commissioner }
"#;

    /// Each `<text>` of `svg`, its lines joined with spaces.
    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|t| {
                t.descendants()
                    .filter(|n| n.is_text())
                    .filter_map(|n| n.text())
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn a_case_diagram_says_where_it_is_has_been_and_can_go() {
        let def = load("review.yaml", WORKFLOW, &Library::default()).expect("loads").definition;
        let id = |s: &str| def.state(s).unwrap().0.clone();
        let step = |t: &str| def.transition(t).unwrap().id.clone();
        let marks = Marks {
            current: Some(id("review")),
            visited: [id("draft")].into(),
            next: [(step("decide"), false), (step("park"), true)].into(),
        };
        let drawn = svg(&def, &marks, "Case 7 <now in review>");
        let doc = roxmltree::Document::parse(&drawn).expect("the SVG is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.attribute("role"), Some("img"));
        let title = root.children().find(|n| n.has_tag_name("title")).and_then(|t| t.text());
        assert_eq!(title, Some("Case 7 <now in review>"));
        assert!(!drawn.contains("<style"), "a page's CSP refuses inline style elements");

        let texts = texts(&drawn);
        for expected in [
            "Draft: gathering evidence & views (passed through)",
            "Under review (current state)",
            "Decided (end)",
            "Parked",
            "Decide (blocked)",
            "Park (can be taken now)",
            "Resume",
            "From any of 4 states including Under review",
        ] {
            assert!(texts.iter().any(|t| t == expected), "no text `{expected}` in {texts:#?}");
        }
        // A transition from many states is drawn once, not once from each.
        assert_eq!(texts.iter().filter(|t| t.starts_with("Withdraw the proposal")).count(), 1, "{texts:#?}");
        // The current state is filled yellow; a blocked step is dashed red.
        assert!(drawn.contains("fill=\"#ffdd00ff\""), "{drawn}");
        assert!(drawn.contains("stroke-dasharray") && drawn.contains("#d4351cff"), "{drawn}");
    }

    #[test]
    fn a_workflow_diagram_marks_nothing() {
        let def = load("review.yaml", WORKFLOW, &Library::default()).expect("loads").definition;
        let texts = texts(&svg(&def, &Marks::default(), "Review"));
        assert!(texts.iter().any(|t| t == "Under review"), "{texts:#?}");
        assert!(texts.iter().all(|t| !t.contains("current state") && !t.contains("blocked")), "{texts:#?}");
    }

    #[test]
    fn labels_wrap_between_words() {
        assert_eq!(wrap("Notice served to the provider in writing"), "Notice served to\nthe provider in\nwriting");
        assert_eq!(wrap("Short"), "Short");
    }
}
