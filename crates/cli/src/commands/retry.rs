//! `retry`: puts one comment back to `PENDING`, which the table's stream hands to the replier (exactly what the
//! replier's own sweep does when a retry is due, only now).
//!
//! The rule lives in the write's condition, so it holds even when the replier or the sweep changes the item at
//! the same moment: the item exists, its reply window is still open, and it is `RETRY`, `TOKEN_INVALID`,
//! `FAILED` for a reason that looks transient, or `PENDING` for longer than [`STUCK_PENDING_AFTER`] (its stream
//! record was given up on, e.g. after a long DynamoDB outage; rewriting it makes a fresh stream record, and the
//! replier's claim still guarantees one send). Everything else is refused with the item's current state. A
//! comment whose earlier attempt may have been delivered keeps its `unconfirmed_send` mark, so the replier
//! still reads Meta's "already replied" as the reply it probably was.

use crate::age;
use crate::cli::RetryArgs;
use crate::dynamo::{self, Item};
use crate::failure::Failure;
use crate::items;
use crate::output::{self, Output};
use chrono::Utc;
use reply_core::CommentStatus;
use reply_core::lifecycle::{Precondition, StatusReason, Transition, attr, due};
use reply_core::meta;
use reply_core::store::{CommentTable as _, Requeued};
use serde_json::json;

/// A comment still `PENDING` this long after it was received was not picked up from the stream.
pub const STUCK_PENDING_AFTER: chrono::Duration = chrono::Duration::minutes(15);

/// `status_reason` written by a manual retry.
pub const MANUAL_RETRY: StatusReason = StatusReason::ManualRetry;

/// Why a `FAILED` item may be retried, if it may (the same rule as [`Precondition::Redrivable`]).
pub fn transient_failure(
    reason: Option<&str>,
    error_code: Option<u32>,
    http_status: Option<u32>,
) -> Option<String> {
    if let Some(code) = error_code.filter(|c| meta::is_transient_code(*c)) {
        return Some(format!("Meta error {code} is transient"));
    }
    if let Some(status) = http_status.filter(|s| *s >= 500) {
        return Some(format!("HTTP {status} is a server-side failure"));
    }
    let reason = reason?;
    StatusReason::parse(reason)
        .is_transient()
        .then(|| format!("{reason} is a transient failure"))
}

pub async fn run(args: RetryArgs, out: &Output) -> Result<(), Failure> {
    let table = dynamo::connect(&args.table).await?;
    let id = args.comment_id.trim();
    let now = Utc::now();
    let redrivable = Precondition::Redrivable {
        now,
        stuck_pending_before: now - STUCK_PENDING_AFTER,
    };
    let requeued = table
        .comments()
        .requeue(
            id,
            redrivable,
            &Transition::requeue(MANUAL_RETRY, now + due::DEFAULT_REDRIVE_AFTER),
            now,
        )
        .await
        .map_err(|e| table.store_failure("update the comment", e))?;
    let old = match requeued {
        Requeued::Yes { previous } => previous,
        Requeued::Refused => {
            let current = table.get(id).await?.ok_or_else(|| table.not_found(id))?;
            return Err(refusal(id, &current, now));
        }
    };
    let previous = items::string(&old, attr::STATUS).unwrap_or("?").to_owned();
    let number = |name: &str| items::string(&old, name).and_then(|n| n.parse::<u32>().ok());
    let transient = (previous == CommentStatus::Failed.as_str())
        .then(|| {
            transient_failure(
                items::string(&old, attr::STATUS_REASON),
                number(attr::ERROR_CODE),
                number(attr::HTTP_STATUS),
            )
        })
        .flatten();
    if out.json() {
        out.print_json(&json!({
            "comment_id": id,
            "previous_status": previous,
            "previous_status_reason": items::string(&old, attr::STATUS_REASON),
            "status": CommentStatus::Pending.as_str(),
            "status_reason": MANUAL_RETRY.word(),
            "reply_deadline": items::string(&old, attr::REPLY_DEADLINE),
            "transient_failure": transient,
        }));
        return Ok(());
    }
    let deadline = items::time(&old, attr::REPLY_DEADLINE)
        .map(|t| format!(" (reply window closes {})", age::relative(t, now)))
        .unwrap_or_default();
    println!(
        "Comment {id}: {} -> {}{deadline}.",
        output::status(&previous),
        output::status(CommentStatus::Pending.as_str())
    );
    if let Some(why) = &transient {
        println!("{}", output::dim(&format!("It failed transiently: {why}.")));
    }
    println!(
        "The table's stream hands it to the replier now; follow it with `replyctl show {id}`."
    );
    if previous == CommentStatus::TokenInvalid.as_str() {
        println!(
            "{}",
            output::dim(
                "Note: if the account's token is still the one Meta rejected, the replier holds the comment again: \
                 fix the token first."
            )
        );
    }
    Ok(())
}

