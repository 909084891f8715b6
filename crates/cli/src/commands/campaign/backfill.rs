//! `campaign backfill`: answers, with one campaign, the account's recent comments that no campaign answered
//! when they came (a campaign made or widened after them).
//!
//! Which comments: `SKIPPED` with `no_matching_campaign`, of the account, made within `--since` (at most the
//! 7-day window), whose reply window stays open past the replier's expiry margin, and that this campaign
//! matches (`AccountCampaigns::choose_only`, as the replier would match it, at the comment's time). Each goes
//! back to `PENDING` with the campaign's decision frozen on it (`campaign_id`, `reply_variant`, `reply_text`),
//! in one conditional write per comment (`Precondition::Unanswered`, and no decision on the item yet): a
//! comment that moved on meanwhile is left alone, and a second run finds nothing left to do. The table's stream
//! hands the comments to the replier, which sends the frozen text; `due_at` lets the sweep re-drive one whose
//! stream record was lost.
//!
//! Cost: one paginated Scan of the comments table (filtered on the account, the status and the reason, bounded
//! by `--max-scan`) and one UpdateItem per comment answered.

use super::{account_id, connect_both, load, unanswered};
use crate::age;
use crate::cli::CampaignBackfillArgs;
use crate::dynamo::Table;
use crate::failure::Failure;
use crate::output::{self, Output};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt as _;
use reply_core::campaign::{AccountCampaigns, CampaignStatus, Subject};
use reply_core::lifecycle::{Precondition, ReplyChoice, Transition, due};
use reply_core::store::CommentTable as _;
use reply_core::{CommentRecord, StatusReason};
use serde_json::json;

/// Writes in flight at once.
const CONCURRENCY: usize = 8;

/// What became of the unanswered comments the Scan found.
#[derive(Debug, Default)]
struct Tally {
    /// `SKIPPED`/`no_matching_campaign` comments of the account read.
    unanswered: u64,
    /// Made before `--since`.
    older: u64,
    /// Their window closes within the expiry margin (or closed).
    closing: u64,
    /// The campaign does not match them.
    not_matched: u64,
    /// The campaign matches, but its text with this commenter's username is over Meta's limit.
    too_long: Vec<String>,
    /// Items that do not read as comments (written by hand or by another version).
    unreadable: u64,
    /// Matched, to be requeued.
    matched: Vec<(String, ReplyChoice)>,
}

pub async fn run(args: CampaignBackfillArgs, out: &Output) -> Result<(), Failure> {
    let (comments, campaigns) = connect_both(&args.tables).await?;
    let account = account_id(&args.key.account);
    let id = args.key.id.trim().to_owned();
    let campaign = load(&campaigns, &account, &id).await?;
    if campaign.status != CampaignStatus::Active {
        return Err(Failure::new(format!(
            "campaign {id} of account {account} is paused: the replier would skip every comment it gave it"
        ))
        .hint(format!(
            "resume it first: `replyctl campaign resume {id} --account {account}`, then run the backfill again"
        )));
    }
    let book = AccountCampaigns::new(vec![campaign]);
    if book.is_empty() {
        return Err(Failure::new(format!(
            "campaign {id} of account {account} is stored with reply texts that do not parse"
        ))
        .hint(format!(
            "apply its file again (`replyctl campaign show {id} --account {account}` shows it)"
        )));
    }
    let now = Utc::now();
    let since = now - args.since;
    let margin = Duration::seconds(i64::from(args.expiry_margin_secs));
    let open_at = now + margin;

    let (found, end) = unanswered(&comments, &account, &[], args.max_scan, out).await?;

    let mut tally = Tally::default();
    for item in found {
        tally.unanswered += 1;
        let Ok(record) = serde_dynamo::from_item::<_, CommentRecord>(item) else {
            tally.unreadable += 1;
            continue;
        };
        if record.comment_time < since {
            tally.older += 1;
            continue;
        }
        if record.reply_deadline <= open_at {
            tally.closing += 1;
            continue;
        }
        match book.choose_only(&id, &Subject::from(&record)) {
            None => tally.not_matched += 1,
            Some(chosen) => match chosen.to_choice() {
                Ok(choice) => tally
                    .matched
                    .push((record.comment_id.as_str().to_owned(), choice)),
                Err(_) => tally.too_long.push(record.comment_id.as_str().to_owned()),
            },
        }
    }

    tally.matched.sort_by(|a, b| a.0.cmp(&b.0));
    tally.too_long.sort();

    let written = if args.dry_run {
        Outcome::default()
    } else {
        requeue(&comments, &tally.matched, open_at, now, out).await?
    };

    let context = Context {
        account: &account,
        id: &id,
        since,
        args: &args,
        table: &comments.name,
        scanned: end.scanned,
        truncated: end.truncated,
    };
    if out.json() {
        print_json(&context, &tally, &written, out);
    } else {
        print_report(&context, &tally, &written);
    }
    Ok(())
}

/// What the writes did.
#[derive(Debug, Default)]
struct Outcome {
    requeued: Vec<String>,
    /// The condition failed: the comment moved on between the Scan and the write (or a decision is on it).
    raced: Vec<String>,
}

