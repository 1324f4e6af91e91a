//! Gatehouse: the application. Wires the engine's decisions to the adapters' effects.
//! `main.rs` only parses arguments and calls in here.

pub mod app;
pub mod authoring;
pub mod clock;
pub mod operations;
