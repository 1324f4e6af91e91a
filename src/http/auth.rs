//! Who is asking. `Authorization: Bearer <token>` carries either a user's token (made by
//! `gatehouse users add`, stored only as its hash) or a provider's signed link token,
//! which reaches one case only. What the caller may then do is the engine's decision:
//! the actor's roles go into `decide`, and nothing here grants more.

use super::Http;
use super::problem::{Kind, Problem};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gatehouse_adapters::links::{LinkClaims, LinkError};
use gatehouse_adapters::store::users::token_hash;
use gatehouse_adapters::store::{Store, StoreError, User};
use gatehouse_engine::snapshot::Actor;
use std::sync::Arc;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The actor handed to the engine.
    pub actor: Actor,
    /// For a provider link: what it reaches.
    pub link: Option<LinkClaims>,
}

impl Caller {
    /// Refuse a link holder anything outside their own case. Answered as "not found",
    /// so that a link does not reveal which other cases exist.
    pub fn reach(&self, case_id: i64) -> Result<(), Problem> {
        match &self.link {
            Some(claims) if claims.case_id != case_id => {
                Err(Problem::new(Kind::NotFound, format!("case {case_id} not found")))
            }
            _ => Ok(()),
        }
    }

    /// Refuse a link holder a route meant for staff.
    pub fn staff(&self) -> Result<(), Problem> {
        match &self.link {
            Some(_) => Err(Problem::new(Kind::Forbidden, "a provider link reaches only its own case")),
            None => Ok(()),
        }
    }

    /// For a link holder, refuse evidence the link did not ask for.
    pub fn may_provide(&self, evidence: &str) -> Result<(), Problem> {
        match &self.link {
            Some(claims) if !claims.evidence.iter().any(|e| e == evidence) => Err(Problem::new(
                Kind::Forbidden,
                format!("this link asks for {}; it cannot provide `{evidence}`", claims.evidence.join(", ")),
            )),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<Arc<Http>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, http: &Arc<Http>) -> Result<Caller, Problem> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            Problem::new(Kind::Unauthenticated, "send `Authorization: Bearer <token>`; `gatehouse users add` makes one")
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Problem::new(Kind::Unauthenticated, "the Authorization header must be `Bearer <token>`"))?;
        http.authenticate(token).await
    }
}

/// A caller with a user token: a link holder is refused while the request's head is
/// read, before any body, so it learns that it may not rather than what is wrong with
/// a body it may not send.
pub struct Staff(pub Caller);

impl FromRequestParts<Arc<Http>> for Staff {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, http: &Arc<Http>) -> Result<Staff, Problem> {
        let caller = Caller::from_request_parts(parts, http).await?;
        caller.staff()?;
        Ok(Staff(caller))
    }
}

impl Http {
    /// The caller holding `token`.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, Problem> {
        // A link token is `<payload>.<mac>`; a user token never holds a dot.
        if token.contains('.') {
            return match self.signer.verify(token, self.app.now()) {
                Ok(claims) => Ok(Caller { actor: Actor::link(&claims.role), link: Some(claims) }),
                Err(e @ LinkError::Expired { .. }) => {
                    Err(Problem::new(Kind::Unauthenticated, format!("{e}; ask the commissioner for a new one")))
                }
                Err(e) => Err(Problem::new(Kind::Unauthenticated, e.to_string())),
            };
        }
        let user =
            self.users.get(token, self.app.store()).await.map_err(|e| Problem::from(crate::app::AppError::from(e)))?;
        match user {
            Some(user) => Ok(Caller { actor: Actor::user(user.email, user.roles), link: None }),
            None => Err(Problem::new(Kind::Unauthenticated, "the token is unknown or has been revoked")),
        }
    }
}

/// Users by token hash, kept for a few seconds so that a busy client does not cost a
/// database query per request. A revoked token stops working within [`UserCache::TTL`].
#[derive(Debug, Default)]
pub struct UserCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Option<User>)>>,
}

impl UserCache {
    /// How long an answer is kept.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    /// The most entries kept; past it the cache starts over.
    const CAPACITY: usize = 10_000;

    /// The live user holding `token`, if any.
    pub async fn get(&self, token: &str, store: &Store) -> Result<Option<User>, StoreError> {
        let hash = token_hash(token);
        if let Some((at, user)) = self.entries.lock().expect("user cache lock").get(&hash)
            && at.elapsed() < Self::TTL
        {
            return Ok(user.clone());
        }
        // A user's own token, else one of the named tokens they made for their scripts.
        let user = match store.user_by_token_hash(&hash).await? {
            Some(user) => Some(user),
            None => store.user_by_api_token_hash(&hash, jiff::Timestamp::now()).await?,
        };
        let mut entries = self.entries.lock().expect("user cache lock");
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(hash, (std::time::Instant::now(), user.clone()));
        Ok(user)
    }
}
