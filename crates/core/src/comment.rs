//! A stored comment: one DynamoDB item per Instagram comment, written once by the webhook and then moved
//! through its reply lifecycle ([`crate::lifecycle`]) by the replier. Attribute names are plain words because
//! people read these items in the DynamoDB console.

use crate::ids::{AccountId, CommentId, MediaId, UserId};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Instagram allows the private reply within 7 days of the comment (seed page, "Limitations").
pub const REPLY_WINDOW: Duration = Duration::days(7);

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
    /// DynamoDB TTL (epoch seconds): some days after the reply window, so finished items clean themselves up.
    pub expires_at: i64,
}

impl CommentRecord {
    pub fn is_live(&self) -> bool {
        self.source == CommentSource::LiveComment
    }
}

/// ISO 8601 / RFC 3339 in UTC with second precision: `2026-11-25T17:58:35Z`. Sorts as text, reads in the
/// console, parses anywhere.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
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

    #[test]
    fn times_are_written_in_utc_with_seconds() {
        let t = DateTime::from_timestamp(1_726_106_088, 0).unwrap_or_default();
        assert_eq!(format_time(t), "2024-09-12T01:54:48Z");
    }
}
