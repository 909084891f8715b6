//! `campaign apply FILE`: reads a campaign file, checks every field (every problem is listed, and nothing of an
//! invalid file is written), then creates or updates the campaign with one UpdateItem.

use super::{connect, warnings};
use crate::cli::CampaignApplyArgs;
use crate::failure::Failure;
use crate::output::{self, Output};
use chrono::Utc;
use reply_core::campaign::{Campaign, Format, Problems};
use reply_core::store::campaigns::Applied;
use serde_json::json;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;

/// Campaign files are a few kilobytes; anything much larger is not one.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

pub async fn run(args: CampaignApplyArgs, out: &Output) -> Result<(), Failure> {
    let (text, format, shown) = read(&args.file)?;
    let campaign = Campaign::from_file(&text, format).map_err(|p| invalid(&shown, p))?;
    let warnings = warnings(&campaign);
    let table = connect(&args.table).await?;
    let applied = table
        .campaigns()
        .apply(&campaign, Utc::now())
        .await
        .map_err(|e| table.store_failure("write the campaign", e))?;
    let word = match applied {
        Applied::Created => "created",
        Applied::Updated => "updated",
    };
    let (id, account) = (&campaign.campaign_id, &campaign.account_id);
    if out.json() {
        out.print_json(&json!({
            "applied": word,
            "campaign_id": id,
            "account_id": account,
            "status": campaign.status.as_str(),
            "variants": campaign.reply.len(),
            "table": table.name,
            "warnings": warnings,
        }));
        return Ok(());
    }
    for w in &warnings {
        out.warn(w);
    }
    println!(
        "{} campaign {id} for account {account} ({}, {} reply variant{}) in table {}.",
        output::good(if applied == Applied::Created {
            "Created"
        } else {
            "Updated"
        }),
        campaign.status,
        campaign.reply.len(),
        if campaign.reply.len() == 1 { "" } else { "s" },
        table.name
    );
    println!(
        "{}",
        output::dim(&format!(
            "The replier uses it within a minute (it caches an account's campaigns for CAMPAIGNS_TTL_SECS). Try a \
             comment with `replyctl campaign test --account {account} --text \"...\"`; answer the comments that \
             came before it with `replyctl campaign backfill {id} --account {account}`."
        ))
    );
    Ok(())
}

/// The file's text, its format, and how to name it in messages.
fn read(path: &Path) -> Result<(String, Format, String), Failure> {
    if path.as_os_str() == "-" {
        if std::io::stdin().is_terminal() {
            writeln!(
                std::io::stderr().lock(),
                "Reading a YAML campaign from standard input (end it with Ctrl-D)..."
            )
            .ok();
        }
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| {
                Failure::new("could not read the campaign from standard input")
                    .source(e)
                    .hint("pipe a YAML campaign file in, or pass the file's path instead of -")
            })?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large("standard input"));
        }
        return Ok((text, Format::Yaml, "standard input".to_owned()));
    }
    let shown = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| {
        Failure::new(format!("could not read the campaign file {shown}"))
            .source(e)
            .hint("check the path; `replyctl campaign show ID --account A --json > file.json` writes a campaign's file")
    })?;
    if metadata.is_dir() {
        return Err(
            Failure::new(format!("{shown} is a directory, not a campaign file"))
                .hint("pass one campaign file (.yaml, .yml or .json)"),
        );
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(&shown));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::new(format!("could not read the campaign file {shown}"))
            .source(e)
            .hint("check that the file is readable")
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::new(format!("the campaign file {shown} is not UTF-8 text"))
            .hint("save it as UTF-8 (any editor's default)")
    })?;
    Ok((text, Format::of_path(path), shown))
}

fn too_large(shown: &str) -> Failure {
    Failure::new(format!(
        "{shown} is larger than {} KB: not a campaign file",
        MAX_FILE_BYTES / 1024
    ))
    .hint("a campaign file holds one campaign: id, account, keywords, reply, ...")
}

/// Every problem of the file, one per line (and as a list with `--json`).
fn invalid(shown: &str, Problems(problems): Problems) -> Failure {
    let count = problems.len();
    let mut message = format!(
        "the campaign in {shown} is not valid ({count} problem{}); nothing was written:",
        if count == 1 { "" } else { "s" }
    );
    for p in &problems {
        message.push_str("\n  - ");
        message.push_str(p);
    }
    Failure::new(message)
        .hint(
            "fix the file and apply it again; the fields are id, account, name, status, media, media_types, match, \
             keywords, exclude, priority, starts_at, ends_at and reply",
        )
        .details(json!({ "problems": problems }))
}
