//! Nothing is lost: a `PENDING` comment whose stream record nobody acted on (given up on, dead-lettered, a
//! replier that could not start) is re-driven by the sweep through the `due` index, with growing waits, until
//! it is replied or its window closes; and one account's backlog never holds up another's.

use crate::harness::*;
use chrono::Duration as TimeDelta;
use replier::{HandlerError, LambdaFunction, Replier, ReplierParts};
use reply_core::comment::CommentStatus;
use reply_core::ids::AccountId;

const OTHER_ACCOUNT: &str = "17841400000000999";

fn redrive_after(app: &TestApp) -> TimeDelta {
    TimeDelta::from_std(app.config.redrive_after).unwrap()
}

#[tokio::test]
async fn a_pending_comment_nobody_took_is_redriven_with_growing_waits_and_replied_once() {
    let app = spawn_app().await;
    app.new_comment("c-forgotten").await;
    let stored = app.stored("c-forgotten").await;
    assert_eq!(stored.due_shard.as_deref().map(str::len), Some(2));
    let due = stored.due();

    // Not due yet: the stream may still deliver it.
    app.advance(TimeDelta::minutes(10));
    assert_eq!(app.sweep().await.due, 0);

    app.advance_past(due);
    let summary = app.sweep().await;
    assert_eq!((summary.due, summary.redriven), (1, 1), "{summary:?}");
    let first = app.stored("c-forgotten").await;
    assert_eq!(first.status, CommentStatus::Pending);
    assert_eq!(first.status_reason.as_deref(), Some("redriven"));
    assert_eq!(first.redrives, Some(1));
    assert_eq!(first.due(), app.now() + redrive_after(&app) * 2);
    assert!(app.sim.sim.log().is_empty(), "the sweep never sends");

    // Still nobody took it: the next re-drive waits twice as long again.
    app.advance(TimeDelta::minutes(29));
    assert_eq!(app.sweep().await.redriven, 0);
    app.advance_past(first.due());
    assert_eq!(app.sweep().await.redriven, 1);
    let second = app.stored("c-forgotten").await;
    assert_eq!(second.redrives, Some(2));
    assert_eq!(second.due(), app.now() + redrive_after(&app) * 4);

    // The re-drive's stream record arrives: one reply, and the comment leaves the index.
    app.deliver(&["c-forgotten"]).await;
    let replied = app.stored("c-forgotten").await;
    assert_eq!(replied.status, CommentStatus::Replied);
    assert_eq!(replied.attempts, Some(1));
    assert!(replied.due_at.is_none() && replied.due_shard.is_none());
    app.advance(TimeDelta::hours(7));
    assert_eq!(app.sweep().await.due, 0);
    app.deliver(&["c-forgotten"]).await;
    assert_eq!(app.sim.sim.reply_count_for("c-forgotten"), 1);
}

#[tokio::test]
async fn a_forgotten_comment_whose_window_closed_is_expired_not_redriven() {
    let app = spawn_app().await;
    let record = comment(
        "c-forgotten-too-long",
        TimeDelta::days(7) + TimeDelta::minutes(1),
        app.now(),
    );
    app.put(&record).await;

    let summary = app.sweep().await;

    assert_eq!((summary.expired, summary.redriven), (1, 0), "{summary:?}");
    let stored = app.stored("c-forgotten-too-long").await;
    assert_eq!(stored.status, CommentStatus::Expired);
    assert_eq!(stored.status_reason.as_deref(), Some("reply_window_closed"));
    assert!(stored.due_at.is_none());
}

#[tokio::test]
async fn a_replier_that_cannot_start_still_sweeps_and_its_comments_are_replied_once_it_is_fixed() {
    let app = spawn_app().await;
    let record = app.new_comment("c-while-broken").await;
    // A claim timeout shorter than a claim can be held: the replier refuses to start.
    let mut bad = app.config.clone();
    bad.claim_timeout = std::time::Duration::from_secs(1);
    let refused = Replier::from_parts(
        bad,
        ReplierParts {
            dynamodb: app.dynamodb.clone(),
            tokens: app.tokens.clone(),
            clock: app.clock.clone(),
        },
    );
    assert!(refused.is_err());
    let broken = LambdaFunction::new(app.replier.sweeper(), refused);

    // Stream batches fail as a whole, so the mapping retries them (and finally gives up on them).
    let batch = serde_json::json!({ "Records": [app.stream_record("c-while-broken").await] });
    let answer = broken.handle(batch).await;
    assert!(
        matches!(answer, Err(HandlerError::NotStarted(_))),
        "{answer:?}"
    );
    assert_eq!(
        app.stored("c-while-broken").await.status,
        CommentStatus::Pending
    );

    // The schedule keeps sweeping: once due, the comment is re-driven without an operator.
    app.advance_past(app.stored("c-while-broken").await.due());
    let summary = broken
        .handle(fixture("eventbridge_scheduled.json"))
        .await
        .unwrap();
    assert_eq!(summary["redriven"], 1, "{summary}");

    // Fixed and redeployed: the re-drive's record is replied.
    app.deliver(&[record.comment_id.as_str()]).await;
    let stored = app.stored("c-while-broken").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(app.sim.sim.reply_count_for("c-while-broken"), 1);
}

#[tokio::test]
async fn one_accounts_backlog_never_holds_up_another_accounts_due_comments() {
    let app = spawn_app_with(|c| c.sweep_max_items = 4).await;
    for i in 0..8 {
        app.new_comment(&format!("c-busy-{i}")).await;
    }
    for i in 0..2 {
        let mut record = comment(&format!("c-quiet-{i}"), TimeDelta::minutes(1), app.now());
        record.account_id = AccountId::new(OTHER_ACCOUNT).unwrap();
        app.put(&record).await;
    }
    app.advance(TimeDelta::minutes(15));

    let first = app.sweep().await;

    assert_eq!((first.redriven, first.more_due), (4, true), "{first:?}");
    for i in 0..2 {
        let quiet = app.stored(&format!("c-quiet-{i}")).await;
        assert_eq!(
            quiet.status_reason.as_deref(),
            Some("redriven"),
            "the other account's comment waited behind the backlog"
        );
    }
    let second = app.sweep().await;
    let third = app.sweep().await;
    assert_eq!(first.redriven + second.redriven + third.redriven, 10);
}
