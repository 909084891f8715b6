//! Why a comment has its status: the `status_reason` word on the item. One enum for every crate that writes
//! or reads a comment (the webhook, the replier, the sweep, the CLI), so a reason is spelled once and knows
//! whether it describes a passing trouble (worth another attempt) or a final answer.

use crate::meta;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident => $word:literal, transient: $transient:literal;)*) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum StatusReason {
            $($(#[$doc])* $variant,)*
            /// `meta_error_<code>`: Meta refused with this Graph API error code.
            MetaError(u32),
            /// `http_<status>`: Meta answered this HTTP status without a Graph API error body.
            Http(u16),
            /// A word this version does not know (written by another version, or by hand).
            Other(String),
        }

        impl StatusReason {
            /// Every reason that is not parameterised, for lists and tests.
            pub const FIXED: &'static [StatusReason] = &[$(Self::$variant,)*];

            fn fixed_word(&self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some($word),)*
                    _ => None,
                }
            }

            fn fixed_transient(&self) -> Option<bool> {
                match self {
                    $(Self::$variant => Some($transient),)*
                    _ => None,
                }
            }

            fn from_fixed_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    /// `SKIPPED`: the account's own comment (replying to it would start a loop).
    OwnComment => "own_comment", transient: false;
    /// `SKIPPED`: a "Test" delivery from Meta's app dashboard (a fixed sample, not a real comment), kept a day
    /// under a key of its own so that each test shows up.
    DashboardTest => "dashboard_test", transient: false;
    /// `SKIPPED`: no active campaign of the account answers the comment (or the account has no campaign and
    /// no `REPLY_TEXT` is set); a backfill may still answer it while its window is open.
    NoMatchingCampaign => "no_matching_campaign", transient: false;
    /// `SKIPPED`: the campaign decided for the comment was paused or deleted before its reply went out.
    CampaignPaused => "campaign_paused", transient: false;
    /// `PENDING`: an operator's backfill gave the comment a campaign made after it came (`replyctl campaign
    /// backfill`).
    Backfilled => "backfilled", transient: false;
    /// `EXPIRED`: the 7-day window (or the Live broadcast) closed, by our own clock.
    ReplyWindowClosed => "reply_window_closed", transient: false;
    /// `EXPIRED`: Meta said the window is closed (`10/2534022`, `10/2018278`).
    MetaOutsideWindow => "meta_outside_window", transient: false;
    /// `RETRY`: the account is paused after Meta throttled or blocked it.
    AccountPaused => "account_paused", transient: true;
    /// `RETRY`: the account's reply budget for the window is spent.
    RateLimited => "rate_limited", transient: true;
    /// `TOKEN_INVALID`: Meta rejected the account's token (`190`).
    TokenInvalid => "token_invalid", transient: true;
    /// `TOKEN_INVALID`: no token is configured for the account.
    NoTokenConfigured => "no_token_configured", transient: true;
    /// `FAILED`: the reply would exceed Meta's 1,000 bytes once the username is filled in.
    ReplyTextTooLong => "reply_text_too_long", transient: false;
    /// `RETRY`: DynamoDB failed between the claim and the send.
    InfrastructureError => "infrastructure_error", transient: true;
    /// `REPLIED` with `confirmed=false`: Meta refused a repeat (`100/2534025`) after an ambiguous attempt.
    ProbablySentEarlier => "probably_sent_earlier", transient: false;
    /// `FAILED`: the person cannot be messaged now (`551`, `200/1545041`, `10/2018108`).
    PersonUnavailable => "person_unavailable", transient: false;
    /// `FAILED`: `100/2534014`.
    RecipientNotFound => "recipient_not_found", transient: false;
    /// `FAILED`: `100/2534015`.
    RecipientCannotReceive => "recipient_cannot_receive", transient: false;
    /// `FAILED`: the person turned messages off (`200/2534041`).
    MessagingDisabled => "messaging_disabled", transient: false;
    /// `FAILED`: Meta refused a private reply (`100/2534025`) and no earlier attempt of ours may have gone out.
    AlreadyRepliedOrIneligible => "already_replied_or_ineligible", transient: false;
    /// `RETRY`: no connection to Meta could be made; nothing was sent.
    ConnectionError => "connection_error", transient: true;
    /// `RETRY`: the request could not be built.
    InvalidRequest => "invalid_request", transient: false;
    /// `RETRY`: Meta did not answer in time; the reply may have gone out.
    Timeout => "timeout", transient: true;
    /// `RETRY`: the connection broke after the request went out; the reply may have gone out.
    ConnectionDropped => "connection_dropped", transient: true;
    /// `RETRY`: Meta accepted but its answer could not be read; the reply probably went out.
    ResponseBodyLost => "response_body_lost", transient: true;
    /// `PENDING`: the sweep took over the claim of an invocation that died or timed out.
    StaleClaim => "stale_claim", transient: false;
    /// `PENDING`: the sweep put a `TOKEN_INVALID` comment back to see whether its token was fixed.
    TokenRecheck => "token_recheck", transient: false;
    /// `PENDING`: the sweep put a `RETRY` comment back when its time came.
    RetryDue => "retry_due", transient: false;
    /// `PENDING`: the sweep re-drove a comment that stayed `PENDING` past its `due_at` (its stream record was
    /// given up on).
    Redriven => "redriven", transient: false;
    /// `PENDING`: an operator re-drove the comment (`replyctl retry`).
    ManualRetry => "manual_retry", transient: false;
}

