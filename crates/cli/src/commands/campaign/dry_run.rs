//! `campaign test`: what the replier would decide for a comment made now, from the account's campaigns as
//! stored (one Query, the replier's own read), with the same code (`AccountCampaigns`). Writes nothing.

use super::{account_id, connect};
use crate::cli::CampaignTestArgs;
use crate::commands::send_comment::random_comment_id;
use crate::failure::Failure;
use crate::output::{self, Output, Table};
use chrono::Utc;
use reply_core::campaign::{AccountCampaigns, ReplyTemplate, Subject};
use reply_core::store::campaigns::CampaignSource as _;
use serde_json::{Value, json};

pub async fn run(args: CampaignTestArgs, out: &Output) -> Result<(), Failure> {
    let table = connect(&args.table).await?;
    let account = account_id(&args.account);
    let stored = table
        .campaigns()
        .account_campaigns(&account)
        .await
        .map_err(|e| table.store_failure("read the account's campaigns", e))?;
    let book = AccountCampaigns::new(stored);
    let comment_id = args
        .comment_id
        .clone()
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| random_comment_id(&mut rand::rng()));
    let username = args
        .username
        .as_deref()
        .map(|u| u.trim().trim_start_matches('@'))
        .filter(|u| !u.is_empty());
    let media = args.media.as_deref().map(str::trim);
    let media_type = Some(args.media_type.product_type());
    let subject = Subject {
        comment_id: &comment_id,
        media_ids: [media, None],
        media_type,
        time: Utc::now(),
        text: &args.text,
        username,
        public_reply_allowed: media_type != Some("LIVE"),
    };
    let comment = json!({
        "comment_id": comment_id,
        "account_id": account,
        "text": args.text,
        "media_id": media,
        "media_product_type": media_type,
        "username": username,
    });

    if book.is_empty() {
        return no_campaigns(&account, &comment, username, out);
    }

    let explained = book.explain(&subject);
    let chosen = book.choose(&subject);
    if out.json() {
        let campaigns: Vec<Value> = explained
            .iter()
            .map(|(c, result)| match result {
                Ok(keyword) => json!({
                    "campaign_id": c.campaign_id,
                    "status": c.status.as_str(),
                    "matches": true,
                    "keyword": keyword,
                }),
                Err(miss) => json!({
                    "campaign_id": c.campaign_id,
                    "status": c.status.as_str(),
                    "matches": false,
                    "reason": miss.to_string(),
                }),
            })
            .collect();
        let (verdict, reason, decision) = match &chosen {
            None => ("skip", Some("no_matching_campaign"), Value::Null),
            Some(c) => {
                let decision = json!({
                    "campaign_id": c.campaign.campaign_id,
                    "variant": c.variant + 1,
                    "variants": c.campaign.reply.len(),
                    "keyword": c.keyword,
                    "text": c.text.as_ref().ok(),
                    "bytes": c.text.as_ref().map_or_else(|e| e.0, String::len),
                    "public_reply": c.public_reply,
                });
                match &c.text {
                    Ok(_) => ("reply", None, decision),
                    Err(_) => ("too_long", Some("reply_text_too_long"), decision),
                }
            }
        };
        out.print_json(&json!({
            "comment": comment,
            "verdict": verdict,
            "status_reason": reason,
            "decision": decision,
            "campaigns": campaigns,
        }));
        return Ok(());
    }

    match &chosen {
        Some(c) => {
            let keyword = if c.keyword.is_empty() {
                "`match: any`".to_owned()
            } else {
                format!("keyword {:?}", c.keyword)
            };
            println!(
                "{} campaign {} answers it ({keyword}), variant {} of {}:",
                output::good("Match:"),
                c.campaign.campaign_id,
                c.variant + 1,
                c.campaign.reply.len()
            );
            match &c.text {
                Ok(text) => println!("  {text}"),
                Err(too_long) => println!(
                    "  {} {too_long}: the comment would be FAILED (reply_text_too_long)",
                    output::bad("but")
                ),
            }
            if let Some(public) = &c.public_reply {
                println!("and then posts under the comment:\n  {public}");
            }
        }
        None => println!(
            "{} no campaign answers it: the comment would be SKIPPED (no_matching_campaign).",
            output::bad("No match:")
        ),
    }
    println!();
    let winner = chosen.as_ref().map(|c| c.campaign.campaign_id.as_str());
    let mut t = Table::new(&["#", "CAMPAIGN", "STATUS", "RESULT"]).align_right(0);
    for (i, (c, result)) in explained.iter().enumerate() {
        let text = match result {
            Ok(_) if Some(c.campaign_id.as_str()) == winner => output::good("answers it"),
            Ok(_) => output::dim("would match too, but an earlier campaign answers"),
            Err(miss) => miss.to_string(),
        };
        t.row(vec![
            (i + 1).to_string(),
            c.campaign_id.clone(),
            c.status.as_str().to_owned(),
            text,
        ]);
    }
    print!("{}", t.render());
    let variant_note = if args.comment_id.is_none() && chosen.is_some() {
        " The variant follows the comment ID (here a random one; pass --comment-id to fix it)."
    } else {
        ""
    };
    println!(
        "{}",
        output::dim(&format!(
            "Campaigns in the order the replier tries them; a comment made now, nothing written.{variant_note}"
        ))
    );
    Ok(())
}

/// An account without campaigns keeps the replier's `REPLY_TEXT`.
fn no_campaigns(
    account: &str,
    comment: &Value,
    username: Option<&str>,
    out: &Output,
) -> Result<(), Failure> {
    // The replier's REPLY_TEXT is in its own environment; this shell's, when set, is shown as an example.
    let here = reply_core::config::optional("REPLY_TEXT");
    let rendered = match here.as_deref().map(ReplyTemplate::parse) {
        Some(Ok(template)) => Some(Ok(template.render(username))),
        Some(Err(e)) => Some(Err(e.to_string())),
        None => None,
    };
    if out.json() {
        out.print_json(&json!({
            "comment": comment,
            "verdict": "reply_text",
            "campaigns": [],
            "reply_text_here": rendered.as_ref().map(|r| match r {
                Ok(text) => json!({ "text": text }),
                Err(e) => json!({ "error": e }),
            }),
        }));
        return Ok(());
    }
    println!(
        "Account {account} has no campaigns: the replier answers every one of its comments with REPLY_TEXT when \
         that is set in the replier's environment, and skips them (no_matching_campaign) when it is not."
    );
    match rendered {
        Some(Ok(text)) => {
            println!("With REPLY_TEXT as set in this shell, it would send:\n  {text}")
        }
        Some(Err(e)) => println!("REPLY_TEXT as set in this shell is not a valid reply text: {e}"),
        None => {}
    }
    println!(
        "{}",
        output::dim("Create a campaign for the account with `replyctl campaign apply FILE`.")
    );
    Ok(())
}
