//! A comment's lifecycle, defined once for every crate that touches a comment item (the webhook, the replier,
//! its sweep and `replyctl`): the item's attribute names ([`attr`]), its statuses ([`CommentStatus`]), the
//! reasons it has them ([`StatusReason`]), and the moves between them ([`Transition`] under a
//! [`Precondition`]). The comment table's adapter (`crate::store`) performs those moves.
//!
//! ```text
//!  webhook ──▶ PENDING ──claim──▶ SENDING ──▶ REPLIED | FAILED | EXPIRED
//!              ▲   │                  │
//!              │   └─(window, pause,  └──▶ RETRY | TOKEN_INVALID ──(sweep, when due)──┐
//!              │      token, text)──▶ RETRY | TOKEN_INVALID | FAILED | EXPIRED         │
//!              └──────────────────────────────────────────────────────────────────────┘
//!  webhook ──▶ SKIPPED (the account's own comment)
//!  PENDING ──▶ SKIPPED (no campaign answers it, or its campaign was paused) ──backfill──▶ PENDING
//! ```
//! A `SENDING` claim whose invocation died is swept back to `PENDING` once it is due and past `claimed_until`;
//! a `PENDING` comment nobody took (its stream record was given up on) is re-driven when it is due ([`due`]).
//! A `REPLIED` comment whose campaign has a public reply also carries that reply's own state
//! ([`public_reply`]).

pub mod attr;
pub mod due;
pub mod public_reply;
mod reason;
mod status;
mod transition;

pub use public_reply::{
    ConfirmedBy, PublicPrecondition, PublicReplyMove, PublicReplyState, PublicReplyStatus,
};
pub use reason::StatusReason;
pub use status::CommentStatus;
pub use transition::{
    Claim, DueComment, ErrorFields, Precondition, ReplyChoice, ReplyFields, Transition, Written,
    new_claim_id,
};
