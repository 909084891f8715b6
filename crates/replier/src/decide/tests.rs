//! The decision table, without DynamoDB: each row is what was read, and what the comment becomes.

use super::*;
use crate::graph::GraphError;
use crate::usage::Usage;
use chrono::TimeDelta;
use reply_core::ids::{AccountId, CommentId};
use reply_core::{CommentSource, REPLY_WINDOW};

const ACCOUNT: &str = "17841401906857599";

/// Meta's documented limits and windows (the deployed defaults).
fn policy() -> Policy {
    Policy::from(&ReplierConfig::default())
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
}

/// A comment made `age` before [`now`].
fn comment(age: TimeDelta) -> CommentRecord {
    let comment_time = now() - age;
    CommentRecord {
        comment_id: CommentId::new("18058455121735594").unwrap(),
        account_id: AccountId::new(ACCOUNT).unwrap(),
        commenter_id: None,
        commenter_username: Some("ana".into()),
        media_id: None,
        media_product_type: None,
        ad_id: None,
        original_media_id: None,
        source: CommentSource::Comment,
        text: None,
        parent_id: None,
        comment_time,
        reply_deadline: comment_time + REPLY_WINDOW,
        received_at: comment_time,
        status: CommentStatus::Pending,
        status_reason: None,
        due_shard: None,
        due_at: None,
        queue_turn: None,
        campaign_id: None,
        reply_variant: None,
        reply_text: None,
        public_reply_text: None,
        public_reply_status: None,
        expires_at: 0,
    }
}

fn fresh() -> CommentRecord {
    comment(TimeDelta::minutes(1))
}

fn target(token: &str) -> SendTarget {
    crate::tokens::ReplierSecrets::parse(Some(token), None)
        .ok()
        .and_then(|s| s.target_for(ACCOUNT))
        .unwrap()
}

fn claim(attempts: u32, unconfirmed_send: bool) -> Claim {
    Claim {
        claim_id: "c".into(),
        attempts,
        unconfirmed_send,
    }
}

fn before(
    account: &AccountState,
    target: Option<&SendTarget>,
    comment: &CommentRecord,
) -> BeforeClaim {
    let facts = Facts {
        comment,
        account,
        target,
        text: Ok("Hi ana".into()),
    };
    before_claim(facts, now(), &policy(), 0.0)
}

fn settled(step: BeforeClaim) -> Decision {
    match step {
        BeforeClaim::Settle(decision) => decision,
        BeforeClaim::Claim { text, .. } => {
            panic!("expected a settled comment, got a claim for {text:?}")
        }
    }
}

fn refused(code: u32, subcode: Option<u32>) -> SendResult {
    SendResult::Refused {
        status: 400,
        error: Some(GraphError {
            code,
            subcode,
            message: Some("(#x) refused".into()),
            fbtrace_id: Some("trace".into()),
            ..GraphError::default()
        }),
        usage: Usage::default(),
    }
}

fn sent(
    result: &SendResult,
    claim: &Claim,
    account: &AccountState,
    comment: &CommentRecord,
) -> Decision {
    let fingerprint = target("tok").fingerprint;
    let sent = Sent {
        result,
        claim,
        comment,
        account,
        fingerprint: &fingerprint,
    };
    after_send(&sent, now(), &policy(), 0.0)
}

fn expired(reason: StatusReason) -> RecordOutcome {
    RecordOutcome::Expired { reason }
}

#[test]
fn a_comment_within_the_expiry_margin_of_its_deadline_expires_without_any_read() {
    let old = comment(REPLY_WINDOW - TimeDelta::minutes(9));
    let decision = closed_window(&old, now(), &policy()).unwrap();
    assert_eq!(decision.transition.status, CommentStatus::Expired);
    assert_eq!(decision.outcome, expired(StatusReason::ReplyWindowClosed));
    assert!(
        closed_window(
            &comment(REPLY_WINDOW - TimeDelta::minutes(11)),
            now(),
            &policy()
        )
        .is_none()
    );
}

#[test]
fn a_paused_account_defers_the_comment_to_the_end_of_the_pause() {
    let until = now() + TimeDelta::minutes(5);
    let account = AccountState {
        paused_until: Some(until),
        ..AccountState::default()
    };
    let decision = settled(before(&account, Some(&target("tok")), &fresh()));
    assert_eq!(decision.transition.status, CommentStatus::Retry);
    assert_eq!(decision.transition.due_at, Some(until));
    assert_eq!(
        decision.outcome,
        RecordOutcome::Retry {
            reason: StatusReason::AccountPaused,
            next_attempt_at: until,
            paused_account: false,
        }
    );
    assert!(decision.before.is_empty() && decision.after.is_empty());
}

