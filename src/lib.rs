//! Gatehouse: the application. Wires the engine's decisions to the adapters' effects.
//! `main.rs` only parses arguments and calls in here.

pub mod app;
pub mod cli;
pub mod clock;
pub mod http;
pub mod reports;
pub mod web;
