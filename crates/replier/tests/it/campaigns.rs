//! Campaigns decide which comment gets which reply: the replier reads them from the campaigns table (the
//! harness caches them for no time, so each delivery sees the table as it is), freezes the decision on the
//! comment's item with the write it makes anyway, and skips what no campaign answers without a call.

use crate::harness::*;
use chrono::Duration as TimeDelta;
use graph_sim::Fault;
use reply_core::comment::CommentStatus;
use reply_core::store::campaigns::DynamoCampaignStore;

const SPRING: &str = "id: spring-link\nkeywords: [link, how much]\nexclude: [stop]\n\
    reply: ['Hi {username|there}! Here is the link: https://example.com/sale']\n";

fn text_of(app: &TestApp, id: &str) -> Vec<String> {
    app.sim
        .sim
        .replies()
        .into_iter()
        .filter(|r| r.comment_id == id)
        .map(|r| r.text)
        .collect()
}

async fn put_comment(app: &TestApp, id: &str, text: &str) {
    let mut c = comment(id, TimeDelta::minutes(1), app.now());
    c.text = Some(text.into());
    app.put(&c).await;
}

#[tokio::test]
async fn a_matching_comment_gets_its_campaigns_text_frozen_on_the_item() {
    let app = spawn_app().await;
    app.apply_campaign(ACCOUNT, SPRING).await;
    put_comment(&app, "c-ask", "LÍNK please!").await;

    app.deliver(&["c-ask"]).await;

    let item = app.stored("c-ask").await;
    assert_eq!(item.status, CommentStatus::Replied);
    assert_eq!(item.campaign_id.as_deref(), Some("spring-link"));
    assert_eq!(item.reply_variant, Some(1));
    let sent = "Hi ana.banana! Here is the link: https://example.com/sale";
    assert_eq!(item.reply_text.as_deref(), Some(sent));
    assert_eq!(text_of(&app, "c-ask"), [sent]);
}

#[tokio::test]
async fn a_comment_no_campaign_matches_is_skipped_without_a_call_or_budget() {
    let app = spawn_app().await;
    app.apply_campaign(ACCOUNT, SPRING).await;
    put_comment(&app, "c-chat", "love this colour").await;
    put_comment(&app, "c-stop", "link? no, STOP").await;

    app.deliver(&["c-chat", "c-stop"]).await;

    for id in ["c-chat", "c-stop"] {
        let stored = app.stored(id).await;
        assert_eq!(stored.status, CommentStatus::Skipped, "{id}");
        assert_eq!(
            stored.status_reason.as_deref(),
            Some("no_matching_campaign")
        );
        assert_eq!(stored.due_at, None, "out of the due index");
        assert_eq!(stored.attempts, None, "never claimed");
    }
    assert!(app.sim.sim.log().is_empty());
    let account = app.account_item().await;
    assert!(account.is_empty(), "no budget taken: {account:?}");
}

#[tokio::test]
async fn reply_text_answers_only_accounts_without_any_campaign() {
    let app = spawn_app().await;
    // Another account's campaign does not concern this one.
    app.apply_campaign("17841400000000002", SPRING).await;
    put_comment(&app, "c-legacy", "nice").await;
    app.deliver(&["c-legacy"]).await;
    assert_eq!(app.stored("c-legacy").await.status, CommentStatus::Replied);
    assert_eq!(
        text_of(&app, "c-legacy"),
        ["Thanks ana.banana! Here is the link."]
    );
    let item = app.stored("c-legacy").await;
    assert_eq!(item.campaign_id, None);
    assert!(item.reply_text.is_some());

    // Once the account has a campaign, even a paused one, REPLY_TEXT no longer answers it.
    app.apply_campaign(ACCOUNT, &format!("{SPRING}status: paused\n"))
        .await;
    put_comment(&app, "c-after", "link").await;
    app.deliver(&["c-after"]).await;
    let stored = app.stored("c-after").await;
    assert_eq!(stored.status, CommentStatus::Skipped);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("no_matching_campaign")
    );
}

