//! The imperative shell of Gatehouse: one module per outside thing. Decisions are made
//! in `gatehouse-engine`; this crate reads files, talks to databases, sends mail and
//! serves HTTP, and carries those decisions out.

pub mod host;
pub mod links;
pub mod mail;
pub mod scheduler;
pub mod store;
pub mod workflows;
