//! One reply per comment, end to end: signed webhook POST -> comments table -> stream -> replier -> Graph API
//! simulator. These tests attack the "exactly one" promise from every side the deployed system meets:
//! many comments and accounts at once, Meta delivering a notification more than once, two replier
//! invocations holding the same records, and an invocation that dies between sending and recording.

#![allow(clippy::unwrap_used)]

use e2e::{Fault, b, comments, eventually, ids, n, s, spawn_stack};
use replier::{Replier, ReplierConfig, ReplierParts};
use reply_core::clock::SystemClock;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT_1: &str = "17841400000000101";
const ACCOUNT_2: &str = "17841400000000102";
const ACCOUNT_3: &str = "17841400000000103";

/// Claims go stale after 2 s and a request to Meta gives up after 1 s, so the sweep rescues a dead
/// invocation's comment within seconds; backoff stays at 1-2 s.
fn quick_claims(c: &mut ReplierConfig) {
    c.http_timeout = Duration::from_secs(1);
    c.http_connect_timeout = Duration::from_secs(1);
    c.dynamodb_timeout = Duration::from_secs(2);
    // Just over the longest a live claim is held (4 DynamoDB requests, the call and the clock allowance).
    c.claim_timeout = Duration::from_secs(12);
    c.retry_max = Duration::from_secs(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_comment_across_three_accounts_gets_exactly_one_reply() {
    let t = spawn_stack(|_| {}).await.unwrap();
    let mut all = comments(ACCOUNT_1, 101, 10);
    all.extend(comments(ACCOUNT_2, 102, 10));
    all.extend(comments(ACCOUNT_3, 103, 10));
    // One POST with three entries of ten changes each, as Meta batches them.
    assert_eq!(t.post(&all).await.unwrap(), 200);

    let comment_ids = ids(&all);
    let items = t
        .wait_all_final(&comment_ids, Duration::from_secs(30))
        .await
        .unwrap();

    let replies = t.sim().replies();
    assert_eq!(
        replies.len(),
        30,
        "the simulator delivered {} replies",
        replies.len()
    );
    for (comment, item) in all.iter().zip(&items) {
        let id = &comment.comment_id;
        assert_eq!(s(item, "status"), "REPLIED", "{id}: {item:?}");
        assert_eq!(b(item, "confirmed"), Some(true), "{id}");
        assert_eq!(n(item, "attempts"), Some(1), "{id}");
        assert_eq!(t.sim().reply_count_for(id), 1, "{id}");
        let reply = replies.iter().find(|r| &r.comment_id == id).unwrap();
        // What the table recorded is what Meta answered, and the reply went out from the right account with
        // the template filled in for this commenter.
        assert_eq!(s(item, "message_id"), reply.message_id, "{id}");
        assert_eq!(s(item, "recipient_id"), reply.recipient_id, "{id}");
        assert_eq!(reply.ig_id, comment.account_id, "{id}");
        assert!(
            reply
                .text
                .starts_with(&format!("Hi {}!", comment.commenter_username)),
            "{id}: {:?}",
            reply.text
        );
    }
    let message_ids: HashSet<_> = replies.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(message_ids.len(), 30);
    assert_eq!(
        t.sim().log().len(),
        30,
        "one call to Meta per comment, no more"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_delivered_many_times_gives_each_comment_one_reply() {
    let t = spawn_stack(|_| {}).await.unwrap();
    let time = chrono::Utc::now();

    // The same notification three times in a row, byte for byte.
    let sequential = comments(ACCOUNT_1, 111, 3);
    for _ in 0..3 {
        assert_eq!(t.post_at(&sequential, time).await.unwrap(), 200);
    }
    // The same notification three times at once.
    let concurrent = comments(ACCOUNT_2, 112, 3);
    let (a, b2, c) = tokio::join!(
        t.post_at(&concurrent, time),
        t.post_at(&concurrent, time),
        t.post_at(&concurrent, time)
    );
    assert_eq!((a.unwrap(), b2.unwrap(), c.unwrap()), (200, 200, 200));
    // The same change twice in one notification (ad posts do this).
    let one = comments(ACCOUNT_3, 113, 1);
    let doubled = [one[0].clone(), one[0].clone()];
    assert_eq!(t.post_at(&doubled, time).await.unwrap(), 200);

    let mut all = sequential.clone();
    all.extend(concurrent.clone());
    all.extend(one.clone());
    let comment_ids = ids(&all);
    t.wait_all_final(&comment_ids, Duration::from_secs(20))
        .await
        .unwrap();

    // A late duplicate, after the reply went out, must not start anything either.
    assert_eq!(t.post_at(&sequential, time).await.unwrap(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;

    for (id, item) in comment_ids.iter().zip(t.items(&comment_ids).await.unwrap()) {
        assert_eq!(s(&item, "status"), "REPLIED", "{id}: {item:?}");
        assert_eq!(
            n(&item, "attempts"),
            Some(1),
            "{id}: stored and claimed once"
        );
        assert_eq!(t.sim().reply_count_for(id), 1, "{id}");
        assert_eq!(t.requests_for(id).len(), 1, "{id}: Meta was called once");
    }
    assert_eq!(t.sim().replies().len(), comment_ids.len());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replier_invocations_racing_over_the_same_records_send_one_reply_each() {
    let t = spawn_stack(|_| {}).await.unwrap();
    // With the stream runner stopped, the comments stay PENDING in the table.
    t.stack.stop_runner().await;
    let mut all = comments(ACCOUNT_1, 121, 6);
    all.extend(comments(ACCOUNT_2, 122, 6));
    assert_eq!(t.post(&all).await.unwrap(), 200);
    let comment_ids = ids(&all);
    assert!(
        t.statuses(&comment_ids)
            .await
            .unwrap()
            .iter()
            .all(|st| st == "PENDING")
    );

    // Three invocations hold the same PENDING records at once: the stack's replier twice, a second replier
    // instance (another Lambda container: its own HTTP client) once, and the restarted stream runner replays
    // the table's stream from the trim horizon as a fourth.
    let event = t.stream_event(&comment_ids).await.unwrap();
    let second = Replier::from_parts(
        t.stack.replier.config().clone(),
        ReplierParts {
            dynamodb: t.stack.dynamodb.clone(),
            tokens: t.stack.tokens.clone(),
            clock: Arc::new(SystemClock),
        },
    )
    .unwrap();
    let (first, again, other, runner) = tokio::join!(
        t.stack.replier.handle(event.clone()),
        t.stack.replier.handle(event.clone()),
        second.handle(event.clone()),
        t.stack.start_runner()
    );
    runner.unwrap();
    for response in [first, again, other] {
        let response = response.unwrap();
        assert_eq!(
            response["batchItemFailures"].as_array().map(Vec::len),
            Some(0),
            "no record is handed back for redelivery: {response}"
        );
    }

    let items = t
        .wait_all_final(&comment_ids, Duration::from_secs(20))
        .await
        .unwrap();
    for (id, item) in comment_ids.iter().zip(&items) {
        assert_eq!(s(item, "status"), "REPLIED", "{id}: {item:?}");
        assert_eq!(
            n(item, "attempts"),
            Some(1),
            "{id}: exactly one invocation won the claim"
        );
        assert_eq!(t.sim().reply_count_for(id), 1, "{id}");
        assert_eq!(
            t.requests_for(id).len(),
            1,
            "{id}: the losers never called Meta"
        );
    }
    assert_eq!(t.sim().replies().len(), comment_ids.len());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_answer_never_arrives_is_recorded_as_replied_without_a_second_reply() {
    let t = spawn_stack(|settings| quick_claims(&mut settings.replier))
        .await
        .unwrap();
    let batch = comments(ACCOUNT_1, 131, 2);
    let slow = batch[0].comment_id.clone();
    // Meta delivers the reply, then answers only after the replier's 1 s timeout.
    t.sim().inject(
        Fault::delay(Duration::from_secs(3), true)
            .for_comment(&slow)
            .once(),
    );
    assert_eq!(t.post(&batch).await.unwrap(), 200);

    let item = t
        .wait_for(&slow, &["REPLIED"], Duration::from_secs(20))
        .await
        .unwrap();
    // The retry met Meta's "already replied" (100/2534025) and read it as the earlier send having worked.
    assert_eq!(b(&item, "confirmed"), Some(false), "{item:?}");
    assert_eq!(s(&item, "status_reason"), "probably_sent_earlier");
    assert_eq!(n(&item, "attempts"), Some(2));
    let requests = t.requests_for(&slow);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].fault.as_deref(), Some("delay"));
    assert!(
        requests[0].message_id.is_some(),
        "the timed-out attempt was delivered"
    );
    assert_eq!(
        (requests[1].code, requests[1].subcode),
        (Some(100), Some(2_534_025))
    );
    assert_eq!(t.sim().reply_count_for(&slow), 1);

    let other = t
        .wait_for(&batch[1].comment_id, &["REPLIED"], Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(b(&other, "confirmed"), Some(true));
    assert_eq!(t.sim().replies().len(), 2);
    t.stop().await;
}

/// As [`quick_claims`], but a request waits 2 s for Meta, which leaves the test time to kill the invocation
/// while its request is in flight.
fn patient_requests(c: &mut ReplierConfig) {
    quick_claims(c);
    c.http_timeout = Duration::from_secs(2);
    c.claim_timeout = Duration::from_secs(13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replier_killed_between_send_and_record_still_ends_with_one_reply() {
    let t = spawn_stack(|settings| {
        patient_requests(&mut settings.replier);
        // A dead claim is found when its comment falls due, REDRIVE_AFTER_SECS after it was stored.
        settings.set_redrive_after(Duration::from_secs(15));
    })
    .await
    .unwrap();
    let batch = comments(ACCOUNT_2, 141, 1);
    let id = batch[0].comment_id.clone();
    // Meta takes the reply and is slow to answer; the invocation dies while it waits.
    t.sim().inject(
        Fault::delay(Duration::from_secs(5), true)
            .for_comment(&id)
            .once(),
    );
    assert_eq!(t.post(&batch).await.unwrap(), 200);
    eventually(
        Duration::from_secs(10),
        "the reply reaches the simulator",
        || async { Ok((t.sim().reply_count_for(&id) == 1).then_some(())) },
    )
    .await
    .unwrap();
    // The runner's short shutdown grace drops the in-flight invocation, as when a Lambda instance dies.
    t.stack.stop_runner().await;
    let item = t.item(&id).await.unwrap();
    assert_eq!(
        s(&item, "status"),
        "SENDING",
        "the outcome was never recorded: {item:?}"
    );

    // A new instance replays the stream (the stale image is PENDING, but the claim is held, so it is skipped);
    // the sweep takes the claim once the comment falls due and the retry learns from Meta that the reply is there.
    t.stack.start_runner().await.unwrap();
    let item = t
        .wait_for(&id, &["REPLIED"], Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(b(&item, "confirmed"), Some(false), "{item:?}");
    assert_eq!(b(&item, "unconfirmed_send"), Some(true));
    assert_eq!(n(&item, "attempts"), Some(2));
    assert_eq!(t.sim().reply_count_for(&id), 1);
    let requests = t.requests_for(&id);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (requests[1].code, requests[1].subcode),
        (Some(100), Some(2_534_025))
    );
    t.stop().await;
}
