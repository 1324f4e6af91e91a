//! Gatehouse: the application. Wires the engine's decisions to the adapters' effects.
//! `main.rs` only parses arguments and calls in here.

pub mod app;
pub mod app_timers;
pub mod authoring;
pub mod clock;
pub mod contracts;
pub mod governance;
pub mod http;
pub mod mutation;
pub mod operations;
pub mod timers_cli;
pub mod users_cli;
pub mod web;
