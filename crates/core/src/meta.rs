//! What Meta's Graph API error codes mean for a private reply (PLATFORM.md section 6; the repository's own
//! summary with sources is `docs/meta-platform.md`). Keyed off `code` and `error_subcode`, never the HTTP
//! status, except for codes Meta does not document for this endpoint. Pure, and the one copy of this table:
//! the replier classifies its answers with it and `replyctl retry` decides what counts as transient with it.

use crate::lifecycle::StatusReason;

/// Why an account's sends are paused for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseKind {
    /// `613`, `80002`: the account's call budget at Meta is used up.
    Throttled,
    /// `368`: the account is temporarily blocked from this action.
    Blocked,
}

/// The meaning of one Graph API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later; some also pause the whole account.
    Transient { pause: Option<PauseKind> },
    /// `190`: the token is invalid or expired.
    TokenInvalid,
    /// `10/2534022`, `10/2018278`: outside the reply window (for Live: the broadcast ended).
    OutsideWindow,
    /// `100/2534025`: the comment cannot get a private reply (already has one, too old or ineligible).
    NotReplyable,
    /// Refused for good; `reason` is what `status_reason` says.
    Permanent { reason: StatusReason },
}

/// Meta's documented transient codes, for conditions that must list them (a DynamoDB `IN (...)`).
pub const TRANSIENT_CODES: &[u32] = &[1, 2, 4, 17, 32, 341, 368, 613, 80002];

/// The class of Meta's error `code`/`subcode`; `meta_says_transient` is the error's `is_transient` flag and
/// `http_status` the response's status, both consulted only for undocumented codes.
pub fn classify_error(
    code: u32,
    subcode: Option<u32>,
    meta_says_transient: Option<bool>,
    http_status: u16,
) -> ErrorClass {
    use ErrorClass::*;
    let permanent = |reason: StatusReason| Permanent { reason };
    match (code, subcode) {
        (1 | 2 | 4 | 17 | 32 | 341, _) => Transient { pause: None },
        (613 | 80002, _) => Transient {
            pause: Some(PauseKind::Throttled),
        },
        (368, _) => Transient {
            pause: Some(PauseKind::Blocked),
        },
        (190, _) => TokenInvalid,
        (10, Some(2_534_022 | 2_018_278)) => OutsideWindow,
        (100, Some(2_534_025)) => NotReplyable,
        (551, _) | (200, Some(1_545_041)) | (10, Some(2_018_108)) => {
            permanent(StatusReason::PersonUnavailable)
        }
        (100, Some(2_534_014)) => permanent(StatusReason::RecipientNotFound),
        (100, Some(2_534_015)) => permanent(StatusReason::RecipientCannotReceive),
        (200, Some(2_534_041)) => permanent(StatusReason::MessagingDisabled),
        (10 | 100 | 200..=299, _) => permanent(StatusReason::MetaError(code)),
        // Codes Meta does not document for this endpoint: trust its own flag, then the HTTP status.
        _ if meta_says_transient == Some(true) || http_status >= 500 => Transient { pause: None },
        (code, _) => permanent(StatusReason::MetaError(code)),
    }
}

/// Whether Meta documents `code` as "try again later", whatever its subcode.
pub fn is_transient_code(code: u32) -> bool {
    TRANSIENT_CODES.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The whole table is tested through the replier's classifier (`replier::classify`), with Meta's answers.

    #[test]
    fn the_transient_code_list_is_exactly_the_codes_the_table_retries() {
        for code in 0..100_000 {
            let retried = matches!(
                classify_error(code, None, None, 400),
                ErrorClass::Transient { .. }
            );
            assert_eq!(is_transient_code(code), retried, "code {code}");
        }
    }

    #[test]
    fn undocumented_codes_fall_back_to_metas_flag_and_the_http_status() {
        let permanent = ErrorClass::Permanent {
            reason: StatusReason::MetaError(9007),
        };
        assert_eq!(classify_error(9007, None, None, 400), permanent);
        assert_eq!(
            classify_error(9007, None, Some(true), 400),
            ErrorClass::Transient { pause: None }
        );
        assert_eq!(
            classify_error(9007, None, None, 502),
            ErrorClass::Transient { pause: None }
        );
    }
}
