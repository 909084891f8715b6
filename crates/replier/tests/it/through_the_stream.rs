//! The replier behind the real DynamoDB Local stream, played by the local stream runner with the template's
//! event source settings (filter on PENDING, partial batch responses): a stored comment is replied without
//! anyone delivering it by hand, and a retry comes back through the stream after the sweep.

use crate::harness::*;
use graph_sim::Fault;
use reply_core::comment::CommentStatus;
use std::sync::Arc;
use std::time::Duration;
use stream_runner::{EventSourceSettings, StreamRunner};

async fn wait_for_status(app: &TestApp, id: &str, want: CommentStatus) -> Stored {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stored = app.stored(id).await;
        if stored.status == want {
            return stored;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} stayed {:?}, wanted {want:?}",
            stored.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn comments_flow_through_the_tables_stream_and_retries_come_back_through_it_after_the_sweep()
{
    let app = spawn_app().await;
    let replier = Arc::new(app.another_replier());
    let settings = EventSourceSettings::from_template(testkit::table::template_path()).unwrap();
    let runner = StreamRunner::builder(
        testkit::dynamodb_local().await.streams_client(),
        &app.comments_table,
    )
    .dynamodb_client(app.dynamodb.clone())
    .settings(settings)
    .poll_interval(Duration::from_millis(50))
    .lambda_handler(move |event: serde_json::Value| {
        let replier = replier.clone();
        async move { replier.handle(event).await }
    })
    .start()
    .await
    .unwrap();
    app.sim
        .sim
        .inject(Fault::http_status(500).for_comment("c-stream-retry").once());

    app.new_comment("c-stream-ok").await;
    app.new_comment("c-stream-retry").await;

    let ok = wait_for_status(&app, "c-stream-ok", CommentStatus::Replied).await;
    assert_eq!(ok.attempts, Some(1));
    let waiting = wait_for_status(&app, "c-stream-retry", CommentStatus::Retry).await;

    app.advance_past(waiting.due());
    assert_eq!(app.sweep().await.requeued, 1);
    let replied = wait_for_status(&app, "c-stream-retry", CommentStatus::Replied).await;

    assert_eq!(replied.attempts, Some(2));
    assert_eq!(app.sim.sim.log().len(), 3);
    let stats = runner.stats();
    assert!(
        stats.records_filtered_out >= 3,
        "the replier's own updates never reach it: {stats:?}"
    );
    assert_eq!(stats.function_errors, 0);
    runner.stop().await;
}
