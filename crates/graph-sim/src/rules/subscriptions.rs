//! The rules of the other endpoint, `POST /{version}/{ig_id}/subscribed_apps`: the same path and token checks
//! as a reply, then the fields, and the account's subscription replaced. Apart from the reply rules: past those
//! first checks the two endpoints share only the log.

use serde_json::json;

use super::State;
use crate::errors::GraphError;
use crate::ids::token_fingerprint;
use crate::wire::{
    Answer, AnswerBody, ENDPOINT_SUBSCRIBED_APPS, LoggedRequest, METHOD_POST, SUBSCRIBABLE_FIELDS,
};

impl State {
    /// A `subscribed_apps` request: decided, the account's subscription replaced when it succeeds, and logged.
    pub(crate) fn subscribe(
        &mut self,
        version: &str,
        ig_id: &str,
        token: Option<&str>,
        fields: Option<Vec<String>>,
    ) -> Answer {
        let now = self.now();
        let answer = self.decide_subscription(version, ig_id, token, fields.as_deref());
        if answer.status == 200
            && let Some(fields) = &fields
        {
            self.subscriptions.insert(ig_id.to_owned(), fields.clone());
        }
        tracing::info!(
            ig_id,
            status = answer.status,
            code = answer.code,
            "subscribed_apps request"
        );
        self.log.push(LoggedRequest {
            seq: self.next_seq(),
            endpoint: ENDPOINT_SUBSCRIBED_APPS.to_owned(),
            at: now,
            version: version.to_owned(),
            ig_id: ig_id.to_owned(),
            comment_id: None,
            recipient_id: None,
            token_fingerprint: token.map(token_fingerprint),
            text_len: None,
            text: None,
            status: Some(answer.status),
            code: answer.code,
            subcode: answer.subcode,
            message_id: None,
            reply_id: None,
            fault: None,
            subscribed_fields: fields,
            method: METHOD_POST.to_owned(),
        });
        answer
    }

    /// Meta's checks for `subscribed_apps`: path, token, then the fields.
    fn decide_subscription(
        &self,
        version: &str,
        ig_id: &str,
        token: Option<&str>,
        fields: Option<&[String]>,
    ) -> Answer {
        let now = self.now();
        if let Err(e) =
            self.check_path_and_token(version, ig_id, ENDPOINT_SUBSCRIBED_APPS, token, now)
        {
            return Answer::error(e, None);
        }
        let invalid =
            |msg: String| Answer::error(GraphError::new(100, None).with_message(msg), None);
        let fields = match fields {
            Some(fields) if !fields.is_empty() => fields,
            _ => return invalid("(#100) The parameter subscribed_fields is required".to_owned()),
        };
        if let Some((i, unknown)) = fields
            .iter()
            .enumerate()
            .find(|(_, f)| !SUBSCRIBABLE_FIELDS.contains(&f.as_str()))
        {
            return invalid(format!(
                "(#100) Param subscribed_fields[{i}] must be one of {{{}}} - got \"{unknown}\"",
                SUBSCRIBABLE_FIELDS.join(", ")
            ));
        }
        Answer::new(200, AnswerBody::Json(json!({ "success": true })))
    }
}