#[test]
fn a_pause_that_has_ended_does_not_hold_the_comment() {
    let account = AccountState {
        paused_until: Some(now() - TimeDelta::seconds(1)),
        ..AccountState::default()
    };
    assert!(matches!(
        before(&account, Some(&target("tok")), &fresh()),
        BeforeClaim::Claim { .. }
    ));
}

#[test]
fn with_no_time_left_for_a_retry_a_paused_comment_expires() {
    // Past the last retry time (deadline - margin - slack) but not yet inside the margin.
    let late = comment(REPLY_WINDOW - TimeDelta::minutes(11));
    let account = AccountState {
        paused_until: Some(now() + TimeDelta::minutes(5)),
        ..AccountState::default()
    };
    let decision = settled(before(&account, Some(&target("tok")), &late));
    assert_eq!(decision.outcome, expired(StatusReason::ReplyWindowClosed));
}

#[test]
fn without_a_token_the_comment_waits_for_one() {
    let decision = settled(before(&AccountState::default(), None, &fresh()));
    let at = now() + TimeDelta::minutes(5);
    assert_eq!(decision.transition.status, CommentStatus::TokenInvalid);
    assert_eq!(
        decision.transition.reason,
        Some(StatusReason::NoTokenConfigured)
    );
    assert_eq!(decision.transition.due_at, Some(at));
    assert_eq!(decision.transition.token_fingerprint, None);
    assert_eq!(
        decision.outcome,
        RecordOutcome::TokenInvalid {
            next_attempt_at: at
        }
    );
}

#[test]
fn the_token_meta_rejected_holds_the_comment_and_asks_for_a_reread() {
    let token = target("rejected");
    let account = AccountState {
        bad_token: Some(token.fingerprint.clone()),
        ..AccountState::default()
    };
    let decision = settled(before(&account, Some(&token), &fresh()));
    assert_eq!(decision.transition.reason, Some(StatusReason::TokenInvalid));
    assert_eq!(
        decision.transition.token_fingerprint.as_deref(),
        Some(token.fingerprint.as_str())
    );
    assert_eq!(decision.before, vec![Effect::RereadTokens]);
    // Another token than the rejected one goes ahead.
    assert!(matches!(
        before(&account, Some(&target("fixed")), &fresh()),
        BeforeClaim::Claim { .. }
    ));
}

#[test]
fn a_text_too_long_for_this_commenter_fails_without_a_call() {
    let account = AccountState::default();
    let token = target("tok");
    let facts = Facts {
        comment: &fresh(),
        account: &account,
        target: Some(&token),
        text: Err(TextTooLong(1001)),
    };
    let decision = settled(before_claim(facts, now(), &policy(), 0.0));
    assert_eq!(decision.transition.status, CommentStatus::Failed);
    assert_eq!(
        decision.outcome,
        RecordOutcome::Failed {
            reason: StatusReason::ReplyTextTooLong
        }
    );
    assert_eq!(decision.transition.errors, None);
}

#[test]
fn a_comment_with_a_good_token_and_text_is_claimed_with_that_text() {
    match before(&AccountState::default(), Some(&target("tok")), &fresh()) {
        BeforeClaim::Claim { text, target } => {
            assert_eq!(text, "Hi ana");
            assert_eq!(target.path_id, ACCOUNT);
        }
        BeforeClaim::Settle(d) => panic!("{d:?}"),
    }
}

#[test]
fn a_spent_budget_queues_the_comment_and_a_live_one_waits_for_a_call_that_frees_up_soon() {
    let c = fresh();
    let next = now() + TimeDelta::minutes(5);
    assert_eq!(
        after_budget(BudgetGrant::Granted, &c, now(), Duration::ZERO),
        AfterBudget::Send
    );
    assert_eq!(
        after_budget(
            BudgetGrant::Exhausted { next_window: next },
            &c,
            now(),
            Duration::ZERO
        ),
        AfterBudget::Queue { from: next }
    );
    let mut live = fresh();
    live.source = CommentSource::LiveComment;
    let soon = now() + TimeDelta::milliseconds(300);
    assert_eq!(
        after_budget(
            BudgetGrant::Exhausted { next_window: soon },
            &live,
            now(),
            Duration::ZERO
        ),
        AfterBudget::WaitUntil(soon)
    );
    // A Live comment that has waited its fill, or a call too far away, queues like any other.
    assert_eq!(
        after_budget(
            BudgetGrant::Exhausted { next_window: soon },
            &live,
            now(),
            LIVE_WAIT_MAX
        ),
        AfterBudget::Queue { from: soon }
    );
    assert_eq!(
        after_budget(
            BudgetGrant::Exhausted { next_window: next },
            &live,
            now(),
            Duration::ZERO
        ),
        AfterBudget::Queue { from: next }
    );
}

