//! Claiming due rows with a lease, as the timer and outbox workers do: one statement
//! marks up to `limit` due rows that no live lease holds as this process's until
//! `lease_until`, and returns them. On PostgreSQL the rows are picked with
//! `FOR UPDATE SKIP LOCKED`, so two processes never claim the same row and neither
//! waits for the other; SQLite serialises writers, so it needs no lock clause.

use super::codec;
use sea_orm::{DbBackend, Statement, Value};

/// What a claim picks from its table.
pub(super) struct Claim<'a> {
    /// The table.
    pub table: &'a str,
    /// More `column = $2` assignments (the lease's end), after the lease's own.
    pub also_set: &'a str,
    /// Which rows are due, where `$3` is now.
    pub due: &'a str,
    /// The order rows are picked in.
    pub order: &'a str,
    /// The columns returned.
    pub returning: &'a str,
}

impl Claim<'_> {
    /// The claim as one statement for `backend`, by `owner`, at `now`, until
    /// `lease_until`, of at most `limit` rows.
    pub fn statement(
        &self,
        backend: DbBackend,
        owner: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: usize,
    ) -> Statement {
        let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let Claim { table, also_set, due, order, returning } = self;
        let sql = format!(
            "UPDATE {table} SET lease_owner = $1, lease_until = $2{also_set} \
             WHERE id IN (SELECT id FROM {table} WHERE {due} ORDER BY {order} LIMIT $4 {lock}) \
             RETURNING {returning}"
        );
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let values: [Value; 4] =
            [owner.into(), codec::to_chrono(lease_until).into(), codec::to_chrono(now).into(), limit.into()];
        Statement::from_sql_and_values(backend, sql, values)
    }
}
