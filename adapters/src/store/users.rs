//! People with accounts and the roles they hold. A user's bearer token is shown once,
//! when the user is added; only its sha256 is stored, so a stolen database does not
//! hold working tokens. Roles are workflow role ids (`commissioner`, `pig`), shared by
//! every workflow that declares them.

use super::entities::{membership, session, user};
use super::{Store, StoreError, codec};
use base64::Engine as _;
use rand::RngCore as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};
use std::str::FromStr;

/// A user and their roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Their email address (lower case): also their actor id in the audit trail.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Role ids they hold, sorted.
    pub roles: Vec<String>,
    /// When they were added.
    pub created_at: jiff::Timestamp,
    /// When their token was revoked; a revoked user can do nothing and is sent nothing.
    pub revoked_at: Option<jiff::Timestamp>,
}

/// Why a user could not be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The email address does not parse.
    #[error("`{0}` is not an email address")]
    InvalidEmail(String),
    /// A role id is not `snake_case`.
    #[error("`{0}` is not a role id (role ids are snake_case, like `commissioner`)")]
    InvalidRole(String),
    /// Someone already has this email address.
    #[error("a user with the email address {0} already exists")]
    EmailTaken(String),
    /// No user has this email address.
    #[error("no user has the email address {0}")]
    NotFound(String),
    /// The person was deactivated: they may not sign in.
    #[error("{0} has been deactivated")]
    Deactivated(String),
    /// The change would leave nobody holding an administrator role.
    #[error("{0} is the last administrator: give someone else an administrator role first")]
    LastAdministrator(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for UserError {
    fn from(e: sea_orm::DbErr) -> Self {
        UserError::Store(e.into())
    }
}

/// Who changes people from the command line, in their history.
pub const COMMAND_LINE: &str = "command line";

/// On PostgreSQL, lock the memberships of `roles` for the rest of the transaction, so
/// that two administrators removing each other at once take turns, and the second sees
/// the first's change: nobody can leave no administrator. (SQLite's writes take turns
/// already.)
async fn lock_holders(
    txn: &sea_orm::DatabaseTransaction,
    backend: sea_orm::DbBackend,
    roles: &[String],
) -> Result<(), StoreError> {
    use sea_orm::QuerySelect;
    if backend == sea_orm::DbBackend::Postgres && !roles.is_empty() {
        membership::Entity::find()
            .filter(membership::Column::Role.is_in(roles.iter().cloned()))
            .lock_exclusive()
            .all(txn)
            .await?;
    }
    Ok(())
}

/// Whether any live user holds one of `roles`.
async fn any_live_holder<C: sea_orm::ConnectionTrait>(c: &C, roles: &[String]) -> Result<bool, StoreError> {
    let holders: Vec<i64> = membership::Entity::find()
        .filter(membership::Column::Role.is_in(roles.iter().cloned()))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    if holders.is_empty() {
        return Ok(false);
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(holders))
        .filter(user::Column::RevokedAt.is_null())
        .one(c)
        .await?
        .is_some())
}

pub(super) async fn people_event<C: sea_orm::ConnectionTrait>(
    c: &C,
    email: &str,
    actor: &str,
    now: jiff::Timestamp,
    what: String,
) -> Result<(), StoreError> {
    use super::entities::people_event;
    let row = people_event::ActiveModel {
        id: Default::default(),
        email: Set(email.to_string()),
        actor: Set(actor.to_string()),
        at: Set(codec::to_chrono(now)),
        what: Set(what),
    };
    people_event::Entity::insert(row).exec(c).await?;
    Ok(())
}