#[tokio::test]
async fn without_reply_text_an_account_without_campaigns_is_skipped() {
    let app = spawn_app_with(|c| c.reply_text = None).await;
    put_comment(&app, "c-none", "link").await;
    app.deliver(&["c-none"]).await;
    let stored = app.stored("c-none").await;
    assert_eq!(stored.status, CommentStatus::Skipped);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("no_matching_campaign")
    );
    assert!(app.sim.sim.log().is_empty());
}

#[tokio::test]
async fn a_retry_sends_the_frozen_text_even_after_the_campaign_was_edited() {
    let app = spawn_app().await;
    app.apply_campaign(ACCOUNT, SPRING).await;
    app.sim.sim.inject(Fault::http_status(500).once());
    put_comment(&app, "c-edit", "how much?").await;

    app.deliver(&["c-edit"]).await;
    let item = app.stored("c-edit").await;
    assert_eq!(item.status, CommentStatus::Retry);
    let frozen = item.reply_text;
    assert!(
        frozen
            .as_deref()
            .is_some_and(|t| t.contains("example.com/sale"))
    );

    app.apply_campaign(
        ACCOUNT,
        "id: spring-link\nkeywords: [link, how much]\nreply: ['An edited text']\n",
    )
    .await;
    let stored = app.retry("c-edit").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(text_of(&app, "c-edit"), [frozen.unwrap_or_default()]);

    // A new comment gets the edited text (the harness caches campaigns for no time).
    put_comment(&app, "c-new", "LINK").await;
    app.deliver(&["c-new"]).await;
    assert_eq!(text_of(&app, "c-new"), ["An edited text"]);
}

#[tokio::test]
async fn pausing_or_deleting_a_campaign_stops_its_comments_not_yet_sent() {
    let app = spawn_app().await;
    app.apply_campaign(ACCOUNT, "id: to-pause\nkeywords: [alpha]\nreply: [a]\n")
        .await;
    app.apply_campaign(ACCOUNT, "id: to-delete\nkeywords: [beta]\nreply: [b]\n")
        .await;
    app.sim.sim.inject(Fault::http_status(500).times(2));
    put_comment(&app, "c-paused", "alpha").await;
    put_comment(&app, "c-deleted", "beta").await;
    app.deliver(&["c-paused", "c-deleted"]).await;
    let (paused, deleted) = (app.stored("c-paused").await, app.stored("c-deleted").await);
    assert_eq!(
        (paused.status, deleted.status),
        (CommentStatus::Retry, CommentStatus::Retry)
    );

    let store = DynamoCampaignStore::new(app.dynamodb.clone(), &app.campaigns_table);
    let pause = reply_core::campaign::CampaignStatus::Paused;
    assert!(
        store
            .set_status(ACCOUNT, "to-pause", pause, app.now())
            .await
            .unwrap()
    );
    assert!(store.delete(ACCOUNT, "to-delete").await.unwrap());
    app.advance_past(paused.due().max(deleted.due()));
    assert_eq!(app.sweep().await.requeued, 2);
    app.deliver(&["c-paused", "c-deleted"]).await;

    for id in ["c-paused", "c-deleted"] {
        let stored = app.stored(id).await;
        assert_eq!(stored.status, CommentStatus::Skipped, "{id}");
        assert_eq!(
            stored.status_reason.as_deref(),
            Some("campaign_paused"),
            "{id}"
        );
        assert_eq!(stored.due_at, None, "{id}");
        assert_eq!(app.calls_for(id), 1, "{id}: only the first attempt");
    }
}

#[tokio::test]
async fn a_decision_is_frozen_once_when_two_invocations_race() {
    let app = spawn_app().await;
    app.apply_campaign(
        ACCOUNT,
        "id: two\nmatch: any\nreply: ['first {username}', 'second {username}', 'third {username}']\n",
    )
    .await;
    put_comment(&app, "c-race", "hello").await;
    let event = app.stream_event(&["c-race"]).await;
    let other = app.another_replier();
    let (a, b) = tokio::join!(app.replier.handle(event.clone()), other.handle(event));
    a.unwrap();
    b.unwrap();
    assert_eq!(app.sim.sim.reply_count_for("c-race"), 1);
    let item = app.stored("c-race").await;
    assert_eq!(
        text_of(&app, "c-race"),
        [item.reply_text.unwrap_or_default()]
    );
}
