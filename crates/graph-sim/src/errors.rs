//! Meta's error vocabulary in one place: which HTTP status, `type`, English message and `is_transient` flag a
//! Graph API error with a given `code`/`error_subcode` comes with, so every path of the simulator (real checks
//! and injected faults alike) answers in the same shape that clients key off.

use serde_json::{Value, json};

use crate::ids::fbtrace_id;

/// One Graph API error, ready to be rendered as `{"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphError {
    pub status: u16,
    pub code: u32,
    pub subcode: Option<u32>,
    pub kind: &'static str,
    pub message: String,
    pub is_transient: bool,
}

/// `100/2534025`: the one private reply of this comment is used up, or the comment is not eligible.
pub(crate) const SUB_NOT_REPLYABLE: u32 = 2534025;
/// `10/2534022`: outside the allowed window (7 days, or the Live broadcast has ended).
pub(crate) const SUB_OUTSIDE_WINDOW: u32 = 2534022;
/// `10/2018278`: a message to a person outside the 24-hour messaging window (PLATFORM.md §6, §8).
pub(crate) const SUB_OUTSIDE_MESSAGING_WINDOW: u32 = 2018278;
/// `100/2534014`: no Instagram user matches the recipient ID.
pub(crate) const SUB_NO_MATCHING_USER: u32 = 2534014;
/// `190/463`: the access token has expired.
pub(crate) const SUB_TOKEN_EXPIRED: u32 = 463;

impl GraphError {
    /// An error with Meta's usual status, type, message and transience for this code/subcode.
    pub fn new(code: u32, subcode: Option<u32>) -> Self {
        Self {
            status: default_status(code),
            code,
            subcode,
            kind: default_type(code, subcode),
            message: default_message(code, subcode),
            is_transient: default_transient(code),
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The JSON body, with a fresh `fbtrace_id` as Meta sends one per response.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": fbtrace_id(),
        });
        if let (Some(subcode), Some(obj)) = (self.subcode, error.as_object_mut()) {
            obj.insert("error_subcode".into(), subcode.into());
        }
        json!({ "error": error })
    }
}

/// Server-side failures answer 500, everything else 400 (Meta's status for throttling is unconfirmed; clients
/// must key off `code`).
fn default_status(code: u32) -> u16 {
    match code {
        1 | 2 => 500,
        _ => 400,
    }
}

fn default_transient(code: u32) -> bool {
    matches!(code, 1 | 2 | 4 | 17 | 32 | 341 | 613 | 80002)
}

fn default_type(code: u32, subcode: Option<u32>) -> &'static str {
    match (code, subcode) {
        (100, Some(33)) => "GraphMethodException",
        (100 | 10 | 551, Some(_)) | (551, None) => "IGApiException",
        _ => "OAuthException",
    }
}

fn default_message(code: u32, subcode: Option<u32>) -> String {
    let text = match (code, subcode) {
        (1, _) => "An unknown error has occurred.",
        (2, _) => "An unexpected error has occurred. Please retry your request later.",
        (4, _) => "(#4) Application request limit reached",
        (10, Some(SUB_OUTSIDE_WINDOW | SUB_OUTSIDE_MESSAGING_WINDOW)) => {
            "(#10) This message is sent outside of allowed window."
        }
        (10, Some(2018108)) => "(#10) This person isn't receiving messages from you right now.",
        (10, _) => "(#10) Application does not have permission for this action",
        (17, _) => "(#17) User request limit reached",
        (32, _) => "(#32) Page request limit reached",
        (100, Some(SUB_NOT_REPLYABLE)) => {
            "(#100) This comment can't receive a private reply. It may already have one, or it is too old or not eligible."
        }
        (100, Some(SUB_NO_MATCHING_USER)) => "(#100) No matching Instagram user was found.",
        (100, Some(2534015)) => "(#100) This Instagram user can't receive messages.",
        (100, _) => "(#100) Invalid parameter",
        (104, _) => "An access token is required to request this resource.",
        (190, Some(SUB_TOKEN_EXPIRED)) => "Error validating access token: Session has expired.",
        (190, Some(460)) => {
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
        }
        (190, Some(467)) => {
            "Error validating access token: The session is invalid because the user logged out."
        }
        (190, Some(_)) => "Error validating access token: The session is invalid.",
        (190, None) => "Invalid OAuth access token - Cannot parse access token",
        (200, Some(2534041)) => {
            "(#200) The owner of this account has turned off messaging for this conversation."
        }
        (200..=299, _) => "(#200) Permissions error",
        (341, _) => "(#341) Application limit reached",
        (368, _) => {
            "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
        }
        (551, _) => "(#551) This person isn't available right now.",
        (613, _) => "(#613) Calls to this api have exceeded the rate limit.",
        (80002, _) => {
            "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
        }
        _ => return format!("(#{code}) An error occurred while processing this request."),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_carries_code_subcode_type_and_a_trace_id() {
        let body = GraphError::new(100, Some(SUB_NOT_REPLYABLE)).body();
        assert_eq!(body["error"]["code"], 100);
        assert_eq!(body["error"]["error_subcode"], 2534025);
        assert_eq!(body["error"]["type"], "IGApiException");
        assert_eq!(body["error"]["is_transient"], false);
        assert!(
            body["error"]["fbtrace_id"]
                .as_str()
                .is_some_and(|s| s.len() > 8)
        );
    }

    #[test]
    fn an_error_without_subcode_omits_the_field() {
        let body = GraphError::new(190, None).body();
        assert!(body["error"].get("error_subcode").is_none());
        assert_eq!(body["error"]["type"], "OAuthException");
    }

    #[test]
    fn throttling_codes_are_transient_and_server_errors_answer_500() {
        assert!(GraphError::new(613, None).is_transient);
        assert!(GraphError::new(80002, None).is_transient);
        assert!(!GraphError::new(368, None).is_transient);
        assert_eq!(GraphError::new(2, None).status, 500);
        assert_eq!(GraphError::new(190, Some(463)).status, 400);
    }
}
