//! A campaign's public reply: posted once under the comment right after the private reply, recorded on the
//! comment's item; never on a reply to a comment or a Live comment; after an attempt whose answer was lost,
//! the comment's replies are read before posting again, so Meta (which accepts a second public reply) never
//! gets two.

use crate::harness::*;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration as TimeDelta;
use graph_sim::Fault;
use reply_core::comment::{CommentSource, CommentStatus};
use reply_core::lifecycle::attr;
use std::collections::HashMap;

const CAMPAIGN: &str = "id: spring-link\nkeywords: [link]\n\
    reply: ['Hi {username|there}! Answer this message for your code.']\n\
    public_reply: ['Sent you a DM, {username|friend}!']\n";

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn public_replies_to(app: &TestApp, id: &str) -> Vec<graph_sim::PublicReply> {
    app.sim
        .sim
        .public_replies()
        .into_iter()
        .filter(|r| r.comment_id == id)
        .collect()
}

async fn spawn() -> TestApp {
    let app = spawn_app().await;
    app.apply_campaign(ACCOUNT, CAMPAIGN).await;
    app
}

#[tokio::test]
async fn the_public_reply_is_posted_once_after_the_private_reply_and_recorded_on_the_item() {
    let app = spawn().await;
    app.new_comment("c-pub").await;

    app.deliver(&["c-pub"]).await;
    // A redelivered record (the stream repeats itself) changes nothing.
    app.deliver(&["c-pub"]).await;

    let item = app.item("c-pub").await;
    assert_eq!(app.stored("c-pub").await.status, CommentStatus::Replied);
    let published = public_replies_to(&app, "c-pub");
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].text, "Sent you a DM, ana.banana!");
    assert_eq!(published[0].ig_id, ACCOUNT);
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_TEXT).as_deref(),
        Some("Sent you a DM, ana.banana!")
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("POSTED")
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_ID),
        Some(published[0].reply_id.clone())
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_CONFIRMED_BY).as_deref(),
        Some("answer")
    );
    assert!(text(&item, attr::PUBLIC_REPLIED_AT).is_some());
    assert!(!item.contains_key(attr::PUBLIC_REPLY_CLAIM));
    assert!(!item.contains_key(attr::DUE_AT), "out of the due index");
    // The private reply went first.
    let endpoints: Vec<String> = app
        .sim
        .sim
        .log()
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    assert_eq!(endpoints, ["messages", "replies"]);
}

#[tokio::test]
async fn replies_to_comments_and_live_comments_get_no_public_reply() {
    let app = spawn().await;
    let mut reply = comment("c-reply", TimeDelta::minutes(1), app.now());
    reply.parent_id = reply_core::CommentId::new("17900000000000009");
    app.put(&reply).await;
    let mut live = comment("c-live", TimeDelta::minutes(1), app.now());
    live.source = CommentSource::LiveComment;
    live.media_product_type = Some("LIVE".into());
    app.put(&live).await;

    app.deliver(&["c-reply", "c-live"]).await;

    for id in ["c-reply", "c-live"] {
        assert_eq!(app.stored(id).await.status, CommentStatus::Replied, "{id}");
        let item = app.item(id).await;
        assert!(
            !item.contains_key(attr::PUBLIC_REPLY_TEXT),
            "{id}: {item:?}"
        );
        assert!(!item.contains_key(attr::PUBLIC_REPLY_STATUS), "{id}");
        assert!(!item.contains_key(attr::DUE_AT), "{id}");
    }
    assert!(app.sim.sim.public_replies().is_empty());
}

#[tokio::test]
async fn a_public_reply_whose_answer_was_lost_is_found_among_the_replies_not_posted_twice() {
    let app = spawn().await;
    app.new_comment("c-lost").await;
    // Published, then the connection drops before the answer.
    app.sim
        .sim
        .inject(Fault::close_connection(true).on_public_replies().once());

    app.deliver(&["c-lost"]).await;

    let item = app.item("c-lost").await;
    assert_eq!(app.stored("c-lost").await.status, CommentStatus::Replied);
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("RETRY")
    );
    assert_eq!(
        item.get(attr::PUBLIC_REPLY_UNCONFIRMED)
            .and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert_eq!(public_replies_to(&app, "c-lost").len(), 1);

    // The sweep brings it back through the stream; the next attempt reads the replies first.
    app.advance_past(app.stored("c-lost").await.due());
    let summary = app.sweep().await;
    assert_eq!(summary.public_replies_requeued, 1, "{summary:?}");
    assert_eq!(
        text(&app.item("c-lost").await, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("QUEUED")
    );
    app.deliver(&["c-lost"]).await;

    let item = app.item("c-lost").await;
    let published = public_replies_to(&app, "c-lost");
    assert_eq!(published.len(), 1, "never posted twice: {published:?}");
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("POSTED")
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_CONFIRMED_BY).as_deref(),
        Some("listing")
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_ID),
        Some(published[0].reply_id.clone())
    );
    assert_eq!(
        item.get(attr::PUBLIC_REPLY_ATTEMPTS)
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("2")
    );
    assert!(!item.contains_key(attr::DUE_AT));
}

