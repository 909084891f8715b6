//! The command line. Settings shared with the rest of the project are read from the same environment
//! variables (`WEBHOOK_URL`, `APP_SECRET`, `VERIFY_TOKEN`, `TABLE_NAME`, `CAMPAIGNS_TABLE_NAME`,
//! `ACCESS_TOKEN`, `GRAPH_API_URL`, `GRAPH_API_VERSION`); a flag wins over its variable. Secret values never
//! appear in `--help`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use reply_core::CommentStatus;

/// The account used when `--account` is not given (the account of Meta's captured sample notification).
pub const SAMPLE_ACCOUNT_ID: &str = "17841401906857599";

#[derive(Debug, Parser)]
#[command(
    name = "replyctl",
    version,
    about = "Operate the Instagram private-replies product, locally or deployed",
    long_about = "Operate the Instagram private-replies product, locally or deployed.\n\n\
        Send signed sample comments and messages to a webhook, run Meta's verification handshake, read and re-drive the \
        stored comments, subscribe accounts to the webhook fields, and manage the campaigns that decide which \
        comment gets which private reply (`replyctl campaign apply FILE`, `list`, `show`, `pause`, `resume`, \
        `delete`, a dry run with `test`, `misses` to see what went unanswered, and `backfill` to answer it).\n\n\
        Local stack: `cargo run -p local-stack`, then `replyctl send-comment` and \
        `replyctl list --dynamodb-local`."
)]
pub struct Cli {
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// POST a realistic, correctly signed comment notification (or a batch of them) to a webhook.
    SendComment(SendCommentArgs),
    /// POST a correctly signed `messages` (or, with --postback, `messaging_postbacks`) notification: a person
    /// answering the account, tapping a button, or (--echo) the account's own send coming back.
    SendMessage(SendMessageArgs),
    /// Run Meta's GET verification handshake against a webhook URL and say whether it passes.
    VerifyWebhook(VerifyWebhookArgs),
    /// Recent comments, newest first (reads the whole table with a paginated Scan).
    List(ListArgs),
    /// One stored comment with all its attributes.
    Show(ShowArgs),
    /// Comment counts by status (and by account).
    Stats(StatsArgs),
    /// Re-drive a comment waiting for a retry or failed transiently, while its reply window is open.
    Retry(RetryArgs),
    /// Subscribe an Instagram account to the webhook fields, with the account's token.
    Subscribe(SubscribeArgs),
    /// Campaigns: which comment gets which private reply (apply a file, list, show, pause, resume, delete,
    /// test a comment, see what no campaign answered, backfill).
    #[command(subcommand)]
    Campaign(CampaignCommand),
}

