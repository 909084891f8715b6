//! `campaign list`: the campaigns in the order the replier tries them, with what each has done.
//!
//! The counts come from one paginated Scan of the comments table, projecting three attributes (`campaign_id`,
//! `account_id`, `status`) and filtered on `campaign_id` (and the account) to save transfer; DynamoDB still
//! charges for every item read, so the Scan stops at `--max-scan` items and says so. No index and no
//! per-comment counter exist for this (they would cost a write on every comment); `--no-counts` skips it.

use super::{account_id, connect_both, keywords_text, media_text, sort_as_tried};
use crate::cli::CampaignListArgs;
use crate::dynamo::ScanSpec;
use crate::failure::Failure;
use crate::items;
use crate::output::{self, Output, Table};
use reply_core::CommentStatus;
use reply_core::campaign::{Campaign, CampaignStatus};
use reply_core::lifecycle::attr;
use reply_core::store::campaigns::CampaignSource as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// Keywords longer than this are shortened in the table (`show` prints them all).
const KEYWORDS_WIDTH: usize = 40;

/// Comments of one campaign, by status.
#[derive(Debug, Default, Clone)]
struct Counts(BTreeMap<String, u64>);

impl Counts {
    fn of(&self, status: CommentStatus) -> u64 {
        self.0.get(status.as_str()).copied().unwrap_or(0)
    }

    fn json(&self) -> Value {
        json!({
            "answered": self.of(CommentStatus::Replied),
            "failed": self.of(CommentStatus::Failed),
            "skipped": self.of(CommentStatus::Skipped),
            "by_status": self.0,
        })
    }
}

pub async fn run(args: CampaignListArgs, out: &Output) -> Result<(), Failure> {
    let (comments, campaigns) = connect_both(&args.tables).await?;
    let account = args.account.as_deref().map(account_id);
    let store = campaigns.campaigns();
    let mut list: Vec<Campaign> = match &account {
        Some(a) => store.account_campaigns(a).await,
        None => store.all().await,
    }
    .map_err(|e| campaigns.store_failure("read the campaigns", e))?;
    sort_as_tried(&mut list);

    let mut counts: HashMap<(String, String), Counts> = HashMap::new();
    let mut end = None;
    if !args.no_counts && !list.is_empty() {
        let mut equals = Vec::new();
        if let Some(a) = &account {
            equals.push((attr::ACCOUNT_ID, a.clone()));
        }
        let progress = out.scan_progress("counting the campaigns' comments");
        let scan = comments
            .scan_each(
                &ScanSpec {
                    attributes: &[attr::CAMPAIGN_ID, attr::ACCOUNT_ID, attr::STATUS],
                    equals,
                    exists: vec![attr::CAMPAIGN_ID],
                    max_scan: args.max_scan,
                },
                &progress,
                |item| {
                    let key = (
                        items::string(&item, attr::ACCOUNT_ID)
                            .unwrap_or_default()
                            .to_owned(),
                        items::string(&item, attr::CAMPAIGN_ID)
                            .unwrap_or_default()
                            .to_owned(),
                    );
                    let status = items::string(&item, attr::STATUS).unwrap_or("(none)");
                    *counts
                        .entry(key)
                        .or_default()
                        .0
                        .entry(status.to_owned())
                        .or_default() += 1;
                },
            )
            .await;
        progress.finish_and_clear();
        end = Some(scan?);
    }
    let counts_of = |c: &Campaign| {
        counts
            .get(&(c.account_id.clone(), c.campaign_id.clone()))
            .cloned()
            .unwrap_or_default()
    };

    if out.json() {
        let rows: Vec<Value> = list
            .iter()
            .map(|c| {
                let mut row = Value::Object(c.to_fields());
                row["created_at"] = json!(c.created_at);
                row["updated_at"] = json!(c.updated_at);
                if end.is_some() {
                    row["comments"] = counts_of(c).json();
                }
                row
            })
            .collect();
        out.print_json(&json!({
            "table": campaigns.name,
            "campaigns": rows,
            "count": list.len(),
            "comments_table": comments.name,
            "scanned": end.map(|e| e.scanned),
            "truncated": end.map(|e| e.truncated),
        }));
        return Ok(());
    }

    if list.is_empty() {
        match &account {
            Some(a) => println!(
                "No campaigns for account {a} in table {}: its comments get REPLY_TEXT when that is set for the \
                 replier, and are skipped (no_matching_campaign) otherwise.",
                campaigns.name
            ),
            None => println!("No campaigns in table {}.", campaigns.name),
        }
        println!(
            "{}",
            output::dim("Create one from a YAML file with `replyctl campaign apply FILE`.")
        );
        return Ok(());
    }
    let mut headers = vec![
        "ID", "ACCOUNT", "STATUS", "MATCH", "KEYWORDS", "MEDIA", "PRIORITY",
    ];
    if end.is_some() {
        headers.extend(["ANSWERED", "FAILED", "SKIPPED"]);
    }
    let mut t = Table::new(&headers);
    for i in 6..headers.len() {
        t = t.align_right(i);
    }
    for c in &list {
        let status = match c.status {
            CampaignStatus::Active => output::good(c.status.as_str()),
            CampaignStatus::Paused => output::yellow(c.status.as_str()),
        };
        let mut row = vec![
            c.campaign_id.clone(),
            c.account_id.clone(),
            status,
            c.match_mode.as_str().to_owned(),
            output::clip(&keywords_text(c), KEYWORDS_WIDTH),
            media_text(c),
            c.priority.to_string(),
        ];
        if end.is_some() {
            let n = counts_of(c);
            for status in [
                CommentStatus::Replied,
                CommentStatus::Failed,
                CommentStatus::Skipped,
            ] {
                row.push(n.of(status).to_string());
            }
        }
        t.row(row);
    }
    print!("{}", t.render());
    let mut note = format!(
        "{} campaign{} of table {}, in the order they are tried",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        campaigns.name
    );
    if let Some(e) = end {
        note.push_str(&format!(
            "; counts from {} items read of table {}",
            e.scanned, comments.name
        ));
    }
    println!("{}", output::dim(&note));
    if end.is_some_and(|e| e.truncated) {
        output::say_scan_truncated(
            args.max_scan,
            "the table has more, so these counts are a lower bound.",
        );
    }
    Ok(())
}
