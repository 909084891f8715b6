//! Meta's failures: transient ones retried until they succeed, permanent ones recorded, ambiguous ones never
//! turned into a second reply or a false failure.

use crate::harness::*;
use chrono::Duration as TimeDelta;
use graph_sim::Fault;
use replier::backoff::backoff_ceiling;
use reply_core::comment::CommentStatus;
use std::time::Duration;

#[tokio::test]
async fn three_server_errors_then_success_end_replied_after_sweeps() {
    let app = spawn_app().await;
    app.sim.sim.inject(Fault::http_status(500).times(3));
    app.new_comment("c-500").await;

    app.deliver(&["c-500"]).await;
    for attempt in 1..=3u32 {
        let stored = app.stored("c-500").await;
        assert_eq!(stored.status, CommentStatus::Retry, "attempt {attempt}");
        assert_eq!(stored.attempts, Some(attempt));
        // The simulator's 500 carries Meta's transient code 2.
        assert_eq!(stored.status_reason.as_deref(), Some("meta_error_2"));
        assert_eq!(stored.error_code, Some(2));
        let ceiling = backoff_ceiling(attempt, app.config.retry_base, app.config.retry_max);
        let wait = stored.due() - app.now();
        assert!(
            wait >= TimeDelta::zero()
                && wait <= TimeDelta::from_std(ceiling).unwrap() + TimeDelta::seconds(1),
            "{wait}"
        );
        // Not due yet: the sweep leaves it alone.
        if wait > TimeDelta::seconds(1) {
            assert_eq!(app.sweep().await.requeued, 0);
        }
        app.retry("c-500").await;
    }

    let stored = app.stored("c-500").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(stored.attempts, Some(4));
    assert_eq!(
        stored.error_code, None,
        "error details describe the last attempt"
    );
    assert_eq!(app.calls_for("c-500"), 4);
    assert_eq!(app.sim.sim.reply_count_for("c-500"), 1);
}

#[tokio::test]
async fn a_server_error_without_a_graph_error_body_is_retried() {
    let app = spawn_app().await;
    app.sim.sim.inject(Fault::http_status(503).once());
    app.new_comment("c-503").await;

    app.deliver(&["c-503"]).await;

    let stored = app.stored("c-503").await;
    assert_eq!(stored.status, CommentStatus::Retry);
    assert_eq!(stored.status_reason.as_deref(), Some("http_503"));
    assert_eq!(stored.error_code, None);
    assert_eq!(
        stored.unconfirmed_send,
        Some(true),
        "Meta may have processed the reply before answering 5xx"
    );
}

#[tokio::test]
async fn a_5xx_after_meta_sent_the_reply_ends_replied_unconfirmed_not_failed() {
    let app = spawn_app().await;
    app.sim
        .sim
        .inject(Fault::http_status_after_processing(500).once());
    app.new_comment("c-5xx-sent").await;

    app.deliver(&["c-5xx-sent"]).await;
    let waiting = app.stored("c-5xx-sent").await;
    assert_eq!(waiting.status, CommentStatus::Retry);
    assert_eq!(waiting.unconfirmed_send, Some(true));
    assert_eq!(app.sim.sim.reply_count_for("c-5xx-sent"), 1);

    // The retry is refused with 2534025: the reply it refers to is the one that went out.
    let done = app.retry("c-5xx-sent").await;
    assert_eq!(done.status, CommentStatus::Replied);
    assert_eq!(done.confirmed, Some(false));
    assert_eq!(done.status_reason.as_deref(), Some("probably_sent_earlier"));
    assert_eq!(app.sim.sim.reply_count_for("c-5xx-sent"), 1);
}

#[tokio::test]
async fn a_person_unavailable_error_fails_the_comment_with_code_and_subcode() {
    let app = spawn_app().await;
    app.sim
        .sim
        .inject(Fault::graph_error(551, Some(1_545_041)).for_comment("c-551"));
    app.new_comment("c-551").await;

    app.deliver(&["c-551"]).await;

    let stored = app.stored("c-551").await;
    assert_eq!(stored.status, CommentStatus::Failed);
    assert_eq!(stored.status_reason.as_deref(), Some("person_unavailable"));
    assert_eq!(
        (stored.error_code, stored.error_subcode),
        (Some(551), Some(1_545_041))
    );
    assert!(stored.fbtrace_id.as_deref().is_some_and(|t| !t.is_empty()));
    assert!(
        stored
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("551"))
    );
    assert!(stored.due_at.is_none() && stored.claim_id.is_none());
    // A permanent failure is recorded, not retried.
    app.advance(TimeDelta::days(1));
    assert_eq!(app.sweep().await.due, 0);
    assert_eq!(app.calls_for("c-551"), 1);
}

