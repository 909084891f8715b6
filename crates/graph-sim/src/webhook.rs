//! The simulator as Meta's webhook sender (PLATFORM.md §2, §3, §8): a `messages` notification for a person who
//! answers, or the echo of a delivery, shaped as Meta sends them (`entry[].messaging[]`, times in
//! milliseconds), with non-ASCII characters escaped as `\uXXXX` as on Meta's wire, and signed with the app
//! secret (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`).

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::config::WebhookTarget;

/// Meta waits this long for a webhook's answer (PLATFORM.md §4); the simulator gives up after it too.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One message in a `messages` notification: who wrote to whom, when, and what.
#[derive(Debug, Clone)]
pub(crate) struct MessageEvent {
    /// The account the notification is for (`entry[].id`).
    pub account: String,
    pub sender: String,
    pub recipient: String,
    pub mid: String,
    pub text: String,
    /// When the message was written (`timestamp`).
    pub at: DateTime<Utc>,
    /// Our own delivery coming back (`is_echo: true`, sender = the account).
    pub echo: bool,
}

impl MessageEvent {
    /// The notification's raw body, sent at `sent` (`entry[].time`).
    pub(crate) fn body(&self, sent: DateTime<Utc>) -> Vec<u8> {
        let mut message = json!({ "mid": self.mid, "text": self.text });
        if self.echo {
            message["is_echo"] = json!(true);
        }
        let notification = json!({
            "object": "instagram",
            "entry": [{
                "id": self.account,
                "time": sent.timestamp_millis(),
                "messaging": [{
                    "sender": { "id": self.sender },
                    "recipient": { "id": self.recipient },
                    "timestamp": self.at.timestamp_millis(),
                    "message": message,
                }],
            }],
        });
        escape_non_ascii(&notification.to_string()).into_bytes()
    }
}

/// JSON text with every non-ASCII character as a `\uXXXX` escape (UTF-16, so a surrogate pair beyond the BMP),
/// as Meta sends it. Outside strings JSON text is ASCII, so escaping character by character is exact.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `sha256=<lowercase hex HMAC-SHA256(app secret, body)>`.
pub(crate) fn signature(app_secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        // HMAC takes a key of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a notification did not get an HTTP answer. Only the kind of failure, never the client's error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFailure {
    #[error("the webhook did not answer within 5 seconds")]
    Timeout,
    #[error("the webhook could not be reached")]
    Connect,
    #[error("the request to the webhook failed")]
    Request,
}

/// Posts `body` to the webhook, signed; the HTTP status it answered.
pub(crate) async fn deliver(target: &WebhookTarget, body: Vec<u8>) -> Result<u16, DeliveryFailure> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    let client = CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .ok()
        })
        .as_ref()
        .ok_or(DeliveryFailure::Request)?;
    let signature = signature(&target.app_secret, &body);
    let sent = client
        .post(&target.url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) if e.is_timeout() => Err(DeliveryFailure::Timeout),
        Err(e) if e.is_connect() => Err(DeliveryFailure::Connect),
        Err(_) => Err(DeliveryFailure::Request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The body as the webhook reads it back.
    fn parse(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    }

    fn event(text: &str, echo: bool) -> MessageEvent {
        let at = DateTime::from_timestamp_millis(1_782_864_000_123).unwrap_or_default();
        MessageEvent {
            account: "17841401906857599".into(),
            sender: "2706325442860345".into(),
            recipient: "17841401906857599".into(),
            mid: "aWdfZmid".into(),
            text: text.into(),
            at,
            echo,
        }
    }

    #[test]
    fn a_notification_has_metas_messaging_shape_with_times_in_milliseconds() {
        let sent = DateTime::from_timestamp_millis(1_782_864_001_000).unwrap_or_default();
        let body = parse(&event("LINK please", false).body(sent));

        assert_eq!(body["object"], "instagram");
        let entry = &body["entry"][0];
        assert_eq!(entry["id"], "17841401906857599");
        assert_eq!(entry["time"], 1_782_864_001_000_i64);
        let m = &entry["messaging"][0];
        assert_eq!(m["sender"]["id"], "2706325442860345");
        assert_eq!(m["recipient"]["id"], "17841401906857599");
        assert_eq!(m["timestamp"], 1_782_864_000_123_i64);
        assert_eq!(
            m["message"],
            json!({"mid": "aWdfZmid", "text": "LINK please"})
        );
    }

    #[test]
    fn an_echo_says_so() {
        let body = parse(&event("hi", true).body(Utc::now()));
        assert_eq!(body["entry"][0]["messaging"][0]["message"]["is_echo"], true);
    }

    #[test]
    fn non_ascii_text_is_escaped_on_the_wire_and_reads_back_unchanged() {
        let raw = event("äöå 😍", false).body(Utc::now());
        let text = String::from_utf8(raw.clone()).unwrap_or_default();

        assert!(text.is_ascii(), "{text}");
        assert!(text.contains(r"\u00e4\u00f6\u00e5 \ud83d\ude0d"), "{text}");
        assert_eq!(
            parse(&raw)["entry"][0]["messaging"][0]["message"]["text"],
            "äöå 😍"
        );
    }

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