#[test]
fn a_comment_without_a_turn_queues_behind_an_accounts_queue_and_one_with_a_turn_takes_a_call() {
    let queued = AccountState {
        queue_tail_posts: Some(now() + TimeDelta::minutes(3)),
        ..AccountState::default()
    };
    assert_eq!(
        budget_first(&fresh(), &queued, now(), &policy()),
        BudgetFirst::Queue { from: now() }
    );
    let mut its_turn = fresh();
    its_turn.queue_turn = Some(now());
    assert_eq!(
        budget_first(&its_turn, &queued, now(), &policy()),
        BudgetFirst::Take
    );
    let drained = AccountState {
        queue_tail_posts: Some(now() - TimeDelta::seconds(1)),
        ..AccountState::default()
    };
    assert_eq!(
        budget_first(&fresh(), &drained, now(), &policy()),
        BudgetFirst::Take
    );
    let mut live = fresh();
    live.source = CommentSource::LiveComment;
    assert_eq!(
        budget_first(&live, &queued, now(), &policy()),
        BudgetFirst::Take,
        "the Live queue is separate"
    );
}

#[test]
fn a_deferred_comment_waits_for_its_turn_without_a_claim_or_expires_when_none_fits() {
    let turn = now() + TimeDelta::minutes(7);
    let d = deferred(turn, &fresh(), now(), &policy());
    assert_eq!(d.transition.status, CommentStatus::Retry);
    assert_eq!(d.transition.reason, Some(StatusReason::RateLimited));
    assert_eq!(d.transition.due_at, Some(turn));
    assert_eq!(d.transition.queue_turn, Some(turn));
    assert_eq!(
        d.outcome,
        RecordOutcome::Retry {
            reason: StatusReason::RateLimited,
            next_attempt_at: turn,
            paused_account: false,
        }
    );
    let late = comment(REPLY_WINDOW - TimeDelta::minutes(11));
    assert_eq!(
        deferred(turn, &late, now(), &policy()).outcome,
        expired(StatusReason::ReplyWindowClosed)
    );
}

#[test]
fn a_live_comment_counts_against_the_live_budget() {
    let mut live = fresh();
    live.source = CommentSource::LiveComment;
    assert_eq!(
        budget_for(&live, &policy()),
        (Bucket::Live, policy().live_budget)
    );
    assert_eq!(
        budget_for(&fresh(), &policy()),
        (Bucket::Posts, policy().posts_budget)
    );
}

