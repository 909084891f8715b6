//! Campaigns: which comment gets which private reply. A campaign (a YAML or JSON file applied with
//! `replyctl campaign apply`, stored in the campaigns table) says which of an account's comments it answers
//! (media, media types, dates, keywords) and with what text; the replier asks [`decide`] once per comment and
//! freezes the answer on the comment's item.
//!
//! Module map:
//! - [`model`]: the campaign as written in a file and stored as an item, and the checks of every field.
//! - [`follow_up`]: the message for when the person answers, and its checks (text, button template).
//! - [`text`]: the normalised text matching compares (NFKC, case folding, no diacritics, Unicode words).
//! - [`matching`]: match modes, keywords and exclusions.
//! - [`template`]: a reply text with `{username}` / `{username|fallback}`, and Meta's 1,000-byte limit.
//! - [`choose`]: an account's campaigns in the order they are tried, the first match, the variant.

pub mod choose;
pub mod follow_up;
pub mod matching;
pub mod model;
pub mod template;
pub mod text;

pub use choose::{AccountCampaigns, Chosen, Miss, Subject};
pub use follow_up::{Button, FollowUp};
pub use matching::MatchMode;
pub use model::{Campaign, CampaignStatus, Format, Problems};
pub use template::{ReplyTemplate, TemplateError, TextTooLong};

use crate::comment::CommentRecord;
use crate::lifecycle::{ReplyChoice, StatusReason};

/// What a comment is to be answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send this text; `fresh` when it was decided now (to be frozen on the item with the next write), not
    /// read from the item.
    Reply { choice: ReplyChoice, fresh: bool },
    /// The chosen text is over Meta's limit once this commenter's username is filled in.
    TooLong(TextTooLong),
    /// Not answered: [`StatusReason::NoMatchingCampaign`] or [`StatusReason::CampaignPaused`].
    Skip(StatusReason),
}

