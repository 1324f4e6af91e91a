//! What governance reads across cases: the dashboard (cases per state, time in states,
//! overdue reminders and failing emails, approvals waiting, the notice given) and the
//! contracts register.

pub mod contracts;
pub mod governance;
