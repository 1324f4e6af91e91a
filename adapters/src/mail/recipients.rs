//! Finding who a message goes to. A message names roles; an internal role is its
//! members' addresses (users who hold it and are not revoked), an external role
//! (a provider) is the address in the case field its `email_field` names, with a signed
//! link scoped to the case, the role and the evidence it is asked for. `@creator` is
//! the person who opened the case (escalations go there).

use super::compose::Recipient;
use crate::links::{LinkClaims, LinkSigner};
use crate::store::{Store, StoreError};
use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::{CaseSnapshot, FieldValue};
use lettre::Address;
use std::collections::HashMap;

/// The recipient that means "the person who opened the case".
pub use gatehouse_engine::escalation::{CREATOR, OWNER};

/// How links in messages are made.
#[derive(Debug, Clone)]
pub struct Links {
    /// Signs them.
    pub signer: LinkSigner,
    /// The server's public address, e.g. `https://gatehouse.leeds.example`.
    pub base_url: String,
    /// How long a link works.
    pub valid_for: jiff::SignedDuration,
}

impl Links {
    /// The link for `role` on `case`, asking for `evidence`.
    pub fn link(&self, case_id: i64, role: &str, evidence: Vec<String>, now: jiff::Timestamp) -> String {
        let expires_at = now.checked_add(self.valid_for).unwrap_or(jiff::Timestamp::MAX);
        let token = self.signer.sign(&LinkClaims { case_id, role: role.to_string(), evidence, expires_at });
        format!("{}/p/{token}", self.base_url.trim_end_matches('/'))
    }
}

/// The members of internal roles, each looked up once for a batch of messages (a
/// role's members are read when its first message of the batch is planned).
pub struct Members<'a> {
    store: &'a Store,
    known: HashMap<String, Vec<String>>,
}

impl<'a> Members<'a> {
    /// Nothing looked up yet.
    pub fn new(store: &'a Store) -> Members<'a> {
        Members { store, known: HashMap::new() }
    }

    async fn of(&mut self, role: &str) -> Result<&[String], StoreError> {
        if !self.known.contains_key(role) {
            let members = self.store.role_members(role).await?;
            self.known.insert(role.to_string(), members);
        }
        Ok(self.known.get(role).map(Vec::as_slice).unwrap_or_default())
    }

    /// The name of the user `email`, when they are a live user.
    pub async fn name_of(&mut self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self.store.user_by_email(email).await?.map(|u| u.name))
    }
}

/// The addresses for one recipient of a message sent by `timer`, or why there are none
/// (`Ok(Err(reason))`): the message still goes to the others.
pub async fn resolve(
    members: &mut Members<'_>,
    def: &Definition,
    case: Option<&CaseSnapshot>,
    recipient: &str,
    timer: Option<&str>,
    links: &Links,
    now: jiff::Timestamp,
) -> Result<Result<Recipient, String>, StoreError> {
    if recipient == OWNER || recipient == CREATOR {
        let Some(case) = case else { return Ok(Err("a message without a case has no owner to send to".into())) };
        return Ok(match case.owner.parse::<Address>() {
            Ok(a) => Ok(Recipient {
                role: "owner".into(),
                title: "Responsible commissioner".into(),
                addresses: vec![a],
                link: None,
            }),
            Err(_) => Err(format!("the case's owner `{}` has no email address", case.owner)),
        });
    }
    let Some((id, role)) = def.role(recipient) else {
        return Ok(Err(format!("`{recipient}` is not a role of {}", def.id)));
    };
    let title = role.title.clone();
    if let Some(field) = &role.email_field {
        let Some(case) = case else { return Ok(Err(format!("{title} can only be written to about a case"))) };
        let address = match case.fields.get(field) {
            Some(FieldValue::Text(s)) => {
                s.parse::<Address>().map_err(|_| format!("`{field}` holds `{s}`, which is not an email address"))
            }
            _ => Err(format!("the case has no `{field}` to write to {title} at")),
        };
        return Ok(address.map(|a| {
            let evidence = def.evidence_asked(recipient, timer).into_iter().map(|e| e.to_string()).collect();
            let link = links.link(case.id, recipient, evidence, now);
            Recipient { role: id.to_string(), title, addresses: vec![a], link: Some(link) }
        }));
    }
    let addresses: Vec<Address> = members.of(recipient).await?.iter().filter_map(|e| e.parse().ok()).collect();
    if addresses.is_empty() {
        return Ok(Err(format!("no one holds the role `{recipient}` ({title})")));
    }
    Ok(Ok(Recipient { role: id.to_string(), title, addresses, link: None }))
}
