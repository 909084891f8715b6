//! An account's queue of comments waiting for budget. When the budget is spent, each waiting comment gets a
//! turn about `position / rate` after the time a call frees up, not all the same next slot, so a deferred
//! comment comes back when a call is there for it: it is written once to be deferred and once to be
//! requeued, not again every slot. The tail (the last turn given out) lives on the account's record, and a
//! reservation takes the turns for a batch's worth of the account's comments in one conditional write; the
//! spare turns wait in this instance for the next comments of that account.

use super::{AccountStateStore, Bucket};
use crate::budget;
use crate::config::Budget;
use chrono::{DateTime, TimeDelta, Utc};
use reply_core::store::StoreError;
use reply_core::store::dynamo::is_condition_failure;
use std::collections::{HashMap, VecDeque};
use std::sync::{MutexGuard, PoisonError};

/// Attempts at the conditional tail update when other instances move the tail meanwhile.
const RESERVE_ATTEMPTS: u32 = 4;
/// Turns reserved at once at most.
const MOST_TURNS: u32 = 25;
/// A spare turn this far in the past is given to no one (its time has gone; a fresh one is fairer).
const SPARE_TURN_STALENESS: TimeDelta = TimeDelta::seconds(1);

/// What a reservation needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnRequest {
    pub budget: Budget,
    /// The earliest a turn can be: when a call frees up, or now behind a queue.
    pub from: DateTime<Utc>,
    /// The tail as last read from the account's record.
    pub known_tail: Option<DateTime<Utc>>,
    /// Comments of the account that may need a turn now (the rest of the batch).
    pub want: u32,
    pub now: DateTime<Utc>,
}

/// Spare turns of this instance, by account and bucket, earliest first.
#[derive(Debug, Default)]
pub(super) struct Turns(HashMap<(String, Bucket), VecDeque<DateTime<Utc>>>);

impl AccountStateStore {
    /// The next turn in the account's `bucket` queue.
    pub(super) async fn reserve(
        &self,
        account_id: &str,
        bucket: Bucket,
        request: TurnRequest,
    ) -> Result<DateTime<Utc>, StoreError> {
        if let Some(turn) = self.spare_turn(account_id, bucket, request.now) {
            return Ok(turn);
        }
        let gap = budget::turn_gap(request.budget);
        let n = request.want.clamp(1, MOST_TURNS);
        let mut known = request.known_tail;
        for _ in 0..RESERVE_ATTEMPTS {
            let start = known.map_or(request.from, |tail| tail.max(request.from));
            let turns: Vec<DateTime<Utc>> = (0..n).map(|i| start + gap * i as i32).collect();
            let tail = start + gap * n as i32;
            let field = bucket.queue_tail_attribute();
            let mut update = self
                .account_update(account_id, request.now)
                .update_expression("SET #tail = :tail, #updated = :now")
                .expression_attribute_names("#tail", field)
                .expression_attribute_values(":tail", super::s(&format_turn(tail)));
            update = match known {
                Some(old) => update
                    .condition_expression("#tail = :old")
                    .expression_attribute_values(":old", super::s(&format_turn(old))),
                None => update.condition_expression("attribute_not_exists(#tail)"),
            };
            match update.send().await {
                Ok(_) => {
                    self.keep_spares(account_id, bucket, &turns[1..]);
                    return Ok(turns[0]);
                }
                Err(e) if is_condition_failure(&e) => {
                    known = self.get_account(account_id).await?.queue_tail(bucket);
                }
                Err(e) => return Err(StoreError::backend("reserving a turn for budget", e)),
            }
        }
        Err(StoreError::other(
            "reserving a turn for budget",
            anyhow::anyhow!("the account's queue kept moving ({RESERVE_ATTEMPTS} attempts)"),
        ))
    }

    fn spare_turn(
        &self,
        account_id: &str,
        bucket: Bucket,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut turns = self.turns();
        let queue = turns.0.get_mut(&(account_id.to_owned(), bucket))?;
        while let Some(turn) = queue.pop_front() {
            if turn >= now - SPARE_TURN_STALENESS {
                return Some(turn);
            }
        }
        None
    }

    fn keep_spares(&self, account_id: &str, bucket: Bucket, spares: &[DateTime<Utc>]) {
        if spares.is_empty() {
            return;
        }
        self.turns()
            .0
            .entry((account_id.to_owned(), bucket))
            .or_default()
            .extend(spares.iter().copied());
    }

    fn turns(&self) -> MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A turn as stored: ISO 8601 with milliseconds (Live turns are milliseconds apart), which sorts as text.
pub(super) fn format_turn(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn parse_turn(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_stored_with_milliseconds_and_read_back() {
        let t = DateTime::from_timestamp_millis(1_780_000_000_125).unwrap();
        assert_eq!(format_turn(t), "2026-05-28T20:26:40.125Z");
        assert_eq!(parse_turn(&format_turn(t)), Some(t));
        assert!(format_turn(t) < format_turn(t + TimeDelta::milliseconds(13)));
    }
}
