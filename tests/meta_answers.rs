//! What Meta's answers, limits and windows do to a comment, end to end: signed webhook POST -> comments table ->
//! stream -> replier -> Graph API simulator. Transient errors are retried to a reply, rate limits defer
//! comments to the next window without ever tripping Meta's own limit, a rejected token stops an account's
//! sends until the token is fixed, and permanent refusals and closed windows end the comment with the reason.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use e2e::local_stack::settings::DEFAULT_ACCESS_TOKEN;
use e2e::sample::SampleComment;
use e2e::{
    CommentSpec, Fault, SimConfig, comments, eventually, ids, live_comments, most_in_any_second, n,
    s, sleep_until_next_window, spawn_stack,
};
use replier::{Budget, ReplierConfig, ReplierSecrets};
use std::time::Duration;

const ACCOUNT_1: &str = "17841400000000201";
const ACCOUNT_2: &str = "17841400000000202";

/// The budget window of the rate-limit test: Meta's "750 per hour" shrunk to "3 per 3 s".
const WINDOW: Duration = Duration::from_secs(3);
const LIMIT: u32 = 3;

fn short_backoff(c: &mut ReplierConfig) {
    c.retry_max = Duration::from_secs(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_server_errors_then_success_end_replied() {
    let t = spawn_stack(|settings| short_backoff(&mut settings.replier))
        .await
        .unwrap();
    let batch = comments(ACCOUNT_1, 201, 3);
    let (json_500, plain_5xx, fine) = (
        &batch[0].comment_id,
        &batch[1].comment_id,
        &batch[2].comment_id,
    );
    // 500 with Meta's `code 2` body, three times.
    t.sim()
        .inject(Fault::http_status(500).for_comment(json_500).times(3));
    // Gateway errors with a plain-text body and no Graph error at all.
    for status in [502, 503, 504] {
        t.sim()
            .inject(Fault::http_status(status).for_comment(plain_5xx).once());
    }
    assert_eq!(t.post(&batch).await.unwrap(), 200);

    for id in [json_500, plain_5xx] {
        let item = t
            .wait_for(id, &["REPLIED"], Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            n(&item, "attempts"),
            Some(4),
            "{id}: three failures and the success: {item:?}"
        );
        assert!(!s(&item, "message_id").is_empty(), "{id}: {item:?}");
        let statuses: Vec<_> = t.requests_for(id).iter().map(|r| r.status).collect();
        assert_eq!(statuses.len(), 4, "{id}: {statuses:?}");
        assert!(
            statuses[..3]
                .iter()
                .all(|st| st.is_some_and(|st| st >= 500)),
            "{id}: {statuses:?}"
        );
        assert_eq!(statuses[3], Some(200), "{id}");
        assert_eq!(t.sim().reply_count_for(id), 1, "{id}");
    }
    let item = t
        .wait_for(fine, &["REPLIED"], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        n(&item, "attempts"),
        Some(1),
        "the others in the batch were not held up"
    );
    t.stop().await;
}

fn tight_budget(c: &mut ReplierConfig) {
    c.posts_budget = Budget {
        limit: LIMIT,
        window: WINDOW,
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_accounts_comments_wait_for_the_next_window_without_meta_ever_refusing() {
    let t = spawn_stack(|settings| {
        tight_budget(&mut settings.replier);
        // Meta's limit, as strict as ours: a sliding 3 s window of 3 calls.
        settings.sim = Some(SimConfig {
            hour_limit: LIMIT,
            hour_window: WINDOW,
            ..SimConfig::with_default_token(DEFAULT_ACCESS_TOKEN)
        });
    })
    .await
    .unwrap();
    let batch = comments(ACCOUNT_1, 211, 6);
    let comment_ids = ids(&batch);
    // Start at the beginning of a budget window, so the first three calls all fall in it. (The replier's budget
    // is sliding-window safe: a burst straddling a boundary is covered by the replier's own test
    // `a_burst_straddling_a_window_boundary_never_exceeds_the_limit_in_any_sliding_window`.)
    sleep_until_next_window(WINDOW, Duration::from_millis(50)).await;
    let first_window_ends = window_end(Utc::now());
    assert_eq!(t.post(&batch).await.unwrap(), 200);

    let statuses = eventually(
        Duration::from_secs(10),
        "three replied and three deferred",
        || async {
            let statuses = t.statuses(&comment_ids).await?;
            let count = |wanted: &str| statuses.iter().filter(|st| *st == wanted).count();
            Ok((count("REPLIED") == 3 && count("RETRY") == 3).then_some(statuses))
        },
    )
    .await
    .unwrap();
    for (id, status) in comment_ids.iter().zip(&statuses) {
        if status == "REPLIED" {
            let reply = t
                .sim()
                .replies()
                .into_iter()
                .find(|r| &r.comment_id == id)
                .unwrap();
            assert!(
                reply.at < first_window_ends,
                "{id}: the first three went out within their window"
            );
        } else {
            let item = t.item(id).await.unwrap();
            assert_eq!(s(&item, "status_reason"), "rate_limited", "{id}: {item:?}");
            // Its turn in the account's queue, which is when the sweep puts it back.
            assert!(
                s(&item, "queue_turn")
                    >= reply_core::comment::format_time(first_window_ends).as_str()
            );
            assert_eq!(s(&item, "due_at"), s(&item, "queue_turn"), "{item:?}");
            assert!(
                t.requests_for(id).is_empty(),
                "{id}: deferred without calling Meta"
            );
        }
    }

    let items = t
        .wait_all_final(&comment_ids, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        items.iter().all(|i| s(i, "status") == "REPLIED"),
        "{items:?}"
    );
    let log = t.sim().log();
    assert_eq!(log.len(), 6, "no call was wasted: {log:?}");
    assert!(
        log.iter().all(|r| r.code != Some(613)),
        "Meta never had to throttle us: {log:?}"
    );
    let at: Vec<DateTime<Utc>> = t.sim().replies().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 6);
    for start in &at {
        let in_window = at
            .iter()
            .filter(|a| *a >= start && **a < *start + WINDOW)
            .count();
        assert!(
            in_window <= LIMIT as usize,
            "{in_window} replies within {WINDOW:?} of {start}: {at:?}"
        );
    }
    t.stop().await;
}

fn window_end(now: DateTime<Utc>) -> DateTime<Utc> {
    let len = i64::try_from(WINDOW.as_secs()).unwrap();
    DateTime::from_timestamp((now.timestamp().div_euclid(len) + 1) * len, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_past_its_seven_days_expires_without_a_call_to_meta() {
    let t = spawn_stack(|_| {}).await.unwrap();
    let now = Utc::now();
    let batch = comments(ACCOUNT_1, 221, 3);
    let (old, at_deadline, recent) = (&batch[0], &batch[1], &batch[2]);
    let ages = [
        (old, chrono::Duration::days(8)),
        // Inside the 10-minute expiry margin: not worth racing the deadline.
        (
            at_deadline,
            chrono::Duration::days(7) - chrono::Duration::minutes(5),
        ),
        (recent, chrono::Duration::days(6)),
    ];
    for (comment, age) in ages {
        t.sim().register_comment(
            CommentSpec::new(&comment.comment_id, ACCOUNT_1).created_at(now - age),
        );
        assert_eq!(
            t.post_at(std::slice::from_ref(comment), now - age)
                .await
                .unwrap(),
            200
        );
    }

    let item = t
        .wait_for(&recent.comment_id, &["REPLIED"], Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        n(&item, "attempts"),
        Some(1),
        "a six-day-old comment still gets its reply"
    );
    for comment in [old, at_deadline] {
        let id = &comment.comment_id;
        let item = t
            .wait_for(id, &["EXPIRED"], Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            s(&item, "status_reason"),
            "reply_window_closed",
            "{id}: {item:?}"
        );
        assert_eq!(n(&item, "attempts"), None, "{id}: never claimed");
        assert!(t.requests_for(id).is_empty(), "{id}: Meta was not called");
    }
    assert_eq!(t.sim().log().len(), 1);
    t.stop().await;
}

fn quick_token_recheck(c: &mut ReplierConfig) {
    c.token_recheck = Duration::from_secs(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_stops_the_accounts_sends_until_the_token_is_fixed() {
    const TOKEN_B: &str = "IGAAtokenBfixedinsecrets";
    let t = spawn_stack(|settings| quick_token_recheck(&mut settings.replier))
        .await
        .unwrap();
    // Meta now accepts only token B for account 1; account 2 keeps working with the stack's token A.
    t.sim().set_default_token(None);
    t.sim().set_token(ACCOUNT_1, TOKEN_B);
    t.sim().set_token(ACCOUNT_2, DEFAULT_ACCESS_TOKEN);

    let held = comments(ACCOUNT_1, 231, 5);
    let first = held[0].comment_id.clone();
    assert_eq!(t.post(&held[..1]).await.unwrap(), 200);
    let item = t
        .wait_for(&first, &["TOKEN_INVALID"], Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        (n(&item, "error_code"), s(&item, "status_reason")),
        (Some(190), "token_invalid"),
        "{item:?}"
    );

    let others = comments(ACCOUNT_2, 232, 3);
    let mut batch = held[1..].to_vec();
    batch.extend(others.clone());
    assert_eq!(t.post(&batch).await.unwrap(), 200);
    t.wait_all_final(&ids(&others), Duration::from_secs(10))
        .await
        .unwrap();
    // Long enough for every held comment to be rechecked by the sweep at least once with token A still set.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let held_ids = ids(&held);
    for (id, status) in held_ids.iter().zip(t.statuses(&held_ids).await.unwrap()) {
        assert!(
            ["TOKEN_INVALID", "PENDING", "SENDING"].contains(&status.as_str()),
            "{id}: {status}"
        );
    }
    assert_eq!(
        t.requests_for_account(ACCOUNT_1).len(),
        1,
        "only the first comment spent a call on token A"
    );
    for id in ids(&others) {
        assert_eq!(
            t.sim().reply_count_for(&id),
            1,
            "{id}: other accounts are not held up"
        );
    }

    // The token is fixed in Secrets Manager (per account, as ACCOUNT_TOKENS).
    let fixed = format!(r#"{{"{ACCOUNT_1}": {{"token": "{TOKEN_B}"}}}}"#);
    t.stack
        .tokens
        .set(ReplierSecrets::parse(Some(DEFAULT_ACCESS_TOKEN), Some(&fixed)).unwrap());
    let items = t
        .wait_all_final(&held_ids, Duration::from_secs(15))
        .await
        .unwrap();
    for (id, item) in held_ids.iter().zip(&items) {
        assert_eq!(s(item, "status"), "REPLIED", "{id}: {item:?}");
        assert_eq!(t.sim().reply_count_for(id), 1, "{id}");
    }
    assert_eq!(
        t.requests_for_account(ACCOUNT_1).len(),
        1 + held.len(),
        "one call per comment with token B"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_ends_failed_with_metas_code_and_the_rest_of_the_batch_replied() {
    let t = spawn_stack(|_| {}).await.unwrap();
    let batch = comments(ACCOUNT_1, 241, 5);
    let unavailable = batch[2].comment_id.clone();
    t.sim()
        .inject(Fault::graph_error(551, Some(1_545_041)).for_comment(&unavailable));
    assert_eq!(t.post(&batch).await.unwrap(), 200);

    let comment_ids = ids(&batch);
    let items = t
        .wait_all_final(&comment_ids, Duration::from_secs(20))
        .await
        .unwrap();
    for (id, item) in comment_ids.iter().zip(&items) {
        if *id == unavailable {
            assert_eq!(s(item, "status"), "FAILED", "{item:?}");
            assert_eq!(s(item, "status_reason"), "person_unavailable");
            assert_eq!(
                (n(item, "error_code"), n(item, "error_subcode")),
                (Some(551), Some(1_545_041))
            );
            assert_eq!(
                n(item, "attempts"),
                Some(1),
                "a permanent refusal is not retried"
            );
        } else {
            assert_eq!(s(item, "status"), "REPLIED", "{id}: {item:?}");
        }
    }
    // Give a wrong retry the time to happen before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(t.requests_for(&unavailable).len(), 1);
    assert_eq!(t.sim().reply_count_for(&unavailable), 0);
    assert_eq!(t.sim().replies().len(), 4);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_comment_whose_broadcast_ended_expires_when_meta_says_so() {
    let t = spawn_stack(|_| {}).await.unwrap();
    let live = |id_tag: u32, media: &str| {
        let mut c: SampleComment = comments(ACCOUNT_2, id_tag, 1).remove(0);
        c.live = true;
        c.media_product_type = "LIVE".to_owned();
        c.media_id = media.to_owned();
        c
    };
    let (ended, ongoing) = (
        live(251, "17900000000000251"),
        live(252, "17900000000000252"),
    );
    for c in [&ended, &ongoing] {
        t.sim()
            .register_comment(CommentSpec::new(&c.comment_id, ACCOUNT_2).live_on(&c.media_id));
    }
    t.sim().end_live_media(&ended.media_id);
    assert_eq!(
        t.post(&[ended.clone(), ongoing.clone()]).await.unwrap(),
        200
    );

    let item = t
        .wait_for(&ended.comment_id, &["EXPIRED"], Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(s(&item, "status_reason"), "meta_outside_window", "{item:?}");
    assert_eq!(
        (n(&item, "error_code"), n(&item, "error_subcode")),
        (Some(10), Some(2_534_022))
    );
    assert_eq!(t.sim().reply_count_for(&ended.comment_id), 0);
    assert_eq!(
        t.requests_for(&ended.comment_id).len(),
        1,
        "asked once, not retried"
    );

    let item = t
        .wait_for(&ongoing.comment_id, &["REPLIED"], Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(s(&item, "source"), "live_comment", "{item:?}");
    assert_eq!(
        t.sim().reply_count_for(&ongoing.comment_id),
        1,
        "a broadcast still on gets its reply"
    );
    t.stop().await;
}

/// A burst of Live comments on one account, under the real Live budget (100 calls a second, ours and the
/// simulator's): every comment is replied once while the broadcast lasts, never more than the budget in any
/// second, and Meta never has to refuse. (The rate it reaches is the bench's Live figure.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_live_comments_is_replied_within_the_live_budget_without_meta_refusing() {
    const BURST: usize = 250;
    let t = spawn_stack(|_| {}).await.unwrap();
    let live = live_comments(t.sim(), ACCOUNT_2, "17900000000000261", 261, BURST);
    for chunk in live.chunks(50) {
        assert_eq!(t.post(chunk).await.unwrap(), 200);
    }

    let items = t
        .wait_all_final(&ids(&live), Duration::from_secs(60))
        .await
        .unwrap();

    assert!(
        items.iter().all(|i| s(i, "status") == "REPLIED"),
        "{items:?}"
    );
    let log = t.sim().log();
    assert_eq!(log.len(), BURST, "one call per comment");
    assert!(log.iter().all(|r| r.code.is_none()), "{log:?}");
    let mut at: Vec<DateTime<Utc>> = t.sim().replies().iter().map(|r| r.at).collect();
    at.sort_unstable();
    let busiest = most_in_any_second(&at);
    assert!(busiest <= 100, "{busiest} Live replies within one second");
    t.stop().await;
}
