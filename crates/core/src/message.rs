//! A stored inbound message: one DynamoDB item per message or button tap a person sent the account
//! (`entry[].messaging[]`, PLATFORM.md section 8), written once by the webhook, keyed by Meta's `mid`. The
//! replier reads it from the messages table's stream to decide a follow-up and records its outcome on it.
//! Attribute names are plain words because people read these items in the DynamoDB console.

use crate::comment::iso8601;
use crate::ids::{AccountId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The status words are the comments' ([`crate::lifecycle::CommentStatus`]): the webhook stores `PENDING`,
/// the replier moves the item on, and `replyctl` reads both tables alike.
pub use crate::lifecycle::CommentStatus as MessageStatus;

/// How long a message item is kept after it was sent. A follow-up is only allowed within 24 hours of the
/// person's message (PLATFORM.md section 8); a week leaves the outcome readable in the console for the
/// days after, and redeliveries (up to 36 hours) still find the item and stay duplicates.
pub const MESSAGE_RETENTION: Duration = Duration::days(7);

/// The item's attribute names; [`MessageRecord`] is serialized under them.
pub mod attr {
    /// The key (S): Meta's message ID (`mid`).
    pub const MESSAGE_ID: &str = "message_id";
    /// The account the message was sent to (`entry[].id`).
    pub const ACCOUNT_ID: &str = "account_id";
    /// The person's Instagram-scoped ID (IGSID), the recipient of any follow-up.
    pub const SENDER_ID: &str = "sender_id";
    /// `message` or `postback` (a button tap).
    pub const KIND: &str = "kind";
    /// The message's text, cut to `comment::MAX_STORED_TEXT_BYTES`.
    pub const TEXT: &str = "text";
    /// The payload of the quick reply the person tapped.
    pub const QUICK_REPLY_PAYLOAD: &str = "quick_reply_payload";
    /// The payload and title of the button the person tapped.
    pub const POSTBACK_PAYLOAD: &str = "postback_payload";
    pub const POSTBACK_TITLE: &str = "postback_title";
    /// The story the message answers (`reply_to.story.id`).
    pub const REPLY_TO_STORY_ID: &str = "reply_to_story_id";
    /// The message it answers (`reply_to.mid`).
    pub const REPLY_TO_MESSAGE_ID: &str = "reply_to_message_id";
    /// BOOL, present only when the message had attachments (their URLs expire and are not kept).
    pub const HAS_ATTACHMENTS: &str = "has_attachments";
    /// When the person sent it (`timestamp`), ISO 8601 UTC.
    pub const SENT_AT: &str = "sent_at";
    pub const RECEIVED_AT: &str = "received_at";
    /// A [`super::MessageStatus`] word.
    pub const STATUS: &str = "status";
    /// DynamoDB TTL (epoch seconds).
    pub const EXPIRES_AT: &str = "expires_at";
}

/// What the person did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Wrote a message (text, quick reply, attachment or story reply): `messaging[].message`.
    Message,
    /// Tapped a button: `messaging[].postback`.
    Postback,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Postback => "postback",
        }
    }
}

/// The item as stored. Optional attributes are left out rather than written empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub message_id: String,
    pub account_id: AccountId,
    pub sender_id: UserId,
    pub kind: MessageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply_payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback_payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_story_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_attachments: bool,
    #[serde(with = "iso8601")]
    pub sent_at: DateTime<Utc>,
    #[serde(with = "iso8601")]
    pub received_at: DateTime<Utc>,
    pub status: MessageStatus,
    /// DynamoDB TTL (epoch seconds): [`MESSAGE_RETENTION`] after `sent_at`.
    pub expires_at: i64,
}

impl MessageRecord {
    /// The end of the 24-hour window in which a follow-up may be sent (PLATFORM.md section 8).
    pub fn follow_up_deadline(&self) -> DateTime<Utc> {
        self.sent_at + Duration::hours(24)
    }

    /// A plain message item, for tests.
    #[cfg(test)]
    pub(crate) fn example() -> MessageRecord {
        let sent = DateTime::from_timestamp(1_764_093_002, 0).unwrap_or_default();
        MessageRecord {
            message_id: "aWdfZAAA".into(),
            account_id: AccountId::new("17841400000000002").unwrap_or_else(|| unreachable!()),
            sender_id: UserId::new("900004").unwrap_or_else(|| unreachable!()),
            kind: MessageKind::Message,
            text: Some("thanks".into()),
            quick_reply_payload: None,
            postback_payload: None,
            postback_title: None,
            reply_to_story_id: None,
            reply_to_message_id: None,
            has_attachments: false,
            sent_at: sent,
            received_at: sent + Duration::seconds(1),
            status: MessageStatus::Pending,
            expires_at: (sent + MESSAGE_RETENTION).timestamp(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_item_has_plain_attributes_and_leaves_absent_ones_out() {
        let item: std::collections::HashMap<String, serde_json::Value> = serde_json::from_value(
            serde_json::to_value(MessageRecord::example()).unwrap_or_default(),
        )
        .unwrap_or_default();
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                attr::ACCOUNT_ID,
                attr::EXPIRES_AT,
                attr::KIND,
                attr::MESSAGE_ID,
                attr::RECEIVED_AT,
                attr::SENDER_ID,
                attr::SENT_AT,
                attr::STATUS,
                attr::TEXT,
            ]
        );
        assert_eq!(item[attr::KIND], "message");
        assert_eq!(item[attr::STATUS], "PENDING");
        assert_eq!(item[attr::SENT_AT], "2025-11-25T17:50:02Z");
    }

    #[test]
    fn attachments_are_only_written_when_there_were_some_and_the_item_reads_back() {
        let mut with = MessageRecord::example();
        with.has_attachments = true;
        with.kind = MessageKind::Postback;
        let value = serde_json::to_value(&with).unwrap_or_default();
        assert_eq!(value[attr::HAS_ATTACHMENTS], true);
        assert_eq!(value[attr::KIND], "postback");
        let back: MessageRecord = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, with);
        assert_eq!(
            back.follow_up_deadline() - back.sent_at,
            Duration::hours(24)
        );
    }
}
