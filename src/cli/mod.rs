//! The command line's commands, each a function `main.rs` calls: authoring (`validate`,
//! `graph`, `test`, `explain`), mutation testing, running the service (`migrate`,
//! `workflows publish`, `audit verify`, `serve`), timers, users and `files migrate`.

pub mod authoring;
pub mod cases;
pub mod files;
pub mod mutants;
pub mod service;
pub mod timers;
pub mod users;