#[tokio::test]
async fn already_replied_without_an_earlier_ambiguous_attempt_is_a_failure() {
    let app = spawn_app().await;
    app.sim
        .sim
        .inject(Fault::graph_error(100, Some(2_534_025)).once());
    app.new_comment("c-used").await;

    app.deliver(&["c-used"]).await;

    let stored = app.stored("c-used").await;
    assert_eq!(stored.status, CommentStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("already_replied_or_ineligible")
    );
    assert_eq!(
        (stored.error_code, stored.error_subcode),
        (Some(100), Some(2_534_025))
    );
}

#[tokio::test]
async fn an_ambiguous_timeout_followed_by_already_replied_is_recorded_as_replied_unconfirmed() {
    let app = spawn_app_with(|c| c.http_timeout = Duration::from_secs(1)).await;
    // Meta processes the reply, but the answer comes after our timeout.
    app.sim
        .sim
        .inject(Fault::delay(Duration::from_secs(3), true).once());
    app.new_comment("c-timeout").await;

    app.deliver(&["c-timeout"]).await;

    let stored = app.stored("c-timeout").await;
    assert_eq!(stored.status, CommentStatus::Retry);
    assert_eq!(stored.status_reason.as_deref(), Some("timeout"));
    assert_eq!(stored.unconfirmed_send, Some(true));
    assert_eq!(
        app.sim.sim.reply_count_for("c-timeout"),
        1,
        "the reply did go out"
    );

    let stored = app.retry("c-timeout").await;

    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(stored.confirmed, Some(false));
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("probably_sent_earlier")
    );
    assert_eq!(
        (stored.error_code, stored.error_subcode),
        (Some(100), Some(2_534_025))
    );
    assert_eq!(app.calls_for("c-timeout"), 2);
    assert_eq!(
        app.sim.sim.reply_count_for("c-timeout"),
        1,
        "never a second reply"
    );
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_marks_the_send_unconfirmed() {
    let app = spawn_app().await;
    app.sim.sim.inject(Fault::close_connection(true).once());
    app.new_comment("c-dropped").await;

    app.deliver(&["c-dropped"]).await;

    let stored = app.stored("c-dropped").await;
    assert_eq!(stored.status, CommentStatus::Retry);
    assert_eq!(stored.status_reason.as_deref(), Some("connection_dropped"));
    assert_eq!(stored.unconfirmed_send, Some(true));
    let stored = app.retry("c-dropped").await;
    assert_eq!(
        (stored.status, stored.confirmed),
        (CommentStatus::Replied, Some(false))
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_as_certainly_not_sent() {
    let app = spawn_app_with(|c| c.graph_api_url = "http://127.0.0.1:1".into()).await;
    app.new_comment("c-refused").await;

    app.deliver(&["c-refused"]).await;

    let stored = app.stored("c-refused").await;
    assert_eq!(stored.status, CommentStatus::Retry);
    assert_eq!(stored.status_reason.as_deref(), Some("connection_error"));
    assert_eq!(stored.unconfirmed_send, None);
}

#[tokio::test]
async fn a_retry_that_cannot_happen_before_the_deadline_expires_the_comment() {
    let app = spawn_app().await;
    app.sim.sim.inject(Fault::graph_error(2, None).once());
    // 11 minutes before the deadline: inside the window, but no retry can be scheduled before the margin.
    app.put(&comment(
        "c-late",
        TimeDelta::days(7) - TimeDelta::minutes(11),
        app.now(),
    ))
    .await;

    app.deliver(&["c-late"]).await;

    let stored = app.stored("c-late").await;
    assert_eq!(stored.status, CommentStatus::Expired);
    assert_eq!(stored.status_reason.as_deref(), Some("reply_window_closed"));
    assert_eq!(app.calls_for("c-late"), 1);
}

#[tokio::test]
async fn a_4xx_that_is_not_metas_error_fails_after_a_few_attempts_instead_of_retrying_for_a_week() {
    let app = spawn_app().await;
    // Something between us and Meta (a wrong host, a proxy) answers 404 with an HTML page.
    app.sim
        .sim
        .inject(Fault::new(graph_sim::FaultKind::HttpStatus {
            status: 404,
            body: Some(serde_json::json!("<html>Not Found</html>")),
            process: false,
        }));
    app.new_comment("c-404").await;

    app.deliver(&["c-404"]).await;
    assert_eq!(app.stored("c-404").await.status, CommentStatus::Retry);
    app.retry("c-404").await;
    let stored = app.retry("c-404").await;

    assert_eq!(stored.status, CommentStatus::Failed);
    assert_eq!(stored.status_reason.as_deref(), Some("http_404"));
    assert_eq!(stored.attempts, Some(3));
    assert_eq!(app.calls_for("c-404"), 3);
}
