//! The handle tests, tools and the HTTP routes hold: a cheap-to-clone [`Simulator`] around one locked
//! [`State`], with one method per control operation. What a request gets is decided in `rules`, under the lock
//! taken here, so the facade stays a list of operations and the rules stay free of locking.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{SimConfig, WebhookTarget};
use crate::fault::{Fault, FaultKind};
use crate::ids::commenter_id_for;
use crate::rules::{Comment, PersonAnswerError, State};
use crate::webhook::deliver;
use crate::wire::{
    Answer, CommentSpec, DeliveredMessage, DeliveredReply, LoggedRequest, PersonAnswer,
    PersonAnswered, PublicReply, PublicReplyCall, ReplyCall, SendCall, parse_reply_fields,
    parse_subscribed_fields,
};

/// The simulator: shared state behind an `Arc`, cheap to clone. Every control operation is a method here and
/// an HTTP route under `/_sim/`.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: SimConfig,
    state: Mutex<State>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl Default for Simulator {
    fn default() -> Self {
        Self::new(SimConfig::default())
    }
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Self {
        let state = Mutex::new(State::new(&cfg));
        Self {
            inner: Arc::new(Inner { cfg, state }),
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.cfg
    }

    /// Makes `token` the one token account `ig_id` accepts (the previous one stops working) and un-expires it.
    pub fn set_token(&self, ig_id: &str, token: &str) {
        let mut st = self.lock();
        st.expired.remove(token);
        st.tokens.insert(ig_id.to_owned(), token.to_owned());
    }

    /// Sets or removes the token accepted for every account.
    pub fn set_default_token(&self, token: Option<&str>) {
        let mut st = self.lock();
        if let Some(t) = token {
            st.expired.remove(t);
        }
        st.default_token = token.map(str::to_owned);
    }

    /// From now on `token` gets `190/463` until it is set again.
    pub fn expire_token(&self, token: &str) {
        let mut st = self.lock();
        let now = st.now();
        st.expired.insert(token.to_owned(), now);
    }

    /// Adds or replaces a comment.
    pub fn register_comment(&self, spec: CommentSpec) {
        let mut st = self.lock();
        let now = st.now();
        let comment = Comment {
            live: spec.live || spec.media_product_type.as_deref() == Some("LIVE"),
            commenter_id: spec
                .commenter_id
                .unwrap_or_else(|| commenter_id_for(&spec.comment_id)),
            created_at: spec.created_at.unwrap_or(now),
            ig_id: spec.ig_id,
            media_id: spec.media_id,
            live_ended: false,
        };
        st.comments.insert(spec.comment_id, comment);
    }

    /// Ends the Live broadcast `media_id`: its comments, registered before or after, get `10/2534022`.
    pub fn end_live_media(&self, media_id: &str) {
        self.lock().ended_media.insert(media_id.to_owned());
    }

    /// Ends the Live broadcast of comment `comment_id` (and of its media, when known).
    pub fn end_live_comment(&self, comment_id: &str) {
        let mut st = self.lock();
        let media = st.comments.get_mut(comment_id).and_then(|c| {
            c.live_ended = true;
            c.media_id.clone()
        });
        if let Some(m) = media {
            st.ended_media.insert(m);
        }
    }

    /// Moves the simulated clock forward.
    pub fn advance_clock(&self, by: Duration) {
        let mut st = self.lock();
        st.offset += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
    }

    /// Simulated now: real time plus every [`Self::advance_clock`] so far.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now()
    }

    /// Queues a fault; faults are tried in the order they were added. `times: Some(0)` is ignored.
    pub fn inject(&self, fault: Fault) {
        if fault.times != Some(0) {
            self.lock().faults.push(fault);
        }
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Every request to the messages (private replies and the Send API), subscribed_apps and replies endpoints,
    /// in order (`endpoint` and `method` tell them apart).
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    /// Replies actually delivered, in order.
    pub fn replies(&self) -> Vec<DeliveredReply> {
        self.lock().replies.clone()
    }

    /// Public replies published with `POST /{version}/{comment_id}/replies`, in order, including those whose
    /// answer a fault lost.
    pub fn public_replies(&self) -> Vec<PublicReply> {
        self.lock().public_replies.clone()
    }

    /// Public replies published to `comment_id`: any number, since Meta refuses no second one.
    pub fn public_reply_count_for(&self, comment_id: &str) -> usize {
        self.lock()
            .public_replies
            .iter()
            .filter(|r| r.comment_id == comment_id)
            .count()
    }

    /// The fields account `ig_id` subscribed the app to with `POST /{version}/{ig_id}/subscribed_apps`, if it did.
    pub fn subscribed_fields(&self, ig_id: &str) -> Option<Vec<String>> {
        self.lock().subscriptions.get(ig_id).cloned()
    }

    /// `POST /{version}/{ig_id}/subscribed_apps?subscribed_fields=...`: needs the account's token and known
    /// fields; answers `{"success": true}` and replaces the account's subscription. Logged like a reply call.
    pub(crate) fn subscribe(
        &self,
        version: &str,
        ig_id: &str,
        token: Option<&str>,
        fields: Option<&str>,
    ) -> Answer {
        let fields = fields.map(parse_subscribed_fields);
        self.lock().subscribe(version, ig_id, token, fields)
    }

    /// Delivered replies to `comment_id`: 0 or 1, since Meta refuses a second one.
    pub fn reply_count_for(&self, comment_id: &str) -> usize {
        self.lock()
            .replies
            .iter()
            .filter(|r| r.comment_id == comment_id)
            .count()
    }

    /// Messages delivered through the Send API (`recipient.id`), in order, including those whose answer a
    /// fault lost. Private replies are in [`Self::replies`].
    pub fn messages(&self) -> Vec<DeliveredMessage> {
        self.lock().messages.clone()
    }

    /// The Send API messages account `ig_id` delivered to person `igsid`, in order.
    pub fn messages_to(&self, ig_id: &str, igsid: &str) -> Vec<DeliveredMessage> {
        self.lock()
            .messages
            .iter()
            .filter(|m| m.ig_id == ig_id && m.recipient_id == igsid)
            .cloned()
            .collect()
    }

    /// Where the notifications of [`Self::person_answers`] (and echoes) go from now on; `None` stops them.
    /// [`Self::reset`] returns to the configured one.
    pub fn set_webhook(&self, target: Option<WebhookTarget>) {
        self.lock().webhook = target;
    }

    /// Plays a person writing to an account (the commenter answering the private reply, or anyone): records
    /// the message at the simulated now (less `seconds_ago`), which opens their 24-hour messaging window, and
    /// posts its signed `messages` notification to the webhook, if one is set, waiting for the answer.
    pub async fn person_answers(
        &self,
        answer: PersonAnswer,
    ) -> Result<PersonAnswered, PersonAnswerError> {
        let (event, target, sent) = {
            let mut st = self.lock();
            let (event, target) = st.record_answer(&answer)?;
            (event, target, st.now())
        };
        let delivered = match target {
            Some(target) => Some(deliver(&target, event.body(sent)).await),
            None => None,
        };
        tracing::info!(
            ig_id = %event.account,
            igsid = %event.sender,
            webhook_status = delivered.and_then(Result::ok),
            "person answers"
        );
        Ok(PersonAnswered {
            ig_id: event.account,
            igsid: event.sender,
            mid: event.mid,
            at: event.at,
            webhook_status: delivered.and_then(Result::ok),
            webhook_error: delivered.and_then(Result::err).map(|e| e.to_string()),
        })
    }

    /// Posts the echo of the delivery that created `message_id` (nothing was delivered: `None`), when the
    /// webhook wants echoes. Awaited before the send is answered, so that a test which has its answer also has
    /// the echo's effect.
    pub(crate) async fn echo_delivery(&self, message_id: Option<&str>) {
        let Some(echo) = message_id.and_then(|id| self.lock().echo_of(id)) else {
            return;
        };
        let (event, target) = echo;
        let sent = self.now();
        match deliver(&target, event.body(sent)).await {
            Ok(status) => tracing::info!(ig_id = %event.account, status, "echo delivered"),
            Err(e) => tracing::warn!(ig_id = %event.account, error = %e, "echo not delivered"),
        }
    }

    /// Back to the start-up configuration: tokens, webhook, no comments, no replies (private or public), no
    /// messages, no faults, no log, clock at real time.
    pub fn reset(&self) {
        *self.lock() = State::new(&self.inner.cfg);
    }

    /// Takes the first pending fault that applies to this request, using up one of its `times`.
    pub(crate) fn take_fault(&self, call: &ReplyCall) -> Option<FaultKind> {
        self.lock().take_fault(call)
    }

    /// Decides the answer to one request (under `fault`, if one applies) and logs it.
    pub(crate) fn respond(&self, call: &ReplyCall, fault: Option<&FaultKind>) -> Answer {
        self.lock().respond(&self.inner.cfg, call, fault)
    }

    /// Takes the first pending Send API fault that applies to this request, using up one of its `times`.
    pub(crate) fn take_send_fault(&self, call: &SendCall) -> Option<FaultKind> {
        self.lock().take_send_fault(call)
    }

    /// Decides the answer to one Send API request (under `fault`, if one applies), records and logs it.
    pub(crate) fn respond_send(&self, call: &SendCall, fault: Option<&FaultKind>) -> Answer {
        self.lock().respond_send(&self.inner.cfg, call, fault)
    }

    /// Takes the first pending public-reply fault that applies to this request, using up one of its `times`.
    pub(crate) fn take_public_reply_fault(&self, call: &PublicReplyCall) -> Option<FaultKind> {
        self.lock().take_public_reply_fault(call)
    }

    /// Decides the answer to one `POST .../replies` (under `fault`, if one applies), records and logs it.
    pub(crate) fn respond_public_reply(
        &self,
        call: &PublicReplyCall,
        fault: Option<&FaultKind>,
    ) -> Answer {
        self.lock()
            .respond_public_reply(&self.inner.cfg, call, fault)
    }

    /// `GET /{version}/{comment_id}/replies?fields=...`: the comment's public replies, oldest first. Logged.
    pub(crate) fn list_public_replies(
        &self,
        version: &str,
        comment_id: &str,
        token: Option<&str>,
        fields: Option<&str>,
    ) -> Answer {
        let fields = parse_reply_fields(fields);
        self.lock()
            .list_public_replies(&self.inner.cfg, version, comment_id, token, &fields)
    }

    /// The account comment (or public reply) `comment_id` belongs to, empty when unknown: the key of the usage
    /// header of the public-reply endpoints.
    pub(crate) fn account_of_comment(&self, comment_id: &str) -> String {
        self.lock().comment_account(comment_id).unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
