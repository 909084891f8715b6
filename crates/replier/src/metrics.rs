//! What one invocation did, counted and written as one EMF line (`reply_core::metrics::emit_counts`). The
//! dashboard and alarms read these names; `TokenErrors` is the one to page on.

use crate::outcome::RecordOutcome;
use reply_core::lifecycle::{PublicReplyStatus, StatusReason};
use reply_core::metrics::emit_counts;

pub const FUNCTION: &str = "replier";

/// Counts of one stream batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub replies_sent: u64,
    /// Replies recorded as sent because Meta refused a repeat after an ambiguous attempt.
    pub replies_unconfirmed: u64,
    pub replies_failed: u64,
    pub failed_person_unavailable: u64,
    pub failed_messaging_disabled: u64,
    pub failed_already_replied: u64,
    pub failed_text_too_long: u64,
    /// Meta kept answering a 4xx without a Graph API error body (a wrong host or proxy, most likely).
    pub failed_unreadable_answer: u64,
    pub failed_other: u64,
    pub replies_expired: u64,
    pub replies_retried: u64,
    pub rate_limited: u64,
    pub accounts_paused: u64,
    pub duplicates_skipped: u64,
    pub token_errors: u64,
    pub claims_lost: u64,
    pub records_ignored: u64,
    pub record_errors: u64,
    /// Comments no campaign answers (`no_matching_campaign`): no call, no budget spent.
    pub skipped_no_campaign: u64,
    /// Comments whose campaign was paused or deleted before their reply went out.
    pub skipped_campaign_paused: u64,
    /// Public replies published, to be tried again, and given up on (refused for good or too late).
    pub public_replies_posted: u64,
    pub public_replies_retried: u64,
    pub public_replies_failed: u64,
}

impl BatchCounts {
    pub fn add(&mut self, outcome: &RecordOutcome) {
        match outcome {
            RecordOutcome::Ignored(_) => self.records_ignored += 1,
            RecordOutcome::DuplicateSkipped => self.duplicates_skipped += 1,
            RecordOutcome::ClaimLost => self.claims_lost += 1,
            RecordOutcome::Replied { confirmed } => {
                self.replies_sent += 1;
                if !confirmed {
                    self.replies_unconfirmed += 1;
                }
            }
            RecordOutcome::RepliedWithPublic { confirmed, public } => {
                self.add(&RecordOutcome::Replied {
                    confirmed: *confirmed,
                });
                self.add_public(*public);
            }
            RecordOutcome::PublicReply { public } => self.add_public(*public),
            RecordOutcome::Failed { reason } => {
                self.replies_failed += 1;
                match reason {
                    StatusReason::PersonUnavailable => self.failed_person_unavailable += 1,
                    StatusReason::MessagingDisabled => self.failed_messaging_disabled += 1,
                    StatusReason::AlreadyRepliedOrIneligible => self.failed_already_replied += 1,
                    StatusReason::ReplyTextTooLong => self.failed_text_too_long += 1,
                    StatusReason::Http(_) => self.failed_unreadable_answer += 1,
                    _ => self.failed_other += 1,
                }
            }
            RecordOutcome::Expired { .. } => self.replies_expired += 1,
            RecordOutcome::Retry {
                reason,
                paused_account,
                ..
            } => {
                self.replies_retried += 1;
                if *reason == StatusReason::RateLimited {
                    self.rate_limited += 1;
                }
                if *paused_account {
                    self.accounts_paused += 1;
                }
            }
            RecordOutcome::TokenInvalid { .. } => self.token_errors += 1,
            RecordOutcome::Skipped { reason } => match reason {
                StatusReason::CampaignPaused => self.skipped_campaign_paused += 1,
                _ => self.skipped_no_campaign += 1,
            },
        }
    }

    fn add_public(&mut self, public: PublicReplyStatus) {
        match public {
            PublicReplyStatus::Posted => self.public_replies_posted += 1,
            PublicReplyStatus::Failed => self.public_replies_failed += 1,
            PublicReplyStatus::Retry | PublicReplyStatus::Queued | PublicReplyStatus::Posting => {
                self.public_replies_retried += 1
            }
        }
    }

    pub fn emit(&self) {
        emit_counts(FUNCTION, &[], &self.metrics());
    }

    /// The counts as the EMF metrics the dashboard and alarms read.
    pub fn metrics(&self) -> [(&'static str, u64); 23] {
        [
            ("RepliesSent", self.replies_sent),
            ("RepliesUnconfirmed", self.replies_unconfirmed),
            ("RepliesFailed", self.replies_failed),
            ("FailedPersonUnavailable", self.failed_person_unavailable),
            ("FailedMessagingDisabled", self.failed_messaging_disabled),
            ("FailedAlreadyReplied", self.failed_already_replied),
            ("FailedTextTooLong", self.failed_text_too_long),
            ("FailedUnreadableAnswer", self.failed_unreadable_answer),
            ("FailedOther", self.failed_other),
            ("RepliesExpired", self.replies_expired),
            ("RepliesRetried", self.replies_retried),
            ("RateLimited", self.rate_limited),
            ("AccountsPaused", self.accounts_paused),
            ("DuplicatesSkipped", self.duplicates_skipped),
            ("TokenErrors", self.token_errors),
            ("ClaimsLost", self.claims_lost),
            ("RecordsIgnored", self.records_ignored),
            ("RecordErrors", self.record_errors),
            ("SkippedNoCampaign", self.skipped_no_campaign),
            ("SkippedCampaignPaused", self.skipped_campaign_paused),
            ("PublicRepliesPosted", self.public_replies_posted),
            ("PublicRepliesRetried", self.public_replies_retried),
            ("PublicRepliesFailed", self.public_replies_failed),
        ]
    }
}

/// Every metric name the replier emits (stream batches and sweeps).
pub fn metric_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BatchCounts::default()
        .metrics()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for (name, _) in crate::sweep::SweepSummary::default().metrics() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::IgnoreReason;

    #[test]
    fn outcomes_land_in_their_counters() {
        let mut c = BatchCounts::default();
        for o in [
            RecordOutcome::Replied { confirmed: true },
            RecordOutcome::Replied { confirmed: false },
            RecordOutcome::Failed {
                reason: "person_unavailable".into(),
            },
            RecordOutcome::Failed {
                reason: "meta_error_100".into(),
            },
            RecordOutcome::Retry {
                reason: "rate_limited".into(),
                next_attempt_at: chrono::DateTime::UNIX_EPOCH,
                paused_account: false,
            },
            RecordOutcome::Ignored(IgnoreReason::NotPending),
            RecordOutcome::DuplicateSkipped,
        ] {
            c.add(&o);
        }
        assert_eq!((c.replies_sent, c.replies_unconfirmed), (2, 1));
        assert_eq!(
            (
                c.replies_failed,
                c.failed_person_unavailable,
                c.failed_other
            ),
            (2, 1, 1)
        );
        assert_eq!((c.replies_retried, c.rate_limited), (1, 1));
        assert_eq!((c.records_ignored, c.duplicates_skipped), (1, 1));
    }
}
