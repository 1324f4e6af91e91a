//! People and their roles, managed in the product by holders of an administrator role
//! (`--admin-role`): add a person before they first sign in, give and take roles,
//! deactivate (their sessions end at once; their history stays). Every change is in the
//! people's history, and nobody can remove the last administrator.

use super::{App, AppError};
use gatehouse_adapters::store::users::{User, UserError};
use gatehouse_engine::decide::Problem;
use gatehouse_engine::snapshot::Actor;

fn from_user_error(e: UserError) -> AppError {
    let invalid = |field: &str, m: String| AppError::Invalid(vec![Problem { field: Some(field.into()), message: m }]);
    match e {
        UserError::InvalidEmail(_) => invalid("email", e.to_string()),
        UserError::InvalidRole(_) => invalid("role", e.to_string()),
        UserError::EmailTaken(_) | UserError::LastAdministrator(_) | UserError::Deactivated(_) => {
            AppError::NotAvailable(e.to_string())
        }
        UserError::NotFound(m) => AppError::NotFound(format!("no person has the email address {m}")),
        UserError::Store(s) => AppError::Internal(s),
    }
}

/// Why a role the role map names is not given or taken in the product.
fn provider_decides(role: &str) -> String {
    format!(
        "`{role}` is given by the identity provider's groups (`--oidc-role-map`), at every sign-in, so it is not \
         given or taken here"
    )
}

impl App {
    fn administer(&self, actor: &Actor) -> Result<(), AppError> {
        if self.administers(actor) {
            Ok(())
        } else {
            Err(AppError::NotAllowed("managing people is for holders of an administrator role (`--admin-role`)".into()))
        }
    }

    /// Everyone, deactivated people included, for an administrator.
    pub async fn people(&self, actor: &Actor) -> Result<Vec<User>, AppError> {
        self.administer(actor)?;
        Ok(self.store.users().await?)
    }

    /// Add a person holding `roles`: the token they sign in with until the installation
    /// has an identity provider, shown once.
    pub async fn add_person(
        &self,
        actor: &Actor,
        email: &str,
        name: &str,
        roles: &[String],
    ) -> Result<String, AppError> {
        self.administer(actor)?;
        if let Some(role) = roles.iter().find(|r| self.governance.provider_roles.contains(r)) {
            return Err(AppError::Invalid(vec![Problem {
                field: Some("roles".into()),
                message: provider_decides(role),
            }]));
        }
        let name = if name.trim().is_empty() { email } else { name };
        let (_, token) =
            self.store.add_user_by(email, name, roles, &actor.id, self.now()).await.map_err(from_user_error)?;
        Ok(token)
    }

    /// Give `email` role `role`, or take it away.
    pub async fn set_person_role(&self, actor: &Actor, email: &str, role: &str, give: bool) -> Result<(), AppError> {
        self.administer(actor)?;
        if self.governance.provider_roles.iter().any(|r| r == role) {
            return Err(AppError::NotAvailable(format!(
                "{} for {email}: change their groups there, and they hold it from their next sign-in",
                provider_decides(role)
            )));
        }
        let protected = &self.governance.admin_roles;
        self.store.set_role(email, role, give, &actor.id, protected, self.now()).await.map_err(from_user_error)?;
        Ok(())
    }

    /// Deactivate `email`: their sessions end and their tokens stop working; their
    /// history stays.
    pub async fn deactivate_person(&self, actor: &Actor, email: &str) -> Result<(), AppError> {
        self.administer(actor)?;
        let protected = &self.governance.admin_roles;
        self.store.revoke_user_by(email, &actor.id, protected, self.now()).await.map_err(from_user_error)?;
        Ok(())
    }
}
