//! The per-account call budgets and Meta's throttling: over budget, a comment waits for the next window
//! without a call; when Meta throttles an account, its other comments wait too.

use crate::harness::*;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use graph_sim::{Fault, FaultKind};
use replier::Budget;
use replier::accounts::{AccountStateStore, Bucket, BudgetGrant};
use replier::ports::AccountLedger;
use reply_core::comment::{CommentSource, CommentStatus};
use std::time::Duration;

/// Whether `at` is when calls made at `now` have left a sliding `window` counted in slots of `slot`: a
/// window and at most a slot later, plus up to `jitter` and the rounding to whole seconds.
fn once_the_window_has_passed(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    window: TimeDelta,
    slot: TimeDelta,
    jitter: TimeDelta,
) -> bool {
    at >= now + window && at <= now + window + slot + jitter + TimeDelta::seconds(1)
}

#[tokio::test]
async fn over_the_rate_budget_a_comment_waits_for_the_next_window_and_is_sent_in_it() {
    let app = spawn_app_with(|c| {
        c.posts_budget = Budget {
            limit: 2,
            window: Duration::from_secs(3600),
        }
    })
    .await;
    for id in ["c-rate-1", "c-rate-2", "c-rate-3"] {
        app.new_comment(id).await;
    }

    app.deliver(&["c-rate-1"]).await;
    app.deliver(&["c-rate-2"]).await;
    let report = app
        .replier
        .process_stream_event(
            &serde_json::json!({ "Records": [app.stream_record("c-rate-3").await] }),
        )
        .await;

    assert_eq!(report.counts.rate_limited, 1);
    assert_eq!(app.sim.sim.log().len(), 2, "no call over the budget");
    let waiting = app.stored("c-rate-3").await;
    assert_eq!(waiting.status, CommentStatus::Retry);
    assert_eq!(waiting.status_reason.as_deref(), Some("rate_limited"));
    let at = waiting.due();
    assert!(
        once_the_window_has_passed(
            at,
            app.now(),
            TimeDelta::hours(1),
            TimeDelta::minutes(5),
            TimeDelta::seconds(30)
        ),
        "{at} vs now {}",
        app.now()
    );

    // Still inside the window: nothing to sweep.
    app.advance(TimeDelta::seconds(1));
    assert_eq!(app.sweep().await.requeued, 0);

    let stored = app.retry("c-rate-3").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(app.sim.sim.log().len(), 3);
}

/// Meta's limit slides: three calls just before a window boundary and three just after it would be six calls
/// within one window length. The budget refuses the second three until the first three are a window old.
#[tokio::test]
async fn a_burst_straddling_a_window_boundary_never_exceeds_the_limit_in_any_sliding_window() {
    let app = spawn_app().await;
    let budget = Budget {
        limit: 3,
        window: Duration::from_secs(3),
    };
    let window = TimeDelta::seconds(3);
    // Two repliers sharing the table: one warm, one reading the closed slots afresh each time.
    let warm = AccountStateStore::new(app.dynamodb.clone(), &app.accounts_table);
    let take = |at: DateTime<Utc>, fresh: bool| {
        let store = if fresh {
            AccountStateStore::new(app.dynamodb.clone(), &app.accounts_table)
        } else {
            warm.clone()
        };
        async move {
            store
                .take_budget(ACCOUNT, Bucket::Posts, budget, at, 1)
                .await
                .unwrap()
        }
    };
    let boundary = DateTime::from_timestamp((app.now().timestamp() / 3 + 1) * 3, 0).unwrap();
    let at = |ms: i64| boundary + TimeDelta::milliseconds(ms);

    let mut granted = Vec::new();
    for _ in 0..3 {
        assert_eq!(take(at(-100), false).await, BudgetGrant::Granted);
        granted.push(at(-100));
    }
    assert!(matches!(
        take(at(-100), true).await,
        BudgetGrant::Exhausted { .. }
    ));
    // Just after the boundary: refused until the slot holding the three calls is more than a window old.
    let BudgetGrant::Exhausted { next_window } = take(at(100), false).await else {
        panic!("granted right after the boundary");
    };
    assert!(
        next_window >= at(-100) + window && next_window <= at(window.num_milliseconds()),
        "{next_window}"
    );

    // Two tries every 50 ms for four windows, alternating warm and fresh stores.
    let mut ms = 100;
    let mut fresh = false;
    while ms < 12_000 {
        for _ in 0..2 {
            fresh = !fresh;
            match take(at(ms), fresh).await {
                BudgetGrant::Granted => granted.push(at(ms)),
                BudgetGrant::Exhausted { next_window } => {
                    assert!(next_window > at(ms), "{next_window} at {ms} ms");
                }
            }
        }
        ms += 50;
    }
    assert!(
        granted.iter().all(|g| *g < boundary || *g >= next_window),
        "{granted:?}"
    );
    assert!(granted.len() >= 9, "the budget stays usable: {granted:?}");
    for start in &granted {
        let in_window = granted
            .iter()
            .filter(|g| *g >= start && **g <= *start + window)
            .count();
        assert!(
            in_window <= 3,
            "{in_window} grants from {start}: {granted:?}"
        );
    }
}

