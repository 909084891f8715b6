//! `list`, `show` and `stats`: reading the comments table.
//!
//! Cost: the table's index, `due` (partition and due time, for the sweep), cannot answer "newest comments",
//! so `list` and `stats` use a paginated Scan with a projection and sort on the client. A Scan is charged for every item it reads (about 0.5 read units per 4 KB item with eventual
//! consistency) whatever the filter, so both stop at `--max-scan` items and say when they did. `show` is one
//! strongly consistent GetItem.

use crate::age;
use crate::cli::{ListArgs, ShowArgs, StatsArgs};
use crate::dynamo::{self, Item, ScanSpec};
use crate::failure::Failure;
use crate::items;
use crate::output::{self, Output, Table};
use chrono::Utc;
use reply_core::CommentStatus;
use reply_core::lifecycle::attr;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What `list` reads of each item.
const LIST_ATTRIBUTES: &[&str] = &[
    attr::COMMENT_ID,
    attr::ACCOUNT_ID,
    attr::COMMENTER_ID,
    attr::COMMENTER_USERNAME,
    attr::STATUS,
    attr::STATUS_REASON,
    attr::ERROR_CODE,
    attr::ERROR_SUBCODE,
    attr::MESSAGE_ID,
    attr::RECEIVED_AT,
    attr::COMMENT_TIME,
    attr::REPLY_DEADLINE,
    attr::SOURCE,
    attr::MEDIA_PRODUCT_TYPE,
    attr::DUE_AT,
    attr::ATTEMPTS,
];

/// Reply IDs longer than this are shortened in the table (`show` prints them whole).
const REPLY_ID_WIDTH: usize = 24;

