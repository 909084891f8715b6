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
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::Utc;
use reply_core::CommentStatus;
use reply_core::comment::format_time;
use serde_json::json;
use std::collections::HashMap;

/// A comment still `PENDING` this long after it was received was not picked up from the stream.
pub const STUCK_PENDING_AFTER: chrono::Duration = chrono::Duration::minutes(15);

/// `status_reason` written by a manual retry.
pub const MANUAL_RETRY: &str = "manual_retry";

/// Meta error codes that mean "try again later" (PLATFORM.md section 6).
const TRANSIENT_CODES: &[u32] = &[1, 2, 4, 17, 32, 341, 368, 613, 80002];

/// `status_reason` values that mean the failure was not about this comment.
const TRANSIENT_REASONS: &[&str] = &[
    "infrastructure_error",
    "rate_limited",
    "account_paused",
    "token_invalid",
    "no_token_configured",
    "timeout",
    "connection_error",
];

/// Why a `FAILED` item may be retried, if it may.
pub fn transient_failure(
    reason: Option<&str>,
    error_code: Option<u32>,
    http_status: Option<u32>,
) -> Option<String> {
    if let Some(code) = error_code.filter(|c| TRANSIENT_CODES.contains(c)) {
        return Some(format!("Meta error {code} is transient"));
    }
    if let Some(status) = http_status.filter(|s| *s >= 500) {
        return Some(format!("HTTP {status} is a server-side failure"));
    }
    let reason = reason?;
    let meta_code = reason
        .strip_prefix("meta_error_")
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| TRANSIENT_CODES.contains(c));
    let http_5xx = reason
        .strip_prefix("http_")
        .is_some_and(|s| s.starts_with('5'));
    (TRANSIENT_REASONS.contains(&reason) || meta_code.is_some() || http_5xx)
        .then(|| format!("{reason} is a transient failure"))
}

pub async fn run(args: RetryArgs, out: &Output) -> Result<(), Failure> {
    let table = dynamo::connect(&args.table).await?;
    let id = args.comment_id.trim();
    let now = Utc::now();
    let (update, condition, names, values) = retry_expression(now);
    let result = table
        .client
        .update_item()
        .table_name(&table.name)
        .key("comment_id", AttributeValue::S(id.to_owned()))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .return_values(ReturnValue::AllOld)
        .send()
        .await;
    let old = match result {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e)
            if e.as_service_error()
                .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
        {
            let current = table.get(id).await?.ok_or_else(|| table.not_found(id))?;
            return Err(refusal(id, &current, now));
        }
        Err(e) => return Err(table.failure("update the comment", e)),
    };
    let previous = items::string(&old, "status").unwrap_or("?").to_owned();
    let number = |name: &str| items::string(&old, name).and_then(|n| n.parse::<u32>().ok());
    let transient = (previous == CommentStatus::Failed.as_str())
        .then(|| {
            transient_failure(
                items::string(&old, "status_reason"),
                number("error_code"),
                number("http_status"),
            )
        })
        .flatten();
    if out.json() {
        out.print_json(&json!({
            "comment_id": id,
            "previous_status": previous,
            "previous_status_reason": items::string(&old, "status_reason"),
            "status": CommentStatus::Pending.as_str(),
            "status_reason": MANUAL_RETRY,
            "reply_deadline": items::string(&old, "reply_deadline"),
            "transient_failure": transient,
        }));
        return Ok(());
    }
    let deadline = items::time(&old, "reply_deadline")
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

