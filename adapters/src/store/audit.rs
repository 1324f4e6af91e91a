//! The audit trail: every change to a case is an event with a per-case sequence number
//! and a hash chained to the previous event's, so that an edited or deleted row is
//! found by `verify`.

use super::entities::event;
use super::{Store, StoreError, codec};
use gatehouse_engine::decide::Event;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

/// The hash before a case's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one event, chained to `prev_hash`.
pub fn chain_hash(
    prev_hash: &str,
    case_id: i64,
    seq: i64,
    kind: &str,
    actor: &str,
    at_micros: i64,
    payload: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [prev_hash, &case_id.to_string(), &seq.to_string(), kind, actor, &at_micros.to_string(), payload] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// The last link of a case's chain: the next event is `seq + 1`, chained to `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// The last event's sequence number; 0 before the first.
    pub seq: i64,
    /// The last event's hash; [`GENESIS`] before the first.
    pub hash: String,
}

impl AuditHead {
    /// The head of a case with no events yet.
    pub fn genesis() -> AuditHead {
        AuditHead { seq: 0, hash: GENESIS.to_string() }
    }
}

/// The first place a case's chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The case.
    pub case_id: i64,
    /// The sequence number of the first bad event.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// The rows of `events`, chained after `head`. The caller writes them in the
/// transaction that also makes `head` certain to be still the last event: the case
/// row's compare-and-set on its version does (every decision bumps the version).
pub(super) fn rows(
    case_id: i64,
    head: &AuditHead,
    actor: &str,
    at: jiff::Timestamp,
    events: &[Event],
) -> Vec<event::ActiveModel> {
    let (mut seq, mut prev) = (head.seq, head.hash.clone());
    let at = codec::to_chrono(at);
    events
        .iter()
        .map(|e| {
            seq += 1;
            let payload = codec::event_payload(e).to_string();
            let hash = chain_hash(&prev, case_id, seq, e.name(), actor, at.timestamp_micros(), &payload);
            event::ActiveModel {
                id: Default::default(),
                case_id: Set(case_id),
                seq: Set(seq),
                kind: Set(e.name().to_string()),
                actor: Set(actor.to_string()),
                at: Set(at),
                payload: Set(payload),
                prev_hash: Set(std::mem::replace(&mut prev, hash.clone())),
                hash: Set(hash),
            }
        })
        .collect()
}

/// Check one case's events against their chain.
pub fn check_chain(case_id: i64, events: &[event::Model]) -> Option<BrokenLink> {
    let mut prev = GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        let broken = |reason: String| Some(BrokenLink { case_id, seq: e.seq, reason });
        if e.seq != i as i64 + 1 {
            return broken(format!("expected event {} here, found event {} (an event is missing)", i + 1, e.seq));
        }
        if e.prev_hash != prev {
            return broken("its prev_hash does not match the previous event's hash".into());
        }
        let expected = chain_hash(&prev, case_id, e.seq, &e.kind, &e.actor, e.at.timestamp_micros(), &e.payload);
        if e.hash != expected {
            return broken("its content does not match its hash (the row was changed)".into());
        }
        prev = e.hash.clone();
    }
    None
}

impl Store {
    /// A case's audit trail, in order.
    pub async fn events(&self, case_id: i64) -> Result<Vec<event::Model>, StoreError> {
        Ok(event::Entity::find()
            .filter(event::Column::CaseId.eq(case_id))
            .order_by_asc(event::Column::Seq)
            .all(&self.db)
            .await?)
    }

    /// Check every case's chain; report the first broken link of each broken case.
    pub async fn verify_audit(&self) -> Result<(u64, Vec<BrokenLink>), StoreError> {
        use super::entities::case;
        let ids: Vec<i64> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .order_by_asc(case::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut broken = Vec::new();
        for id in &ids {
            let events = self.events(*id).await?;
            if events.is_empty() {
                broken.push(BrokenLink { case_id: *id, seq: 1, reason: "the case has no events".into() });
            } else if let Some(b) = check_chain(*id, &events) {
                broken.push(b);
            }
        }
        Ok((ids.len() as u64, broken))
    }
}
