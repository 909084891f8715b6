//! The happy path, and that no path sends twice.

use crate::harness::*;
use chrono::Duration as TimeDelta;
use reply_core::comment::CommentStatus;

#[tokio::test]
async fn a_pending_comment_is_claimed_and_replied_with_the_message_id() {
    let app = spawn_app().await;
    app.new_comment("c-happy").await;

    let response = app.deliver(&["c-happy"]).await;

    assert!(failures(&response).is_empty());
    let replies = app.sim.sim.replies();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text, "Thanks ana.banana! Here is the link.");
    assert_eq!(replies[0].ig_id, ACCOUNT);
    let stored = app.stored("c-happy").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(
        stored.message_id.as_deref(),
        Some(replies[0].message_id.as_str())
    );
    assert_eq!(
        stored.recipient_id.as_deref(),
        Some(replies[0].recipient_id.as_str())
    );
    assert_eq!(stored.confirmed, Some(true));
    assert_eq!(stored.attempts, Some(1));
    assert!(stored.replied_at.is_some());
    assert!(stored.claim_id.is_none() && stored.claimed_until.is_none() && stored.due_at.is_none());
    assert_eq!(stored.error_code, None);
}

#[tokio::test]
async fn a_duplicate_delivery_of_the_same_record_sends_once() {
    let app = spawn_app().await;
    app.new_comment("c-dup").await;
    let record = app.stream_record("c-dup").await;

    // The same record twice in one batch, then again in a later batch (a Lambda retry).
    let first = app
        .replier
        .handle(serde_json::json!({ "Records": [record.clone(), record.clone()] }))
        .await
        .unwrap();
    let again = app
        .replier
        .handle(serde_json::json!({ "Records": [record] }))
        .await
        .unwrap();

    assert!(failures(&first).is_empty() && failures(&again).is_empty());
    assert_eq!(app.calls_for("c-dup"), 1);
    assert_eq!(app.sim.sim.reply_count_for("c-dup"), 1);
    assert_eq!(app.stored("c-dup").await.status, CommentStatus::Replied);
    assert_eq!(app.stored("c-dup").await.attempts, Some(1));
}

#[tokio::test]
async fn two_repliers_racing_over_the_same_records_send_each_reply_once() {
    let app = spawn_app().await;
    let ids: Vec<String> = (0..12).map(|i| format!("c-race-{i}")).collect();
    let mut records = Vec::new();
    for id in &ids {
        app.new_comment(id).await;
        records.push(app.stream_record(id).await);
    }
    let other = app.another_replier();
    let mut reversed = records.clone();
    reversed.reverse();

    let (a, b) = tokio::join!(
        app.replier
            .handle(serde_json::json!({ "Records": records })),
        other.handle(serde_json::json!({ "Records": reversed })),
    );

    assert!(failures(&a.unwrap()).is_empty());
    assert!(failures(&b.unwrap()).is_empty());
    assert_eq!(
        app.sim.sim.log().len(),
        ids.len(),
        "one request per comment"
    );
    for id in &ids {
        assert_eq!(app.sim.sim.reply_count_for(id), 1, "{id}");
        let stored = app.stored(id).await;
        assert_eq!(stored.status, CommentStatus::Replied, "{id}");
        assert_eq!(stored.attempts, Some(1), "{id}");
    }
}

#[tokio::test]
async fn an_eight_day_old_comment_expires_without_a_call() {
    let app = spawn_app().await;
    app.put(&comment("c-old", TimeDelta::days(8), app.now()))
        .await;

    app.deliver(&["c-old"]).await;

    let stored = app.stored("c-old").await;
    assert_eq!(stored.status, CommentStatus::Expired);
    assert_eq!(stored.status_reason.as_deref(), Some("reply_window_closed"));
    assert!(app.sim.sim.log().is_empty());
}

