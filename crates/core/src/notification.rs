//! Reads Meta's Instagram webhook notifications (PLATFORM.md sections 3 and 8) into comments and, from
//! `entry[].messaging[]`, the messages people send the account ([`messaging`]).
//!
//! Lenient by design: Meta adds fields, sends other `field` values and, for ads, duplicates; none of that may
//! make us refuse a POST, because a refused POST is redelivered for 36 hours and can get the subscription
//! disabled. Each entry and change is read on its own, so one unusable change is reported and skipped while
//! the rest of the batch is still stored. Strings are borrowed from the body where JSON escaping allows.

use crate::comment::{
    CommentRecord, CommentSource, CommentStatus, MAX_STORED_TEXT_BYTES, REPLY_WINDOW,
    truncate_to_bytes,
};
use crate::ids::{AccountId, CommentId, MediaId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

pub mod messaging;

pub use messaging::IncomingMessage;

/// Why the body as a whole could not be read. Anything finer-grained is a [`RejectedChange`].
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("body is not a JSON object")]
    NotJson(#[source] serde_json::Error),
}

/// A comment as the notification describes it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingComment {
    pub comment_id: CommentId,
    pub account_id: AccountId,
    pub commenter_id: Option<UserId>,
    pub commenter_username: Option<String>,
    pub media_id: Option<MediaId>,
    pub media_product_type: Option<String>,
    pub ad_id: Option<String>,
    /// For an ad comment, the organic post the ad was made from.
    pub original_media_id: Option<MediaId>,
    pub source: CommentSource,
    pub text: Option<String>,
    pub parent_id: Option<CommentId>,
    /// `entry[].time`; the notification carries no separate creation time for the comment.
    pub notified_at: Option<DateTime<Utc>>,
}

/// The entry ID of Meta's dashboard "Test" deliveries (docs/meta-platform.md, "Receiving comments").
pub const DASHBOARD_TEST_ACCOUNT_ID: &str = "0";
/// The fixed comment IDs of Meta's dashboard "Test" deliveries, which can also arrive under a real account.
pub const DASHBOARD_TEST_COMMENT_IDS: &[&str] = &["17865799348089039", "123456789"];
/// How long a dashboard test delivery stays in the table (long enough to see that the subscription works).
pub const DASHBOARD_TEST_RETENTION: Duration = Duration::days(1);

impl IncomingComment {
    /// A "Test" delivery from Meta's app dashboard: never a real comment, never to be replied to.
    pub fn is_dashboard_test(&self) -> bool {
        self.account_id.as_str() == DASHBOARD_TEST_ACCOUNT_ID
            || DASHBOARD_TEST_COMMENT_IDS.contains(&self.comment_id.as_str())
    }

    /// A comment by the account itself comes back as a `comments` event; replying to it would start a loop.
    pub fn is_own_comment(&self) -> bool {
        self.commenter_id
            .as_ref()
            .is_some_and(|from| from.as_str() == self.account_id.as_str())
    }

