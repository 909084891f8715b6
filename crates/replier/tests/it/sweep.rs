//! The retry sweep: due comments back to PENDING, closed windows expired, stale claims recovered.

use crate::harness::*;
use chrono::Duration as TimeDelta;
use graph_sim::Fault;
use reply_core::comment::CommentStatus;
use reply_core::store::CommentTable;
use reply_core::store::dynamo::DynamoCommentStore;

#[tokio::test]
async fn a_stale_sending_claim_is_swept_back_to_pending_with_unconfirmed_send() {
    let app = spawn_app().await;
    app.new_comment("c-stale").await;
    let due_at = app.stored("c-stale").await.due();
    // An invocation claims the comment and dies.
    let store = DynamoCommentStore::new(app.dynamodb.clone(), &app.comments_table);
    let claimed_until = app.now() + TimeDelta::from_std(app.config.claim_timeout).unwrap();
    let claim = store
        .claim("c-stale", app.now(), claimed_until, None)
        .await
        .unwrap()
        .unwrap();
    let sending = app.stored("c-stale").await;
    assert_eq!(sending.status, CommentStatus::Sending);
    assert_eq!(sending.claim_id.as_deref(), Some(claim.claim_id.as_str()));
    assert_eq!(
        sending.due(),
        due_at,
        "claiming does not move the comment in the due index"
    );
    assert!(claimed_until < due_at);

    // Before the claim goes stale the sweep leaves it alone; a redelivered record cannot take it either.
    assert_eq!(app.sweep().await.due, 0);
    app.deliver(&["c-stale"]).await;
    assert!(app.sim.sim.log().is_empty());

    // The dead claim is found when the comment falls due (REDRIVE_AFTER_SECS after it was stored).
    app.advance_past(claimed_until);
    assert_eq!(app.sweep().await.due, 0);
    app.advance_past(due_at);
    let summary = app.sweep().await;

    assert_eq!(summary.stale_claims_requeued, 1);
    let requeued = app.stored("c-stale").await;
    assert_eq!(requeued.status, CommentStatus::Pending);
    assert_eq!(requeued.unconfirmed_send, Some(true));
    assert_eq!(requeued.status_reason.as_deref(), Some("stale_claim"));
    assert!(requeued.claim_id.is_none() && requeued.claimed_until.is_none());
    assert_eq!(
        requeued.due(),
        app.now() + TimeDelta::from_std(app.config.redrive_after).unwrap(),
        "due to be re-driven if nobody takes it"
    );

    // The dead invocation had not sent it after all: the next attempt sends and is confirmed.
    app.deliver(&["c-stale"]).await;
    let stored = app.stored("c-stale").await;
    assert_eq!(
        (stored.status, stored.confirmed),
        (CommentStatus::Replied, Some(true))
    );
    assert_eq!(stored.attempts, Some(2));
}

#[tokio::test]
async fn the_sweep_expires_a_waiting_comment_whose_window_closed() {
    let app = spawn_app().await;
    app.sim.sim.inject(Fault::http_status(500).once());
    app.new_comment("c-waited-too-long").await;
    app.deliver(&["c-waited-too-long"]).await;
    assert_eq!(
        app.stored("c-waited-too-long").await.status,
        CommentStatus::Retry
    );

    app.advance(TimeDelta::days(7));
    let summary = app.sweep().await;

    assert_eq!((summary.expired, summary.requeued), (1, 0));
    let stored = app.stored("c-waited-too-long").await;
    assert_eq!(stored.status, CommentStatus::Expired);
    assert_eq!(stored.status_reason.as_deref(), Some("reply_window_closed"));
    assert!(
        stored.due_at.is_none() && stored.due_shard.is_none(),
        "an outcome leaves the due index"
    );
    assert_eq!(app.calls_for("c-waited-too-long"), 1);
}

#[tokio::test]
async fn overlapping_sweeps_requeue_each_comment_once() {
    let app = spawn_app().await;
    app.sim.sim.inject(Fault::http_status(500).times(6));
    let ids: Vec<String> = (0..6).map(|i| format!("c-overlap-{i}")).collect();
    for id in &ids {
        app.new_comment(id).await;
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    app.deliver(&refs).await;
    app.advance(TimeDelta::hours(1));
    let other = app.another_replier();

    let (a, b) = tokio::join!(app.replier.sweep(), other.sweep());

    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.requeued + b.requeued, 6, "{a:?} {b:?}");
    assert_eq!(a.skipped + b.skipped, a.due + b.due - 6);
    for id in &ids {
        assert_eq!(app.stored(id).await.status, CommentStatus::Pending);
    }
}

#[tokio::test]
async fn the_sweep_handles_at_most_its_bound_per_run() {
    let app = spawn_app_with(|c| c.sweep_max_items = 3).await;
    app.sim.sim.inject(Fault::http_status(500).times(5));
    let ids: Vec<String> = (0..5).map(|i| format!("c-bound-{i}")).collect();
    for id in &ids {
        app.new_comment(id).await;
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    app.deliver(&refs).await;
    app.advance(TimeDelta::hours(1));

    let first = app.sweep().await;
    let second = app.sweep().await;

    assert_eq!((first.due, first.requeued, first.more_due), (3, 3, true));
    assert_eq!((second.due, second.requeued), (2, 2));
}
