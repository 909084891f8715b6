//! A stored comment: one DynamoDB item per Instagram comment, written once by the webhook and then moved
//! through its reply lifecycle ([`crate::lifecycle`]) by the replier. Attribute names are plain words because
//! people read these items in the DynamoDB console.

use crate::ids::{AccountId, CommentId, MediaId, UserId};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Instagram allows the private reply within 7 days of the comment (seed page, "Limitations").
pub const REPLY_WINDOW: Duration = Duration::days(7);

/// The comment text kept on the item, in UTF-8 bytes. Instagram allows 2,200 characters, but an item over
/// 1 KB costs two write units on every one of its writes; this keeps the largest item under 1 KB
/// (`item_size` test below). Longer texts are cut at a character boundary.
pub const MAX_STORED_TEXT_BYTES: usize = 200;

/// The reply text frozen on the item (as sent, username filled in) and the comment's text together: up to
/// this many bytes, every state of the largest possible item (every optional ID present, the longest message
/// ID and error) still fits in 1 KB, one write unit per write (`item_size` test below). A typical item (no
/// ad, not a reply to a comment) has about 150 bytes more room; beyond that a write costs two units.
pub const COMPACT_TEXTS_BYTES: usize = 100;

/// `text` cut to at most `max_bytes` UTF-8 bytes, at a character boundary.
pub fn truncate_to_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

pub use crate::lifecycle::CommentStatus;
/// The item's attribute names (defined with the rest of the lifecycle).
pub use crate::lifecycle::attr;

/// Which webhook field the comment came from; Live comments have their own reply rules and rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentSource {
    Comment,
    LiveComment,
}

/// The item as stored. Optional attributes are left out rather than written empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRecord {
    pub comment_id: CommentId,
    pub account_id: AccountId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commenter_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commenter_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<MediaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_product_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_media_id: Option<String>,
    pub source: CommentSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<CommentId>,
    /// When the comment was made, as far as the notification tells (ISO 8601 UTC).
    #[serde(with = "iso8601")]
    pub comment_time: DateTime<Utc>,
    /// The last moment a private reply is allowed (comment_time + 7 days), for people reading the console.
    #[serde(with = "iso8601")]
    pub reply_deadline: DateTime<Utc>,
    #[serde(with = "iso8601")]
    pub received_at: DateTime<Utc>,
    pub status: CommentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// The comment's partition of the `due` index (see [`crate::lifecycle::due`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_shard: Option<String>,
    /// When the sweep looks at the comment if nothing took it by then.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "iso8601_option"
    )]
    pub due_at: Option<DateTime<Utc>>,
    /// The comment's turn in its account's queue for budget, once it was deferred for budget.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "iso8601_option"
    )]
    pub queue_turn: Option<DateTime<Utc>>,
    /// The reply decided for the comment, frozen on the item once decided: its campaign (absent for the
    /// `REPLY_TEXT` of an account without campaigns), which of its texts (from 1), and the text as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_variant: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_text: Option<String>,
    /// The public reply decided with the private one, and where it stands once the private reply is sent
    /// (`crate::lifecycle::public_reply`; its other attributes are read from the item when it is claimed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_reply_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_reply_status: Option<crate::lifecycle::PublicReplyStatus>,
    /// DynamoDB TTL (epoch seconds): some days after the reply window, so finished items clean themselves up.
    pub expires_at: i64,
}

impl CommentRecord {
    pub fn is_live(&self) -> bool {
        self.source == CommentSource::LiveComment
    }

    /// The reply decision frozen on the item, if one was made (`reply_text` is what makes it one).
    pub fn frozen_choice(&self) -> Option<crate::lifecycle::ReplyChoice> {
        self.reply_text
            .as_ref()
            .map(|text| crate::lifecycle::ReplyChoice {
                campaign_id: self.campaign_id.clone(),
                variant: self.reply_variant,
                text: text.clone(),
                public_reply: self.public_reply_text.clone(),
            })
    }

    /// A `PENDING` comment enters the `due` index, to be re-driven `after` its receipt if nothing takes it
    /// (its stream record given up on); other statuses are final and stay out of it.
    pub fn due_for_redrive(mut self, after: Duration) -> Self {
        if self.status == CommentStatus::Pending {
            self.due_shard = Some(crate::lifecycle::due::shard_of(self.comment_id.as_str()));
            self.due_at = Some(self.received_at + after);
        }
        self
    }
}

/// ISO 8601 / RFC 3339 in UTC with second precision: `2026-11-25T17:58:35Z`. Sorts as text, reads in the
/// console, parses anywhere.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub mod iso8601_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_time(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

