//! A token Meta rejects stops the account's sends until the configured token changes; then the held comments
//! go out.

use crate::harness::*;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration as TimeDelta;
use replier::{ReplierSecrets, TokenFingerprint};
use reply_core::comment::CommentStatus;

#[tokio::test]
async fn a_rejected_token_holds_the_accounts_comments_until_the_token_changes_then_they_are_replied()
 {
    let app = spawn_app().await;
    app.tokens
        .set(ReplierSecrets::parse(Some("IGAAexpired-token"), None).unwrap());
    let bad = TokenFingerprint::of("IGAAexpired-token");
    app.new_comment("c-tok-1").await;
    app.new_comment("c-tok-2").await;

    let first = app
        .replier
        .process_stream_event(
            &serde_json::json!({ "Records": [app.stream_record("c-tok-1").await] }),
        )
        .await;
    let second = app
        .replier
        .process_stream_event(
            &serde_json::json!({ "Records": [app.stream_record("c-tok-2").await] }),
        )
        .await;

    // The first comment met Meta's 190; the second was held without a call.
    assert_eq!(app.sim.sim.log().len(), 1);
    assert_eq!(app.sim.sim.log()[0].code, Some(190));
    assert_eq!(
        (first.counts.token_errors, second.counts.token_errors),
        (1, 1)
    );
    for id in ["c-tok-1", "c-tok-2"] {
        let stored = app.stored(id).await;
        assert_eq!(stored.status, CommentStatus::TokenInvalid, "{id}");
        assert_eq!(
            stored.token_fingerprint.as_deref(),
            Some(bad.as_str()),
            "{id}"
        );
        let wait = stored.due() - app.now();
        assert!(
            wait > TimeDelta::seconds(295) && wait <= TimeDelta::seconds(301),
            "{id}: {wait}"
        );
    }
    assert_eq!(app.stored("c-tok-1").await.error_code, Some(190));
    assert_eq!(
        app.account_item().await.get("bad_token_fingerprint"),
        Some(&AttributeValue::S(bad.as_str().to_owned()))
    );
    assert!(
        app.tokens.invalidations() >= 1,
        "the token source was asked to re-read"
    );

    // Rechecked with the same token: still held, still no call.
    app.advance(TimeDelta::seconds(301));
    assert_eq!(app.sweep().await.requeued, 2);
    app.deliver(&["c-tok-1", "c-tok-2"]).await;
    assert_eq!(
        app.stored("c-tok-1").await.status,
        CommentStatus::TokenInvalid
    );
    assert_eq!(app.sim.sim.log().len(), 1);

    // The operator fixes the token.
    app.tokens
        .set(ReplierSecrets::parse(Some(GOOD_TOKEN), None).unwrap());
    app.advance(TimeDelta::seconds(301));
    assert_eq!(app.sweep().await.requeued, 2);
    app.deliver(&["c-tok-1", "c-tok-2"]).await;

    assert_eq!(app.stored("c-tok-1").await.status, CommentStatus::Replied);
    assert_eq!(app.stored("c-tok-2").await.status, CommentStatus::Replied);
    assert_eq!(app.sim.sim.log().len(), 3);
    assert_eq!(
        app.account_item().await.get("bad_token_fingerprint"),
        None,
        "the rejected token is forgotten"
    );
}

#[tokio::test]
async fn another_accounts_bad_token_does_not_hold_this_account() {
    let app = spawn_app().await;
    app.tokens.set(
        ReplierSecrets::parse(
            Some(GOOD_TOKEN),
            Some(r#"{"999": {"token": "IGAAother-expired"}}"#),
        )
        .unwrap(),
    );
    let mut other = comment("c-other-account", TimeDelta::minutes(1), app.now());
    other.account_id = reply_core::ids::AccountId::new("999").unwrap();
    app.put(&other).await;
    app.new_comment("c-this-account").await;

    app.deliver(&["c-other-account", "c-this-account"]).await;

    assert_eq!(
        app.stored("c-other-account").await.status,
        CommentStatus::TokenInvalid
    );
    assert_eq!(
        app.stored("c-this-account").await.status,
        CommentStatus::Replied
    );
}
