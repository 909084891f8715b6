//! The name of every attribute of a comment item, and of the table's one index. People read these items in the
//! DynamoDB console, so the names are plain words; the template drift test checks the table against them.

/// The key (S).
pub const COMMENT_ID: &str = "comment_id";
pub const ACCOUNT_ID: &str = "account_id";
pub const COMMENTER_ID: &str = "commenter_id";
pub const COMMENTER_USERNAME: &str = "commenter_username";
pub const SOURCE: &str = "source";
pub const MEDIA_PRODUCT_TYPE: &str = "media_product_type";
pub const MEDIA_ID: &str = "media_id";
pub const AD_ID: &str = "ad_id";
pub const PARENT_ID: &str = "parent_id";
pub const TEXT: &str = "text";
/// For an ad comment, the organic post the ad was made from (`media.original_media_id`): campaigns for that
/// post answer the ad's comments too.
pub const ORIGINAL_MEDIA_ID: &str = "original_media_id";
/// The reply decided for the comment, frozen when it is decided, so every attempt sends the same text: the
/// campaign that answers it (absent for the `REPLY_TEXT` of an account without campaigns), ...
pub const CAMPAIGN_ID: &str = "campaign_id";
/// ... which of its texts (N, from 1), ...
pub const REPLY_VARIANT: &str = "reply_variant";
/// ... and that text with the commenter's username filled in.
pub const REPLY_TEXT: &str = "reply_text";
/// The public reply decided with the private one (a campaign's `public_reply`, username filled in), posted under
/// the comment once the private reply is sent; absent when the campaign has none or the comment cannot have
/// one (a reply to a comment, a Live comment).
pub const PUBLIC_REPLY_TEXT: &str = "public_reply_text";
/// When the comment was made, as far as the notification tells (ISO 8601 UTC).
pub const COMMENT_TIME: &str = "comment_time";
/// The last moment a private reply is allowed.
pub const REPLY_DEADLINE: &str = "reply_deadline";
pub const RECEIVED_AT: &str = "received_at";
/// A [`super::CommentStatus`] word.
pub const STATUS: &str = "status";
/// A [`super::StatusReason`] word: why the comment has its status.
pub const STATUS_REASON: &str = "status_reason";
pub const UPDATED_AT: &str = "updated_at";
/// Claims so far (N).
pub const ATTEMPTS: &str = "attempts";
pub const LAST_ATTEMPT_AT: &str = "last_attempt_at";
/// When the sweep looks at the comment next (ISO 8601): the retry time of a `RETRY`/`TOKEN_INVALID` comment,
/// or, for a `PENDING` one, when it is re-driven if the replier has not taken it by then. Only comments still
/// in progress carry it, which keeps the `due` index to them.
pub const DUE_AT: &str = "due_at";
/// The `due` index's partition (`"00"` to `"15"`, from the comment ID), so no one partition takes every write.
pub const DUE_SHARD: &str = "due_shard";
/// How often the sweep re-drove the comment while it stayed `PENDING` (N); each re-drive waits longer.
pub const REDRIVES: &str = "redrives";
/// Before the `due` index: the retry time, in the old `retry_due` index. Read (and removed) while an upgraded
/// stack still has items from the previous version.
pub const LEGACY_NEXT_ATTEMPT_AT: &str = "next_attempt_at";
/// The claim of the invocation sending now (random hex); removed with every outcome.
pub const CLAIM_ID: &str = "claim_id";
/// When the claim goes stale (also written to `next_attempt_at`, so the sweep finds stale claims).
pub const CLAIMED_UNTIL: &str = "claimed_until";
pub const MESSAGE_ID: &str = "message_id";
pub const RECIPIENT_ID: &str = "recipient_id";
pub const REPLIED_AT: &str = "replied_at";
/// BOOL: false when the reply is inferred from Meta refusing a repeat after an ambiguous attempt.
pub const CONFIRMED: &str = "confirmed";
/// BOOL: an attempt may have been delivered without our knowing (timeout, dropped connection, dead claim).
pub const UNCONFIRMED_SEND: &str = "unconfirmed_send";
pub const HTTP_STATUS: &str = "http_status";
pub const ERROR_CODE: &str = "error_code";
pub const ERROR_SUBCODE: &str = "error_subcode";
pub const ERROR_MESSAGE: &str = "error_message";
pub const FBTRACE_ID: &str = "fbtrace_id";
/// The comment's turn in its account's queue for budget (on comments deferred because the budget was spent).
pub const QUEUE_TURN: &str = "queue_turn";
/// The fingerprint of the token Meta rejected (on `TOKEN_INVALID` comments).
pub const TOKEN_FINGERPRINT: &str = "token_fingerprint";
/// DynamoDB TTL (epoch seconds): some days after the reply window, so finished items clean themselves up.
pub const EXPIRES_AT: &str = "expires_at";

