//! The test kit's IAM for DynamoDB Local: a role's client does what the role grants and nothing else.
#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::AttributeValue;

#[tokio::test]
async fn a_roles_client_makes_the_calls_its_role_grants_and_refuses_the_others() {
    let local = testkit::dynamodb_local().await;
    let table = local.fresh_table().await.unwrap();
    let (client, calls) =
        testkit::iam::client_for_role(&local.sdk_config(), "WebhookRole").unwrap();

    let put = client
        .put_item()
        .table_name(&table)
        .item("comment_id", AttributeValue::S("1".into()))
        .send()
        .await;
    assert!(put.is_ok(), "{put:?}");
    let delete = client
        .delete_item()
        .table_name(&table)
        .key("comment_id", AttributeValue::S("1".into()))
        .send()
        .await;
    let error = format!("{:?}", delete.err());
    assert!(
        error.contains("WebhookRole is not granted dynamodb:DeleteItem"),
        "{error}"
    );

    assert_eq!(calls.denied(), ["dynamodb:DeleteItem"]);
    assert_eq!(
        calls.made().into_iter().collect::<Vec<_>>(),
        ["dynamodb:DeleteItem", "dynamodb:PutItem"]
    );
    let refused = std::panic::catch_unwind(|| calls.assert_none_denied());
    assert!(refused.is_err(), "a refused call must fail the test");
}

#[tokio::test]
async fn a_recording_client_refuses_nothing_and_the_grants_come_from_the_template() {
    let local = testkit::dynamodb_local().await;
    let (client, calls) = testkit::iam::recording_client(&local.sdk_config());
    client.list_tables().send().await.unwrap();
    assert_eq!(
        calls.made().into_iter().collect::<Vec<_>>(),
        ["dynamodb:ListTables"]
    );
    calls.assert_none_denied();
    let replier = testkit::iam::granted_dynamodb_actions("ReplierRole").unwrap();
    assert!(replier.contains("dynamodb:UpdateItem") && replier.contains("dynamodb:Query"));
    assert!(testkit::iam::granted_dynamodb_actions("NoSuchRole").is_err());
}
