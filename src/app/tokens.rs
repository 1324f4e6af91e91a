//! Named API tokens for people's scripts: a signed-in person makes their own (shown
//! once, with an expiry) and revokes them; an administrator sees and revokes everyone's.

use super::{App, AppError};
use gatehouse_adapters::store::tokens::ApiToken;
use gatehouse_engine::decide::Problem;
use gatehouse_engine::snapshot::Actor;

/// The longest a token may be made for, in days.
pub const MAX_TOKEN_DAYS: i64 = 366;

impl App {
    /// Whether `actor` administers people (`--admin-role`).
    pub fn administers(&self, actor: &Actor) -> bool {
        self.governance.admin_roles.iter().any(|r| actor.has_role(r))
    }

    async fn user_id(&self, actor: &Actor) -> Result<i64, AppError> {
        let user = self.store.user_by_email(&actor.id).await?;
        user.map(|u| u.id).ok_or_else(|| AppError::NotAllowed("only a signed-in person has API tokens".into()))
    }

    /// `actor`'s own tokens, newest first.
    pub async fn my_tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>, AppError> {
        let id = self.user_id(actor).await?;
        Ok(self.store.api_tokens(Some(id)).await?)
    }

    /// Everyone's tokens, for an administrator.
    pub async fn all_tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>, AppError> {
        if !self.administers(actor) {
            return Err(AppError::NotAllowed("only an administrator sees everyone's tokens".into()));
        }
        Ok(self.store.api_tokens(None).await?)
    }

    /// Make a token called `name` for `actor`, working for `days`: the token, shown once.
    pub async fn create_token(&self, actor: &Actor, name: &str, days: i64) -> Result<String, AppError> {
        let invalid = |field: &str, message: &str| {
            AppError::Invalid(vec![Problem { field: Some(field.into()), message: message.into() }])
        };
        if name.trim().is_empty() || name.len() > 100 {
            return Err(invalid("name", "Give the token a name of up to 100 characters, saying what uses it"));
        }
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(invalid("days", &format!("A token works for 1 to {MAX_TOKEN_DAYS} days")));
        }
        let id = self.user_id(actor).await?;
        let now = self.now();
        let expires = now + jiff::SignedDuration::from_hours(24 * days);
        Ok(self.store.create_api_token(id, name, expires, now).await?.1)
    }

    /// Revoke token `id`: `actor`'s own, or anyone's for an administrator.
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<(), AppError> {
        let owner = if self.administers(actor) { None } else { Some(self.user_id(actor).await?) };
        if self.store.revoke_api_token(id, owner, &actor.id, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no live token {id} of yours")))
        }
    }
}