    /// The item to store. `retention` is how long the item is kept after the reply window closes.
    pub fn into_record(self, received_at: DateTime<Utc>, retention: Duration) -> CommentRecord {
        use crate::lifecycle::StatusReason;
        let test = self.is_dashboard_test();
        let (status, status_reason) = if test {
            (CommentStatus::Skipped, Some(StatusReason::DashboardTest))
        } else if self.is_own_comment() {
            (CommentStatus::Skipped, Some(StatusReason::OwnComment))
        } else {
            (CommentStatus::Pending, None)
        };
        // Never later than receipt: a clock skewed into the future must not extend the reply window.
        let comment_time = self.notified_at.map_or(received_at, |t| t.min(received_at));
        let reply_deadline = comment_time + REPLY_WINDOW;
        // Every test delivery gets a key of its own (the sample's ID repeats), so no test blocks the next, and
        // it leaves the table after a day.
        let (comment_id, expires_at) = if test {
            let key = format!(
                "dashboard-test#{}#{}",
                received_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                self.comment_id
            );
            (
                CommentId::new(key).unwrap_or(self.comment_id),
                (received_at + DASHBOARD_TEST_RETENTION).timestamp(),
            )
        } else {
            (self.comment_id, (reply_deadline + retention).timestamp())
        };
        CommentRecord {
            comment_id,
            account_id: self.account_id,
            commenter_id: self.commenter_id,
            commenter_username: self.commenter_username,
            media_id: self.media_id,
            media_product_type: self.media_product_type,
            ad_id: self.ad_id,
            original_media_id: self.original_media_id.map(|m| m.as_str().to_owned()),
            source: self.source,
            text: self
                .text
                .map(|t| truncate_to_bytes(&t, MAX_STORED_TEXT_BYTES).to_owned()),
            parent_id: self.parent_id,
            comment_time,
            reply_deadline,
            received_at,
            status,
            status_reason: status_reason.map(|r| r.to_string()),
            due_shard: None,
            due_at: None,
            queue_turn: None,
            campaign_id: None,
            reply_variant: None,
            reply_text: None,
            public_reply_text: None,
            public_reply_status: None,
            expires_at,
        }
    }
}

/// Why one change (or entry) was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The entry is not an object of the expected shape.
    InvalidEntry,
    /// No `entry[].id`: we would not know which account to reply from.
    MissingAccountId,
    /// The change is not an object of the expected shape.
    InvalidChange,
    /// The change's `value` has fields of unexpected types.
    InvalidValue,
    /// No comment ID (`value.id` or `value.comment_id`).
    MissingCommentId,
    /// `messaging` is not a list, or one of its events is not an object of the expected shape.
    InvalidEvent,
    /// A message or postback without `sender.id`: nobody to answer.
    MissingSenderId,
    /// A message or postback without `mid`: nothing to store it under.
    MissingMessageId,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEntry => "invalid_entry",
            Self::MissingAccountId => "missing_account_id",
            Self::InvalidChange => "invalid_change",
            Self::InvalidValue => "invalid_value",
            Self::MissingCommentId => "missing_comment_id",
            Self::InvalidEvent => "invalid_messaging_event",
            Self::MissingSenderId => "missing_sender_id",
            Self::MissingMessageId => "missing_message_id",
        }
    }
}

/// A skipped change or messaging event, located by index so it can be logged without logging the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedChange {
    pub entry_index: usize,
    pub change_index: Option<usize>,
    /// For a messaging event, its index in `entry[].messaging` (`change_index` is then `None`).
    pub messaging_index: Option<usize>,
    pub account_id: Option<AccountId>,
    pub reason: RejectReason,
}

/// Everything read from one POST.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The `object` field when it is not `instagram`; such a notification is ignored as a whole.
    pub foreign_object: Option<String>,
    pub comments: Vec<IncomingComment>,
    /// Messages and postbacks, echoes included ([`IncomingMessage::is_echo`]).
    pub messages: Vec<IncomingMessage>,
    pub rejected: Vec<RejectedChange>,
    /// Changes with other `field` values by field name, and other messaging events as `messaging.<kind>`.
    pub ignored: BTreeMap<String, usize>,
}

impl Notification {
    pub fn ignored_count(&self) -> usize {
        self.ignored.values().sum()
    }
}