#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Webhook URL [default: http://127.0.0.1:${WEBHOOK_PORT:-3000}/webhook].
    #[arg(long, env = "WEBHOOK_URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendCommentArgs {
    #[command(flatten)]
    pub webhook: WebhookArgs,

    /// App secret that signs the notification (the first one when comma-separated)
    /// [default for a local URL: local-app-secret].
    #[arg(long, env = "APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,

    /// Comment text.
    #[arg(long, default_value = "LINK")]
    pub text: String,

    /// Instagram professional account ID(s) commented on; several (comma-separated or repeated) spread the
    /// comments over the accounts, one notification entry per account.
    #[arg(long, value_delimiter = ',', default_value = SAMPLE_ACCOUNT_ID)]
    pub account: Vec<String>,

    /// Commenter's Instagram-scoped ID [default: a random one per comment].
    #[arg(long)]
    pub commenter: Option<String>,

    /// Commenter's username [default: derived from the commenter ID].
    #[arg(long)]
    pub username: Option<String>,

    /// What was commented on; LIVE sends a `live_comments` change.
    #[arg(long, value_enum, ignore_case = true, default_value = "FEED")]
    pub media_type: MediaType,

    /// Send a `live_comments` change (same as --media-type LIVE).
    #[arg(long)]
    pub live: bool,

    /// Media ID [default: a random one per run].
    #[arg(long)]
    pub media_id: Option<String>,

    /// Make the comment a reply to this comment ID.
    #[arg(long)]
    pub parent_id: Option<String>,

    /// Ad ID, for a comment on an ad.
    #[arg(long)]
    pub ad_id: Option<String>,

    /// How old the comment is (8d, 2h, 30m, 1d12h): the notification's entry time is now minus this, which
    /// the webhook stores as the comment time.
    #[arg(long, default_value = "0", value_parser = crate::age::parse_age)]
    pub age: chrono::Duration,

    /// Comment ID [default: a random, realistic 17-18 digit ID]; only with --count 1.
    #[arg(long)]
    pub comment_id: Option<String>,

    /// Number of distinct comments to send.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,

    /// Comments per POST (Meta batches up to 1000 changes).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch_size: u32,

    /// POSTs in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,

    /// Send every notification twice, as Meta does for comments on ads and on redelivery.
    #[arg(long)]
    pub duplicate: bool,

    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct SendMessageArgs {
    #[command(flatten)]
    pub webhook: WebhookArgs,

    /// App secret that signs the notification (the first one when comma-separated)
    /// [default for a local URL: local-app-secret].
    #[arg(long, env = "APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,

    /// The Instagram professional account the message is sent to (`entry[].id`).
    #[arg(long, default_value = SAMPLE_ACCOUNT_ID)]
    pub account: String,

    /// The person's Instagram-scoped ID (IGSID), the message's sender [default: a random one].
    #[arg(long = "from")]
    pub from: Option<String>,

    /// Message text (a button tap has none: use --postback).
    #[arg(long, required_unless_present = "postback")]
    pub text: Option<String>,

    /// Meta's message ID, `mid` [default: a random one]; send the same one twice to see the duplicate.
    #[arg(long)]
    pub mid: Option<String>,

    /// The account's own send coming back (`is_echo: true`, sent by the account to --from): never stored.
    #[arg(long, conflicts_with = "postback")]
    pub echo: bool,

    /// Make the message an answer to this story.
    #[arg(long)]
    pub reply_to_story: Option<String>,

    /// Send a button tap (`messaging_postbacks`) with this payload instead of a message.
    #[arg(long, requires = "title", conflicts_with_all = ["text", "reply_to_story"])]
    pub postback: Option<String>,

    /// The tapped button's title (with --postback).
    #[arg(long)]
    pub title: Option<String>,

    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MediaType {
    #[value(name = "FEED")]
    Feed,
    #[value(name = "REELS")]
    Reels,
    #[value(name = "STORY")]
    Story,
    #[value(name = "AD")]
    Ad,
    #[value(name = "LIVE")]
    Live,
}

impl MediaType {
    /// `media.media_product_type` as Meta sends it.
    pub fn product_type(self) -> &'static str {
        match self {
            Self::Feed => "FEED",
            Self::Reels => "REELS",
            Self::Story => "STORY",
            Self::Ad => "AD",
            Self::Live => "LIVE",
        }
    }
}

#[derive(Debug, Args)]
pub struct VerifyWebhookArgs {
    #[command(flatten)]
    pub webhook: WebhookArgs,

    /// The verify token to present [default for a local URL: local-verify-token].
    #[arg(long, env = "VERIFY_TOKEN", hide_env_values = true)]
    pub verify_token: Option<String>,

    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

/// Where the comments table is. AWS access comes from the standard AWS configuration (`AWS_PROFILE`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
#[derive(Debug, Args)]
pub struct TableArgs {
    /// The comments table.
    #[arg(long, env = "TABLE_NAME", default_value = "comments")]
    pub table: String,

    #[command(flatten)]
    pub at: EndpointArgs,
}

/// Which DynamoDB: AWS's (from the standard AWS configuration) or another endpoint.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// DynamoDB endpoint, e.g. http://127.0.0.1:8000 for DynamoDB Local; implies test credentials and
    /// us-east-1 when none are set.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// The local stack's DynamoDB Local: --endpoint http://127.0.0.1:${DYNAMODB_PORT:-8000}.
    #[arg(long, conflicts_with = "endpoint")]
    pub dynamodb_local: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub table: TableArgs,

    /// Only comments in this status.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<CommentStatus>,

    /// Only comments on this account.
    #[arg(long)]
    pub account: Option<String>,

