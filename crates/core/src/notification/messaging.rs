//! `entry[].messaging[]` events (PLATFORM.md sections 3 and 8): what a person wrote to the account, or the
//! button they tapped, read into [`IncomingMessage`]s. Other event kinds (`read`, `reaction`, `referral`...)
//! are counted as ignored under `messaging.<kind>`; the account's own sends come back as echoes, which are
//! read and flagged so the webhook can count them and never store them.

use super::{EntryContext, LenientId, RejectReason};
use crate::comment::{MAX_STORED_TEXT_BYTES, truncate_to_bytes};
use crate::ids::{AccountId, UserId};
use crate::message::{MESSAGE_RETENTION, MessageKind, MessageRecord, MessageStatus};
use chrono::{DateTime, Utc};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A message or button tap as the notification describes it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// Meta's `mid` (of the message, or of the postback).
    pub message_id: String,
    /// `entry[].id`: the account the event belongs to.
    pub account_id: AccountId,
    /// `sender.id`: the person's IGSID (the account itself for an echo).
    pub sender_id: UserId,
    /// `recipient.id`.
    pub recipient_id: Option<UserId>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub quick_reply_payload: Option<String>,
    pub postback_payload: Option<String>,
    pub postback_title: Option<String>,
    /// `reply_to.story.id`: the message answers a story.
    pub reply_to_story_id: Option<String>,
    /// `reply_to.mid`: the message answers another message.
    pub reply_to_message_id: Option<String>,
    pub has_attachments: bool,
    /// `message.is_echo` as sent; [`IncomingMessage::is_echo`] also knows echoes by their sender.
    pub marked_echo: bool,
    /// `timestamp` (milliseconds), else `entry[].time`.
    pub sent_at: Option<DateTime<Utc>>,
}

impl IncomingMessage {
    /// The account's own send coming back: never to be answered (a reply with a keyword would answer itself).
    pub fn is_echo(&self) -> bool {
        self.marked_echo || self.sender_id.as_str() == self.account_id.as_str()
    }

    /// The item to store, `PENDING` for the replier.
    pub fn into_record(self, received_at: DateTime<Utc>) -> MessageRecord {
        // Never later than receipt: a clock skewed into the future must not extend the follow-up window.
        let sent_at = self.sent_at.map_or(received_at, |t| t.min(received_at));
        MessageRecord {
            message_id: self.message_id,
            account_id: self.account_id,
            sender_id: self.sender_id,
            kind: self.kind,
            text: self
                .text
                .map(|t| truncate_to_bytes(&t, MAX_STORED_TEXT_BYTES).to_owned()),
            // Meta allows payloads of 1,000 characters: cut like the text, so an item stays one write unit.
            quick_reply_payload: self.quick_reply_payload.map(cut),
            postback_payload: self.postback_payload.map(cut),
            postback_title: self.postback_title.map(cut),
            reply_to_story_id: self.reply_to_story_id,
            reply_to_message_id: self.reply_to_message_id,
            has_attachments: self.has_attachments,
            sent_at,
            received_at,
            status: MessageStatus::Pending,
            expires_at: (sent_at + MESSAGE_RETENTION).timestamp(),
        }
    }
}

fn cut(text: String) -> String {
    truncate_to_bytes(&text, MAX_STORED_TEXT_BYTES).to_owned()
}