/// Reads a verified body. Only a body that is not a JSON object (or has a non-list `entry`) is an error.
///
/// Well-formed batches (nearly all of them) are read in one typed pass; if anything in the body does not fit,
/// it is read again entry by entry and change by change, so that only the unusable parts are skipped.
pub fn parse(body: &[u8]) -> Result<Notification, ParseError> {
    if let Ok(envelope) = serde_json::from_slice::<FastEnvelope<'_>>(body) {
        let mut out = Notification::default();
        if start(
            envelope.object.as_deref(),
            envelope.field.is_some() || envelope.value.is_some(),
            &mut out,
        ) {
            out.comments.reserve(envelope.entry.len());
            for (entry_index, entry) in envelope.entry.into_iter().enumerate() {
                let mut ctx =
                    EntryContext::new(entry_index, entry.id, entry.time.as_ref(), &mut out);
                let changes = entry.changes.len();
                for (change_index, change) in entry.changes.into_iter().enumerate() {
                    ctx.change(change_index, change.field.as_deref(), || Ok(change.value));
                }
                if entry.field.is_some() || entry.value.is_some() {
                    ctx.change(changes, entry.field.as_deref(), || Ok(entry.value));
                }
                for (index, event) in entry.messaging.into_iter().flatten().enumerate() {
                    ctx.messaging_event(index, event);
                }
            }
        }
        return Ok(out);
    }
    parse_granular(body)
}

/// The entry-by-entry, change-by-change reading that isolates unusable parts.
fn parse_granular(body: &[u8]) -> Result<Notification, ParseError> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(ParseError::NotJson)?;
    let mut out = Notification::default();
    if start(
        envelope.object.as_deref(),
        envelope.field.is_some() || envelope.value.is_some(),
        &mut out,
    ) {
        for (entry_index, raw_entry) in envelope.entry.iter().enumerate() {
            read_entry(entry_index, raw_entry, &mut out);
        }
    }
    Ok(out)
}

/// Handles the envelope; false when the notification is for another object and is ignored as a whole.
fn start(object: Option<&str>, bare_change: bool, out: &mut Notification) -> bool {
    if let Some(object) = object
        && object != "instagram"
    {
        out.foreign_object = Some(object.to_owned());
        return false;
    }
    // Meta's dashboard sample is a bare change with no entry and so no account ID: nothing to reply from.
    if bare_change {
        out.rejected.push(RejectedChange {
            entry_index: 0,
            change_index: None,
            messaging_index: None,
            account_id: None,
            reason: RejectReason::MissingAccountId,
        });
    }
    true
}

fn read_entry(entry_index: usize, raw: &RawValue, out: &mut Notification) {
    let Ok(entry) = serde_json::from_str::<Entry<'_>>(raw.get()) else {
        out.rejected.push(RejectedChange {
            entry_index,
            change_index: None,
            messaging_index: None,
            account_id: None,
            reason: RejectReason::InvalidEntry,
        });
        return;
    };
    // An odd `time` or `messaging` must not cost the entry's comments: read what can be read.
    let time = entry.time.and_then(lenient_number);
    let mut ctx = EntryContext::new(entry_index, entry.id, time.as_ref(), out);
    let changes: Vec<&RawValue> = match entry.changes {
        None => Vec::new(),
        Some(raw) => match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            Ok(list) => list,
            Err(_) => {
                ctx.reject(0, ctx.account_id.clone(), RejectReason::InvalidChange);
                Vec::new()
            }
        },
    };
    let count = changes.len();
    for (change_index, raw_change) in changes.into_iter().enumerate() {
        let Ok(change) = serde_json::from_str::<Change<'_>>(raw_change.get()) else {
            ctx.reject(
                change_index,
                ctx.account_id.clone(),
                RejectReason::InvalidChange,
            );
            continue;
        };
        read_change(&mut ctx, change_index, change);
    }
    // The entry-level shape of Meta's reference (`field`/`value` in the entry itself) is one more change; a
    // `field` that is not a string costs that change only, not the entry's `changes[]`.
    if entry.field.is_some() || entry.value.is_some() {
        match entry
            .field
            .map(|f| serde_json::from_str::<Cow<'_, str>>(f.get()))
        {
            Some(Err(_)) => ctx.reject(count, ctx.account_id.clone(), RejectReason::InvalidChange),
            field => {
                let change = Change {
                    field: field.and_then(Result::ok),
                    value: entry.value,
                };
                read_change(&mut ctx, count, change);
            }
        }
    }
    read_messaging(&mut ctx, entry.messaging);
}