#[tokio::test]
async fn a_refused_public_reply_is_retried_and_a_permanent_refusal_fails_it_without_touching_the_private_reply()
 {
    let app = spawn().await;
    app.new_comment("c-busy").await;
    app.new_comment("c-gone").await;
    app.sim.sim.inject(
        Fault::graph_error(4, None)
            .on_public_replies()
            .for_comment("c-busy")
            .once(),
    );
    app.sim.sim.inject(
        Fault::graph_error(100, Some(33))
            .on_public_replies()
            .for_comment("c-gone")
            .once(),
    );

    app.deliver(&["c-busy", "c-gone"]).await;

    let busy = app.item("c-busy").await;
    assert_eq!(
        text(&busy, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("RETRY")
    );
    assert!(
        !busy.contains_key(attr::PUBLIC_REPLY_UNCONFIRMED),
        "nothing was published"
    );
    assert!(text(&busy, attr::PUBLIC_REPLY_ERROR).is_some_and(|e| e.starts_with("4")));
    let gone = app.item("c-gone").await;
    assert_eq!(
        text(&gone, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("FAILED")
    );
    assert!(text(&gone, attr::PUBLIC_REPLY_ERROR).is_some_and(|e| e.starts_with("100/33")));
    assert!(!gone.contains_key(attr::DUE_AT));
    for id in ["c-busy", "c-gone"] {
        assert_eq!(app.stored(id).await.status, CommentStatus::Replied, "{id}");
    }

    app.advance_past(app.stored("c-busy").await.due());
    app.sweep().await;
    app.deliver(&["c-busy"]).await;
    let busy = app.item("c-busy").await;
    assert_eq!(
        text(&busy, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("POSTED")
    );
    assert_eq!(
        text(&busy, attr::PUBLIC_REPLY_CONFIRMED_BY).as_deref(),
        Some("answer")
    );
    assert_eq!(public_replies_to(&app, "c-busy").len(), 1);
    assert!(public_replies_to(&app, "c-gone").is_empty());
}

#[tokio::test]
async fn public_replies_have_their_own_budget() {
    let app = spawn_app_with(|c| c.public_replies_budget.limit = 1).await;
    app.apply_campaign(ACCOUNT, CAMPAIGN).await;
    app.new_comment("c-first").await;
    app.new_comment("c-second").await;

    app.deliver(&["c-first"]).await;
    app.deliver(&["c-second"]).await;

    assert_eq!(
        app.stored("c-second").await.status,
        CommentStatus::Replied,
        "the private reply is not held"
    );
    let second = app.item("c-second").await;
    assert_eq!(
        text(&second, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("RETRY")
    );
    assert_eq!(
        text(&second, attr::PUBLIC_REPLY_ERROR).as_deref(),
        Some("rate_limited")
    );
    assert_eq!(app.sim.sim.public_replies().len(), 1);
}

/// Found by the fault campaign: a stream record redelivered after a later attempt may have published must
/// not carry that attempt's uncertainty away with its old image. The claim reads the item as it is now.
#[tokio::test]
async fn a_stale_queued_record_redelivered_after_an_unconfirmed_attempt_reads_the_replies_first() {
    let app = spawn().await;
    app.new_comment("c-stale").await;
    app.sim.sim.inject(
        Fault::graph_error(4, None)
            .on_public_replies()
            .for_comment("c-stale")
            .once(),
    );
    app.deliver(&["c-stale"]).await; // RETRY, nothing published
    app.advance_past(app.stored("c-stale").await.due());
    app.sweep().await;
    let stale = app.stream_event(&["c-stale"]).await; // QUEUED, not unconfirmed

    app.sim
        .sim
        .inject(Fault::close_connection(true).on_public_replies().once());
    app.replier.handle(stale.clone()).await.unwrap(); // published, the answer lost
    let item = app.item("c-stale").await;
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("RETRY")
    );
    app.advance_past(app.stored("c-stale").await.due());
    app.sweep().await;

    // The old record again (Lambda retried its batch): the item is QUEUED, so the claim wins, and it knows
    // from the item that the last attempt may have published.
    app.replier.handle(stale).await.unwrap();

    let item = app.item("c-stale").await;
    assert_eq!(
        public_replies_to(&app, "c-stale").len(),
        1,
        "never posted twice"
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_STATUS).as_deref(),
        Some("POSTED")
    );
    assert_eq!(
        text(&item, attr::PUBLIC_REPLY_CONFIRMED_BY).as_deref(),
        Some("listing")
    );
}
