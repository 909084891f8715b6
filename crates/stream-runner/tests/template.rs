//! The mapping settings and filters are read from template.yaml, the deployed definition.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use stream_runner::{
    EventSourceSettings, StartingPosition, filters_from_template_str, load_filters,
};

#[test]
fn the_settings_are_those_of_the_replier_functions_comment_stream_event() {
    let settings = EventSourceSettings::from_template(testkit::table::template_path()).unwrap();
    assert_eq!(settings.starting_position, StartingPosition::TrimHorizon);
    assert_eq!(settings.batch_size, 25);
    assert_eq!(settings.batching_window, Duration::from_secs(1));
    assert!(settings.bisect_batch_on_function_error);
    assert_eq!(settings.maximum_retry_attempts, Some(10));
    assert_eq!(
        settings.maximum_record_age,
        Some(Duration::from_secs(86_400))
    );
    assert!(settings.report_batch_item_failures);
    assert_eq!(
        settings.filters,
        load_filters(testkit::table::template_path()).unwrap()
    );
}

#[test]
fn the_templates_filters_pass_pending_new_images_and_queued_public_replies_only() {
    let filters = load_filters(testkit::table::template_path()).unwrap();
    assert_eq!(filters.len(), 2);
    let any = |record: &serde_json::Value| filters.iter().any(|f| f.matches(record));
    let with_status = |status: &str| json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"status": {"S": status}}}});
    let with_public = |status: &str, public: &str| {
        json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {
        "status": {"S": status}, "public_reply_status": {"S": public}}}})
    };
    assert!(any(&with_status("PENDING")));
    assert!(!any(&with_status("REPLIED")));
    assert!(any(&with_public("REPLIED", "QUEUED")));
    assert!(!any(&with_public("REPLIED", "POSTED")));
    assert!(!any(&with_public("FAILED", "QUEUED")));
    assert!(!any(
        &json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {"status": {"S": "PENDING"}}}})
    ));
}

const TEMPLATE: &str = r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt Role.Arn
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: LATEST
            EXTRA
"#;

#[test]
fn cloudformation_tags_are_tolerated_and_absent_properties_take_lambdas_defaults() {
    let yaml = TEMPLATE.replace("EXTRA", "");
    let settings = EventSourceSettings::from_template_str(&yaml, "Fn", "Stream").unwrap();
    assert_eq!(settings.starting_position, StartingPosition::Latest);
    assert_eq!(settings.batch_size, 100);
    assert_eq!(settings.batching_window, Duration::ZERO);
    assert!(!settings.bisect_batch_on_function_error);
    assert_eq!(settings.maximum_retry_attempts, None);
    assert_eq!(settings.maximum_record_age, None);
    assert!(!settings.report_batch_item_failures);
    assert!(settings.filters.is_empty());
}

#[test]
fn several_filters_are_all_read() {
    let yaml = TEMPLATE.replace(
        "EXTRA",
        "FilterCriteria:\n              Filters:\n                - Pattern: '{\"eventName\": [\"INSERT\"]}'\n                - Pattern: '{\"eventName\": [\"MODIFY\"]}'",
    );
    let filters = filters_from_template_str(&yaml, "Fn", "Stream").unwrap();
    assert_eq!(filters.len(), 2);
    assert!(filters[1].matches(&json!({"eventName": "MODIFY"})));
}

#[test]
fn a_property_the_runner_does_not_implement_is_an_error() {
    for extra in [
        "ParallelizationFactor: 2",
        "TumblingWindowInSeconds: 30",
        "BatchSize: !Ref Size",
    ] {
        let yaml = TEMPLATE.replace("EXTRA", extra);
        assert!(
            EventSourceSettings::from_template_str(&yaml, "Fn", "Stream").is_err(),
            "{extra} should be refused"
        );
    }
    let bad_pattern = TEMPLATE.replace(
        "EXTRA",
        "FilterCriteria:\n              Filters:\n                - Pattern: '{\"eventName\": [{\"wildcard\": \"I*\"}]}'",
    );
    assert!(filters_from_template_str(&bad_pattern, "Fn", "Stream").is_err());
}
