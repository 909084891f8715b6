//! `campaign ...`: the campaigns that decide which comment gets which private reply (the domain is
//! `reply_core::campaign`, the table's adapter `reply_core::store::campaigns`, the same code the replier reads
//! campaigns with).
//!
//! - [`apply`]: a file in, checked, then one UpdateItem (create or update); `show`, `pause`, `resume` and
//!   `delete` are in [`manage`].
//! - [`list`]: the campaigns, with what they answered, counted from one bounded Scan of the comments table.
//! - [`dry_run`]: `test`, what the replier would decide for a comment made now.
//! - [`misses`] and [`backfill`]: the comments no campaign answered, and answering them with a new one.
//!
//! Cost: campaigns are few (a Query per account, a Scan for all), and only `list`, `misses` and `backfill`
//! read the comments table, with one paginated Scan each, bounded by `--max-scan`, counted on a progress line.

mod apply;
mod backfill;
mod dry_run;
mod list;
mod manage;
mod misses;

use crate::cli::{BothTablesArgs, CampaignCommand, CampaignsTableArgs};
use crate::dynamo::{self, Table, TableKind};
use crate::failure::Failure;
use crate::output::Output;
use reply_core::campaign::{Campaign, ReplyTemplate};
use reply_core::lifecycle::attr;
use reply_core::{CommentStatus, StatusReason};

pub async fn run(command: CampaignCommand, out: &Output) -> Result<(), Failure> {
    match command {
        CampaignCommand::Apply(args) => apply::run(args, out).await,
        CampaignCommand::List(args) => list::run(args, out).await,
        CampaignCommand::Show(args) => manage::show(args, out).await,
        CampaignCommand::Pause(args) => manage::pause(args, out).await,
        CampaignCommand::Resume(args) => manage::resume(args, out).await,
        CampaignCommand::Delete(args) => manage::delete(args, out).await,
        CampaignCommand::Test(args) => dry_run::run(args, out).await,
        CampaignCommand::Misses(args) => misses::run(args, out).await,
        CampaignCommand::Backfill(args) => backfill::run(args, out).await,
    }
}

/// The account's comments that no campaign answered (`SKIPPED`, `no_matching_campaign`), with `attributes`
/// (all when empty), from one Scan bounded by `max_scan`, counted on a progress line.
async fn unanswered(
    comments: &Table,
    account: &str,
    attributes: &'static [&'static str],
    max_scan: u64,
    out: &Output,
) -> Result<(Vec<dynamo::Item>, dynamo::ScanEnd), Failure> {
    let progress = out.scan_progress("looking for unanswered comments");
    let mut found = Vec::new();
    let scan = comments
        .scan_each(
            &dynamo::ScanSpec {
                attributes,
                equals: vec![
                    (attr::ACCOUNT_ID, account.to_owned()),
                    (attr::STATUS, CommentStatus::Skipped.as_str().to_owned()),
                    (
                        attr::STATUS_REASON,
                        StatusReason::NoMatchingCampaign.word().into_owned(),
                    ),
                ],
                max_scan,
                ..dynamo::ScanSpec::default()
            },
            &progress,
            |item| found.push(item),
        )
        .await;
    progress.finish_and_clear();
    Ok((found, scan?))
}

/// The campaigns table of `args`.
async fn connect(args: &CampaignsTableArgs) -> Result<Table, Failure> {
    dynamo::connect_to(&args.at, &args.campaigns_table, TableKind::Campaigns).await
}

/// The comments table and the campaigns table, on one client.
async fn connect_both(args: &BothTablesArgs) -> Result<(Table, Table), Failure> {
    let comments = dynamo::connect(&args.comments).await?;
    let campaigns = comments.sibling(&args.campaigns_table, TableKind::Campaigns);
    Ok((comments, campaigns))
}

/// The campaign `id` of `account`, or a failure that says how to find the right one.
async fn load(campaigns: &Table, account: &str, id: &str) -> Result<Campaign, Failure> {
    campaigns
        .campaigns()
        .get(account, id)
        .await
        .map_err(|e| campaigns.store_failure("read the campaign", e))?
        .ok_or_else(|| missing(campaigns, account, id))
}