    /// Rows to show.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,

    /// Stop scanning after this many items (each scanned item costs read capacity); the rows shown are then
    /// the newest of those read, not necessarily of the table.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_scan: u64,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub table: TableArgs,

    /// The comment ID.
    pub comment_id: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub table: TableArgs,

    /// Also count by account.
    #[arg(long)]
    pub by_account: bool,

    /// Stop scanning after this many items.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_scan: u64,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub table: TableArgs,

    /// The comment ID.
    pub comment_id: String,
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// The Instagram professional account ID to subscribe.
    #[arg(long)]
    pub account: String,

    /// The account's Instagram user access token.
    #[arg(long, env = "ACCESS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Webhook fields to subscribe to.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "comments,live_comments,messages,messaging_postbacks"
    )]
    pub fields: Vec<String>,

    /// Graph API base URL.
    #[arg(
        long,
        env = "GRAPH_API_URL",
        default_value = "https://graph.instagram.com"
    )]
    pub graph_api_url: String,

    /// Graph API version.
    #[arg(long, env = "GRAPH_API_VERSION", default_value = "v25.0")]
    pub graph_api_version: String,

    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

/// Where the campaigns table is (and which DynamoDB).
#[derive(Debug, Args)]
pub struct CampaignsTableArgs {
    /// The campaigns table (the deployed stack's CampaignsTable output).
    #[arg(long, env = "CAMPAIGNS_TABLE_NAME", default_value = reply_core::store::campaigns::DEFAULT_TABLE)]
    pub campaigns_table: String,

    #[command(flatten)]
    pub at: EndpointArgs,
}

/// Both tables: the campaigns and the comments they answered.
#[derive(Debug, Args)]
pub struct BothTablesArgs {
    /// The campaigns table (the deployed stack's CampaignsTable output).
    #[arg(long, env = "CAMPAIGNS_TABLE_NAME", default_value = reply_core::store::campaigns::DEFAULT_TABLE)]
    pub campaigns_table: String,

    #[command(flatten)]
    pub comments: TableArgs,
}

/// One campaign: its ID and its account (the table's key).
#[derive(Debug, Args)]
pub struct CampaignKey {
    /// The campaign's ID (the file's `id`).
    pub id: String,

    /// The Instagram account the campaign belongs to (the file's `account`).
    #[arg(long)]
    pub account: String,
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create or update a campaign from a YAML or JSON file (`-` reads YAML from standard input); an invalid
    /// file is refused with every problem listed, and nothing is written.
    Apply(CampaignApplyArgs),
    /// Campaigns (of one account or all), in the order they are tried, with how many comments each answered,
    /// failed and skipped (one bounded Scan of the comments table).
    List(CampaignListArgs),
    /// One campaign's fields; with --json, a file `apply` accepts.
    Show(CampaignKeyArgs),
    /// Stop answering with a campaign (comments already decided for it are skipped, `campaign_paused`).
    Pause(CampaignKeyArgs),
    /// Answer with a paused campaign again.
    Resume(CampaignKeyArgs),
    /// Delete a campaign (comments already decided for it are skipped, `campaign_paused`).
    Delete(CampaignKeyArgs),
    /// Dry run: which campaign and text a comment would get now, or why none would answer it. Writes nothing.
    Test(CampaignTestArgs),
    /// The account's most recent comments that no campaign answered (`no_matching_campaign`).
    Misses(CampaignMissesArgs),
    /// Answer the account's recent unanswered comments (`no_matching_campaign`, reply window still open)
    /// that this campaign matches: they go back to PENDING with its reply decided, and the replier sends it.
    Backfill(CampaignBackfillArgs),
}

#[derive(Debug, Args)]
pub struct CampaignApplyArgs {
    #[command(flatten)]
    pub table: CampaignsTableArgs,