pub async fn list(args: ListArgs, out: &Output) -> Result<(), Failure> {
    let table = dynamo::connect(&args.table).await?;
    let mut equals = Vec::new();
    if let Some(status) = args.status {
        equals.push((attr::STATUS, status.as_str().to_owned()));
    }
    if let Some(account) = &args.account {
        equals.push((attr::ACCOUNT_ID, account.trim().to_owned()));
    }
    let scanned = table
        .scan(&ScanSpec {
            attributes: LIST_ATTRIBUTES,
            equals,
            max_scan: args.max_scan,
            ..ScanSpec::default()
        })
        .await?;
    let matched = scanned.items.len();
    let mut rows = scanned.items;
    // ISO 8601 UTC strings sort as time; items without received_at go last.
    rows.sort_by(|a, b| {
        items::string(b, attr::RECEIVED_AT).cmp(&items::string(a, attr::RECEIVED_AT))
    });
    rows.truncate(usize::try_from(args.limit).unwrap_or(usize::MAX));

    if out.json() {
        out.print_json(&json!({
            "table": table.name,
            "items": rows.iter().map(items::item_json).collect::<Vec<_>>(),
            "count": rows.len(),
            "matched": matched,
            "scanned": scanned.scanned,
            "truncated": scanned.truncated,
        }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("No comments{} in table {}.", filter_text(&args), table.name);
    } else {
        print!("{}", list_table(&rows).render());
        println!(
            "{}",
            output::dim(&format!(
                "{} of {matched} matching comments{}, newest first; scanned {} items of table {}",
                rows.len(),
                filter_text(&args),
                scanned.scanned,
                table.name
            ))
        );
    }
    if scanned.truncated {
        output::say_scan_truncated(
            args.max_scan,
            "the table has more, so newer comments may be missing.",
        );
    }
    Ok(())
}

fn filter_text(args: &ListArgs) -> String {
    let mut parts = Vec::new();
    if let Some(s) = args.status {
        parts.push(format!("status {s}"));
    }
    if let Some(a) = &args.account {
        parts.push(format!("account {a}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" with {}", parts.join(" and "))
    }
}

fn list_table(rows: &[Item]) -> Table {
    let now = Utc::now();
    let mut t = Table::new(&[
        "RECEIVED",
        "COMMENTED",
        "COMMENT ID",
        "ACCOUNT",
        "COMMENTER",
        "STATUS",
        "REASON",
        "REPLY ID",
    ]);
    for item in rows {
        let received = items::time(item, attr::RECEIVED_AT)
            .map(output::local_time)
            .unwrap_or_default();
        let commented = items::time(item, attr::COMMENT_TIME)
            .map(|t| age::relative(t, now))
            .unwrap_or_default();
        let commenter = match (
            items::string(item, attr::COMMENTER_USERNAME),
            items::string(item, attr::COMMENTER_ID),
        ) {
            (Some(u), _) => format!("@{u}"),
            (None, Some(id)) => id.to_owned(),
            (None, None) => String::new(),
        };
        let status = items::string(item, attr::STATUS).unwrap_or("?");
        let reply = items::string(item, attr::MESSAGE_ID).unwrap_or_default();
        let reply = if reply.chars().count() > REPLY_ID_WIDTH {
            let head: String = reply.chars().take(REPLY_ID_WIDTH - 1).collect();
            format!("{head}…")
        } else {
            reply.to_owned()
        };
        t.row(vec![
            received,
            commented,
            items::string(item, attr::COMMENT_ID)
                .unwrap_or_default()
                .to_owned(),
            items::string(item, attr::ACCOUNT_ID)
                .unwrap_or_default()
                .to_owned(),
            commenter,
            output::status(status),
            items::reason(item),
            reply,
        ]);
    }
    t
}

pub async fn show(args: ShowArgs, out: &Output) -> Result<(), Failure> {
    let table = dynamo::connect(&args.table).await?;
    let item = table
        .get(&args.comment_id)
        .await?
        .ok_or_else(|| table.not_found(&args.comment_id))?;
    if out.json() {
        out.print_json(&items::item_json(&item));
        return Ok(());
    }
    let now = Utc::now();
    let mut t = Table::new(&["ATTRIBUTE", "VALUE"]);
    for name in items::ordered_names(&item) {
        let value = if items::is_secret(name) {
            items::REDACTED.to_owned()
        } else {
            display_value(&item, name, now)
        };
        t.row(vec![name.to_owned(), value]);
    }
    print!("{}", t.render());
    Ok(())
}

/// A value with a note people need: statuses coloured, times with "ago"/"in", the window's state.
fn display_value(item: &Item, name: &str, now: chrono::DateTime<Utc>) -> String {
    let Some(value) = item.get(name) else {
        return String::new();
    };
    let raw = match items::to_json(value) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    if name == attr::STATUS {
        return output::status(&raw);
    }
    if name == attr::EXPIRES_AT {
        return match raw
            .parse::<i64>()
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        {
            Some(t) => format!(
                "{raw} {}",
                output::dim(&format!(
                    "({}, {})",
                    reply_core::comment::format_time(t),
                    age::relative(t, now)
                ))
            ),
            None => raw,
        };
    }
    match items::time(item, name) {
        Some(t) if name == attr::REPLY_DEADLINE => {
            let note = if t > now {
                format!("window open, closes {}", age::relative(t, now))
            } else {
                format!("window closed {}", age::relative(t, now))
            };
            format!("{raw} {}", output::dim(&format!("({note})")))
        }
        Some(t) => format!(
            "{raw} {}",
            output::dim(&format!("({})", age::relative(t, now)))
        ),
        None => raw,
    }
}

pub async fn stats(args: StatsArgs, out: &Output) -> Result<(), Failure> {
    let table = dynamo::connect(&args.table).await?;
    let scanned = table
        .scan(&ScanSpec {
            attributes: &[attr::STATUS, attr::ACCOUNT_ID],
            max_scan: args.max_scan,
            ..ScanSpec::default()
        })
        .await?;
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_account: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for item in &scanned.items {
        let status = items::string(item, attr::STATUS)
            .unwrap_or("(none)")
            .to_owned();
        let account = items::string(item, attr::ACCOUNT_ID)
            .unwrap_or("(none)")
            .to_owned();
        *by_status.entry(status.clone()).or_default() += 1;
        *by_account
            .entry(account)
            .or_default()
            .entry(status)
            .or_default() += 1;
    }
    let total = scanned.items.len() as u64;
    let order = status_order(&by_status);

    if out.json() {
        let counts = |m: &BTreeMap<String, u64>| -> Map<String, Value> {
            order
                .iter()
                .map(|s| (s.clone(), json!(m.get(s).copied().unwrap_or(0))))
                .collect()
        };
        let mut obj = json!({
            "table": table.name,
            "total": total,
            "by_status": counts(&by_status),
            "scanned": scanned.scanned,
            "truncated": scanned.truncated,
        });
        if args.by_account {
            obj["by_account"] = Value::Object(
                by_account
                    .iter()
                    .map(|(a, m)| (a.clone(), Value::Object(counts(m))))
                    .collect(),
            );
        }
        out.print_json(&obj);
        return Ok(());
    }

    let mut t = Table::new(&["STATUS", "COMMENTS"]).align_right(1);
    for s in &order {
        let n = by_status.get(s).copied().unwrap_or(0);
        let count = if n == 0 {
            output::dim("0")
        } else {
            n.to_string()
        };
        t.row(vec![output::status(s), count]);
    }
    t.row(vec![
        output::bold("TOTAL"),
        output::bold(&total.to_string()),
    ]);
    print!("{}", t.render());
    if args.by_account {
        println!();
        let present: Vec<&String> = order
            .iter()
            .filter(|s| by_status.contains_key(*s))
            .collect();
        let mut headers = vec!["ACCOUNT"];
        headers.extend(present.iter().map(|s| s.as_str()));
        headers.push("TOTAL");
        let mut t = Table::new(&headers);
        for i in 1..headers.len() {
            t = t.align_right(i);
        }
        for (account, counts) in &by_account {
            let mut row = vec![account.clone()];
            row.extend(
                present
                    .iter()
                    .map(|s| counts.get(*s).copied().unwrap_or(0).to_string()),
            );
            row.push(counts.values().sum::<u64>().to_string());
            t.row(row);
        }
        print!("{}", t.render());
    }
    println!(
        "{}",
        output::dim(&format!(
            "scanned {} items of table {}",
            scanned.scanned, table.name
        ))
    );
    if scanned.truncated {
        output::say_scan_truncated(args.max_scan, "these counts are a lower bound.");
    }
    Ok(())
}

/// Every known status in lifecycle order, then any others found.
fn status_order(found: &BTreeMap<String, u64>) -> Vec<String> {
    let mut order: Vec<String> = CommentStatus::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    order.extend(
        found
            .keys()
            .filter(|k| !order.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    order
}
