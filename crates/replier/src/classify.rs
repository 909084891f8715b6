//! What an answer from Meta means for the comment: the error code table of PLATFORM.md section 6
//! ([`reply_core::meta`]) applied to one send's result, with what we know of earlier attempts. Pure, so the
//! whole table is tested without a network.

use crate::graph::{GraphError, SendResult};
use reply_core::lifecycle::StatusReason;
pub use reply_core::meta::{ErrorClass, PauseKind};
use std::time::Duration;

/// The class of one Graph API error (the code table is [`reply_core::meta`]'s).
pub fn classify_error(error: &GraphError, http_status: u16) -> ErrorClass {
    reply_core::meta::classify_error(error.code, error.subcode, error.is_transient, http_status)
}

/// What to record for the comment after one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// `confirmed: false` when Meta refused with `2534025` after an earlier attempt that may have gone out.
    Replied {
        recipient_id: Option<String>,
        message_id: Option<String>,
        confirmed: bool,
    },
    Failed {
        reason: StatusReason,
    },
    /// Meta says the window is closed.
    Expired,
    TokenInvalid,
    Retry {
        reason: StatusReason,
        pause: Option<PauseKind>,
        /// The request may have been delivered.
        ambiguous: bool,
        /// Meta's `estimated_time_to_regain_access`, from the error or the usage headers.
        regain_after: Option<Duration>,
    },
}

/// `unconfirmed_send`: an earlier attempt of this comment may have been delivered.
pub fn classify(result: &SendResult, unconfirmed_send: bool) -> Disposition {
    match result {
        SendResult::Sent {
            recipient_id,
            message_id,
        } => Disposition::Replied {
            recipient_id: recipient_id.clone(),
            message_id: message_id.clone(),
            confirmed: true,
        },
        SendResult::NotSent { reason } => retry(reason.clone(), None, false, None),
        SendResult::Ambiguous { reason } => retry(reason.clone(), None, true, None),
        SendResult::Refused {
            status,
            error: None,
            usage,
        } => retry(
            StatusReason::Http(*status),
            None,
            processed_maybe(*status, None),
            usage.regain_after(),
        ),
        SendResult::Refused {
            status,
            error: Some(error),
            usage,
        } => match classify_error(error, *status) {
            ErrorClass::Transient { pause } => {
                let from_error = error
                    .regain_minutes
                    .filter(|m| *m > 0)
                    .map(|m| Duration::from_secs(u64::from(m) * 60));
                let regain = from_error.max(usage.regain_after());
                let ambiguous = processed_maybe(*status, Some(error.code));
                retry(
                    StatusReason::MetaError(error.code),
                    pause,
                    ambiguous,
                    regain,
                )
            }
            ErrorClass::TokenInvalid => Disposition::TokenInvalid,
            ErrorClass::OutsideWindow => Disposition::Expired,
            ErrorClass::NotReplyable if unconfirmed_send => Disposition::Replied {
                recipient_id: None,
                message_id: None,
                confirmed: false,
            },
            ErrorClass::NotReplyable => Disposition::Failed {
                reason: StatusReason::AlreadyRepliedOrIneligible,
            },
            ErrorClass::Permanent { reason } => Disposition::Failed { reason },
        },
    }
}

/// Whether Meta may have processed the reply although it answered with an error: a 5xx, or the generic
/// "unknown"/"service" codes `1` and `2`, can come after the message was sent. Such an attempt is ambiguous,
/// like a lost answer, so a later "already replied" is read as the reply it probably was.
fn processed_maybe(http_status: u16, code: Option<u32>) -> bool {
    http_status >= 500 || matches!(code, Some(1 | 2))
}