/// Why the item was not re-driven, from its current state.
fn refusal(id: &str, item: &Item, now: chrono::DateTime<Utc>) -> Failure {
    let status = items::string(item, attr::STATUS).unwrap_or("?");
    let reason = items::reason(item);
    let reason_note = if reason.is_empty() {
        String::new()
    } else {
        format!(", {reason}")
    };
    let deadline = items::time(item, attr::REPLY_DEADLINE);
    let window_closed = deadline.is_none_or(|d| d <= now);
    let show = format!("`replyctl show {id}` shows the whole item");
    let refuse = |what: String, hint: String| {
        Failure::new(format!("not retrying comment {id}: {what}")).hint(hint)
    };
    match status {
        "REPLIED" => refuse(
            format!(
                "it is already REPLIED (reply {})",
                items::string(item, attr::MESSAGE_ID).unwrap_or("id unknown")
            ),
            "Instagram allows one private reply per comment; there is nothing to retry".to_owned(),
        ),
        "SKIPPED" => refuse(
            format!("it is SKIPPED{reason_note}"),
            "skipped comments (such as the account's own) are never replied to".to_owned(),
        ),
        "EXPIRED" => refuse(
            format!("it is EXPIRED{reason_note}"),
            "its reply window has closed: Instagram refuses private replies after 7 days (Live: after the broadcast)"
                .to_owned(),
        ),
        "PENDING" if !window_closed => refuse(
            format!(
                "it has been PENDING only since {}",
                items::string(item, attr::RECEIVED_AT).unwrap_or("an unknown time")
            ),
            format!(
                "the replier picks it up from the stream; a comment still PENDING {} minutes after it arrived can be retried",
                STUCK_PENDING_AFTER.num_minutes()
            ),
        ),
        "SENDING" => refuse(
            format!(
                "a replier is sending it right now (claim until {})",
                items::string(item, attr::CLAIMED_UNTIL).unwrap_or("unknown")
            ),
            format!("wait for the outcome; {show}"),
        ),
        _ if window_closed => refuse(
            format!(
                "it is {status} but its reply window closed {}",
                deadline.map_or("(no reply_deadline)".to_owned(), |d| age::relative(d, now))
            ),
            "Instagram refuses private replies after the window; the replier marks it EXPIRED".to_owned(),
        ),
        "FAILED" => refuse(
            format!("it FAILED for a reason that is not transient{reason_note}"),
            format!("Meta refused this comment for good, so a retry would be refused again; {show}"),
        ),
        other => refuse(
            format!("its status is {other}{reason_note}"),
            format!("only RETRY, TOKEN_INVALID and transiently FAILED comments can be retried; {show}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes_statuses_and_reasons_allow_a_retry_of_a_failed_comment() {
        assert!(transient_failure(None, Some(2), None).is_some());
        assert!(transient_failure(None, Some(613), None).is_some());
        assert!(transient_failure(None, None, Some(503)).is_some());
        assert!(transient_failure(Some("infrastructure_error"), None, None).is_some());
        assert!(transient_failure(Some("meta_error_80002"), None, None).is_some());
        assert!(transient_failure(Some("http_502"), None, None).is_some());
    }

    #[test]
    fn permanent_failures_are_not_transient() {
        assert!(transient_failure(Some("person_unavailable"), Some(551), Some(400)).is_none());
        assert!(transient_failure(Some("meta_error_100"), Some(100), None).is_none());
        assert!(transient_failure(Some("http_400"), None, None).is_none());
        assert!(transient_failure(None, None, None).is_none());
    }
    // The write's condition is built (and its placeholders checked) in reply_core::store::expression.
}
