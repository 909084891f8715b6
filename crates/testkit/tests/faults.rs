//! The test kit's DynamoDB faults: a throttled request never reaches DynamoDB Local; a lost answer's
//! request is applied, then its caller sees an error (and the SDK's retry of a conditional put meets the
//! put's own success as a failed condition).
#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::AttributeValue;
use testkit::faults::{DynamoFault, DynamoFaults, FaultRates, client_with_faults};

async fn item_exists(client: &aws_sdk_dynamodb::Client, table: &str, id: &str) -> bool {
    client
        .get_item()
        .table_name(table)
        .key("comment_id", AttributeValue::S(id.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

#[tokio::test]
async fn a_throttled_put_is_not_applied_and_a_put_whose_answer_is_lost_is() {
    let local = testkit::dynamodb_local().await;
    let table = local.fresh_table().await.unwrap();
    let own = local.client();
    let put = |client: aws_sdk_dynamodb::Client, id: &'static str| {
        let table = table.clone();
        async move {
            client
                .put_item()
                .table_name(&table)
                .item("comment_id", AttributeValue::S(id.into()))
                .condition_expression("attribute_not_exists(comment_id)")
                .send()
                .await
        }
    };

    let throttling = DynamoFaults::new(FaultRates::default().with("PutItem", 1.0, 0.0), 7);
    let throttled = put(client_with_faults(&own, &throttling), "throttled").await;
    assert!(throttled.is_err());
    assert!(!item_exists(&own, &table, "throttled").await);

    let losing = DynamoFaults::new(FaultRates::default().with("PutItem", 0.0, 1.0), 7);
    let lost = put(client_with_faults(&own, &losing), "lost").await;
    assert!(lost.is_err(), "{lost:?}");
    assert!(
        item_exists(&own, &table, "lost").await,
        "applied all the same"
    );
    assert!(losing.injected()[&("PutItem".to_owned(), DynamoFault::AnswerLost)] >= 1);

    // Other operations and a disabled injector pass through.
    losing.set_enabled(false);
    assert!(
        put(client_with_faults(&own, &losing), "clean")
            .await
            .is_ok()
    );
    assert!(item_exists(&own, &table, "clean").await);
}

#[test]
fn the_same_seed_injects_the_same_faults() {
    let draws = |seed| {
        let faults = DynamoFaults::new(FaultRates::default().with("Query", 0.3, 0.0), seed);
        (0..200)
            .map(|_| faults.draw_for_test("Query"))
            .collect::<Vec<bool>>()
    };
    assert_eq!(draws(42), draws(42));
    assert_ne!(draws(42), draws(43));
    let hits = draws(42).iter().filter(|hit| **hit).count();
    assert!((30..=90).contains(&hits), "{hits} of 200 at 30%");
}
