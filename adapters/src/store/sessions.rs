//! Web sessions. Signing in starts a session with a random 256-bit id, which only the
//! browser holds (in its cookie); the `sessions` table keeps the id's sha256, the user
//! and an absolute expiry, so a stolen database holds no working session. A session
//! is live while its row exists, has not expired and its user is not revoked: signing
//! out deletes the row, revoking the user deletes theirs (and the user check alone
//! would end them), and expired rows are deleted whenever a session starts.

use super::entities::{session, user};
use super::{Store, StoreError, codec};
use base64::Engine as _;
use rand::RngCore as _;
use sea_orm::sea_query::Query;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe base64 (43 characters): a session's id, or any other
/// secret a browser is given to send back (the sign-in form's nonce).
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The sha256 of a session id, hex: what `sessions.id_hash` holds.
pub fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

impl Store {
    /// Start a session for `user_id`, from `now` until `expires_at`. Returns its id, which
    /// is not kept anywhere and cannot be read back. Sessions that expired by `now`
    /// (anyone's) are deleted on the way.
    pub async fn start_session(
        &self,
        user_id: i64,
        now: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<String, StoreError> {
        let id = new_id();
        let _turn = self.write_turn().await;
        session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(codec::to_chrono(now)))
            .exec(&self.db)
            .await?;
        session::Entity::insert(session::ActiveModel {
            id_hash: Set(id_hash(&id)),
            user_id: Set(user_id),
            created_at: Set(codec::to_chrono(now)),
            expires_at: Set(codec::to_chrono(expires_at)),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(id)
    }

    /// The user whose live session has this id at `now`: the session exists, has not
    /// expired, and its user is not revoked. One query for the user, one for the roles.
    pub async fn session_user(&self, id: &str, now: jiff::Timestamp) -> Result<Option<super::User>, StoreError> {
        let live = Query::select()
            .column(session::Column::UserId)
            .from(session::Entity)
            .and_where(session::Column::IdHash.eq(id_hash(id)))
            .and_where(session::Column::ExpiresAt.gt(codec::to_chrono(now)))
            .to_owned();
        self.live_user(sea_orm::Condition::all().add(user::Column::Id.in_subquery(live))).await
    }

    /// End the session with this id (signing out). Ending one that has ended is a no-op.
    pub async fn end_session(&self, id: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        session::Entity::delete_many().filter(session::Column::IdHash.eq(id_hash(id))).exec(&self.db).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_256_bits_and_only_their_hash_is_kept() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "{a}");
        assert_eq!(id_hash(&a).len(), 64);
        assert!(!id_hash(&a).contains(&a));
    }
}
