//! The sweep's decisions and its fairness, without DynamoDB.

use super::*;
use chrono::TimeDelta;

fn settings() -> Settings {
    Settings {
        max_items: 100,
        concurrency: 4,
        expiry_margin: Duration::from_secs(600),
        redrive_after: Duration::from_secs(900),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

fn state(status: CommentStatus) -> DueState {
    DueState {
        status,
        reply_deadline: Some(now() + TimeDelta::days(6)),
        claimed_until: None,
        redrives: 0,
        public_reply: None,
    }
}

#[test]
fn a_due_public_reply_is_queued_again_a_dead_claim_marked_unconfirmed_and_a_late_one_given_up() {
    let public = |status: PublicReplyStatus| DueState {
        public_reply: Some(status),
        ..state(CommentStatus::Replied)
    };
    let redrive_at = now() + TimeDelta::minutes(15);
    for (status, maybe_posted) in [
        (PublicReplyStatus::Retry, false),
        (PublicReplyStatus::Queued, false),
        (PublicReplyStatus::Posting, true),
    ] {
        assert_eq!(
            decide_public(&public(status), now(), &settings()),
            Some(PublicReplyMove::Queue {
                redrive_at,
                maybe_posted
            }),
            "{status}"
        );
    }
    for status in [PublicReplyStatus::Posted, PublicReplyStatus::Failed] {
        assert_eq!(decide_public(&public(status), now(), &settings()), None);
    }
    assert_eq!(
        decide_public(&state(CommentStatus::Replied), now(), &settings()),
        None
    );
    let late = now() + TimeDelta::days(7);
    assert!(matches!(
        decide_public(&public(PublicReplyStatus::Retry), late, &settings()),
        Some(PublicReplyMove::Failed { .. })
    ));
}

fn moved(action: Action) -> (Transition, Transition, Moved) {
    match action {
        Action::Move {
            move_on,
            expire,
            kind,
        } => (*move_on, *expire, kind),
        Action::Leave => panic!("expected a move"),
    }
}

#[test]
fn a_due_retry_goes_back_to_pending_saying_why_and_is_due_again_for_a_redrive() {
    let (requeue, expire, kind) = moved(decide(&state(CommentStatus::Retry), now(), &settings()));
    assert_eq!(kind, Moved::Requeued);
    assert_eq!(
        requeue,
        Transition::requeue(StatusReason::RetryDue, now() + TimeDelta::minutes(15))
    );
    assert_eq!(
        expire,
        Transition::new(
            CommentStatus::Expired,
            Some(StatusReason::ReplyWindowClosed)
        )
    );
    let (requeue, _, _) = moved(decide(
        &state(CommentStatus::TokenInvalid),
        now(),
        &settings(),
    ));
    assert_eq!(requeue.reason, Some(StatusReason::TokenRecheck));
    assert!(!requeue.unconfirmed_send);
}

#[test]
fn a_stale_claim_may_have_sent_so_both_moves_mark_unconfirmed_send_and_a_live_one_is_left() {
    let mut stale = state(CommentStatus::Sending);
    stale.claimed_until = Some(now() - TimeDelta::seconds(1));
    let (requeue, expire, kind) = moved(decide(&stale, now(), &settings()));
    assert_eq!(kind, Moved::StaleClaim);
    assert_eq!(requeue.reason, Some(StatusReason::StaleClaim));
    assert_eq!(requeue.status, CommentStatus::Pending);
    assert!(requeue.unconfirmed_send && expire.unconfirmed_send);

    let mut live = state(CommentStatus::Sending);
    live.claimed_until = Some(now() + TimeDelta::seconds(30));
    assert_eq!(decide(&live, now(), &settings()), Action::Leave);
}

#[test]
fn a_forgotten_pending_comment_is_redriven_each_time_later() {
    let (first, _, kind) = moved(decide(&state(CommentStatus::Pending), now(), &settings()));
    assert_eq!(kind, Moved::Redriven);
    assert_eq!(first.status, CommentStatus::Pending);
    assert_eq!(first.reason, Some(StatusReason::Redriven));
    assert_eq!(first.redrives, Some(1));
    assert_eq!(first.due_at, Some(now() + TimeDelta::minutes(30)));
    let mut again = state(CommentStatus::Pending);
    again.redrives = 3;
    let (fourth, _, _) = moved(decide(&again, now(), &settings()));
    assert_eq!(fourth.redrives, Some(4));
    assert_eq!(fourth.due_at, Some(now() + TimeDelta::minutes(240)));
}

#[test]
fn final_comments_are_left_alone() {
    for status in [
        CommentStatus::Replied,
        CommentStatus::Failed,
        CommentStatus::Expired,
        CommentStatus::Skipped,
    ] {
        assert_eq!(decide(&state(status), now(), &settings()), Action::Leave);
    }
}

fn due(id: &str, account: &str, at: &str) -> DueComment {
    DueComment {
        comment_id: id.into(),
        due_at: at.into(),
        account_id: Some(account.into()),
        legacy: false,
    }
}

#[test]
fn a_run_takes_due_comments_one_account_after_another_so_no_backlog_starves_another_account() {
    let mut items: Vec<DueComment> = (0..50)
        .map(|n| {
            due(
                &format!("big-{n}"),
                "A",
                &format!("2026-01-01T00:00:{n:02}Z"),
            )
        })
        .collect();
    items.push(due("small-1", "B", "2026-01-01T00:01:00Z"));
    items.push(due("small-2", "B", "2026-01-01T00:02:00Z"));
    let order: Vec<String> = one_account_after_another(items)
        .into_iter()
        .map(|d| d.comment_id)
        .collect();
    assert_eq!(order[..4], ["big-0", "small-1", "big-1", "small-2"]);
    assert_eq!(order.len(), 52);
    assert_eq!(order[4], "big-2");
}