pub mod iso8601 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DynamoDB's item size: attribute names and values in UTF-8 bytes, numbers about one byte per two digits.
    fn item_size(item: &std::collections::HashMap<String, serde_json::Value>) -> usize {
        item.iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        serde_json::Value::String(s) => s.len(),
                        serde_json::Value::Number(n) => n.to_string().len().div_ceil(2) + 1,
                        _ => 1,
                    }
            })
            .sum()
    }

    #[test]
    fn every_state_of_the_largest_comment_stays_under_one_kilobyte() {
        use crate::lifecycle::attr;
        use serde_json::{Value, json};
        let id = json!("180584551217355941");
        let time = json!("2026-11-25T17:58:35Z");
        let count = json!(99);
        // What the webhook stores, each value at its longest: 18-digit IDs, Instagram's 30-character
        // usernames, the capped text.
        let mut stored: Vec<(&str, Value)> = vec![
            (attr::COMMENT_ID, id.clone()),
            (attr::ACCOUNT_ID, id.clone()),
            (attr::COMMENTER_ID, id.clone()),
            (attr::COMMENTER_USERNAME, json!("a".repeat(30))),
            // An ad comment: the largest kind (a Live comment has no ad and no original post).
            (attr::SOURCE, json!("comment")),
            (attr::MEDIA_PRODUCT_TYPE, json!("AD")),
            (attr::MEDIA_ID, id.clone()),
            (attr::AD_ID, id.clone()),
            (attr::ORIGINAL_MEDIA_ID, id.clone()),
            (attr::PARENT_ID, id.clone()),
            (attr::TEXT, json!("é".repeat(MAX_STORED_TEXT_BYTES / 2))),
            (attr::COMMENT_TIME, time.clone()),
            (attr::REPLY_DEADLINE, time.clone()),
            (attr::RECEIVED_AT, time.clone()),
            (attr::STATUS, json!("TOKEN_INVALID")),
            (attr::DUE_SHARD, json!("15")),
            (attr::EXPIRES_AT, json!(4_102_444_800_u64)),
        ];
        let attempt = [
            (attr::UPDATED_AT, time.clone()),
            (attr::ATTEMPTS, count.clone()),
            (attr::LAST_ATTEMPT_AT, time.clone()),
            (attr::REDRIVES, count.clone()),
            (attr::QUEUE_TURN, time.clone()),
            (attr::UNCONFIRMED_SEND, json!(true)),
        ];
        let sending = [
            (attr::DUE_AT, time.clone()),
            (attr::CLAIM_ID, json!("c".repeat(32))),
            (attr::CLAIMED_UNTIL, time.clone()),
        ];
        let replied = [
            (attr::MESSAGE_ID, json!("m".repeat(150))),
            (attr::RECIPIENT_ID, id.clone()),
            (attr::REPLIED_AT, time.clone()),
            (attr::CONFIRMED, json!(false)),
            (attr::STATUS_REASON, json!("probably_sent_earlier")),
        ];
        let refused = [
            (attr::DUE_AT, time.clone()),
            (attr::STATUS_REASON, json!("already_replied_or_ineligible")),
            (attr::HTTP_STATUS, json!(503)),
            (attr::ERROR_CODE, json!(80002)),
            (attr::ERROR_SUBCODE, json!(2_534_025)),
            (
                attr::ERROR_MESSAGE,
                json!("x".repeat(crate::store::MAX_ERROR_MESSAGE_BYTES)),
            ),
            (attr::FBTRACE_ID, json!("f".repeat(27))),
            (attr::TOKEN_FINGERPRINT, json!("ab12cd34")),
        ];
        stored.extend(attempt);
        let decided = |stored: &[(&'static str, Value)]| {
            let mut out: Vec<(&'static str, Value)> = stored
                .iter()
                .filter(|(k, _)| *k != attr::TEXT)
                .cloned()
                .collect();
            out.extend([
                (attr::TEXT, json!("t".repeat(COMPACT_TEXTS_BYTES / 2))),
                (attr::CAMPAIGN_ID, json!("c".repeat(64))),
                (attr::REPLY_VARIANT, json!(5)),
                (attr::REPLY_TEXT, json!("r".repeat(COMPACT_TEXTS_BYTES / 2))),
            ]);
            out
        };
        let with_decision = decided(&stored);
        for (stored, decision) in [(&stored, "no"), (&with_decision, "a")] {
            for (state, extra) in [
                ("sending", &sending[..]),
                ("replied", &replied[..]),
                ("refused or waiting", &refused[..]),
            ] {
                let item: std::collections::HashMap<String, Value> = stored
                    .iter()
                    .chain(extra)
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect();
                let size = item_size(&item);
                assert!(
                    size < 1024,
                    "the largest {state} item with {decision} decision is {size} bytes"
                );
            }
        }
    }

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        assert_eq!(truncate_to_bytes("abc", 5), "abc");
        assert_eq!(truncate_to_bytes("aé", 2), "a");
        assert_eq!(
            truncate_to_bytes(&"€".repeat(200), MAX_STORED_TEXT_BYTES).len(),
            198
        );
    }

    #[test]
    fn times_are_written_in_utc_with_seconds() {
        let t = DateTime::from_timestamp(1_726_106_088, 0).unwrap_or_default();
        assert_eq!(format_time(t), "2024-09-12T01:54:48Z");
    }
}
