//! What an answer to a public reply's `POST` means (pure, like the rest of [`crate::decide`]). Meta's codes
//! are read as for the private reply, except that nothing here is "already replied": Meta accepts a second
//! public reply, so an attempt that may have published it is marked, and the next one reads the comment's
//! replies before posting.

use super::Policy;
use crate::backoff::{backoff_ceiling, delta, full_jitter};
use crate::classify::{Disposition, classify};
use crate::graph::SendResult;
use chrono::{DateTime, Utc};
use reply_core::lifecycle::{ConfirmedBy, ErrorFields, PublicReplyMove};

/// Attempts before a public reply is given up (it is a courtesy to other viewers, not worth hours of retries).
pub const MAX_ATTEMPTS: u32 = 6;

/// The move after attempt number `attempts` got `result`; a retry never goes past `deadline` (the comment's
/// reply deadline: a public "Sent you a DM" a week late reads oddly).
pub fn after_post(
    result: &SendResult,
    attempts: u32,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &Policy,
    fraction: f64,
) -> PublicReplyMove {
    let error = match result {
        SendResult::NotSent { reason } | SendResult::Ambiguous { reason } => ErrorFields {
            message: Some(reason.word().into_owned()),
            ..ErrorFields::default()
        },
        refused => super::error_fields(refused),
    };
    // Meta's answer read as for the private reply, with no earlier attempt that could make "already
    // replied" mean sent: a public reply is never refused as a repeat.
    match classify(result, false) {
        Disposition::Replied { message_id, .. } => PublicReplyMove::Posted {
            reply_id: message_id,
            at: now,
            by: ConfirmedBy::Answer,
        },
        Disposition::Retry {
            ambiguous,
            regain_after,
            ..
        } => retry_or_give_up(
            error,
            ambiguous,
            regain_after,
            attempts,
            deadline,
            now,
            policy,
            fraction,
        ),
        // The token may be fixed: look again when a held private reply would.
        Disposition::TokenInvalid => retry_or_give_up(
            error,
            false,
            Some(policy.token_recheck),
            attempts,
            deadline,
            now,
            policy,
            fraction,
        ),
        Disposition::Failed { .. } | Disposition::Expired => PublicReplyMove::Failed { error },
    }
}

/// A retry after attempt `attempts` (backoff, or `wait` when Meta said how long), or `FAILED` once the
/// attempts are spent or the retry would come after `deadline`.
#[allow(clippy::too_many_arguments)]
pub fn retry_or_give_up(
    error: ErrorFields,
    maybe_posted: bool,
    wait: Option<std::time::Duration>,
    attempts: u32,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &Policy,
    fraction: f64,
) -> PublicReplyMove {
    let backoff = full_jitter(
        backoff_ceiling(attempts, policy.retry_base, policy.retry_max),
        fraction,
    );
    let at = now + delta(backoff.max(wait.unwrap_or_default()));
    if attempts >= MAX_ATTEMPTS || at > deadline {
        return PublicReplyMove::Failed { error };
    }
    PublicReplyMove::Retry {
        at,
        maybe_posted,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReplierConfig;
    use crate::graph::GraphError;
    use crate::usage::Usage;
    use reply_core::lifecycle::StatusReason;

    fn policy() -> Policy {
        Policy::from(&ReplierConfig::default())
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn refused(status: u16, code: u32, subcode: Option<u32>) -> SendResult {
        SendResult::Refused {
            status,
            error: Some(GraphError {
                code,
                subcode,
                ..GraphError::default()
            }),
            usage: Usage::default(),
        }
    }

    fn decide(result: &SendResult, attempts: u32) -> PublicReplyMove {
        after_post(
            result,
            attempts,
            now() + chrono::Duration::days(7),
            now(),
            &policy(),
            0.5,
        )
    }

    #[test]
    fn an_answer_is_posted_with_its_id() {
        let sent = SendResult::Sent {
            recipient_id: None,
            message_id: Some("17900000000000001".into()),
        };
        assert_eq!(
            decide(&sent, 1),
            PublicReplyMove::Posted {
                reply_id: Some("17900000000000001".into()),
                at: now(),
                by: ConfirmedBy::Answer
            }
        );
    }

    #[test]
    fn a_lost_answer_or_a_5xx_may_have_published_it_and_a_refused_connection_did_not() {
        let maybe = |r: &SendResult| match decide(r, 1) {
            PublicReplyMove::Retry { maybe_posted, .. } => maybe_posted,
            other => panic!("{other:?}"),
        };
        assert!(maybe(&SendResult::Ambiguous {
            reason: StatusReason::Timeout
        }));
        assert!(maybe(&refused(500, 2, None)));
        assert!(maybe(&SendResult::Refused {
            status: 502,
            error: None,
            usage: Usage::default()
        }));
        assert!(!maybe(&SendResult::NotSent {
            reason: StatusReason::ConnectionError
        }));
        assert!(!maybe(&refused(400, 613, None)));
        assert!(!maybe(&refused(400, 190, Some(463))));
    }

    #[test]
    fn permanent_errors_fail_and_retries_stop_after_the_attempts_or_the_deadline() {
        for (code, sub) in [
            (100, None),
            (100, Some(2534025)),
            (10, Some(2534022)),
            (200, None),
        ] {
            assert!(
                matches!(
                    decide(&refused(400, code, sub), 1),
                    PublicReplyMove::Failed { .. }
                ),
                "{code}/{sub:?}"
            );
        }
        let timeout = SendResult::Ambiguous {
            reason: StatusReason::Timeout,
        };
        assert!(matches!(
            decide(&timeout, MAX_ATTEMPTS - 1),
            PublicReplyMove::Retry { .. }
        ));
        assert!(matches!(
            decide(&timeout, MAX_ATTEMPTS),
            PublicReplyMove::Failed { .. }
        ));
        let soon = now() + chrono::Duration::seconds(1);
        assert!(matches!(
            after_post(&timeout, 1, soon, now(), &policy(), 0.5),
            PublicReplyMove::Failed { .. }
        ));
    }
}