/// The entry's messaging events one by one, so that an unusable one costs only itself.
fn read_messaging(ctx: &mut EntryContext<'_>, messaging: Option<&RawValue>) {
    let Some(raw) = messaging else { return };
    let Ok(events) = serde_json::from_str::<Option<Vec<&RawValue>>>(raw.get()) else {
        let account_id = ctx.account_id.clone();
        ctx.out.rejected.push(RejectedChange {
            entry_index: ctx.entry_index,
            change_index: None,
            messaging_index: None,
            account_id,
            reason: RejectReason::InvalidEvent,
        });
        return;
    };
    for (index, raw_event) in events.into_iter().flatten().enumerate() {
        match serde_json::from_str::<messaging::Event<'_>>(raw_event.get()) {
            Ok(event) => ctx.messaging_event(index, event),
            Err(_) => {
                let account_id = ctx.account_id.clone();
                ctx.reject_event(index, account_id, RejectReason::InvalidEvent);
            }
        }
    }
}

fn read_change(ctx: &mut EntryContext<'_>, change_index: usize, change: Change<'_>) {
    ctx.change(change_index, change.field.as_deref(), || {
        change
            .value
            .map(|v| serde_json::from_str::<CommentValue<'_>>(v.get()))
            .transpose()
            .map_err(|_| ())
    });
}

/// A number, or a string holding one (seen in hand-made deliveries); anything else is no time.
fn lenient_number(raw: &RawValue) -> Option<serde_json::Number> {
    match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
        serde_json::Value::Number(n) => Some(n),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok().map(Into::into),
        _ => None,
    }
}

/// What one entry contributes to the notification; shared by the fast and the granular path so both read
/// changes identically.
struct EntryContext<'o> {
    entry_index: usize,
    account_id: Option<AccountId>,
    notified_at: Option<DateTime<Utc>>,
    out: &'o mut Notification,
}

impl<'o> EntryContext<'o> {
    fn new(
        entry_index: usize,
        id: Option<LenientId<'_>>,
        time: Option<&serde_json::Number>,
        out: &'o mut Notification,
    ) -> Self {
        Self {
            entry_index,
            account_id: id.and_then(|id| AccountId::new(id.0)),
            notified_at: time.and_then(notification_time),
            out,
        }
    }

    fn reject(&mut self, change_index: usize, account_id: Option<AccountId>, reason: RejectReason) {
        self.out.rejected.push(RejectedChange {
            entry_index: self.entry_index,
            change_index: Some(change_index),
            messaging_index: None,
            account_id,
            reason,
        });
    }

    fn reject_event(&mut self, index: usize, account_id: Option<AccountId>, reason: RejectReason) {
        self.out.rejected.push(RejectedChange {
            entry_index: self.entry_index,
            change_index: None,
            messaging_index: Some(index),
            account_id,
            reason,
        });
    }

