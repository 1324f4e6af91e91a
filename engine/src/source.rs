//! Positions of values in a YAML file, by path (`transitions.2.gates.0.evidence`).
//!
//! serde_yaml reports positions for syntax and type errors only. Problems found after
//! parsing (an unknown state in a gate) are reported at the position of the value, which
//! this index finds by walking the same text with `marked-yaml`.

use marked_yaml::{LoaderOptions, Node, parse_yaml_with_options};
use std::collections::HashMap;

/// Line and column (1-based) of each key and value in a YAML document.
#[derive(Debug, Default)]
pub struct PositionIndex {
    values: HashMap<String, (usize, usize)>,
    keys: HashMap<String, (usize, usize)>,
}

impl PositionIndex {
    /// Index `text`. A document that `marked-yaml` cannot read (anchors, say) gives an
    /// empty index: positions then fall back to the nearest known parent, or 1:1.
    pub fn new(text: &str) -> Self {
        Self::with_duplicates(text).0
    }

    /// Index `text` and find duplicate keys, parsing it once when there are none (the
    /// usual case).
    pub fn with_duplicates(text: &str) -> (Self, Vec<(String, usize, usize)>) {
        let mut index = Self::default();
        match parse_yaml_with_options(0, text, duplicate_options()) {
            Ok(node) => {
                index.walk(&node, String::new());
                (index, Vec::new())
            }
            Err(marked_yaml::LoadError::DuplicateKey(_)) => {
                let options = LoaderOptions::default().error_on_duplicate_keys(false);
                if let Ok(node) = parse_yaml_with_options(0, text, options) {
                    index.walk(&node, String::new());
                }
                (index, duplicate_keys(text))
            }
            Err(_) => (index, Vec::new()),
        }
    }

    /// The position of the value at `path`, or of its nearest indexed ancestor.
    pub fn value(&self, path: &str) -> (usize, usize) {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return self.values.get("").copied().unwrap_or((1, 1)),
            }
        }
    }

    /// The position of the key of the entry at `path` (falls back to its value).
    pub fn key(&self, path: &str) -> (usize, usize) {
        self.keys.get(path).copied().unwrap_or_else(|| self.value(path))
    }

    fn walk(&mut self, node: &Node, path: String) {
        if let Some(m) = node.span().start() {
            self.values.insert(path.clone(), (m.line(), m.column()));
        }
        let child = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
        match node {
            Node::Scalar(_) => {}
            Node::Sequence(seq) => {
                for (i, n) in seq.iter().enumerate() {
                    self.walk(n, child(&i.to_string()));
                }
            }
            Node::Mapping(map) => {
                for (k, v) in map.iter() {
                    let p = child(k.as_str());
                    if let Some(m) = k.span().start() {
                        self.keys.insert(p.clone(), (m.line(), m.column()));
                    }
                    self.walk(v, p);
                }
            }
        }
    }
}

/// Duplicate keys in any mapping of `text`, as (key, line, column) of the second one.
pub fn duplicate_keys(text: &str) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    // marked-yaml stops at the first duplicate; remove it and look again.
    let mut text = text.to_string();
    for _ in 0..50 {
        match parse_yaml_with_options(0, text.as_str(), duplicate_options()) {
            Err(marked_yaml::LoadError::DuplicateKey(inner)) => {
                let m = inner.key.span().start().copied();
                let Some(m) = m else { break };
                found.push((inner.key.as_str().to_string(), m.line(), m.column()));
                // Rename the duplicate so the next one can be found.
                let key = inner.key.as_str();
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                let renamed = format!("gatehouse_duplicate_{}", found.len());
                match lines.get_mut(m.line() - 1) {
                    Some(l) if l.contains(key) => *l = l.replacen(key, &renamed, 1),
                    _ => break,
                }
                text = lines.join("\n");
            }
            _ => break,
        }
    }
    found
}

fn duplicate_options() -> LoaderOptions {
    LoaderOptions::default().error_on_duplicate_keys(true)
}
