//! Builds notifications exactly as Meta puts them on the wire: `", "` and `": "` separators and non-ASCII
//! escaped as `\uXXXX` (PLATFORM.md sections 2-3): comments ([`notification_body`]) and what people send the
//! account ([`messaging_body`], section 8). Used by the operator CLI's `send-comment` and `send-message`, the
//! local stack, tests and benchmarks, so they all exercise the same bytes the webhook receives in production.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use std::io;

/// One comment to put in a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleComment {
    pub account_id: String,
    pub comment_id: String,
    pub commenter_id: String,
    pub commenter_username: String,
    pub media_id: String,
    /// `FEED`, `REELS`, `AD`, `STORY`, `LIVE`...
    pub media_product_type: String,
    pub text: String,
    /// Sent under the `live_comments` field instead of `comments`.
    pub live: bool,
    pub parent_id: Option<String>,
    pub ad_id: Option<String>,
}

impl SampleComment {
    /// A plausible feed comment; the numbers follow Meta's ID shapes.
    pub fn new(account_id: &str, comment_id: &str, text: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            comment_id: comment_id.to_owned(),
            commenter_id: "2706325442860345".to_owned(),
            commenter_username: "sample.commenter".to_owned(),
            media_id: "17868660555124283".to_owned(),
            media_product_type: "FEED".to_owned(),
            text: text.to_owned(),
            live: false,
            parent_id: None,
            ad_id: None,
        }
    }
}

/// A `comments`/`live_comments` notification with one entry per account (in first-seen order), all stamped
/// with `time` as `entry[].time`.
pub fn notification_body(comments: &[SampleComment], time: DateTime<Utc>) -> Vec<u8> {
    let mut entries: Vec<(&str, Vec<serde_json::Value>)> = Vec::new();
    for c in comments {
        let mut value = json!({
            "from": {"id": c.commenter_id, "username": c.commenter_username},
            "media": {"id": c.media_id, "media_product_type": c.media_product_type},
            "id": c.comment_id,
            "text": c.text,
        });
        if let Some(parent) = &c.parent_id {
            value["parent_id"] = json!(parent);
        }
        if let Some(ad) = &c.ad_id {
            value["media"]["ad_id"] = json!(ad);
        }
        let change =
            json!({"value": value, "field": if c.live { "live_comments" } else { "comments" }});
        match entries.iter_mut().find(|(id, _)| *id == c.account_id) {
            Some((_, changes)) => changes.push(change),
            None => entries.push((&c.account_id, vec![change])),
        }
    }
    let entry: Vec<_> = entries
        .into_iter()
        .map(|(id, changes)| json!({"id": id, "time": time.timestamp(), "changes": changes}))
        .collect();
    to_meta_json(&json!({"entry": entry, "object": "instagram"}))
}

/// One message (or button tap) to put in a `messages` / `messaging_postbacks` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleMessage {
    pub account_id: String,
    /// The person's IGSID: the sender, or for an echo the recipient.
    pub person_id: String,
    /// Meta's `mid`.
    pub message_id: String,
    pub text: Option<String>,
    /// The account's own send coming back (`is_echo: true`, sent by the account).
    pub echo: bool,
    /// `reply_to.story.id`: an answer to a story.
    pub reply_to_story_id: Option<String>,
    /// A button tap (`postback`, the `messaging_postbacks` field) with this payload and title, instead of a
    /// message.
    pub postback: Option<(String, String)>,
}

impl SampleMessage {
    /// A person's text message to the account.
    pub fn new(account_id: &str, person_id: &str, message_id: &str, text: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            person_id: person_id.to_owned(),
            message_id: message_id.to_owned(),
            text: Some(text.to_owned()),
            echo: false,
            reply_to_story_id: None,
            postback: None,
        }
    }

    /// The `messaging[]` event.
    fn event(&self, timestamp_ms: i64) -> serde_json::Value {
        let (sender, recipient) = if self.echo {
            (&self.account_id, &self.person_id)
        } else {
            (&self.person_id, &self.account_id)
        };
        let mut event = json!({
            "sender": {"id": sender},
            "recipient": {"id": recipient},
            "timestamp": timestamp_ms,
        });
        if let Some((payload, title)) = &self.postback {
            event["postback"] = json!({"mid": self.message_id, "title": title, "payload": payload});
            return event;
        }
        let mut message = json!({"mid": self.message_id});
        if let Some(text) = &self.text {
            message["text"] = json!(text);
        }
        if self.echo {
            message["is_echo"] = json!(true);
        }
        if let Some(story) = &self.reply_to_story_id {
            message["reply_to"] = json!({"story": {"id": story, "url": format!("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={story}")}});
        }
        event["message"] = message;
        event
    }
}