    /// Counts one change or event of a kind we do not handle.
    fn ignore(&mut self, name: &str) {
        match self.out.ignored.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                self.out.ignored.insert(name.to_owned(), 1);
            }
        }
    }

    /// One change; `value` is read only for the fields we handle.
    fn change<'v>(
        &mut self,
        change_index: usize,
        field: Option<&str>,
        value: impl FnOnce() -> Result<Option<CommentValue<'v>>, ()>,
    ) {
        let source = match field {
            Some("comments") => CommentSource::Comment,
            Some("live_comments") => CommentSource::LiveComment,
            other => return self.ignore(other.unwrap_or("(none)")),
        };
        let Some(account_id) = self.account_id.clone() else {
            self.reject(change_index, None, RejectReason::MissingAccountId);
            return;
        };
        let value = match value() {
            Ok(Some(value)) => value,
            Ok(None) => {
                return self.reject(
                    change_index,
                    Some(account_id),
                    RejectReason::MissingCommentId,
                );
            }
            Err(()) => {
                return self.reject(change_index, Some(account_id), RejectReason::InvalidValue);
            }
        };
        let Some(comment_id) = value
            .id
            .or(value.comment_id)
            .and_then(|id| CommentId::new(id.0))
        else {
            return self.reject(
                change_index,
                Some(account_id),
                RejectReason::MissingCommentId,
            );
        };
        let (commenter_id, commenter_username) = match value.from {
            Some(from) => (
                from.id.and_then(|id| UserId::new(id.0)),
                from.username.map(Cow::into_owned),
            ),
            None => (None, None),
        };
        let (media_id, media_product_type, ad_id, original_media_id) = match value.media {
            Some(media) => (
                media.id.and_then(|id| MediaId::new(id.0)),
                media.media_product_type.map(Cow::into_owned),
                media.ad_id.map(|id| id.0.into_owned()),
                media.original_media_id.and_then(|id| MediaId::new(id.0)),
            ),
            None => (None, None, None, None),
        };
        self.out.comments.push(IncomingComment {
            comment_id,
            account_id,
            commenter_id,
            commenter_username,
            media_id,
            media_product_type,
            ad_id,
            original_media_id,
            source,
            text: value.text.map(Cow::into_owned),
            parent_id: value.parent_id.and_then(|id| CommentId::new(id.0)),
            notified_at: self.notified_at,
        });
    }
}

/// `entry[].time` is seconds for `changes` (milliseconds for `messaging`); a value too large for seconds is
/// read as milliseconds rather than as a date thousands of years away.
fn notification_time(n: &serde_json::Number) -> Option<DateTime<Utc>> {
    let secs = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?;
    if secs > 100_000_000_000 {
        DateTime::from_timestamp_millis(secs)
    } else {
        DateTime::from_timestamp(secs, 0)
    }
}

/// The one-pass shape: everything typed. Any mismatch sends the body down the granular path.
#[derive(Deserialize)]
struct FastEnvelope<'a> {
    #[serde(borrow, default)]
    object: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    entry: Vec<FastEntry<'a>>,
    #[serde(borrow, default)]
    field: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FastEntry<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
    #[serde(default)]
    time: Option<serde_json::Number>,
    #[serde(borrow, default)]
    changes: Vec<FastChange<'a>>,
    #[serde(borrow, default)]
    messaging: Option<Vec<messaging::Event<'a>>>,
    /// The entry-level change shape (Meta's reference page).
    #[serde(borrow, default)]
    field: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<CommentValue<'a>>,
}

#[derive(Deserialize)]
struct FastChange<'a> {
    #[serde(borrow, default)]
    field: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<CommentValue<'a>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    object: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    entry: Vec<&'a RawValue>,
    /// Only its presence matters (the bare change is reported, never read): any JSON will do.
    #[serde(borrow, default)]
    field: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

/// An entry read for its account: everything else is taken apart leniently, so one odd field costs only itself.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    changes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messaging: Option<&'a RawValue>,
    /// Read as a string only after the rest of the entry, so that an odd one costs only this change.
    #[serde(borrow, default)]
    field: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow, default)]
    field: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CommentValue<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
    /// Meta's example page uses `comment_id`; real traffic uses `id`.
    #[serde(borrow, default)]
    comment_id: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    from: Option<From<'a>>,
    #[serde(borrow, default)]
    media: Option<Media<'a>>,
    #[serde(borrow, default)]
    parent_id: Option<LenientId<'a>>,
}

#[derive(Deserialize)]
struct From<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    username: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    media_product_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ad_id: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    original_media_id: Option<LenientId<'a>>,
}

/// An ID sent as a string (always, in real traffic) or as a bare number (seen in hand-written samples).
struct LenientId<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientId<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientId<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ID string or integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientId(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientId(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LenientId(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LenientId(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests;
