//! `campaign show`, `pause`, `resume` and `delete`: one campaign, by its key (account, ID).

use super::{account_id, connect, load, missing, warnings};
use crate::cli::CampaignKeyArgs;
use crate::failure::Failure;
use crate::output::{self, Output, Table};
use chrono::Utc;
use reply_core::campaign::CampaignStatus;
use reply_core::campaign::model::FIELDS;
use serde_json::{Value, json};

pub async fn show(args: CampaignKeyArgs, out: &Output) -> Result<(), Failure> {
    let table = connect(&args.table).await?;
    let (account, id) = (account_id(&args.key.account), args.key.id.trim());
    let campaign = load(&table, &account, id).await?;
    let fields = campaign.to_fields();
    if out.json() {
        // Exactly a campaign file: `apply` reads it back (the timestamps are the table's, not the file's).
        out.print_json(&Value::Object(fields));
        return Ok(());
    }
    let mut t = Table::new(&["FIELD", "VALUE"]);
    // In the file's order (the map's own order is alphabetical).
    let ordered = FIELDS
        .iter()
        .filter_map(|name| fields.get(*name).map(|v| ((*name).to_owned(), v)));
    for (name, value) in ordered {
        match value {
            Value::Array(list) if name == "reply" => {
                for (i, v) in list.iter().enumerate() {
                    t.row(vec![format!("reply[{}]", i + 1), text(v)]);
                }
            }
            Value::Array(list) => {
                let words: Vec<String> = list.iter().map(text).collect();
                t.row(vec![name, words.join(", ")]);
            }
            other => t.row(vec![name, text(other)]),
        }
    }
    for (name, value) in [
        ("created_at", &campaign.created_at),
        ("updated_at", &campaign.updated_at),
    ] {
        if let Some(v) = value {
            t.row(vec![output::dim(name), output::dim(v)]);
        }
    }
    print!("{}", t.render());
    for w in warnings(&campaign) {
        out.warn(&w);
    }
    println!(
        "{}",
        output::dim(&format!(
            "Edit it as a file: `replyctl campaign show {id} --account {account} --json > {id}.json`, then \
             `replyctl campaign apply {id}.json`."
        ))
    );
    Ok(())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn pause(args: CampaignKeyArgs, out: &Output) -> Result<(), Failure> {
    set_status(args, CampaignStatus::Paused, out).await
}

pub async fn resume(args: CampaignKeyArgs, out: &Output) -> Result<(), Failure> {
    set_status(args, CampaignStatus::Active, out).await
}

async fn set_status(
    args: CampaignKeyArgs,
    status: CampaignStatus,
    out: &Output,
) -> Result<(), Failure> {
    let table = connect(&args.table).await?;
    let (account, id) = (account_id(&args.key.account), args.key.id.trim());
    let found = table
        .campaigns()
        .set_status(&account, id, status, Utc::now())
        .await
        .map_err(|e| table.store_failure("change the campaign's status", e))?;
    if !found {
        return Err(missing(&table, &account, id));
    }
    if out.json() {
        out.print_json(&json!({
            "campaign_id": id,
            "account_id": account,
            "status": status.as_str(),
        }));
        return Ok(());
    }
    match status {
        CampaignStatus::Paused => {
            println!(
                "Campaign {id} of account {account} is {}.",
                output::bad("paused")
            );
            println!(
                "{}",
                output::dim(
                    "Within a minute (CAMPAIGNS_TTL_SECS) the replier stops answering with it; comments it was \
                     already chosen for and not yet sent are skipped (campaign_paused)."
                )
            );
        }
        CampaignStatus::Active => {
            println!(
                "Campaign {id} of account {account} is {}.",
                output::good("active")
            );
            println!(
                "{}",
                output::dim(&format!(
                    "Within a minute (CAMPAIGNS_TTL_SECS) the replier answers with it again. Comments no campaign \
                     answered meanwhile: `replyctl campaign misses --account {account}`, and `replyctl campaign \
                     backfill {id} --account {account}` answers those it matches."
                ))
            );
        }
    }
    Ok(())
}

pub async fn delete(args: CampaignKeyArgs, out: &Output) -> Result<(), Failure> {
    let table = connect(&args.table).await?;
    let (account, id) = (account_id(&args.key.account), args.key.id.trim());
    let deleted = table
        .campaigns()
        .delete(&account, id)
        .await
        .map_err(|e| table.store_failure("delete the campaign", e))?;
    if !deleted {
        return Err(missing(&table, &account, id));
    }
    if out.json() {
        out.print_json(&json!({
            "campaign_id": id,
            "account_id": account,
            "deleted": true,
        }));
        return Ok(());
    }
    println!("Deleted campaign {id} of account {account}.");
    println!(
        "{}",
        output::dim(
            "Within a minute (CAMPAIGNS_TTL_SECS) the replier stops answering with it; comments it was already \
             chosen for and not yet sent are skipped (campaign_paused). To stop it for a while instead, apply it \
             again and `replyctl campaign pause` it."
        )
    );
    Ok(())
}