impl StatusReason {
    /// The word stored in `status_reason`.
    pub fn word(&self) -> Cow<'static, str> {
        match self {
            Self::MetaError(code) => Cow::Owned(format!("meta_error_{code}")),
            Self::Http(status) => Cow::Owned(format!("http_{status}")),
            Self::Other(word) => Cow::Owned(word.clone()),
            fixed => Cow::Borrowed(fixed.fixed_word().unwrap_or_default()),
        }
    }

    /// Reads a stored word; never fails (unknown words are [`StatusReason::Other`]).
    pub fn parse(word: &str) -> Self {
        if let Some(fixed) = Self::from_fixed_word(word) {
            return fixed;
        }
        let number = |prefix: &str| word.strip_prefix(prefix).filter(|n| is_plain_number(n));
        if let Some(code) = number("meta_error_").and_then(|n| n.parse().ok()) {
            return Self::MetaError(code);
        }
        if let Some(status) = number("http_").and_then(|n| n.parse().ok()) {
            return Self::Http(status);
        }
        Self::Other(word.to_owned())
    }

    /// The trouble behind this reason passes by itself, so another attempt can succeed: the account's budget or
    /// pause, a token that can be fixed, DynamoDB, the network, a 5xx, or one of Meta's transient error codes.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::MetaError(code) => meta::is_transient_code(*code),
            Self::Http(status) => *status >= 500,
            Self::Other(_) => false,
            fixed => fixed.fixed_transient().unwrap_or(false),
        }
    }
}

fn is_plain_number(text: &str) -> bool {
    !text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit())
}

impl From<&str> for StatusReason {
    fn from(word: &str) -> Self {
        Self::parse(word)
    }
}

impl fmt::Display for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.word())
    }
}

impl Serialize for StatusReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.word())
    }
}

impl<'de> Deserialize<'de> for StatusReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = <Cow<'de, str>>::deserialize(d)?;
        Ok(Self::parse(&word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_word() {
        let mut all: Vec<StatusReason> = StatusReason::FIXED.to_vec();
        all.extend([StatusReason::MetaError(613), StatusReason::Http(503)]);
        for reason in all {
            assert_eq!(StatusReason::parse(&reason.word()), reason, "{reason}");
            let json = serde_json::to_string(&reason).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", reason.word()));
        }
        assert_eq!(StatusReason::MetaError(80002).word(), "meta_error_80002");
        assert_eq!(StatusReason::Http(502).word(), "http_502");
    }

    #[test]
    fn unknown_words_are_kept_as_they_are() {
        for word in [
            "something_new",
            "meta_error_",
            "meta_error_x1",
            "http_-1",
            "",
        ] {
            assert_eq!(
                StatusReason::parse(word),
                StatusReason::Other(word.to_owned())
            );
            assert_eq!(StatusReason::parse(word).word(), word);
        }
    }

    #[test]
    fn passing_troubles_are_transient_and_final_answers_are_not() {
        use StatusReason::*;
        for reason in [
            InfrastructureError,
            RateLimited,
            AccountPaused,
            TokenInvalid,
            NoTokenConfigured,
            Timeout,
            ConnectionError,
            MetaError(2),
            MetaError(613),
            MetaError(80002),
            MetaError(368),
            Http(500),
            Http(503),
        ] {
            assert!(reason.is_transient(), "{reason}");
        }
        for reason in [
            PersonUnavailable,
            MessagingDisabled,
            AlreadyRepliedOrIneligible,
            ReplyTextTooLong,
            ReplyWindowClosed,
            MetaError(100),
            MetaError(190),
            Http(400),
            Other("x".into()),
        ] {
            assert!(!reason.is_transient(), "{reason}");
        }
    }
}