fn retry(
    reason: StatusReason,
    pause: Option<PauseKind>,
    ambiguous: bool,
    regain_after: Option<Duration>,
) -> Disposition {
    Disposition::Retry {
        reason,
        pause,
        ambiguous,
        regain_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;

    fn error(code: u32, subcode: Option<u32>) -> GraphError {
        GraphError {
            code,
            subcode,
            ..GraphError::default()
        }
    }

    fn refused(code: u32, subcode: Option<u32>) -> SendResult {
        SendResult::Refused {
            status: 400,
            error: Some(error(code, subcode)),
            usage: Usage::default(),
        }
    }

    fn retry_reason(d: &Disposition) -> Option<(StatusReason, Option<PauseKind>, bool)> {
        match d {
            Disposition::Retry {
                reason,
                pause,
                ambiguous,
                ..
            } => Some((reason.clone(), *pause, *ambiguous)),
            _ => None,
        }
    }

    #[test]
    fn every_code_of_platform_section_6_gets_its_documented_outcome() {
        use ErrorClass::*;
        let permanent = |r: &str| Permanent { reason: r.into() };
        let table: &[(u32, Option<u32>, ErrorClass)] = &[
            (1, None, Transient { pause: None }),
            (2, None, Transient { pause: None }),
            (4, None, Transient { pause: None }),
            (17, None, Transient { pause: None }),
            (32, None, Transient { pause: None }),
            (341, None, Transient { pause: None }),
            (
                613,
                None,
                Transient {
                    pause: Some(PauseKind::Throttled),
                },
            ),
            (
                613,
                Some(2_534_040),
                Transient {
                    pause: Some(PauseKind::Throttled),
                },
            ),
            (
                80002,
                None,
                Transient {
                    pause: Some(PauseKind::Throttled),
                },
            ),
            (
                368,
                None,
                Transient {
                    pause: Some(PauseKind::Blocked),
                },
            ),
            (190, None, TokenInvalid),
            (190, Some(458), TokenInvalid),
            (190, Some(459), TokenInvalid),
            (190, Some(460), TokenInvalid),
            (190, Some(463), TokenInvalid),
            (190, Some(464), TokenInvalid),
            (190, Some(467), TokenInvalid),
            (190, Some(492), TokenInvalid),
            (10, Some(2_534_022), OutsideWindow),
            (10, Some(2_018_278), OutsideWindow),
            (100, Some(2_534_025), NotReplyable),
            (551, None, permanent("person_unavailable")),
            (551, Some(1_545_041), permanent("person_unavailable")),
            (200, Some(1_545_041), permanent("person_unavailable")),
            (10, Some(2_018_108), permanent("person_unavailable")),
            (100, Some(2_534_014), permanent("recipient_not_found")),
            (100, Some(2_534_015), permanent("recipient_cannot_receive")),
            (200, Some(2_534_041), permanent("messaging_disabled")),
            (10, None, permanent("meta_error_10")),
            (10, Some(1), permanent("meta_error_10")),
            (100, None, permanent("meta_error_100")),
            (100, Some(33), permanent("meta_error_100")),
            (200, None, permanent("meta_error_200")),
            (230, None, permanent("meta_error_230")),
            (299, Some(7), permanent("meta_error_299")),
        ];
        for (code, subcode, expected) in table {
            assert_eq!(
                &classify_error(&error(*code, *subcode), 400),
                expected,
                "{code}/{subcode:?}"
            );
        }
    }

    #[test]
    fn the_http_status_does_not_change_a_documented_code() {
        assert_eq!(
            classify_error(&error(190, Some(463)), 500),
            ErrorClass::TokenInvalid
        );
        assert_eq!(
            classify_error(&error(613, None), 200),
            ErrorClass::Transient {
                pause: Some(PauseKind::Throttled)
            }
        );
        assert_eq!(
            classify_error(&error(100, Some(2_534_025)), 503),
            ErrorClass::NotReplyable
        );
    }

    #[test]
    fn undocumented_codes_retry_only_when_meta_says_transient_or_the_server_failed() {
        let mut e = error(9007, None);
        assert_eq!(
            classify_error(&e, 400),
            ErrorClass::Permanent {
                reason: "meta_error_9007".into()
            }
        );
        assert_eq!(
            classify_error(&e, 502),
            ErrorClass::Transient { pause: None }
        );
        e.is_transient = Some(true);
        assert_eq!(
            classify_error(&e, 400),
            ErrorClass::Transient { pause: None }
        );
    }

    #[test]
    fn server_errors_timeouts_and_connection_errors_are_retried() {
        let no_body = SendResult::Refused {
            status: 503,
            error: None,
            usage: Usage::default(),
        };
        assert_eq!(
            retry_reason(&classify(&no_body, false)),
            Some(("http_503".into(), None, true))
        );
        let timeout = SendResult::Ambiguous {
            reason: StatusReason::Timeout,
        };
        assert_eq!(
            retry_reason(&classify(&timeout, false)),
            Some(("timeout".into(), None, true))
        );
        let refused = SendResult::NotSent {
            reason: StatusReason::ConnectionError,
        };
        assert_eq!(
            retry_reason(&classify(&refused, false)),
            Some(("connection_error".into(), None, false))
        );
        assert_eq!(
            retry_reason(&classify(&refused_500_code_2(), false)),
            Some(("meta_error_2".into(), None, true))
        );
    }

    fn refused_500_code_2() -> SendResult {
        SendResult::Refused {
            status: 500,
            error: Some(error(2, None)),
            usage: Usage::default(),
        }
    }

    #[test]
    fn a_refusal_meta_may_have_processed_is_ambiguous_and_a_plain_4xx_is_not() {
        let ambiguous = |result: &SendResult| match classify(result, false) {
            Disposition::Retry { ambiguous, .. } => ambiguous,
            other => panic!("{other:?}"),
        };
        let refused_with = |status: u16, code: u32| SendResult::Refused {
            status,
            error: Some(error(code, None)),
            usage: Usage::default(),
        };
        assert!(ambiguous(&refused_with(400, 1)));
        assert!(ambiguous(&refused_with(400, 2)));
        assert!(ambiguous(&refused_with(502, 4)));
        assert!(!ambiguous(&refused_with(400, 4)));
        assert!(!ambiguous(&refused_with(400, 613)));
        let no_body = |status| SendResult::Refused {
            status,
            error: None,
            usage: Usage::default(),
        };
        assert!(ambiguous(&no_body(500)));
        assert!(!ambiguous(&no_body(404)));
    }

    #[test]
    fn already_replied_is_a_failure_unless_an_earlier_send_may_have_gone_out() {
        assert_eq!(
            classify(&refused(100, Some(2_534_025)), false),
            Disposition::Failed {
                reason: "already_replied_or_ineligible".into()
            }
        );
        assert_eq!(
            classify(&refused(100, Some(2_534_025)), true),
            Disposition::Replied {
                recipient_id: None,
                message_id: None,
                confirmed: false
            }
        );
        // Any other permanent error stays a failure, whatever happened before.
        assert!(matches!(
            classify(&refused(551, Some(1_545_041)), true),
            Disposition::Failed { .. }
        ));
    }

    #[test]
    fn throttling_carries_the_longest_regain_time_from_the_error_or_the_headers() {
        let mut e = error(80002, None);
        e.regain_minutes = Some(2);
        let result = SendResult::Refused {
            status: 400,
            error: Some(e),
            usage: Usage {
                max_percent: Some(100),
                regain_minutes: Some(5),
            },
        };
        match classify(&result, false) {
            Disposition::Retry {
                regain_after,
                pause,
                ..
            } => {
                assert_eq!(regain_after, Some(Duration::from_secs(300)));
                assert_eq!(pause, Some(PauseKind::Throttled));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outside_the_window_expires_and_190_is_a_token_error() {
        assert_eq!(
            classify(&refused(10, Some(2_534_022)), false),
            Disposition::Expired
        );
        assert_eq!(
            classify(&refused(190, Some(460)), true),
            Disposition::TokenInvalid
        );
    }
}
