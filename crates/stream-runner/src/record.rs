//! Stream records in the shape Lambda's DynamoDB event source mapping delivers them: the Streams API's
//! records are not, and the function (and the filters) must see what it sees deployed.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use serde_json::{Map, Value, json};

/// The `eventVersion` Lambda delivers for DynamoDB stream records.
pub const EVENT_VERSION: &str = "1.1";
/// The `eventSource` Lambda delivers for DynamoDB stream records.
pub const EVENT_SOURCE: &str = "aws:dynamodb";

/// One record converted from the Streams API: its Lambda JSON (what filters see and the handler is
/// given) and its typed form (what dead letters keep).
#[derive(Debug, Clone)]
pub(crate) struct LambdaRecord {
    pub json: Value,
    pub record: EventRecord,
    pub sequence_number: String,
    /// `ApproximateCreationDateTime`, or when the runner read the record if the stream gave none.
    pub created: SystemTime,
}

/// The region part of an ARN (`arn:aws:dynamodb:REGION:ACCOUNT:table/...`).
pub(crate) fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|region| !region.is_empty())
}

/// The record as Lambda's event source mapping delivers it, as JSON: `eventID`, `eventName`,
/// `eventVersion`, `eventSource`, `awsRegion`, `eventSourceARN`, `dynamodb` (with
/// `ApproximateCreationDateTime` in epoch seconds, `Keys`, `NewImage`, `OldImage`, `SequenceNumber`,
/// `SizeBytes`, `StreamViewType`, each only when the stream has it) and `userIdentity` for TTL
/// deletions. Attribute values are in DynamoDB JSON (`{"S": "..."}`).
pub fn lambda_json(record: &Record, stream_arn: &str) -> Result<Value> {
    let mut dynamodb = Map::new();
    if let Some(stream_record) = record.dynamodb() {
        if let Some(created) = stream_record.approximate_creation_date_time() {
            let seconds = if created.subsec_nanos() == 0 {
                json!(created.secs())
            } else {
                json!(created.as_secs_f64())
            };
            dynamodb.insert("ApproximateCreationDateTime".into(), seconds);
        }
        for (name, image) in [
            ("Keys", stream_record.keys()),
            ("NewImage", stream_record.new_image()),
            ("OldImage", stream_record.old_image()),
        ] {
            if let Some(image) = image {
                dynamodb.insert(name.into(), item_json(image).context(name)?);
            }
        }
        if let Some(sequence_number) = stream_record.sequence_number() {
            dynamodb.insert("SequenceNumber".into(), json!(sequence_number));
        }
        if let Some(size) = stream_record.size_bytes() {
            dynamodb.insert("SizeBytes".into(), json!(size));
        }
        if let Some(view) = stream_record.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    let region = record
        .aws_region()
        .filter(|region| !region.is_empty())
        .or_else(|| region_of(stream_arn))
        .unwrap_or_default();
    let mut event = json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": record.event_name().map(|name| name.as_str()).unwrap_or_default(),
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    });
    if let (Some(identity), Value::Object(fields)) = (record.user_identity(), &mut event) {
        fields.insert(
            "userIdentity".into(),
            json!({
                "type": identity.r#type().unwrap_or_default(),
                "principalId": identity.principal_id().unwrap_or_default(),
            }),
        );
    }
    Ok(event)
}

/// The event Lambda invokes the function with for a batch: `{"Records": [...]}`, each record as
/// [`lambda_json`] gives it.
pub(crate) fn lambda_event(records: impl IntoIterator<Item = Value>) -> Value {
    json!({ "Records": records.into_iter().collect::<Vec<Value>>() })
}

fn item_json(image: &HashMap<String, AttributeValue>) -> Result<Value> {
    let item = serde_dynamo::Item::from(image.clone());
    serde_json::to_value(&item).context("converting an image to DynamoDB JSON")
}

