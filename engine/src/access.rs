//! Who may read a case. Writing is `decide`'s question (a transition's `by:`, an
//! approval's role, evidence's `from:`); reading is this module's, so that the API, the
//! pages, the lists and the reports all answer it the same way.
//!
//! The rule: a person may read a case when they hold an internal role of the workflow
//! version the case is pinned to, or one of the installation's *oversight* roles (a
//! governance group, internal audit), which read every case. A provider's link reads no
//! case through these routes: it sees only its own request, through views made for it.
//! Gatehouse itself (a timer firing) reads everything.

use crate::definition::Definition;
use crate::snapshot::{Actor, ActorKind};

/// The roles, named by the installation, whose holders read every case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Oversight {
    roles: Vec<String>,
}

impl Oversight {
    /// Oversight by the holders of `roles` (blank names are ignored).
    pub fn new(roles: impl IntoIterator<Item = impl Into<String>>) -> Oversight {
        let mut roles: Vec<String> =
            roles.into_iter().map(Into::into).map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect();
        roles.sort();
        roles.dedup();
        Oversight { roles }
    }

    /// The oversight roles' names.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Whether `actor` holds an oversight role: they read every case.
    pub fn covers(&self, actor: &Actor) -> bool {
        match actor.kind {
            ActorKind::System => true,
            ActorKind::Link => false,
            ActorKind::User => actor.roles.iter().any(|r| self.roles.contains(r)),
        }
    }
}

/// Whether `actor` may read the cases pinned to `definition`.
pub fn may_read(definition: &Definition, actor: &Actor, oversight: &Oversight) -> bool {
    if oversight.covers(actor) {
        return true;
    }
    match actor.kind {
        ActorKind::System => true,
        ActorKind::Link => false,
        ActorKind::User => definition
            .roles
            .iter()
            .any(|(id, role)| !role.is_external() && actor.roles.iter().any(|r| r == id.as_str())),
    }
}