/// `SET status = PENDING, status_reason = manual_retry, updated_at = now REMOVE next_attempt_at, claim_id,
/// claimed_until`, on the condition described in the module header.
fn retry_expression(
    now: chrono::DateTime<Utc>,
) -> (
    String,
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut names = HashMap::new();
    for (k, v) in [
        ("#id", "comment_id"),
        ("#status", "status"),
        ("#reason", "status_reason"),
        ("#updated", "updated_at"),
        ("#next", "next_attempt_at"),
        ("#claim", "claim_id"),
        ("#claimed_until", "claimed_until"),
        ("#deadline", "reply_deadline"),
        ("#code", "error_code"),
        ("#http", "http_status"),
        ("#received", "received_at"),
    ] {
        names.insert(k.to_owned(), v.to_owned());
    }
    let mut values = HashMap::new();
    values.insert(":pending".to_owned(), s(CommentStatus::Pending.as_str()));
    values.insert(":manual".to_owned(), s(MANUAL_RETRY));
    values.insert(":now".to_owned(), s(&format_time(now)));
    values.insert(
        ":stuck_before".to_owned(),
        s(&format_time(now - STUCK_PENDING_AFTER)),
    );
    values.insert(":retry".to_owned(), s(CommentStatus::Retry.as_str()));
    values.insert(
        ":token_invalid".to_owned(),
        s(CommentStatus::TokenInvalid.as_str()),
    );
    values.insert(":failed".to_owned(), s(CommentStatus::Failed.as_str()));
    values.insert(":http500".to_owned(), AttributeValue::N("500".to_owned()));
    values.insert(":http5".to_owned(), s("http_5"));
    let mut codes = Vec::new();
    for (i, code) in TRANSIENT_CODES.iter().enumerate() {
        values.insert(format!(":c{i}"), AttributeValue::N(code.to_string()));
        codes.push(format!(":c{i}"));
    }
    let mut reasons = Vec::new();
    let meta_reasons: Vec<String> = TRANSIENT_CODES
        .iter()
        .map(|c| format!("meta_error_{c}"))
        .collect();
    for (i, reason) in TRANSIENT_REASONS
        .iter()
        .copied()
        .chain(meta_reasons.iter().map(String::as_str))
        .enumerate()
    {
        values.insert(format!(":r{i}"), s(reason));
        reasons.push(format!(":r{i}"));
    }
    let update = "SET #status = :pending, #reason = :manual, #updated = :now REMOVE #next, #claim, #claimed_until";
    let condition = format!(
        "attribute_exists(#id) AND #deadline > :now AND (#status IN (:retry, :token_invalid) \
         OR (#status = :pending AND #received < :stuck_before) OR (#status = :failed \
         AND (#code IN ({}) OR #http >= :http500 OR #reason IN ({}) OR begins_with(#reason, :http5))))",
        codes.join(", "),
        reasons.join(", ")
    );
    (update.to_owned(), condition, names, values)
}

/// Why the item was not re-driven, from its current state.
fn refusal(id: &str, item: &Item, now: chrono::DateTime<Utc>) -> Failure {
    let status = items::string(item, "status").unwrap_or("?");
    let reason = items::reason(item);
    let reason_note = if reason.is_empty() {
        String::new()
    } else {
        format!(", {reason}")
    };
    let deadline = items::time(item, "reply_deadline");
    let window_closed = deadline.is_none_or(|d| d <= now);
    let show = format!("`replyctl show {id}` shows the whole item");
    let refuse = |what: String, hint: String| {
        Failure::new(format!("not retrying comment {id}: {what}")).hint(hint)
    };
    match status {
        "REPLIED" => refuse(
            format!(
                "it is already REPLIED (reply {})",
                items::string(item, "message_id").unwrap_or("id unknown")
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
                items::string(item, "received_at").unwrap_or("an unknown time")
            ),
            format!(
                "the replier picks it up from the stream; a comment still PENDING {} minutes after it arrived can be retried",
                STUCK_PENDING_AFTER.num_minutes()
            ),
        ),
        "SENDING" => refuse(
            format!(
                "a replier is sending it right now (claim until {})",
                items::string(item, "claimed_until").unwrap_or("unknown")
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

    #[test]
    fn the_condition_names_every_placeholder_it_uses() {
        let (update, condition, names, values) = retry_expression(Utc::now());
        for text in [&update, &condition] {
            for token in
                text.split(|c: char| !(c.is_alphanumeric() || c == '#' || c == ':' || c == '_'))
            {
                if token.starts_with('#') {
                    assert!(names.contains_key(token), "{token}");
                }
                if token.starts_with(':') {
                    assert!(values.contains_key(token), "{token}");
                }
            }
        }
    }
}