/// The sha256 of a token, hex: what `users.token_hash` holds.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Add a user holding `roles`. Returns the user and their token, which is not kept
    /// anywhere and cannot be shown again.
    pub async fn add_user(
        &self,
        email: &str,
        name: &str,
        roles: &[String],
        now: jiff::Timestamp,
    ) -> Result<(User, String), UserError> {
        self.add_user_by(email, name, roles, COMMAND_LINE, now).await
    }

    /// [`Store::add_user`], by `by`, in the people's history in the same transaction.
    pub async fn add_user_by(
        &self,
        email: &str,
        name: &str,
        roles: &[String],
        by: &str,
        now: jiff::Timestamp,
    ) -> Result<(User, String), UserError> {
        let email = normalize_email(email)?;
        if let Some(bad) = roles.iter().find(|r| !is_role_id(r)) {
            return Err(UserError::InvalidRole(bad.clone()));
        }
        let token = new_token();
        let (txn, _turn) = self.begin_write().await?;
        if user::Entity::find().filter(user::Column::Email.eq(&email)).one(&txn).await?.is_some() {
            return Err(UserError::EmailTaken(email));
        }
        let row = user::ActiveModel {
            id: Default::default(),
            email: Set(email.clone()),
            name: Set(name.trim().to_string()),
            token_hash: Set(token_hash(&token)),
            created_at: Set(codec::to_chrono(now)),
            revoked_at: Set(None),
        };
        let id = match user::Entity::insert(row).exec(&txn).await {
            Ok(r) => r.last_insert_id,
            Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                return Err(UserError::EmailTaken(email));
            }
            Err(e) => return Err(e.into()),
        };
        let mut roles: Vec<String> = roles.to_vec();
        roles.sort();
        roles.dedup();
        for role in &roles {
            membership::Entity::insert(membership::ActiveModel { user_id: Set(id), role: Set(role.clone()) })
                .exec_without_returning(&txn)
                .await?;
        }
        let what = if roles.is_empty() { "added".to_string() } else { format!("added with {}", roles.join(", ")) };
        people_event(&txn, &email, by, now, what).await?;
        txn.commit().await?;
        let user = User {
            id,
            email,
            name: name.trim().to_string(),
            roles,
            created_at: codec::to_jiff(codec::to_chrono(now)),
            revoked_at: None,
        };
        Ok((user, token))
    }

    /// Every user, revoked ones included, by email address.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = user::Entity::find().order_by_asc(user::Column::Email).all(&self.db).await?;
        let memberships = membership::Entity::find().order_by_asc(membership::Column::Role).all(&self.db).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let roles = memberships.iter().filter(|m| m.user_id == row.id).map(|m| m.role.clone()).collect();
            out.push(from_row(row, roles));
        }
        Ok(out)
    }

    /// Revoke a user's token: from now on they can do nothing and are sent nothing, and
    /// their web sessions end. Revoking twice keeps the first date.
    pub async fn revoke_user(&self, email: &str, now: jiff::Timestamp) -> Result<User, UserError> {
        self.revoke_user_by(email, COMMAND_LINE, &[], now).await
    }

    /// [`Store::revoke_user`], by `by`, in the people's history; refused when it would
    /// leave no live holder of any of `protected` roles (the last administrator).
    pub async fn revoke_user_by(
        &self,
        email: &str,
        by: &str,
        protected: &[String],
        now: jiff::Timestamp,
    ) -> Result<User, UserError> {
        let (txn, _turn) = self.begin_write().await?;
        lock_holders(&txn, self.backend(), protected).await?;
        let email = email.trim().to_lowercase();
        let revoked = user::Entity::update_many()
            .col_expr(user::Column::RevokedAt, Expr::value(codec::to_chrono(now)))
            .filter(user::Column::Email.eq(&email))
            .filter(user::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        let row = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&txn)
            .await?
            .ok_or(UserError::NotFound(email.clone()))?;
        let held_protected = membership::Entity::find()
            .filter(membership::Column::UserId.eq(row.id))
            .filter(membership::Column::Role.is_in(protected.iter().cloned()))
            .one(&txn)
            .await?
            .is_some();
        if held_protected && !any_live_holder(&txn, protected).await? {
            txn.rollback().await?;
            return Err(UserError::LastAdministrator(email));
        }
        // A session of a revoked user is refused anyway (`session_user` checks the
        // user); deleting the rows keeps nothing that looks live.
        session::Entity::delete_many().filter(session::Column::UserId.eq(row.id)).exec(&txn).await?;
        if revoked == 1 {
            people_event(&txn, &email, by, now, "deactivated".into()).await?;
        }
        txn.commit().await?;
        let roles = self.roles_of(row.id).await?;
        Ok(from_row(row, roles))
    }

    /// Give `email` role `role` (`give`), or take it away, by `by`, in the people's
    /// history; taking it is refused when it would leave no live holder of any of
    /// `protected` roles.
    pub async fn set_role(
        &self,
        email: &str,
        role: &str,
        give: bool,
        by: &str,
        protected: &[String],
        now: jiff::Timestamp,
    ) -> Result<User, UserError> {
        if !is_role_id(role) {
            return Err(UserError::InvalidRole(role.to_string()));
        }
        let email = email.trim().to_lowercase();
        let (txn, _turn) = self.begin_write().await?;
        lock_holders(&txn, self.backend(), protected).await?;
        let row = user::Entity::find()
            .filter(user::Column::Email.eq(&email))
            .one(&txn)
            .await?
            .ok_or(UserError::NotFound(email.clone()))?;
        let held = membership::Entity::find()
            .filter(membership::Column::UserId.eq(row.id))
            .filter(membership::Column::Role.eq(role))
            .one(&txn)
            .await?
            .is_some();
        if give && !held {
            membership::Entity::insert(membership::ActiveModel { user_id: Set(row.id), role: Set(role.to_string()) })
                .exec_without_returning(&txn)
                .await?;
            people_event(&txn, &email, by, now, format!("given {role}")).await?;
        } else if !give && held {
            membership::Entity::delete_many()
                .filter(membership::Column::UserId.eq(row.id))
                .filter(membership::Column::Role.eq(role))
                .exec(&txn)
                .await?;
            if protected.iter().any(|p| p == role) && !any_live_holder(&txn, protected).await? {
                txn.rollback().await?;
                return Err(UserError::LastAdministrator(email));
            }
            people_event(&txn, &email, by, now, format!("no longer {role}")).await?;
        }
        txn.commit().await?;
        let roles = self.roles_of(row.id).await?;
        Ok(from_row(row, roles))
    }

    /// The history of changes to people and their roles, newest first.
    pub async fn people_history(&self) -> Result<Vec<super::entities::people_event::Model>, StoreError> {
        use super::entities::people_event;
        Ok(people_event::Entity::find().order_by_desc(people_event::Column::Id).all(&self.db).await?)
    }

    /// The user a bearer token belongs to, unless it was revoked.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>, StoreError> {
        self.user_by_token_hash(&token_hash(token)).await
    }

    /// The user with this email address, unless they were revoked.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.live_user(sea_orm::Condition::all().add(user::Column::Email.eq(email.trim().to_lowercase()))).await
    }

    /// The user whose token has this sha256 (hex), unless it was revoked.
    pub async fn user_by_token_hash(&self, hash: &str) -> Result<Option<User>, StoreError> {
        self.live_user(sea_orm::Condition::all().add(user::Column::TokenHash.eq(hash))).await
    }

    /// The user that `which` picks, with their roles, unless they were revoked.
    pub(super) async fn live_user(&self, which: sea_orm::Condition) -> Result<Option<User>, StoreError> {
        let Some(row) =
            user::Entity::find().filter(which).filter(user::Column::RevokedAt.is_null()).one(&self.db).await?
        else {
            return Ok(None);
        };
        let roles = self.roles_of(row.id).await?;
        Ok(Some(from_row(row, roles)))
    }

    /// The email addresses of the users who hold `role` and are not revoked, sorted.
    pub async fn role_members(&self, role: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<i64> = membership::Entity::find()
            .filter(membership::Column::Role.eq(role))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .filter(user::Column::RevokedAt.is_null())
            .order_by_asc(user::Column::Email)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|u| u.email).collect())
    }

    pub(super) async fn roles_of(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id))
            .order_by_asc(membership::Column::Role)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| m.role).collect())
    }
}

pub(super) fn from_row(row: user::Model, roles: Vec<String>) -> User {
    User {
        id: row.id,
        email: row.email,
        name: row.name,
        roles,
        created_at: codec::to_jiff(row.created_at),
        revoked_at: row.revoked_at.map(codec::to_jiff),
    }
}

/// An email address as stored: trimmed, lower case, and one that mail can be sent to.
pub(super) fn normalize_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_lowercase();
    match lettre::Address::from_str(&email) {
        Ok(_) => Ok(email),
        Err(_) => Err(UserError::InvalidEmail(email)),
    }
}

pub(super) fn is_role_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// 32 random bytes, URL-safe base64, with a prefix that makes a leaked token easy to
/// recognise (secret scanners, logs).
pub(super) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("gh_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("gh_") && a.len() == 46, "{a}");
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn role_ids_and_emails_are_checked() {
        assert!(
            is_role_id("exec_board")
                && is_role_id("pig")
                && !is_role_id("Exec")
                && !is_role_id("1x")
                && !is_role_id("")
        );
        assert_eq!(normalize_email(" Alice@Leeds.Example ").unwrap(), "alice@leeds.example");
        assert!(matches!(normalize_email("not an address"), Err(UserError::InvalidEmail(_))));
    }
}
