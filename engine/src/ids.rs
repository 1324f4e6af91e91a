//! Identifier newtypes. A `Definition` only ever holds ids that resolve inside it, so
//! these types have no public constructor: they are made by the loader, or looked up
//! in a definition from outside text.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub(crate) fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The id as written in the workflow file.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A state of a workflow (`evidence`, `decision`, ...).
    StateId
);
id_type!(
    /// A transition between states.
    TransitionId
);
id_type!(
    /// A kind of evidence a case can hold (a document, a checklist, an acknowledgement).
    EvidenceId
);
id_type!(
    /// A role: a group of people (or an external party) who act on cases.
    RoleId
);
id_type!(
    /// A typed field of case data.
    FieldId
);
id_type!(
    /// A timer that chases people while a case is in a state.
    TimerId
);
id_type!(
    /// A gate on a transition; unmet gates are reported by this id.
    GateId
);
id_type!(
    /// The name of an email template in `templates/`.
    TemplateName
);

/// Whether `s` is a valid `snake_case` id.
pub(crate) fn is_snake_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Whether `s` is a valid `kebab-case` id (workflow ids and template names).
pub(crate) fn is_kebab_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && !s.ends_with('-')
}
