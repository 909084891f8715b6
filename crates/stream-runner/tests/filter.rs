//! Lambda's filter semantics, as the runner implements them (no DynamoDB needed).
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use stream_runner::{FilterPattern, matches_any};

fn pattern(json: &str) -> FilterPattern {
    FilterPattern::parse(json).unwrap()
}

fn record(status: &str) -> Value {
    json!({
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"comment_id": {"S": "c1"}},
            "NewImage": {
                "comment_id": {"S": "c1"},
                "status": {"S": status},
                "attempts": {"N": "2"},
                "tags": {"SS": ["urgent", "vip"]}
            },
            "OldImage": {"comment_id": {"S": "c1"}, "status": {"S": "PENDING"}},
            "SizeBytes": 120
        }
    })
}

#[test]
fn an_exact_value_at_a_nested_path_matches_only_that_value() {
    let filter = pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}}"#);
    assert!(filter.matches(&record("PENDING")));
    assert!(!filter.matches(&record("REPLIED")));
    assert!(!filter.matches(&record("pending")));
}

#[test]
fn any_of_the_listed_values_matches() {
    let filter = pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": ["PENDING", "RETRY"]}}}}"#);
    assert!(filter.matches(&record("RETRY")));
    assert!(filter.matches(&record("PENDING")));
    assert!(!filter.matches(&record("REPLIED")));
}

#[test]
fn every_leaf_of_a_pattern_must_match() {
    let filter = pattern(
        r#"{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}}"#,
    );
    assert!(filter.matches(&record("PENDING")));
    let mut insert = record("PENDING");
    insert["eventName"] = json!("INSERT");
    assert!(!filter.matches(&insert));
}

#[test]
fn a_path_missing_from_the_record_does_not_match_a_value() {
    let filter = pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}}"#);
    let removal =
        json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {"status": {"S": "PENDING"}}}});
    assert!(!filter.matches(&removal));
}

#[test]
fn a_path_ending_on_an_object_is_not_a_leaf() {
    let filter = pattern(r#"{"dynamodb": {"NewImage": ["PENDING"]}}"#);
    assert!(!filter.matches(&record("PENDING")));
}

#[test]
fn exists_true_and_false_test_for_the_presence_of_a_leaf() {
    let has_new_image =
        pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": [{"exists": true}]}}}}"#);
    let no_new_image =
        pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": [{"exists": false}]}}}}"#);
    let removal =
        json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {"status": {"S": "PENDING"}}}});
    assert!(has_new_image.matches(&record("REPLIED")));
    assert!(!has_new_image.matches(&removal));
    assert!(no_new_image.matches(&removal));
    assert!(!no_new_image.matches(&record("REPLIED")));
}

#[test]
fn prefix_matches_the_start_of_strings_only() {
    let filter = pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "PEND"}]}}}}"#);
    assert!(filter.matches(&record("PENDING")));
    assert!(!filter.matches(&record("REPLIED")));
    assert!(!filter.matches(&record("XPENDING")));
    let numeric = pattern(r#"{"dynamodb": {"SizeBytes": [{"prefix": "12"}]}}"#);
    assert!(
        !numeric.matches(&record("PENDING")),
        "a number is not a string"
    );
}

#[test]
fn anything_but_matches_a_present_value_outside_the_list() {
    let filter = pattern(
        r#"{"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["REPLIED", "FAILED"]}]}}}}"#,
    );
    assert!(filter.matches(&record("PENDING")));
    assert!(!filter.matches(&record("REPLIED")));
    assert!(!filter.matches(&record("FAILED")));
    let removal = json!({"dynamodb": {"OldImage": {"status": {"S": "PENDING"}}}});
    assert!(
        !filter.matches(&removal),
        "anything-but needs the field to be there"
    );

    let single = pattern(r#"{"eventName": [{"anything-but": "REMOVE"}]}"#);
    assert!(single.matches(&record("PENDING")));
    let prefix = pattern(
        r#"{"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": {"prefix": "REP"}}]}}}}"#,
    );
    assert!(prefix.matches(&record("PENDING")));
    assert!(!prefix.matches(&record("REPLIED")));
}

#[test]
fn multiple_filters_are_ored_and_no_filters_deliver_everything() {
    let filters = vec![
        pattern(r#"{"dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}}"#),
        pattern(r#"{"eventName": ["REMOVE"]}"#),
    ];
    assert!(matches_any(&filters, &record("PENDING")));
    assert!(!matches_any(&filters, &record("REPLIED")));
    assert!(matches_any(
        &filters,
        &json!({"eventName": "REMOVE", "dynamodb": {}})
    ));
    assert!(matches_any(&[], &record("REPLIED")));
}

#[test]
fn numbers_match_numbers_numerically_and_never_strings() {
    // DynamoDB numbers are strings in the record ({"N": "2"}): a string pattern matches them, a number
    // pattern does not.
    let as_string = pattern(r#"{"dynamodb": {"NewImage": {"attempts": {"N": ["2"]}}}}"#);
    let as_number = pattern(r#"{"dynamodb": {"NewImage": {"attempts": {"N": [2]}}}}"#);
    assert!(as_string.matches(&record("PENDING")));
    assert!(!as_number.matches(&record("PENDING")));

    // JSON numbers (SizeBytes) match numbers, compared numerically, and not strings.
    assert!(pattern(r#"{"dynamodb": {"SizeBytes": [120]}}"#).matches(&record("PENDING")));
    assert!(pattern(r#"{"dynamodb": {"SizeBytes": [120.0]}}"#).matches(&record("PENDING")));
    assert!(!pattern(r#"{"dynamodb": {"SizeBytes": ["120"]}}"#).matches(&record("PENDING")));
    assert!(
        pattern(r#"{"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}"#)
            .matches(&record("PENDING"))
    );
    assert!(
        !pattern(r#"{"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}"#)
            .matches(&record("PENDING"))
    );
}

#[test]
fn a_value_inside_a_list_matches_if_any_element_does() {
    let filter = pattern(r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["vip"]}}}}"#);
    assert!(filter.matches(&record("PENDING")));
    let other = pattern(r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["spam"]}}}}"#);
    assert!(!other.matches(&record("PENDING")));
}

#[test]
fn patterns_the_runner_cannot_honour_are_rejected() {
    for bad in [
        "[]",
        r#"{"eventName": "INSERT"}"#,
        r#"{"eventName": []}"#,
        r#"{"eventName": [{"wildcard": "IN*"}]}"#,
        r#"{"eventName": [{"exists": "yes"}]}"#,
        r#"{"eventName": [{"prefix": "A", "suffix": "B"}]}"#,
        r#"{"$or": [{"eventName": ["INSERT"]}]}"#,
        r#"{"dynamodb": {"SizeBytes": [{"numeric": [">"]}]}}"#,
        "not json",
    ] {
        assert!(
            FilterPattern::parse(bad).is_err(),
            "{bad} should be rejected"
        );
    }
}
