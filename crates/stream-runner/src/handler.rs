//! The function the runner invokes. AWS invokes the replier's Lambda entry point with JSON and reads
//! JSON back, so that is the runner's interface too ([`LambdaHandler`]): locally, the very entry point
//! that is deployed can run. Handlers written against `aws_lambda_events`' types ([`StreamHandler`])
//! are adapted onto it, parsing the event and serializing the response as the Lambda runtime does
//! for a typed function.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::Value;

/// The function the runner invokes, as AWS invokes a Lambda function: the event as JSON in, the
/// response as JSON out.
///
/// The event is `{"Records": [...]}`, each record with Lambda's field names (`eventID`, `eventName`,
/// `eventSource`, `eventSourceARN`, `awsRegion`, `dynamodb.Keys`/`NewImage`/`OldImage` in DynamoDB
/// JSON, `dynamodb.SequenceNumber`...; see [`lambda_json`](crate::lambda_json)). The response is
/// read as Lambda reads it: `{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}` asks for
/// the records from the lowest named one on to be delivered again; a null response, `{}`, or a null
/// or empty `batchItemFailures` is success. An `Err` is a function error.
///
/// Closures `Fn(Value) -> impl Future<Output = Result<Value, E>>` are handlers for any error type `E`
/// that converts into [`anyhow::Error`] (any `std::error::Error + Send + Sync + 'static`, such as the
/// replier's `HandlerError`, or `anyhow::Error` itself).
#[async_trait]
pub trait LambdaHandler: Send + Sync {
    /// Handles one batch.
    async fn handle(&self, event: Value) -> Result<Value, anyhow::Error>;
}

#[async_trait]
impl<F, Fut, E> LambdaHandler for F
where
    F: Fn(Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, E>> + Send,
    E: Into<anyhow::Error>,
{
    async fn handle(&self, event: Value) -> Result<Value, anyhow::Error> {
        self(event).await.map_err(Into::into)
    }
}

/// The function the runner invokes, typed: one batch of stream records in, a partial batch response
/// (or an error) out. The runner invokes it on the JSON path, through an adapter that parses the
/// event and serializes the response.
#[async_trait]
pub trait StreamHandler: Send + Sync {
    /// Handles one batch. `Ok` with no `batch_item_failures` is success; failures name records by
    /// their `SequenceNumber`; `Err` is a function error.
    async fn handle(&self, event: Event) -> Result<DynamoDbEventResponse, anyhow::Error>;
}

#[async_trait]
impl<F, Fut> StreamHandler for F
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<DynamoDbEventResponse, anyhow::Error>> + Send,
{
    async fn handle(&self, event: Event) -> Result<DynamoDbEventResponse, anyhow::Error> {
        self(event).await
    }
}

/// A [`StreamHandler`] as a [`LambdaHandler`]: the JSON event is parsed into an [`Event`] and the
/// response serialized back (`{"batchItemFailures": [...]}`); either failing is a function error.
pub(crate) struct Typed(pub(crate) Arc<dyn StreamHandler>);

#[async_trait]
impl LambdaHandler for Typed {
    async fn handle(&self, event: Value) -> Result<Value, anyhow::Error> {
        let event: Event = serde_json::from_value(event)
            .context("the event does not parse as aws_lambda_events' dynamodb::Event")?;
        let response = self.0.handle(event).await?;
        serde_json::to_value(response).context("the DynamoDbEventResponse does not serialize")
    }
}

/// A partial batch response naming these sequence numbers as failed (empty: the whole batch
/// succeeded). [`DynamoDbEventResponse`] is non-exhaustive, hence this helper.
pub fn batch_item_failures<I, S>(sequence_numbers: I) -> DynamoDbEventResponse
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = sequence_numbers
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number.into());
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    fn record_json(sequence_number: &str) -> Value {
        json!({
            "eventID": format!("e{sequence_number}"),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/comments/stream/x",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_700_000_000,
                "Keys": {"comment_id": {"S": "c1"}},
                "NewImage": {"comment_id": {"S": "c1"}, "status": {"S": "PENDING"}},
                "SequenceNumber": sequence_number,
                "SizeBytes": 42,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        })
    }

    #[tokio::test]
    async fn a_typed_handler_gets_the_parsed_event_and_its_response_is_lambdas_json() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let typed = Typed(Arc::new(move |event: Event| {
            let sink = Arc::clone(&sink);
            async move {
                let numbers: Vec<String> = event
                    .records
                    .iter()
                    .filter_map(|record| record.change.sequence_number.clone())
                    .collect();
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(numbers);
                Ok(batch_item_failures(["200"]))
            }
        }));
        let event = json!({"Records": [record_json("100"), record_json("200")]});
        let response = typed
            .handle(event)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            response,
            json!({"batchItemFailures": [{"itemIdentifier": "200"}]})
        );
        assert_eq!(
            *seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            ["100", "200"]
        );
    }

    #[tokio::test]
    async fn a_typed_success_is_an_empty_failure_list_and_a_typed_error_stays_the_same_error() {
        let fine = Typed(Arc::new(|_: Event| async {
            Ok(DynamoDbEventResponse::default())
        }));
        let response = fine
            .handle(json!({"Records": [record_json("1")]}))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(response, json!({"batchItemFailures": []}));

        let failing = Typed(Arc::new(|_: Event| async {
            anyhow::bail!("cannot handle it")
        }));
        let error = failing
            .handle(json!({"Records": []}))
            .await
            .err()
            .map(|e| format!("{e:#}"));
        assert_eq!(error.as_deref(), Some("cannot handle it"));
    }

    #[tokio::test]
    async fn an_event_that_is_not_a_dynamodb_event_is_a_function_error_for_a_typed_handler() {
        let typed = Typed(Arc::new(|_: Event| async {
            Ok(DynamoDbEventResponse::default())
        }));
        let error = typed.handle(json!({"Records": "nope"})).await.err();
        assert!(
            error.is_some_and(|e| format!("{e:#}").contains("does not parse")),
            "the adapter reports the parse failure"
        );
    }

    /// An error type of its own, as the replier's `HandlerError` is.
    #[derive(Debug)]
    struct Unavailable;

    impl fmt::Display for Unavailable {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the service is unavailable")
        }
    }

    impl std::error::Error for Unavailable {}

    #[tokio::test]
    async fn a_json_closure_with_its_own_error_type_is_a_handler() {
        let handler = |event: Value| async move {
            if event["Records"].as_array().is_some_and(Vec::is_empty) {
                return Err(Unavailable);
            }
            Ok(
                json!({"batchItemFailures": [], "records": event["Records"].as_array().map(Vec::len)}),
            )
        };
        let response = LambdaHandler::handle(&handler, json!({"Records": [record_json("1")]}))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(response, json!({"batchItemFailures": [], "records": 1}));
        let error = LambdaHandler::handle(&handler, json!({"Records": []}))
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("the service is unavailable"));
    }
}
