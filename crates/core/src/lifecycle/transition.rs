//! The moves a comment item can make, as values: what a writer wants the item to become ([`Transition`]) and
//! what the item must still be for the move to happen ([`Precondition`]). The comment table's adapter turns a
//! pair into one conditional UpdateItem, so a writer that lost a race changes nothing.

use super::{CommentStatus, StatusReason};
use chrono::{DateTime, Utc};

/// Meta's error details, kept on the item for people reading the console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFields {
    pub http_status: Option<u16>,
    pub code: Option<u32>,
    pub subcode: Option<u32>,
    pub message: Option<String>,
    pub fbtrace_id: Option<String>,
}

/// What the item records of a sent reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyFields {
    pub replied_at: DateTime<Utc>,
    /// False when the reply is inferred from Meta refusing a repeat after an ambiguous attempt.
    pub confirmed: bool,
    pub message_id: Option<String>,
    pub recipient_id: Option<String>,
}

/// The reply decided for a comment (`campaign_id`, `reply_variant`, `reply_text`), frozen on the item by the
/// first write that follows the decision, so that every later attempt sends exactly this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyChoice {
    /// `None`: the `REPLY_TEXT` of an account without campaigns.
    pub campaign_id: Option<String>,
    /// Which of the campaign's texts, from 1.
    pub variant: Option<u32>,
    /// The text with the username filled in.
    pub text: String,
    /// The public reply to post under the comment once the private reply is sent, username filled in.
    pub public_reply: Option<String>,
}

/// A status change. Every transition also stamps `updated_at` and removes the claim (`claim_id`,
/// `claimed_until`): whoever held the comment lets go of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub status: CommentStatus,
    /// `status_reason`; `None` removes it.
    pub reason: Option<StatusReason>,
    /// `due_at`: when the sweep looks at the comment next. `None` removes it, which takes the item out of
    /// the `due` index (a final status).
    pub due_at: Option<DateTime<Utc>>,
    /// `redrives`: set when the sweep re-drives a comment that stayed `PENDING`.
    pub redrives: Option<u32>,
    /// `None` leaves earlier error details as they are; `Some` replaces them (absent fields are removed).
    pub errors: Option<ErrorFields>,
    /// Written on `REPLIED`.
    pub reply: Option<ReplyFields>,
    /// Sets `unconfirmed_send`: an attempt may have been delivered without our knowing. Never cleared, so a
    /// later "already replied" from Meta is read as the reply it most likely is.
    pub unconfirmed_send: bool,
    /// `token_fingerprint`: the token Meta rejected (`TOKEN_INVALID`).
    pub token_fingerprint: Option<String>,
    /// `queue_turn`: the comment's turn in its account's queue for budget; when it comes back it takes a call
    /// rather than queueing again.
    pub queue_turn: Option<DateTime<Utc>>,
    /// A reply decided now, frozen with this write. The write then also requires that no decision is on the
    /// item yet, so two racing deciders cannot leave different texts.
    pub choice: Option<ReplyChoice>,
    /// On `REPLIED`: the public reply starts `POSTING` under this claim, in the same write (its first attempt;
    /// `due_at` is then the claim's expiry, so the sweep finds it if the invocation dies).
    pub public_reply_claim: Option<String>,
}

impl Transition {
    pub fn new(status: CommentStatus, reason: Option<StatusReason>) -> Self {
        Self {
            status,
            reason,
            due_at: None,
            redrives: None,
            errors: None,
            reply: None,
            unconfirmed_send: false,
            token_fingerprint: None,
            queue_turn: None,
            choice: None,
            public_reply_claim: None,
        }
    }

    /// Freezes a reply decided now (see [`Transition::choice`]); `None` leaves the item's decision as it is.
    pub fn choice(mut self, choice: Option<ReplyChoice>) -> Self {
        self.choice = choice;
        self
    }

    /// Back to `PENDING`, so that the table's stream hands the comment to the replier again; re-driven at
    /// `redrive_at` if nothing takes it by then.
    pub fn requeue(reason: StatusReason, redrive_at: DateTime<Utc>) -> Self {
        Self::new(CommentStatus::Pending, Some(reason)).at(redrive_at)
    }

    /// Due (for the sweep) at `due_at`.
    pub fn at(mut self, due_at: DateTime<Utc>) -> Self {
        self.due_at = Some(due_at);
        self
    }

    /// Counts a re-drive.
    pub fn redriven(mut self, redrives: u32) -> Self {
        self.redrives = Some(redrives);
        self
    }

    pub fn errors(mut self, errors: ErrorFields) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn replied(mut self, reply: ReplyFields) -> Self {
        self.reply = Some(reply);
        self
    }

    /// Marks `unconfirmed_send` when `maybe_sent`.
    pub fn unconfirmed_send(mut self, maybe_sent: bool) -> Self {
        self.unconfirmed_send |= maybe_sent;
        self
    }

    /// Starts the public reply under `claim_id`, due (for the sweep) when the claim goes stale.
    pub fn public_reply_claim(mut self, claim_id: String, until: DateTime<Utc>) -> Self {
        self.public_reply_claim = Some(claim_id);
        self.at(until)
    }

    pub fn queue_turn(mut self, turn: DateTime<Utc>) -> Self {
        self.queue_turn = Some(turn);
        self
    }

    pub fn token_fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.token_fingerprint = Some(fingerprint.into());
        self
    }
}

/// What a transition requires of the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition<'a> {
    /// Still `PENDING` (nobody claimed it).
    Pending,
    /// Still `SENDING` under this claim.
    Claimed(&'a str),
    /// Still exactly as the sweep read it: this status and this `due_at` (or, for an item of the previous
    /// version, this `next_attempt_at`); with `open_at`, also a reply deadline later than that time; with
    /// `claim_stale_at`, also a claim that expired by then.
    Due {
        status: CommentStatus,
        due_at: &'a str,
        legacy: bool,
        open_at: Option<DateTime<Utc>>,
        claim_stale_at: Option<DateTime<Utc>>,
    },
    /// What an operator may re-drive: the item exists, its reply deadline is after `now`, and it is `RETRY`,
    /// `TOKEN_INVALID`, `FAILED` for a transient reason ([`StatusReason::is_transient`], a transient Meta code
    /// or a 5xx), or `PENDING` since before `stuck_pending_before` (its stream record was given up on).
    Redrivable {
        now: DateTime<Utc>,
        stuck_pending_before: DateTime<Utc>,
    },
    /// What a backfill may answer: `SKIPPED` because no campaign matched ([`StatusReason::NoMatchingCampaign`]),
    /// with its reply deadline after `open_at`.
    Unanswered { open_at: DateTime<Utc> },
}

/// A fresh claim's ID (random hex): the token a claimant's later writes are conditional on.
pub fn new_claim_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A comment this invocation now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub claim_id: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// An earlier attempt may have been delivered.
    pub unconfirmed_send: bool,
}

/// Whether a conditional write happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The condition did not hold: someone else moved the comment on.
    ConditionFailed,
}

/// One entry of the `due` index (or of the previous version's `retry_due`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueComment {
    pub comment_id: String,
    /// As stored (text), so the sweep's condition compares exactly what it read.
    pub due_at: String,
    /// Projected into the index, so the sweep can share a run fairly between accounts.
    pub account_id: Option<String>,
    /// From the previous version's `retry_due` index (`next_attempt_at`).
    pub legacy: bool,
}