impl EntryContext<'_> {
    /// One messaging event: a message or postback is read, any other kind counted as ignored.
    pub(super) fn messaging_event(&mut self, index: usize, event: Event<'_>) {
        let (kind, mid, message, postback) = match (event.message, event.postback) {
            (Some(mut m), _) => (MessageKind::Message, m.mid.take(), Some(m), None),
            (None, Some(mut p)) => (MessageKind::Postback, p.mid.take(), None, Some(p)),
            (None, None) => {
                let kind = event.other.as_deref().unwrap_or("(none)");
                return self.ignore(&format!("messaging.{kind}"));
            }
        };
        let Some(account_id) = self.account_id.clone() else {
            return self.reject_event(index, None, RejectReason::MissingAccountId);
        };
        let Some(sender_id) = event
            .sender
            .and_then(|s| s.id)
            .and_then(|id| UserId::new(id.0))
        else {
            return self.reject_event(index, Some(account_id), RejectReason::MissingSenderId);
        };
        let Some(message_id) = mid.filter(|id| !id.0.trim().is_empty()) else {
            return self.reject_event(index, Some(account_id), RejectReason::MissingMessageId);
        };
        let sent_at = event
            .timestamp
            .and_then(|t| t.0)
            .and_then(|t| super::notification_time(&t))
            .or(self.notified_at);
        let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
        let mut incoming = IncomingMessage {
            message_id: message_id.0.into_owned(),
            account_id,
            sender_id,
            recipient_id: event
                .recipient
                .and_then(|r| r.id)
                .and_then(|id| UserId::new(id.0)),
            kind,
            text: None,
            quick_reply_payload: None,
            postback_payload: None,
            postback_title: None,
            reply_to_story_id: None,
            reply_to_message_id: None,
            has_attachments: false,
            marked_echo: false,
            sent_at,
        };
        if let Some(m) = message {
            incoming.text = owned(m.text);
            incoming.quick_reply_payload = m.quick_reply.and_then(|q| owned(q.payload));
            incoming.has_attachments = m.attachments.is_some_and(has_attachments);
            incoming.marked_echo = m.is_echo.unwrap_or(false);
            if let Some(reply_to) = m.reply_to {
                incoming.reply_to_message_id = reply_to.mid.map(|id| id.0.into_owned());
                incoming.reply_to_story_id = reply_to
                    .story
                    .and_then(|s| s.id)
                    .map(|id| id.0.into_owned());
            }
        }
        if let Some(p) = postback {
            incoming.postback_payload = owned(p.payload);
            incoming.postback_title = owned(p.title);
        }
        self.out.messages.push(incoming);
    }
}

/// `attachments` is a list in Meta's reference; anything else that is not empty still counts as some.
fn has_attachments(raw: &RawValue) -> bool {
    match serde_json::from_str::<serde_json::Value>(raw.get()) {
        Ok(serde_json::Value::Array(a)) => !a.is_empty(),
        Ok(serde_json::Value::Object(o)) => !o.is_empty(),
        Ok(serde_json::Value::Null) => false,
        _ => true,
    }
}

/// One messaging event. Read key by key so that the first key that is not a known one names the event's
/// kind when it is neither a message nor a postback (`read`, `reaction`...), whatever Meta adds next.
#[derive(Default)]
pub(super) struct Event<'a> {
    sender: Option<Party<'a>>,
    recipient: Option<Party<'a>>,
    timestamp: Option<Timestamp>,
    message: Option<Message<'a>>,
    postback: Option<Postback<'a>>,
    other: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Event<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a messaging event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut event = Event::default();
                // Keys are strings, which LenientId borrows from the body where it can.
                while let Some(LenientId(key)) = map.next_key::<LenientId<'de>>()? {
                    match key.as_ref() {
                        "sender" => event.sender = map.next_value()?,
                        "recipient" => event.recipient = map.next_value()?,
                        "timestamp" => event.timestamp = map.next_value()?,
                        "message" => event.message = map.next_value()?,
                        "postback" => event.postback = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            event.other.get_or_insert(key);
                        }
                    }
                }
                Ok(event)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct Party<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    mid: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    is_echo: Option<bool>,
    #[serde(borrow, default)]
    quick_reply: Option<QuickReply<'a>>,
    /// Only whether there are any matters: their URLs expire, and they are not kept.
    #[serde(borrow, default)]
    attachments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reply_to: Option<ReplyTo<'a>>,
}

#[derive(Deserialize)]
struct QuickReply<'a> {
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ReplyTo<'a> {
    #[serde(borrow, default)]
    mid: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    story: Option<Story<'a>>,
}

#[derive(Deserialize)]
struct Story<'a> {
    #[serde(borrow, default)]
    id: Option<LenientId<'a>>,
}

#[derive(Deserialize)]
struct Postback<'a> {
    #[serde(borrow, default)]
    mid: Option<LenientId<'a>>,
    #[serde(borrow, default)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
}

/// `timestamp`: milliseconds as a number, or as a string holding one (hand-made deliveries); another string
/// is no time (the entry's is used), not a reason to lose the message.
struct Timestamp(Option<serde_json::Number>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time in milliseconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Timestamp(Some(v.into())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Timestamp(Some(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Timestamp(serde_json::Number::from_f64(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Timestamp(v.trim().parse::<i64>().ok().map(Into::into)))
            }
        }
        d.deserialize_any(V)
    }
}