#[tokio::test]
async fn a_comment_inside_the_expiry_margin_expires_without_a_call() {
    let app = spawn_app().await;
    // The deadline is 5 minutes away; the default margin is 10.
    app.put(&comment(
        "c-margin",
        TimeDelta::days(7) - TimeDelta::minutes(5),
        app.now(),
    ))
    .await;

    app.deliver(&["c-margin"]).await;

    assert_eq!(app.stored("c-margin").await.status, CommentStatus::Expired);
    assert!(app.sim.sim.log().is_empty());
}

#[tokio::test]
async fn a_reply_too_long_for_the_commenters_username_fails_without_a_call() {
    let app = spawn_app_with(|c| {
        // As long as a template may be: 970 bytes and a 30-byte username fit.
        c.reply_text = Some(
            replier::ReplyTemplate::parse(&format!("{}{{username}}", "a".repeat(970))).unwrap(),
        );
    })
    .await;
    // Instagram's usernames are at most 30 characters; a longer one (from a changed limit, or a hand-made
    // notification) is still checked at send time: 970 + 40 = 1010 bytes.
    let mut long = comment("c-long", TimeDelta::minutes(1), app.now());
    long.commenter_username = Some("ana.banana.the.third.of.her.name.and.so.".into());
    app.put(&long).await;

    app.deliver(&["c-long"]).await;

    let stored = app.stored("c-long").await;
    assert_eq!(stored.status, CommentStatus::Failed);
    assert_eq!(stored.status_reason.as_deref(), Some("reply_text_too_long"));
    assert!(app.sim.sim.log().is_empty());
}

#[tokio::test]
async fn comments_that_are_not_pending_are_ignored_without_a_call() {
    let app = spawn_app().await;
    let mut done = comment("c-done", TimeDelta::minutes(1), app.now());
    done.status = CommentStatus::Skipped;
    done.status_reason = Some("own_comment".into());
    app.put(&done).await;

    let report = app.replier.process_stream_event(&serde_json::json!({
        "Records": [app.stream_record("c-done").await, {"eventID": "x", "not": "a dynamodb record"}]
    }))
    .await;

    assert_eq!(report.counts.records_ignored, 2);
    assert!(report.response.batch_item_failures.is_empty());
    assert_eq!(app.stored("c-done").await.status, CommentStatus::Skipped);
    assert!(app.sim.sim.log().is_empty());
}

#[tokio::test]
async fn a_live_comment_after_the_broadcast_ended_expires_as_meta_says() {
    let app = spawn_app().await;
    let mut live = comment("c-live", TimeDelta::minutes(1), app.now());
    live.source = reply_core::comment::CommentSource::LiveComment;
    live.media_product_type = Some("LIVE".into());
    app.put(&live).await;
    app.sim
        .sim
        .register_comment(graph_sim::CommentSpec::new("c-live", ACCOUNT).live_on("live-media-1"));
    app.sim.sim.end_live_media("live-media-1");

    app.deliver(&["c-live"]).await;

    let stored = app.stored("c-live").await;
    assert_eq!(stored.status, CommentStatus::Expired);
    assert_eq!(stored.status_reason.as_deref(), Some("meta_outside_window"));
    assert_eq!(
        (stored.error_code, stored.error_subcode),
        (Some(10), Some(2_534_022))
    );
    assert!(stored.due_at.is_none());
}

#[tokio::test]
async fn replies_to_many_comments_of_a_batch_all_go_out() {
    let app = spawn_app_with(|c| c.record_concurrency = 4).await;
    let ids: Vec<String> = (0..25).map(|i| format!("c-batch-{i}")).collect();
    for id in &ids {
        app.new_comment(id).await;
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();

    let response = app.deliver(&refs).await;

    assert!(failures(&response).is_empty());
    assert_eq!(app.sim.sim.replies().len(), 25);
    for id in &ids {
        assert_eq!(app.stored(id).await.status, CommentStatus::Replied);
    }
}
