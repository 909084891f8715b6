//! `campaign misses`: an account's most recent comments that no campaign answered (`SKIPPED`,
//! `no_matching_campaign`), so that a user can see what people asked and adjust the keywords.
//!
//! One paginated Scan of the comments table (no index answers "an account's skipped comments"), filtered on
//! the account, the status and the reason to save transfer, bounded by `--max-scan`.

use super::{account_id, unanswered};
use crate::age;
use crate::cli::CampaignMissesArgs;
use crate::dynamo;
use crate::failure::Failure;
use crate::items;
use crate::output::{self, Output, Table};
use chrono::Utc;
use reply_core::lifecycle::attr;
use serde_json::json;

/// What a miss shows.
const ATTRIBUTES: &[&str] = &[
    attr::COMMENT_ID,
    attr::COMMENT_TIME,
    attr::COMMENTER_USERNAME,
    attr::COMMENTER_ID,
    attr::MEDIA_ID,
    attr::MEDIA_PRODUCT_TYPE,
    attr::TEXT,
    attr::REPLY_DEADLINE,
];

/// Comment texts longer than this are shortened in the table (`--json` has them whole).
const TEXT_WIDTH: usize = 60;

pub async fn run(args: CampaignMissesArgs, out: &Output) -> Result<(), Failure> {
    let table = dynamo::connect(&args.table).await?;
    let account = account_id(&args.account);
    let (mut rows, end) = unanswered(&table, &account, ATTRIBUTES, args.max_scan, out).await?;
    let matched = rows.len();
    // ISO 8601 UTC strings sort as time; items without comment_time go last.
    rows.sort_by(|a, b| {
        items::string(b, attr::COMMENT_TIME).cmp(&items::string(a, attr::COMMENT_TIME))
    });
    rows.truncate(usize::try_from(args.limit).unwrap_or(usize::MAX));
    let now = Utc::now();

    if out.json() {
        let list: Vec<_> = rows
            .iter()
            .map(|item| {
                let open = items::time(item, attr::REPLY_DEADLINE).is_some_and(|d| d > now);
                let mut row = items::item_json(item);
                row["window_open"] = json!(open);
                row
            })
            .collect();
        out.print_json(&json!({
            "account_id": account,
            "table": table.name,
            "items": list,
            "count": rows.len(),
            "matched": matched,
            "scanned": end.scanned,
            "truncated": end.truncated,
        }));
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "No unanswered comments (no_matching_campaign) for account {account} in the {} items read of table {}.",
            end.scanned, table.name
        );
    } else {
        let mut t = Table::new(&[
            "COMMENTED",
            "COMMENT ID",
            "USERNAME",
            "MEDIA",
            "WINDOW",
            "TEXT",
        ]);
        for item in &rows {
            let when = items::time(item, attr::COMMENT_TIME)
                .map(|t| format!("{} ({})", output::local_time(t), age::relative(t, now)))
                .unwrap_or_default();
            let who = match (
                items::string(item, attr::COMMENTER_USERNAME),
                items::string(item, attr::COMMENTER_ID),
            ) {
                (Some(u), _) => format!("@{u}"),
                (None, Some(id)) => id.to_owned(),
                (None, None) => String::new(),
            };
            let media = match (
                items::string(item, attr::MEDIA_ID),
                items::string(item, attr::MEDIA_PRODUCT_TYPE),
            ) {
                (Some(m), Some(t)) => format!("{m} ({t})"),
                (Some(m), None) => m.to_owned(),
                (None, Some(t)) => t.to_owned(),
                (None, None) => String::new(),
            };
            let window = match items::time(item, attr::REPLY_DEADLINE) {
                Some(d) if d > now => format!("closes {}", age::relative(d, now)),
                _ => output::dim("closed"),
            };
            t.row(vec![
                when,
                items::string(item, attr::COMMENT_ID)
                    .unwrap_or_default()
                    .to_owned(),
                who,
                media,
                window,
                output::clip(
                    items::string(item, attr::TEXT).unwrap_or_default(),
                    TEXT_WIDTH,
                ),
            ]);
        }
        print!("{}", t.render());
        println!(
            "{}",
            output::dim(&format!(
                "{} of {matched} comments no campaign answered, most recent first; scanned {} items of table {}",
                rows.len(),
                end.scanned,
                table.name
            ))
        );
        println!(
            "{}",
            output::dim(&format!(
                "Adjust a campaign's keywords (`replyctl campaign apply FILE`), check it with `replyctl campaign test \
                 --account {account} --text \"...\"`, then `replyctl campaign backfill ID --account {account}` answers \
                 the comments whose window is still open."
            ))
        );
    }
    if end.truncated {
        output::say_scan_truncated(
            args.max_scan,
            "the table has more, so more recent misses may be missing.",
        );
    }
    Ok(())
}
