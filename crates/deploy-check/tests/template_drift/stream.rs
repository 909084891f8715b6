//! The replier's stream trigger: the settings the local stream runner plays, the filter the replier
//! relies on, the dead-letter queue, and the retry sweep's schedule.

use reply_core::CommentStatus;
use reply_core::comment::attr;
use reply_core::lifecycle::PublicReplyStatus;
use sam_template::Template;
use serde_json::json;
use stream_runner::{COMMENT_STREAM_EVENT, EventSourceSettings, REPLIER_FUNCTION_RESOURCE};
use testkit::table::COMMENTS_TABLE_RESOURCE;

use crate::{Problems, STREAM_VIEW};

/// The EventBridge event the replier recognises as its retry sweep is a classic scheduled rule's event
/// (`"detail-type": "Scheduled Event"`, `"source": "aws.events"`), i.e. SAM's `Schedule`, not `ScheduleV2`.
const SWEEP_EVENT_TYPE: &str = "Schedule";
/// SQS's maximum retention, for the stream's dead-letter queue.
const DLQ_RETENTION_SECS: i64 = 14 * 24 * 3600;

/// Every status a comment can have (`reply_core`'s own test keeps `CommentStatus::ALL` complete, so a new
/// status reaches the filter check below).
fn all_statuses() -> Vec<CommentStatus> {
    CommentStatus::ALL.to_vec()
}