/// A `messages`/`messaging_postbacks` notification with one entry per account (in first-seen order):
/// `entry[].time` and each event's `timestamp` are `time` in milliseconds, as Meta sends them.
pub fn messaging_body(messages: &[SampleMessage], time: DateTime<Utc>) -> Vec<u8> {
    let ms = time.timestamp_millis();
    let mut entries: Vec<(&str, Vec<serde_json::Value>)> = Vec::new();
    for m in messages {
        let event = m.event(ms);
        match entries.iter_mut().find(|(id, _)| *id == m.account_id) {
            Some((_, events)) => events.push(event),
            None => entries.push((&m.account_id, vec![event])),
        }
    }
    let entry: Vec<_> = entries
        .into_iter()
        .map(|(id, messaging)| json!({"id": id, "time": ms, "messaging": messaging}))
        .collect();
    to_meta_json(&json!({"object": "instagram", "entry": entry}))
}

/// Serializes like Meta's webhook sender.
pub fn to_meta_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, MetaFormatter);
    // Serializing a `Serialize` value into a Vec cannot fail for the JSON types used here.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

struct MetaFormatter;

impl serde_json::ser::Formatter for MetaFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut ascii_start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[ascii_start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            ascii_start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[ascii_start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_like_meta_does() {
        let body = to_meta_json(&json!({"text": "äöå 😍", "n": [1, 2]}));
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"n": [1, 2], "text": "\u00e4\u00f6\u00e5 \ud83d\ude0d"}"#
        );
    }

    #[test]
    fn the_captured_reel_notification_is_reproduced_byte_for_byte() {
        let mut c = SampleComment::new("17841401906857599", "18058455121735594", "7");
        c.commenter_username = "rachitsaini670".into();
        c.media_product_type = "REELS".into();
        let time = DateTime::from_timestamp(1_726_106_088, 0).unwrap_or_default();
        let body = notification_body(&[c], time);
        // Key order follows serde_json's map (sorted), so compare parsed values and the separators.
        let captured = include_str!("../fixtures/reel_comment.json");
        let ours: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let theirs: serde_json::Value = serde_json::from_str(captured).unwrap_or_default();
        assert_eq!(ours, theirs);
        assert!(String::from_utf8_lossy(&body).contains(r#""id": "18058455121735594", "#));
    }

    #[test]
    fn messages_postbacks_and_echoes_read_back_as_the_parser_sees_them() {
        let time = DateTime::from_timestamp_millis(1_764_093_002_123).unwrap_or_default();
        let mut tap = SampleMessage::new("17841401906857599", "27001", "m-tap", "ignored");
        tap.postback = Some(("GET_LINK".into(), "Get the link".into()));
        let mut echo = SampleMessage::new("17841401906857599", "27001", "m-echo", "Here ä");
        echo.echo = true;
        let mut story = SampleMessage::new("17841400000000001", "27002", "m-story", "wow");
        story.reply_to_story_id = Some("17900000000000001".into());
        let body = messaging_body(
            &[
                SampleMessage::new("17841401906857599", "27001", "m-1", "LINK ä"),
                tap,
                echo,
                story,
            ],
            time,
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(r#""time": 1764093002123"#), "{text}");
        assert!(text.contains(r#"LINK \u00e4"#), "{text}");
        let n = crate::notification::parse(&body).unwrap_or_default();
        assert!(n.rejected.is_empty() && n.ignored.is_empty(), "{n:?}");
        let read: Vec<_> = n
            .messages
            .iter()
            .map(|m| {
                (
                    m.account_id.as_str(),
                    m.message_id.as_str(),
                    m.kind.as_str(),
                    m.is_echo(),
                    m.text.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                ("17841401906857599", "m-1", "message", false, Some("LINK ä")),
                ("17841401906857599", "m-tap", "postback", false, None),
                (
                    "17841401906857599",
                    "m-echo",
                    "message",
                    true,
                    Some("Here ä")
                ),
                (
                    "17841400000000001",
                    "m-story",
                    "message",
                    false,
                    Some("wow")
                ),
            ]
        );
        assert_eq!(
            n.messages[1].postback_title.as_deref(),
            Some("Get the link")
        );
        assert_eq!(
            n.messages[3].reply_to_story_id.as_deref(),
            Some("17900000000000001")
        );
        assert_eq!(n.messages[0].sent_at, Some(time));
        assert_eq!(n.messages[2].sender_id.as_str(), "17841401906857599");
    }
}