pub(crate) fn convert(
    record: &Record,
    stream_arn: &str,
    read_at: SystemTime,
) -> Result<LambdaRecord> {
    let json = lambda_json(record, stream_arn)?;
    let event_record: EventRecord = serde_json::from_value(json.clone())
        .context("the Lambda JSON of a record does not parse as aws_lambda_events' EventRecord")?;
    let stream_record = record.dynamodb();
    let created = stream_record
        .and_then(|stream_record| stream_record.approximate_creation_date_time())
        .and_then(|created| {
            let millis = u64::try_from(created.to_millis().ok()?).ok()?;
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis))
        })
        .unwrap_or(read_at);
    Ok(LambdaRecord {
        json,
        record: event_record,
        sequence_number: stream_record
            .and_then(|stream_record| stream_record.sequence_number())
            .unwrap_or_default()
            .to_owned(),
        created,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use aws_sdk_dynamodbstreams::primitives::DateTime;
    use aws_sdk_dynamodbstreams::types::{Identity, OperationType, StreamRecord, StreamViewType};

    const ARN: &str =
        "arn:aws:dynamodb:eu-west-1:123456789012:table/comments/stream/2024-01-01T00:00:00.000";

    fn ttl_removal() -> Record {
        Record::builder()
            .event_id("e1")
            .event_name(OperationType::Remove)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("eu-west-1")
            .dynamodb(
                StreamRecord::builder()
                    .approximate_creation_date_time(DateTime::from_secs(1_700_000_000))
                    .keys("comment_id", AttributeValue::S("c1".into()))
                    .old_image("comment_id", AttributeValue::S("c1".into()))
                    .old_image("attempts", AttributeValue::N("2".into()))
                    .sequence_number("100")
                    .size_bytes(42)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )
            .user_identity(
                Identity::builder()
                    .r#type("Service")
                    .principal_id("dynamodb.amazonaws.com")
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_ttl_removal_has_lambdas_shape_with_user_identity_and_no_new_image() {
        let json = lambda_json(&ttl_removal(), ARN).unwrap();
        assert_eq!(
            json,
            json!({
                "eventID": "e1",
                "eventName": "REMOVE",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "eventSourceARN": ARN,
                "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"comment_id": {"S": "c1"}},
                    "OldImage": {"comment_id": {"S": "c1"}, "attempts": {"N": "2"}},
                    "SequenceNumber": "100",
                    "SizeBytes": 42,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            })
        );
    }

    #[test]
    fn the_typed_record_carries_the_same_fields() {
        let converted = convert(&ttl_removal(), ARN, SystemTime::now()).unwrap();
        let record = &converted.record;
        assert_eq!(record.event_id, "e1");
        assert_eq!(record.event_name, "REMOVE");
        assert_eq!(record.event_source_arn.as_deref(), Some(ARN));
        assert_eq!(record.change.sequence_number.as_deref(), Some("100"));
        assert_eq!(record.change.size_bytes, 42);
        assert!(record.change.new_image.is_empty());
        assert_eq!(record.change.old_image.len(), 2);
        assert_eq!(
            record
                .user_identity
                .as_ref()
                .map(|identity| identity.type_.as_str()),
            Some("Service")
        );
        assert_eq!(
            record.change.approximate_creation_date_time.timestamp(),
            1_700_000_000
        );
        assert_eq!(
            converted.created,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert_eq!(converted.sequence_number, "100");
    }

    #[test]
    fn the_event_holds_the_records_under_records_in_order() {
        let event = lambda_event([json!({"eventID": "e1"}), json!({"eventID": "e2"})]);
        assert_eq!(
            event,
            json!({"Records": [{"eventID": "e1"}, {"eventID": "e2"}]})
        );
        assert_eq!(lambda_event([]), json!({"Records": []}));
    }

    #[test]
    fn the_region_falls_back_to_the_stream_arns() {
        let record = Record::builder()
            .event_id("e2")
            .event_name(OperationType::Insert)
            .build();
        let json = lambda_json(&record, ARN).unwrap();
        assert_eq!(json["awsRegion"], "eu-west-1");
        assert!(json.get("userIdentity").is_none());
    }
}