/// The public reply's state (`lifecycle::public_reply`): a `PublicReplyStatus` word, ...
pub const PUBLIC_REPLY_STATUS: &str = "public_reply_status";
/// ... the comment ID Meta gave the reply, when it was published, and how we know (`answer`, `listing`,
/// `webhook`), ...
pub const PUBLIC_REPLY_ID: &str = "public_reply_id";
pub const PUBLIC_REPLIED_AT: &str = "public_replied_at";
pub const PUBLIC_REPLY_CONFIRMED_BY: &str = "public_reply_confirmed_by";
/// ... attempts so far (N), the claim of the invocation posting now (removed with every outcome), ...
pub const PUBLIC_REPLY_ATTEMPTS: &str = "public_reply_attempts";
pub const PUBLIC_REPLY_CLAIM: &str = "public_reply_claim";
/// ... BOOL: an attempt may have published it without our knowing (read the replies before posting again), ...
pub const PUBLIC_REPLY_UNCONFIRMED: &str = "public_reply_unconfirmed";
/// ... and Meta's last error (`code/subcode: message`, or what went wrong).
pub const PUBLIC_REPLY_ERROR: &str = "public_reply_error";

/// The index the sweep reads: (`due_shard`, `due_at`), projecting `account_id` (which never changes, so no
/// update but the ones that move `due_at` writes to it).
pub const DUE_INDEX: &str = "due";
/// The previous version's index on (`status`, `next_attempt_at`); kept in the template for one release so an
/// existing stack upgrades in one deploy (see docs/deploy.md), read by the sweep until it is empty.
pub const LEGACY_RETRY_DUE_INDEX: &str = "retry_due";

/// Every attribute, in the order of the comment's life: what it is, then where it stands, then its attempts
/// and their outcome. `replyctl show` prints items in this order.
pub const LIFECYCLE_ORDER: &[&str] = &[
    COMMENT_ID,
    STATUS,
    STATUS_REASON,
    ACCOUNT_ID,
    COMMENTER_ID,
    COMMENTER_USERNAME,
    SOURCE,
    MEDIA_PRODUCT_TYPE,
    MEDIA_ID,
    AD_ID,
    ORIGINAL_MEDIA_ID,
    PARENT_ID,
    TEXT,
    CAMPAIGN_ID,
    REPLY_VARIANT,
    REPLY_TEXT,
    COMMENT_TIME,
    REPLY_DEADLINE,
    RECEIVED_AT,
    UPDATED_AT,
    ATTEMPTS,
    LAST_ATTEMPT_AT,
    DUE_AT,
    DUE_SHARD,
    REDRIVES,
    LEGACY_NEXT_ATTEMPT_AT,
    CLAIM_ID,
    CLAIMED_UNTIL,
    MESSAGE_ID,
    RECIPIENT_ID,
    REPLIED_AT,
    CONFIRMED,
    UNCONFIRMED_SEND,
    HTTP_STATUS,
    ERROR_CODE,
    ERROR_SUBCODE,
    ERROR_MESSAGE,
    FBTRACE_ID,
    PUBLIC_REPLY_TEXT,
    PUBLIC_REPLY_STATUS,
    PUBLIC_REPLY_ID,
    PUBLIC_REPLIED_AT,
    PUBLIC_REPLY_CONFIRMED_BY,
    PUBLIC_REPLY_ATTEMPTS,
    PUBLIC_REPLY_CLAIM,
    PUBLIC_REPLY_UNCONFIRMED,
    PUBLIC_REPLY_ERROR,
    TOKEN_FINGERPRINT,
    QUEUE_TURN,
    EXPIRES_AT,
];
