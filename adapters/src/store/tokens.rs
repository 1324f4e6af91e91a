//! Named API tokens for people's scripts (`api_tokens`): made by the person, shown once,
//! each with an expiry; revoked by them or an administrator. Only the sha256 is kept. A
//! bearer token is either a user's own (from `gatehouse users add`) or one of these.

use super::entities::{api_token, user};
use super::users::{User, token_hash};
use super::{Store, StoreError, codec};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// A token as its owner and administrators see it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its id.
    pub id: i64,
    /// Whose it is (their email address).
    pub owner: String,
    /// What its owner called it.
    pub name: String,
    /// When it was made.
    pub created_at: jiff::Timestamp,
    /// When it stops working.
    pub expires_at: jiff::Timestamp,
    /// When it was revoked, and by whom.
    pub revoked: Option<(jiff::Timestamp, String)>,
}

impl Store {
    /// Make a token called `name` for user `user_id`, working until `expires_at`: its row
    /// and the token, which is not kept anywhere and cannot be shown again.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Result<(i64, String), StoreError> {
        let token = super::users::new_token();
        let row = api_token::ActiveModel {
            id: Default::default(),
            user_id: Set(user_id),
            name: Set(name.trim().to_string()),
            token_hash: Set(token_hash(&token)),
            created_at: Set(codec::to_chrono(now)),
            expires_at: Set(codec::to_chrono(expires_at)),
            revoked_at: Set(None),
            revoked_by: Set(None),
        };
        let _turn = self.write_turn().await;
        let id = api_token::Entity::insert(row).exec(&self.db).await?.last_insert_id;
        Ok((id, token))
    }

    /// The tokens of user `user_id`, or of everyone (`None`), newest first.
    pub async fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>, StoreError> {
        let mut query = api_token::Entity::find().order_by_desc(api_token::Column::Id);
        if let Some(id) = user_id {
            query = query.filter(api_token::Column::UserId.eq(id));
        }
        let rows = query.all(&self.db).await?;
        let users: std::collections::HashMap<i64, String> =
            user::Entity::find().all(&self.db).await?.into_iter().map(|u| (u.id, u.email)).collect();
        Ok(rows
            .into_iter()
            .map(|r| ApiToken {
                id: r.id,
                owner: users.get(&r.user_id).cloned().unwrap_or_default(),
                name: r.name,
                created_at: codec::to_jiff(r.created_at),
                expires_at: codec::to_jiff(r.expires_at),
                revoked: r.revoked_at.map(|at| (codec::to_jiff(at), r.revoked_by.unwrap_or_default())),
            })
            .collect())
    }

    /// Revoke token `id` (of user `owner`, or anyone's when `None`), as `by`: whether a
    /// live token was revoked.
    pub async fn revoke_api_token(
        &self,
        id: i64,
        owner: Option<i64>,
        by: &str,
        now: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let mut update = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(codec::to_chrono(now)))
            .col_expr(api_token::Column::RevokedBy, Expr::value(by))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null());
        if let Some(owner) = owner {
            update = update.filter(api_token::Column::UserId.eq(owner));
        }
        let _turn = self.write_turn().await;
        Ok(update.exec(&self.db).await?.rows_affected == 1)
    }

    /// The live user an API token with this sha256 (hex) belongs to, when it is neither
    /// revoked nor expired at `now`.
    pub async fn user_by_api_token_hash(&self, hash: &str, now: jiff::Timestamp) -> Result<Option<User>, StoreError> {
        let Some(row) = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash))
            .filter(api_token::Column::RevokedAt.is_null())
            .filter(api_token::Column::ExpiresAt.gt(codec::to_chrono(now)))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        self.live_user(sea_orm::Condition::all().add(user::Column::Id.eq(row.user_id))).await
    }
}