    /// The campaign file: `.json` is read as JSON, anything else as YAML; `-` is YAML from standard input.
    pub file: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct CampaignListArgs {
    #[command(flatten)]
    pub tables: BothTablesArgs,

    /// Only this account's campaigns (one Query; the comment counts scan only its comments' items).
    #[arg(long)]
    pub account: Option<String>,

    /// Do not count comments (no Scan of the comments table).
    #[arg(long)]
    pub no_counts: bool,

    /// Stop counting after this many comment items read (each read item costs read capacity); the counts
    /// are then a lower bound.
    #[arg(long, visible_alias = "max-items", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_scan: u64,
}

#[derive(Debug, Args)]
pub struct CampaignKeyArgs {
    #[command(flatten)]
    pub table: CampaignsTableArgs,

    #[command(flatten)]
    pub key: CampaignKey,
}

#[derive(Debug, Args)]
pub struct CampaignTestArgs {
    #[command(flatten)]
    pub table: CampaignsTableArgs,

    /// The account commented on.
    #[arg(long)]
    pub account: String,

    /// The comment's text.
    #[arg(long)]
    pub text: String,

    /// The media commented on (for an ad, its organic post's ID matches too: pass that).
    #[arg(long)]
    pub media: Option<String>,

    /// The kind of media commented on (as `send-comment` sends it).
    #[arg(long, value_enum, ignore_case = true, default_value = "FEED")]
    pub media_type: MediaType,

    /// The commenter's username [default: none, so placeholders show their fallback].
    #[arg(long)]
    pub username: Option<String>,

    /// The comment ID, which picks the reply variant [default: a random one].
    #[arg(long)]
    pub comment_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CampaignMissesArgs {
    #[command(flatten)]
    pub table: TableArgs,

    /// The account whose unanswered comments to show.
    #[arg(long)]
    pub account: String,

    /// Rows to show.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,

    /// Stop scanning after this many items read; the rows shown are then the newest of those read.
    #[arg(long, visible_alias = "max-items", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_scan: u64,
}

#[derive(Debug, Args)]
pub struct CampaignBackfillArgs {
    #[command(flatten)]
    pub tables: BothTablesArgs,

    #[command(flatten)]
    pub key: CampaignKey,

    /// Only comments made this recently (30m, 12h, 2d; at most 7d, Instagram's reply window).
    #[arg(long, default_value = "7d", value_parser = parse_since)]
    pub since: chrono::Duration,

    /// Say what would be requeued, and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Stop scanning after this many items read; comments beyond are then not looked at (run it again).
    #[arg(long, visible_alias = "max-items", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_scan: u64,

    /// The replier's expiry margin in seconds: it expires rather than sends a comment whose reply window
    /// closes sooner, so a backfill leaves those alone (set it as the replier's is set).
    #[arg(long, env = "EXPIRY_MARGIN_SECS", default_value_t = 600)]
    pub expiry_margin_secs: u32,
}

/// A `--since` duration: positive, and at most the 7-day reply window.
fn parse_since(text: &str) -> Result<chrono::Duration, String> {
    let since = crate::age::parse_age(text)?;
    if since <= chrono::Duration::zero() {
        return Err(format!(
            "{text:?} is empty: give a duration like 7d, 2d or 12h"
        ));
    }
    if since > reply_core::REPLY_WINDOW {
        return Err(format!(
            "{text:?} is longer than 7d: Instagram allows a private reply only within 7 days of the comment"
        ));
    }
    Ok(since)
}

fn parse_status(text: &str) -> Result<CommentStatus, String> {
    let wanted = text.trim().replace('-', "_");
    CommentStatus::ALL
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(&wanted))
        .ok_or_else(|| {
            let names: Vec<_> = CommentStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("{text:?} is not a status; use one of {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn statuses_parse_in_any_case() {
        assert_eq!(parse_status("retry"), Ok(CommentStatus::Retry));
        assert_eq!(
            parse_status("token-invalid"),
            Ok(CommentStatus::TokenInvalid)
        );
        assert!(parse_status("DONE").is_err_and(|e| e.contains("PENDING")));
    }

    #[test]
    fn since_is_at_most_the_reply_window() {
        assert_eq!(parse_since("7d"), Ok(chrono::Duration::days(7)));
        assert_eq!(parse_since("12h"), Ok(chrono::Duration::hours(12)));
        assert!(parse_since("8d").is_err_and(|e| e.contains("7 days")));
        assert!(parse_since("0").is_err());
        assert!(parse_since("soon").is_err());
    }
}