/// One conditional write per comment, a few at a time. A failed request stops the run (what was written
/// stays written, and running it again skips those).
async fn requeue(
    comments: &Table,
    matched: &[(String, ReplyChoice)],
    open_at: DateTime<Utc>,
    now: DateTime<Utc>,
    out: &Output,
) -> Result<Outcome, Failure> {
    let store = comments.comments();
    let bar = out.progress(matched.len() as u64, "comments requeued");
    let mut results = futures::stream::iter(matched)
        .map(|(comment_id, choice)| {
            let store = &store;
            async move {
                let transition =
                    Transition::requeue(StatusReason::Backfilled, now + due::DEFAULT_REDRIVE_AFTER)
                        .choice(Some(choice.clone()));
                let result = store
                    .transition(
                        comment_id,
                        Precondition::Unanswered { open_at },
                        &transition,
                        now,
                    )
                    .await;
                (comment_id, result)
            }
        })
        .buffer_unordered(CONCURRENCY);
    let mut written = Outcome::default();
    while let Some((comment_id, result)) = results.next().await {
        bar.inc(1);
        match result {
            Ok(reply_core::lifecycle::Written::Yes) => written.requeued.push(comment_id.clone()),
            Ok(reply_core::lifecycle::Written::ConditionFailed) => {
                written.raced.push(comment_id.clone());
            }
            Err(e) => {
                bar.finish_and_clear();
                let failure = comments.store_failure(&format!("requeue comment {comment_id}"), e);
                return Err(Failure {
                    message: format!(
                        "{} after requeueing {} of {} comments",
                        failure.message,
                        written.requeued.len(),
                        matched.len()
                    ),
                    hint: Some(format!(
                        "{}; running the backfill again is safe: comments already requeued are not requeued twice",
                        failure.hint.as_deref().unwrap_or("check the error above")
                    )),
                    ..failure
                });
            }
        }
    }
    bar.finish_and_clear();
    written.requeued.sort();
    written.raced.sort();
    Ok(written)
}

struct Context<'a> {
    account: &'a str,
    id: &'a str,
    since: DateTime<Utc>,
    args: &'a CampaignBackfillArgs,
    table: &'a str,
    scanned: u64,
    truncated: bool,
}

fn print_json(c: &Context<'_>, tally: &Tally, written: &Outcome, out: &Output) {
    let matched: Vec<&str> = tally.matched.iter().map(|(id, _)| id.as_str()).collect();
    out.print_json(&json!({
            "campaign_id": c.id,
            "account_id": c.account,
            "since": reply_core::comment::format_time(c.since),
            "dry_run": c.args.dry_run,
            "table": c.table,
            "scanned": c.scanned,
            "truncated": c.truncated,
            "unanswered": tally.unanswered,
            "older_than_since": tally.older,
            "window_closing": tally.closing,
            "not_matched": tally.not_matched,
            "unreadable": tally.unreadable,
            "too_long": tally.too_long,
            "matched": matched,
            "requeued": written.requeued,
            "already_answered": written.raced,
    }));
}

fn print_report(c: &Context<'_>, tally: &Tally, written: &Outcome) {
    let (id, account) = (c.id, c.account);
    let span = age::short(Utc::now() - c.since);
    println!(
        "Backfill of campaign {id} for account {account}: comments made in the last {span}, reply window open \
         for at least {} more minutes.",
        c.args.expiry_margin_secs / 60
    );
    let mut t = output::Table::new(&["", "COMMENTS", ""]).align_right(1);
    let mut row = |label: &str, n: u64, note: &str| {
        t.row(vec![label.to_owned(), n.to_string(), output::dim(note)]);
    };
    row(
        "unanswered",
        tally.unanswered,
        "SKIPPED, no_matching_campaign, of the account",
    );
    if tally.older > 0 {
        row("too old", tally.older, "made before --since");
    }
    if tally.closing > 0 {
        row(
            "window closing",
            tally.closing,
            "closes within the replier's expiry margin, or closed",
        );
    }
    if tally.unreadable > 0 {
        row(
            "unreadable",
            tally.unreadable,
            "items that do not read as comments",
        );
    }
    row("not matched", tally.not_matched, "by this campaign");
    if !tally.too_long.is_empty() {
        row(
            "too long",
            tally.too_long.len() as u64,
            "its text with the commenter's username is over 1,000 bytes",
        );
    }
    let matched = tally.matched.len() as u64;
    if c.args.dry_run {
        row("would requeue", matched, "dry run: nothing written");
    } else {
        row("matched", matched, "");
        row(
            "requeued",
            written.requeued.len() as u64,
            "PENDING with this campaign's reply (backfilled)",
        );
        if !written.raced.is_empty() {
            row(
                "already answered",
                written.raced.len() as u64,
                "moved on since the scan; left alone",
            );
        }
    }
    print!("{}", t.render());
    println!(
        "{}",
        output::dim(&format!(
            "Scanned {} items of table {}.",
            c.scanned, c.table
        ))
    );
    if c.truncated {
        output::say_scan_truncated(
            c.args.max_scan,
            "the table has more, so some comments were not looked at; raise --max-scan or run it again.",
        );
    }
    if c.args.dry_run {
        if matched > 0 {
            println!("Run it without --dry-run to answer them.");
        } else {
            println!("Nothing to backfill.");
        }
    } else if written.requeued.is_empty() {
        println!(
            "Nothing to backfill: no unanswered comment of account {account} that campaign {id} matches is left \
             in its reply window."
        );
    } else {
        println!(
            "The table's stream hands them to the replier now, which sends each one its frozen text; follow them \
             with `replyctl list --account {account} --status PENDING` or `replyctl show COMMENT_ID`."
        );
    }
    if !tally.too_long.is_empty() {
        let shown: Vec<&str> = tally.too_long.iter().take(5).map(String::as_str).collect();
        println!(
            "{}",
            output::yellow(&format!(
                "Too long for {} (e.g. {}): shorten the campaign's texts to answer them.",
                tally.too_long.len(),
                shown.join(", ")
            ))
        );
    }
}
