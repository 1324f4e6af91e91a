//! When a message about a case fails for good: who is told. The case's owner (the
//! commissioner responsible for it) always (`@owner`), and the installation's escalation role when the workflow has it as an
//! internal role. A failed escalation is not escalated again.

use crate::definition::Definition;

/// The recipient that stands for the commissioner responsible for the case (its owner:
/// who opened it, until it is reassigned).
pub const OWNER: &str = "@owner";
/// What [`OWNER`] was called before cases could be reassigned, in messages queued then.
pub const CREATOR: &str = "@creator";

/// The suffix of an escalation's idempotency key.
const SUFFIX: &str = "/escalation";

/// The message that tells of a failed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// Its idempotency key: the failed message's, with `/escalation`.
    pub key: String,
    /// Role ids, or [`OWNER`].
    pub to: Vec<String>,
}

/// Who is told that the message with idempotency `key` about a case could not be
/// delivered, given the case's workflow (when it can be read) and the installation's
/// `escalation_role`. `None` when the message is an escalation itself. (A message about
/// no case has no owner to tell, and is not escalated: the caller does not ask.)
pub fn escalate(key: &str, def: Option<&Definition>, escalation_role: &str) -> Option<Escalation> {
    if key.ends_with(SUFFIX) {
        return None;
    }
    let mut to = vec![OWNER.to_string()];
    if def.and_then(|d| d.role(escalation_role)).is_some_and(|(_, r)| !r.is_external()) {
        to.push(escalation_role.to_string());
    }
    Some(Escalation { key: format!("{key}{SUFFIX}"), to })
}