/// The replier's stream trigger: the filter the replier and the local stream runner rely on, the settings
/// the runner plays locally, the dead-letter queue, and the sweep schedule.
pub(crate) fn check_stream_mapping(template: &Template, problems: &mut Problems) {
    let at = format!("{REPLIER_FUNCTION_RESOURCE}.Events.{COMMENT_STREAM_EVENT}");
    let settings = match EventSourceSettings::from_parsed(
        template,
        REPLIER_FUNCTION_RESOURCE,
        COMMENT_STREAM_EVENT,
    ) {
        Ok(settings) => settings,
        Err(e) => return problems.add(format!("{at}: the local stream runner refuses it: {e:#}")),
    };
    if !settings.report_batch_item_failures {
        problems.add(format!(
            "{at}: FunctionResponseTypes must contain ReportBatchItemFailures (the replier answers with batchItemFailures)"
        ));
    }
    if !settings.bisect_batch_on_function_error {
        problems.add(format!("{at}: BisectBatchOnFunctionError must be true"));
    }
    if settings.maximum_retry_attempts.is_none() || settings.maximum_record_age.is_none() {
        problems.add(format!(
            "{at}: MaximumRetryAttempts and MaximumRecordAgeInSeconds must be finite"
        ));
    }

    // The filters: exactly two patterns, which let through new images in PENDING, and REPLIED ones whose
    // public reply is QUEUED, and nothing else.
    let pending = CommentStatus::Pending.as_str();
    let replied = CommentStatus::Replied.as_str();
    let queued = PublicReplyStatus::Queued.as_str();
    let expected = [
        json!({"dynamodb": {"NewImage": {(attr::STATUS): {"S": [pending]}}}}),
        json!({"dynamodb": {"NewImage": {
            (attr::STATUS): {"S": [replied]},
            (attr::PUBLIC_REPLY_STATUS): {"S": [queued]},
        }}}),
    ];
    let actual: Vec<serde_json::Value> = settings
        .filters
        .iter()
        .map(|f| serde_json::from_str(f.source()).unwrap_or_default())
        .collect();
    if actual != expected {
        problems.add(format!(
            "{at}: the filters are {actual:?}, the replier expects {expected:?}"
        ));
    }
    let delivered = |record: &serde_json::Value| settings.filters.iter().any(|f| f.matches(record));
    for status in all_statuses() {
        for public in std::iter::once(None).chain(PublicReplyStatus::ALL.map(Some)) {
            let record = stream_record("MODIFY", Some(status), Some((status, public)));
            let wanted = status == CommentStatus::Pending
                || (status == CommentStatus::Replied && public == Some(PublicReplyStatus::Queued));
            if delivered(&record) != wanted {
                problems.add(format!(
                    "{at}: a record whose new image is {status} (public reply {public:?}) is {} by the filters, but the replier expects {}",
                    if wanted { "dropped" } else { "delivered" },
                    if wanted { "it" } else { "only PENDING, and REPLIED with a QUEUED public reply" },
                ));
            }
        }
    }
    if delivered(&stream_record("REMOVE", Some(CommentStatus::Pending), None)) {
        problems.add(format!(
            "{at}: the filters deliver TTL deletions (records with no new image)"
        ));
    }

    let Some(function) = template.resource(REPLIER_FUNCTION_RESOURCE) else {
        return;
    };
    let events = function.property("Events");
    let event = events
        .as_ref()
        .and_then(|events| events.get(COMMENT_STREAM_EVENT));
    let properties = event.and_then(|e| e.get("Properties"));
    if properties
        .as_ref()
        .and_then(|p| p.get("Stream"))
        .and_then(|stream| stream.get_att())
        != Some((COMMENTS_TABLE_RESOURCE, "StreamArn"))
    {
        problems.add(format!(
            "{at}.Stream must be !GetAtt CommentsTable.StreamArn"
        ));
    }

    // The on-failure destination: an SQS queue keeping messages 14 days.
    let destination = properties
        .as_ref()
        .and_then(|p| p.find(&["DestinationConfig", "OnFailure", "Destination"]))
        .and_then(|destination| destination.get_att());
    match destination {
        Some((queue, "Arn")) => {
            let queue_resource = template.resource(queue);
            if queue_resource.as_ref().map(|q| q.type_name()) != Some("AWS::SQS::Queue") {
                problems.add(format!(
                    "{at}: the OnFailure destination {queue} is not an SQS queue"
                ));
            } else if queue_resource
                .and_then(|q| q.property("MessageRetentionPeriod"))
                .and_then(|period| period.as_integer())
                != Some(DLQ_RETENTION_SECS)
            {
                problems.add(format!(
                    "{queue}: MessageRetentionPeriod must be {DLQ_RETENTION_SECS} (14 days)"
                ));
            }
        }
        _ => problems.add(format!(
            "{at}: DestinationConfig.OnFailure.Destination must be !GetAtt <an SQS queue>.Arn"
        )),
    }

    // The retry sweep.
    let event_types: Vec<&str> = match template
        .function(REPLIER_FUNCTION_RESOURCE)
        .and_then(|function| function.events())
    {
        Ok(events) => events.iter().map(|event| event.event_type).collect(),
        Err(e) => {
            problems.add(format!("{e:#}"));
            Vec::new()
        }
    };
    if !event_types.contains(&SWEEP_EVENT_TYPE) {
        problems.add(format!(
            "{REPLIER_FUNCTION_RESOURCE} has no {SWEEP_EVENT_TYPE} event: nothing runs the retry sweep"
        ));
    }
    if event_types.contains(&"ScheduleV2") {
        problems.add(format!(
            "{REPLIER_FUNCTION_RESOURCE}: a ScheduleV2 (EventBridge Scheduler) event does not send the \
             \"Scheduled Event\" the replier recognises as its sweep; use Schedule"
        ));
    }
}

/// A stream record in Lambda's JSON form with the given images (only the key and status attributes).
fn stream_record(
    event_name: &str,
    old: Option<CommentStatus>,
    new: Option<(CommentStatus, Option<PublicReplyStatus>)>,
) -> serde_json::Value {
    let image = |status: CommentStatus, public: Option<PublicReplyStatus>| {
        let mut image = json!({
            (attr::COMMENT_ID): {"S": "18058455121735594"},
            (attr::STATUS): {"S": status.as_str()},
        });
        if let Some(public) = public {
            image[attr::PUBLIC_REPLY_STATUS] = json!({"S": public.as_str()});
        }
        image
    };
    let mut dynamodb = json!({
        "Keys": {(attr::COMMENT_ID): {"S": "18058455121735594"}},
        "SequenceNumber": "100000000000000000001",
        "StreamViewType": STREAM_VIEW,
    });
    if let Some(status) = old {
        dynamodb["OldImage"] = image(status, None);
    }
    if let Some((status, public)) = new {
        dynamodb["NewImage"] = image(status, public);
    }
    json!({"eventID": "1", "eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb})
}
