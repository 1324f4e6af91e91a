//! Any text given to the workflow loader gives a definition or diagnostics, never a
//! panic; a definition that loads also survives its own scenarios, diagram and document.
#![no_main]

use gatehouse_engine::calendar::Calendar;
use gatehouse_engine::templates::TemplateSource;
use gatehouse_engine::{Library, load};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn library() -> &'static Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    LIB.get_or_init(|| {
        let mut lib = Library::default();
        for name in ["notice", "chase"] {
            lib.templates.insert(
                name.into(),
                TemplateSource { file: format!("{name}.txt"), text: "Subject: {{ case.id }}\n\n{{ link }}\n".into(), html: None },
            );
        }
        let cal = Calendar::parse("cal", "title: C\nholidays:\n  - { date: 2026-12-25, title: Christmas }\n").unwrap();
        lib.calendars.insert("cal".into(), Arc::new(cal));
        lib
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(loaded) = load("fuzz.yaml", text, library()) {
        let _ = gatehouse_engine::scenario::run_all(&loaded.definition);
        let _ = gatehouse_engine::graph::mermaid(&loaded.definition);
        let _ = gatehouse_engine::explain::markdown(&loaded.definition);
    }
});