#[test]
fn a_sent_reply_is_recorded_with_its_ids_and_clears_a_rejected_token() {
    let result = SendResult::Sent {
        recipient_id: Some("r1".into()),
        message_id: Some("m1".into()),
    };
    let d = sent(
        &result,
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(d.outcome, RecordOutcome::Replied { confirmed: true });
    assert_eq!(d.transition.status, CommentStatus::Replied);
    assert_eq!(d.transition.reason, None);
    assert_eq!(d.transition.errors, Some(ErrorFields::default()));
    assert_eq!(
        d.transition.reply,
        Some(ReplyFields {
            replied_at: now(),
            confirmed: true,
            message_id: Some("m1".into()),
            recipient_id: Some("r1".into()),
        })
    );
    assert!(d.after.is_empty());
    let old = target("old").fingerprint;
    let account = AccountState {
        bad_token: Some(old.clone()),
        ..AccountState::default()
    };
    let d = sent(&result, &claim(1, false), &account, &fresh());
    assert_eq!(d.after, vec![Effect::ClearBadToken(old)]);
}

#[test]
fn already_replied_after_an_ambiguous_attempt_is_a_reply_otherwise_a_failure() {
    let result = refused(100, Some(2_534_025));
    let d = sent(&result, &claim(2, true), &AccountState::default(), &fresh());
    assert_eq!(d.outcome, RecordOutcome::Replied { confirmed: false });
    assert_eq!(d.transition.reason, Some(StatusReason::ProbablySentEarlier));
    let errors = d.transition.errors.clone().unwrap_or_default();
    assert_eq!((errors.code, errors.subcode), (Some(100), Some(2_534_025)));
    assert_eq!(d.transition.reply.map(|r| r.confirmed), Some(false));

    let d = sent(
        &result,
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(
        d.outcome,
        RecordOutcome::Failed {
            reason: StatusReason::AlreadyRepliedOrIneligible
        }
    );
}

#[test]
fn a_permanent_refusal_fails_with_metas_details() {
    let d = sent(
        &refused(551, None),
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(d.transition.status, CommentStatus::Failed);
    assert_eq!(d.transition.reason, Some(StatusReason::PersonUnavailable));
    let errors = d.transition.errors.unwrap_or_default();
    assert_eq!(errors.http_status, Some(400));
    assert_eq!(errors.fbtrace_id.as_deref(), Some("trace"));
}

#[test]
fn meta_saying_the_window_closed_expires_the_comment() {
    let d = sent(
        &refused(10, Some(2_534_022)),
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(d.outcome, expired(StatusReason::MetaOutsideWindow));
    assert!(d.transition.errors.is_some());
}

#[test]
fn a_rejected_token_marks_it_bad_before_the_comment_waits() {
    let d = sent(
        &refused(190, Some(463)),
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    let fp = target("tok").fingerprint;
    assert_eq!(d.transition.status, CommentStatus::TokenInvalid);
    assert_eq!(d.transition.token_fingerprint.as_deref(), Some(fp.as_str()));
    assert_eq!(d.transition.due_at, Some(now() + TimeDelta::minutes(5)));
    assert_eq!(
        d.before,
        vec![Effect::MarkTokenBad(fp), Effect::RereadTokens]
    );
}

#[test]
fn throttling_pauses_the_account_and_retries_no_earlier_than_meta_says() {
    let mut result = refused(613, None);
    if let SendResult::Refused { error: Some(e), .. } = &mut result {
        e.regain_minutes = Some(7);
    }
    let d = sent(
        &result,
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    let regain = now() + TimeDelta::minutes(7);
    assert_eq!(
        d.before,
        vec![Effect::PauseAccount {
            until: regain,
            code: 613
        }]
    );
    assert_eq!(
        d.outcome,
        RecordOutcome::Retry {
            reason: StatusReason::MetaError(613),
            next_attempt_at: regain,
            paused_account: true,
        }
    );
}

#[test]
fn an_ambiguous_send_is_retried_and_marked_as_maybe_sent() {
    let result = SendResult::Ambiguous {
        reason: StatusReason::Timeout,
    };
    let d = sent(
        &result,
        &claim(3, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(d.transition.status, CommentStatus::Retry);
    assert!(d.transition.unconfirmed_send);
    assert_eq!(d.transition.due_at, Some(now() + TimeDelta::seconds(1)));
    // The same with no time left: expired, still marked, so nobody mistakes it for never sent.
    let late = comment(REPLY_WINDOW - TimeDelta::minutes(11));
    let d = sent(&result, &claim(3, false), &AccountState::default(), &late);
    assert_eq!(d.outcome, expired(StatusReason::ReplyWindowClosed));
    assert!(d.transition.unconfirmed_send);
}

#[test]
fn a_connection_that_never_opened_is_retried_without_the_maybe_sent_mark() {
    let result = SendResult::NotSent {
        reason: StatusReason::ConnectionError,
    };
    let d = sent(
        &result,
        &claim(1, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(d.transition.reason, Some(StatusReason::ConnectionError));
    assert!(!d.transition.unconfirmed_send);
}

#[test]
fn a_4xx_that_is_not_a_graph_error_is_retried_a_few_times_then_fails() {
    let unreadable = SendResult::Refused {
        status: 404,
        error: None,
        usage: Usage::default(),
    };
    for attempt in 1..UNREADABLE_4XX_ATTEMPTS {
        let d = sent(
            &unreadable,
            &claim(attempt, false),
            &AccountState::default(),
            &fresh(),
        );
        assert_eq!(
            d.transition.status,
            CommentStatus::Retry,
            "attempt {attempt}"
        );
    }
    let d = sent(
        &unreadable,
        &claim(UNREADABLE_4XX_ATTEMPTS, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(
        d.outcome,
        RecordOutcome::Failed {
            reason: StatusReason::Http(404)
        }
    );
    assert_eq!(d.transition.errors.and_then(|e| e.http_status), Some(404));
    // A 5xx is a passing trouble and keeps being retried.
    let server = SendResult::Refused {
        status: 503,
        error: None,
        usage: Usage::default(),
    };
    let d = sent(
        &server,
        &claim(UNREADABLE_4XX_ATTEMPTS, false),
        &AccountState::default(),
        &fresh(),
    );
    assert_eq!(d.transition.status, CommentStatus::Retry);
}