/// The reply for `comment`. A decision frozen on the item stands (the same text on every attempt), unless its
/// campaign has since been paused or deleted. Otherwise an account with campaigns is answered by the first
/// that matches, and an account without any by `legacy` (`REPLY_TEXT`), when it is set.
pub fn decide(
    comment: &CommentRecord,
    campaigns: &AccountCampaigns,
    legacy: Option<&ReplyTemplate>,
) -> Verdict {
    if let Some(choice) = comment.frozen_choice() {
        let stopped = choice.campaign_id.as_deref().is_some_and(|id| {
            campaigns
                .get(id)
                .is_none_or(|c| c.status != CampaignStatus::Active)
        });
        return if stopped {
            Verdict::Skip(StatusReason::CampaignPaused)
        } else {
            Verdict::Reply {
                choice,
                fresh: false,
            }
        };
    }
    if campaigns.is_empty() {
        return match legacy.map(|t| t.render_checked(comment.commenter_username.as_deref())) {
            None => Verdict::Skip(StatusReason::NoMatchingCampaign),
            Some(Err(too_long)) => Verdict::TooLong(too_long),
            Some(Ok(text)) => Verdict::Reply {
                choice: ReplyChoice {
                    campaign_id: None,
                    variant: None,
                    text,
                    public_reply: None,
                },
                fresh: true,
            },
        };
    }
    match campaigns.choose(&Subject::from(comment)) {
        None => Verdict::Skip(StatusReason::NoMatchingCampaign),
        Some(chosen) => match chosen.to_choice() {
            Ok(choice) => Verdict::Reply {
                choice,
                fresh: true,
            },
            Err(too_long) => Verdict::TooLong(too_long),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::IncomingComment;
    use crate::{AccountId, CommentId, CommentSource, UserId};

    const ACCOUNT: &str = "17841400000000001";

    fn campaign(yaml: &str) -> Campaign {
        let file = format!("account: '{ACCOUNT}'\n{yaml}");
        Campaign::from_file(&file, Format::Yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn comment(text: &str) -> CommentRecord {
        let id = |s: &str| s.to_owned();
        IncomingComment {
            comment_id: CommentId::new(id("18000000000000001")).unwrap_or_else(|| panic!("id")),
            account_id: AccountId::new(id(ACCOUNT)).unwrap_or_else(|| panic!("id")),
            commenter_id: UserId::new(id("2706325442860345")),
            commenter_username: Some("ana".into()),
            media_id: None,
            media_product_type: Some("FEED".into()),
            ad_id: None,
            original_media_id: None,
            source: CommentSource::Comment,
            text: Some(text.into()),
            parent_id: None,
            notified_at: None,
        }
        .into_record(chrono::Utc::now(), chrono::Duration::days(30))
    }

    fn legacy() -> ReplyTemplate {
        ReplyTemplate::parse("Hello {username}").unwrap_or_else(|e| panic!("{e}"))
    }

    fn reply(text: &str, campaign: Option<&str>, fresh: bool) -> Verdict {
        Verdict::Reply {
            choice: ReplyChoice {
                campaign_id: campaign.map(str::to_owned),
                variant: campaign.map(|_| 1),
                text: text.into(),
                public_reply: None,
            },
            fresh,
        }
    }

    #[test]
    fn an_account_without_campaigns_keeps_reply_text_when_it_is_set() {
        let none = AccountCampaigns::default();
        assert_eq!(
            decide(&comment("anything"), &none, Some(&legacy())),
            reply("Hello ana", None, true)
        );
        assert_eq!(
            decide(&comment("anything"), &none, None),
            Verdict::Skip(StatusReason::NoMatchingCampaign)
        );
    }

    #[test]
    fn once_an_account_has_a_campaign_only_campaigns_decide() {
        let book = AccountCampaigns::new(vec![campaign(
            "id: c\nkeywords: [link]\nreply: ['Link for {username}']\nstatus: paused\n",
        )]);
        assert_eq!(
            decide(&comment("link"), &book, Some(&legacy())),
            Verdict::Skip(StatusReason::NoMatchingCampaign)
        );
        let book = AccountCampaigns::new(vec![campaign(
            "id: c\nkeywords: [link]\nreply: ['Link for {username}']\n",
        )]);
        assert_eq!(
            decide(&comment("LINK pls"), &book, Some(&legacy())),
            reply("Link for ana", Some("c"), true)
        );
        assert_eq!(
            decide(&comment("hello"), &book, Some(&legacy())),
            Verdict::Skip(StatusReason::NoMatchingCampaign)
        );
    }

    #[test]
    fn a_frozen_decision_stands_unless_its_campaign_stopped() {
        let mut c = comment("no keyword at all");
        c.campaign_id = Some("c".into());
        c.reply_variant = Some(1);
        c.reply_text = Some("the old text".into());
        let active = AccountCampaigns::new(vec![campaign(
            "id: c\nkeywords: [link]\nreply: ['an edited text']\n",
        )]);
        assert_eq!(
            decide(&c, &active, None),
            reply("the old text", Some("c"), false)
        );
        let paused = AccountCampaigns::new(vec![campaign(
            "id: c\nkeywords: [link]\nreply: [x]\nstatus: paused\n",
        )]);
        assert_eq!(
            decide(&c, &paused, None),
            Verdict::Skip(StatusReason::CampaignPaused)
        );
        assert_eq!(
            decide(&c, &AccountCampaigns::default(), Some(&legacy())),
            Verdict::Skip(StatusReason::CampaignPaused),
            "deleted"
        );
        // A frozen REPLY_TEXT decision stands even after the account got campaigns.
        c.campaign_id = None;
        c.reply_variant = None;
        assert_eq!(
            decide(&c, &active, None),
            Verdict::Reply {
                choice: ReplyChoice {
                    campaign_id: None,
                    variant: None,
                    text: "the old text".into(),
                    public_reply: None,
                },
                fresh: false
            }
        );
    }

    #[test]
    fn a_text_over_the_limit_for_this_commenter_is_too_long() {
        let book = AccountCampaigns::new(vec![campaign(&format!(
            "id: c\nmatch: any\nreply: ['{}{{username}}']\n",
            "a".repeat(965)
        ))]);
        let mut c = comment("x");
        c.commenter_username = Some("u".repeat(40));
        assert_eq!(decide(&c, &book, None), Verdict::TooLong(TextTooLong(1005)));
    }
}
