//! The functional core of Gatehouse.
//!
//! A workflow file is loaded into a checked [`Definition`](definition::Definition)
//! ([`load`]). A command from an actor against a case is turned into a
//! [`Decision`](decide::Decision) — audit events, timers to arm and cancel, messages to
//! send — with the case as it leaves it ([`Decided`](decide::Decided)), or a
//! [`Refusal`](decide::Refusal), by [`decide::decide`]. Nothing in this
//! crate does I/O, reads a clock or is async: callers pass text in and carry decisions
//! out.
#![deny(missing_docs)]

pub mod access;
pub mod basis;
pub mod calendar;
pub mod changes;
pub mod contract;
pub mod decide;
pub mod decision;
pub mod definition;
pub mod diagnostics;
pub mod duration;
pub mod dwell;
pub mod escalation;
pub mod explain;
pub mod expr;
pub mod fields;
pub mod gates;
pub mod graph;
pub mod ids;
pub mod letters;
pub mod load;
pub mod locks;
pub mod migrate;
pub mod mutants;
pub mod notice;
mod plan;
mod raw;
pub mod scenario;
pub mod schedule;
pub mod snapshot;
pub mod source;
pub mod templates;
pub mod values;

pub use decide::{Command, Decided, Decision, Event, Message, Refusal, decide, open};
pub use definition::Definition;
pub use diagnostics::Diagnostic;
pub use load::{Library, Loaded, load};
pub use plan::AT_HOUR;
