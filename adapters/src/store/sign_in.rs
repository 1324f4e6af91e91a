//! Signing in through the organisation's identity provider (OpenID Connect): the person
//! the provider vouches for, found by email address or created at their first sign-in,
//! and the roles the installation's role map manages set to what their groups give,
//! all in one transaction, each change in the people's history.

use super::entities::{membership, user};
use super::users::{UserError, from_row, is_role_id, new_token, normalize_email, people_event, token_hash};
use super::{Store, codec};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Who changes people when they sign in through the identity provider, in their history.
pub const PROVIDER_SIGN_IN: &str = "oidc sign-in";

/// The roles a sign-in sets, when the installation maps the provider's groups to roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedRoles {
    /// Every role the map names: the provider decides these, and only these.
    pub managed: Vec<String>,
    /// Those of them the person's groups give: after signing in they hold exactly these
    /// of `managed`.
    pub given: Vec<String>,
}

impl Store {
    /// The person the identity provider signed in as `email`: their user, created (with
    /// `name`, holding no role) at their first sign-in, and, with `roles`, holding
    /// exactly `roles.given` of `roles.managed` (roles the map does not name are left as
    /// they are). A deactivated person is refused, and nothing changes. Every change is
    /// in the people's history, by [`PROVIDER_SIGN_IN`], in the same transaction.
    pub async fn sign_in_from_provider(
        &self,
        email: &str,
        name: &str,
        roles: Option<&MappedRoles>,
        now: jiff::Timestamp,
    ) -> Result<super::User, UserError> {
        let email = normalize_email(email)?;
        if let Some(bad) = roles.iter().flat_map(|r| r.managed.iter().chain(&r.given)).find(|r| !is_role_id(r)) {
            return Err(UserError::InvalidRole(bad.clone()));
        }
        let (txn, _turn) = self.begin_write().await?;
        let row = match user::Entity::find().filter(user::Column::Email.eq(&email)).one(&txn).await? {
            Some(row) if row.revoked_at.is_some() => return Err(UserError::Deactivated(email)),
            Some(row) => row,
            None => {
                let name = if name.trim().is_empty() { email.as_str() } else { name.trim() };
                // The sign-in token is never shown: this person signs in through the
                // provider, and makes API tokens of their own on `/tokens`.
                let created_at = codec::to_chrono(now);
                let hash = token_hash(&new_token());
                let new = user::ActiveModel {
                    id: Default::default(),
                    email: Set(email.clone()),
                    name: Set(name.to_string()),
                    token_hash: Set(hash.clone()),
                    created_at: Set(created_at),
                    revoked_at: Set(None),
                };
                let id = match user::Entity::insert(new).exec(&txn).await {
                    Ok(r) => r.last_insert_id,
                    // Two first sign-ins at once: the other one made the user.
                    Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                        return Err(UserError::EmailTaken(email));
                    }
                    Err(e) => return Err(e.into()),
                };
                let row = user::Model {
                    id,
                    email: email.clone(),
                    name: name.to_string(),
                    token_hash: hash,
                    created_at,
                    revoked_at: None,
                };
                people_event(&txn, &email, PROVIDER_SIGN_IN, now, "added at their first sign-in".into()).await?;
                row
            }
        };
        if let Some(roles) = roles {
            let held: Vec<String> = membership::Entity::find()
                .filter(membership::Column::UserId.eq(row.id))
                .all(&txn)
                .await?
                .into_iter()
                .map(|m| m.role)
                .collect();
            let mut managed = roles.managed.clone();
            managed.sort();
            managed.dedup();
            for role in &managed {
                let (has, gets) = (held.contains(role), roles.given.contains(role));
                if gets && !has {
                    membership::Entity::insert(membership::ActiveModel {
                        user_id: Set(row.id),
                        role: Set(role.clone()),
                    })
                    .exec_without_returning(&txn)
                    .await?;
                    people_event(&txn, &email, PROVIDER_SIGN_IN, now, format!("given {role}")).await?;
                } else if has && !gets {
                    membership::Entity::delete_many()
                        .filter(membership::Column::UserId.eq(row.id))
                        .filter(membership::Column::Role.eq(role.as_str()))
                        .exec(&txn)
                        .await?;
                    people_event(&txn, &email, PROVIDER_SIGN_IN, now, format!("no longer {role}")).await?;
                }
            }
        }
        txn.commit().await?;
        let roles = self.roles_of(row.id).await?;
        Ok(from_row(row, roles))
    }
}
