//! Who may read a case, and who may ask for a transition. The rest of writing is
//! `decide`'s question (an approval's role, evidence's `from:`); these two are here so
//! that the API, the pages, the lists and the reports all answer them the same way as
//! `decide` does.
//!
//! The rule: a person may read a case when they hold an internal role of the workflow
//! version the case is pinned to, or one of the installation's *oversight* roles (a
//! governance group, internal audit), which read every case. A provider's link reads no
//! case through these routes: it sees only its own request, through views made for it.
//! Gatehouse itself (a timer firing) reads everything.

use crate::definition::{Definition, Transition};
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

/// Whether a person may request `transition`: a member of a role its `by:` names, or,
/// when it names none, of any internal role of the workflow. Gatehouse itself (a timer's
/// `fire:`) may; a provider's link may not. `Err` says who may, for people.
pub fn may_request(definition: &Definition, transition: &Transition, actor: &Actor) -> Result<(), String> {
    let allowed = match actor.kind {
        ActorKind::System => true,
        ActorKind::Link => return Err("a provider link cannot move a case".into()),
        ActorKind::User if transition.by.is_empty() => holds_internal_role(definition, actor),
        ActorKind::User => transition.by.iter().any(|r| actor.has_role(r.as_str())),
    };
    if allowed {
        return Ok(());
    }
    let who: Vec<&str> = transition.by.iter().map(|r| definition.roles[r].title.as_str()).collect();
    let who = if who.is_empty() { "members of this workflow's roles".to_string() } else { who.join(" or ") };
    Err(format!("only {who} can request `{}`", transition.id))
}

/// Whether `actor` holds an internal (non-provider) role of the workflow.
pub fn holds_internal_role(definition: &Definition, actor: &Actor) -> bool {
    definition.roles.iter().any(|(id, r)| !r.is_external() && actor.has_role(id.as_str()))
}