#[tokio::test]
async fn live_comments_have_their_own_budget() {
    let app = spawn_app_with(|c| {
        c.posts_budget = Budget {
            limit: 1,
            window: Duration::from_secs(3600),
        };
        c.live_budget = Budget {
            limit: 2,
            window: Duration::from_secs(1),
        };
    })
    .await;
    app.new_comment("c-feed-1").await;
    app.new_comment("c-feed-2").await;
    let mut lives = Vec::new();
    for i in 0..3 {
        let mut live = comment(&format!("c-live-{i}"), TimeDelta::seconds(5), app.now());
        live.source = CommentSource::LiveComment;
        app.put(&live).await;
        lives.push(live.comment_id.to_string());
    }

    app.deliver(&["c-feed-1"]).await;
    app.deliver(&["c-feed-2"]).await;
    for id in &lives {
        app.deliver(&[id]).await;
    }

    assert_eq!(app.stored("c-feed-1").await.status, CommentStatus::Replied);
    assert_eq!(
        app.stored("c-feed-2").await.status_reason.as_deref(),
        Some("rate_limited")
    );
    let first = app.stored(&lives[0]).await;
    assert_eq!(first.status, CommentStatus::Replied, "{first:?}");
    assert_eq!(app.stored(&lives[1]).await.status, CommentStatus::Replied);
    let third = app.stored(&lives[2]).await;
    assert_eq!(third.status_reason.as_deref(), Some("rate_limited"));
    // A one-second window: the retry is due once the calls of this slot (a quarter second) are a second old.
    assert!(once_the_window_has_passed(
        third.due(),
        app.now(),
        TimeDelta::seconds(1),
        TimeDelta::milliseconds(250),
        TimeDelta::milliseconds(100)
    ));
}

#[tokio::test]
async fn meta_throttling_pauses_the_account_so_its_other_comments_wait_without_calls() {
    let app = spawn_app().await;
    app.sim.sim.inject(
        Fault::new(FaultKind::GraphError {
            code: 80002,
            subcode: None,
            message: None,
            status: None,
            is_transient: None,
            estimated_time_to_regain_access: Some(10),
        })
        .once(),
    );
    app.new_comment("c-throttled").await;
    app.new_comment("c-waits").await;

    app.deliver(&["c-throttled"]).await;
    app.deliver(&["c-waits"]).await;

    let throttled = app.stored("c-throttled").await;
    assert_eq!(throttled.status, CommentStatus::Retry);
    assert_eq!(throttled.status_reason.as_deref(), Some("meta_error_80002"));
    // Meta's usage header said 10 minutes: never earlier.
    assert!(throttled.due() >= app.now() + TimeDelta::minutes(10));
    let account = app.account_item().await;
    assert_eq!(
        account
            .get("pause_code")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("80002")
    );
    let waits = app.stored("c-waits").await;
    assert_eq!(waits.status, CommentStatus::Retry);
    assert_eq!(waits.status_reason.as_deref(), Some("account_paused"));
    assert!(waits.due() >= app.now() + TimeDelta::minutes(10));
    assert_eq!(waits.attempts, None, "never claimed, never called");
    assert_eq!(app.sim.sim.log().len(), 1);

    // After the pause both go out.
    let later = throttled.due().max(waits.due());
    app.advance_past(later);
    assert_eq!(app.sweep().await.requeued, 2);
    app.deliver(&["c-throttled", "c-waits"]).await;
    assert_eq!(
        app.stored("c-throttled").await.status,
        CommentStatus::Replied
    );
    assert_eq!(app.stored("c-waits").await.status, CommentStatus::Replied);
}