/// "no campaign ID for account A".
fn missing(campaigns: &Table, account: &str, id: &str) -> Failure {
    Failure::new(format!(
        "no campaign {id} for account {account} in table {}",
        campaigns.name
    ))
    .hint(format!(
        "`replyctl campaign list --account {account}` shows them (check the ID, the account, and that \
         CAMPAIGNS_TABLE_NAME / --campaigns-table and the endpoint point at the right table)"
    ))
}

/// Account IDs as people paste them (spaces around).
fn account_id(text: &str) -> String {
    text.trim().to_owned()
}

/// What a campaign answers, in a few words: its media, its media types, or the whole account.
fn media_text(c: &Campaign) -> String {
    match (c.media.is_empty(), c.media_types.is_empty()) {
        (false, true) => c.media.join(","),
        (false, false) => format!("{} ({})", c.media.join(","), c.media_types.join(",")),
        (true, false) => c.media_types.join(","),
        (true, true) => "all".to_owned(),
    }
}

/// Its keywords as written, comma-separated, with its exclusions.
fn keywords_text(c: &Campaign) -> String {
    let mut text = c.keywords.join(", ");
    if !c.exclude.is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("(not: {})", c.exclude.join(", ")));
    }
    text
}

/// What is worth knowing about a valid campaign's texts before it answers anyone.
fn warnings(c: &Campaign) -> Vec<String> {
    let mut out = Vec::new();
    for (i, variant) in c.reply.iter().enumerate() {
        let Ok(template) = ReplyTemplate::parse(variant) else {
            continue;
        };
        if template.lacks_fallback() {
            out.push(format!(
                "reply[{}] has {{username}} without a fallback: a comment that arrives without a username would \
                 read {:?}; write {{username|there}} to say \"there\" instead",
                i + 1,
                template.render(None)
            ));
        }
    }
    out
}

/// Campaigns in the order the replier tries them: by account, then priority (higher first), specificity
/// (named media, media types, account-wide), ID (as `reply_core::campaign::AccountCampaigns` orders them).
fn sort_as_tried(campaigns: &mut [Campaign]) {
    campaigns.sort_by(|a, b| {
        let key = |c: &Campaign| {
            (
                c.account_id.clone(),
                std::cmp::Reverse(c.priority),
                std::cmp::Reverse(c.specificity()),
                c.campaign_id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use reply_core::campaign::Format;

    fn campaign(yaml: &str) -> Campaign {
        Campaign::from_file(&format!("account: '1'\n{yaml}"), Format::Yaml)
            .unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    #[test]
    fn a_username_without_a_fallback_is_warned_about_with_what_people_would_read() {
        let c = campaign(
            "id: a\nkeywords: [x]\nreply: ['Hi {username}!', 'Hey {username|there}!', 'Plain']\n",
        );
        let w = warnings(&c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("reply[1]") && w[0].contains("\"Hi !\""),
            "{w:?}"
        );
        assert!(w[0].contains("{username|there}"), "{w:?}");
    }

    #[test]
    fn campaigns_sort_as_the_replier_tries_them() {
        let mut list = vec![
            campaign("id: b-wide\nkeywords: [x]\nreply: [hi]\n"),
            campaign("id: a-wide\nkeywords: [x]\nreply: [hi]\n"),
            campaign("id: post\nkeywords: [x]\nreply: [hi]\nmedia: ['111']\n"),
            campaign("id: urgent\nkeywords: [x]\nreply: [hi]\npriority: 2\n"),
        ];
        sort_as_tried(&mut list);
        let order: Vec<_> = list.iter().map(|c| c.campaign_id.as_str()).collect();
        assert_eq!(order, ["urgent", "post", "a-wide", "b-wide"]);
        let book = reply_core::campaign::AccountCampaigns::new(list.clone());
        let tried: Vec<_> = book.campaigns().map(|c| c.campaign_id.as_str()).collect();
        assert_eq!(tried, order, "the same order as the replier's");
    }

    #[test]
    fn media_and_keywords_read_in_a_few_words() {
        let c = campaign("id: a\nkeywords: [link, price]\nexclude: [stop]\nreply: [hi]\n");
        assert_eq!(media_text(&c), "all");
        assert_eq!(keywords_text(&c), "link, price (not: stop)");
        let c = campaign("id: a\nmatch: any\nmedia_types: [REELS]\nreply: [hi]\n");
        assert_eq!(media_text(&c), "REELS");
        assert_eq!(keywords_text(&c), "");
    }
}
