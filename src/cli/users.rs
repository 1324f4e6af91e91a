//! `gatehouse users add|list|revoke`: people with accounts. A new user's token is
//! printed once; only its hash is stored.

use crate::cli::authoring::Status;
use crate::cli::service::connect;
use crate::clock::{Clock, SystemClock};
use anyhow::Result;
use gatehouse_adapters::store::UserError;
use std::io::Write;

/// `gatehouse users add --email E --name N --role R…`: prints the token, once. Without
/// a name, the email address is the name.
pub async fn add(url: &str, email: &str, name: &str, roles: &[String], out: &mut dyn Write) -> Result<Status> {
    let name = if name.trim().is_empty() { email.trim() } else { name };
    let store = connect(url).await?;
    store.migrate().await?;
    match store.add_user(email, name, roles, SystemClock.now()).await {
        Ok((user, token)) => {
            writeln!(out, "added {} ({}) with role(s) {}", user.email, user.name, user.roles.join(", "))?;
            writeln!(out, "token (shown once; keep it safe): {token}")?;
            Ok(Status::Ok)
        }
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e) => {
            writeln!(out, "error: {e}")?;
            Ok(Status::InputWrong)
        }
    }
}

/// `gatehouse users list`
pub async fn list(url: &str, out: &mut dyn Write) -> Result<Status> {
    let store = connect(url).await?;
    for u in store.users().await? {
        let revoked = u.revoked_at.map(|t| format!("  (revoked {t})")).unwrap_or_default();
        writeln!(out, "{}  {}  {}{revoked}", u.email, u.name, u.roles.join(","))?;
    }
    Ok(Status::Ok)
}

/// `gatehouse users revoke --email E`
pub async fn revoke(url: &str, email: &str, out: &mut dyn Write) -> Result<Status> {
    let store = connect(url).await?;
    match store.revoke_user(email, SystemClock.now()).await {
        Ok(u) => {
            writeln!(out, "revoked {}", u.email)?;
            Ok(Status::Ok)
        }
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e) => {
            writeln!(out, "error: {e}")?;
            Ok(Status::InputWrong)
        }
    }
}
