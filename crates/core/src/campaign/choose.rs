//! Which campaign answers a comment, and with which text. An account's campaigns are compiled once (sorted,
//! keywords normalised, templates parsed) when they are read; per comment the text is normalised once and the
//! campaigns are tried in order, the first that matches deciding.

use super::matching::{MatchMode, Matcher, TextMiss};
use super::model::{Campaign, CampaignStatus};
use super::template::{ReplyTemplate, TextTooLong};
use super::text::NormalText;
use crate::comment::CommentRecord;
use crate::lifecycle::ReplyChoice;
use crate::lifecycle::due::fnv1a;
use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::HashMap;

/// What a choice looks at in a comment.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub comment_id: &'a str,
    /// The comment's media, and for an ad the organic post it was made from (`media.original_media_id`).
    pub media_ids: [Option<&'a str>; 2],
    /// `media_product_type` (`LIVE` for a Live comment that came without one).
    pub media_type: Option<&'a str>,
    /// When the comment was made: a campaign's dates are compared with this.
    pub time: DateTime<Utc>,
    pub text: &'a str,
    pub username: Option<&'a str>,
    /// Whether a public reply may go under it: a top-level comment, not on a Live broadcast (Meta refuses
    /// both, PLATFORM.md section 9).
    pub public_reply_allowed: bool,
}

impl<'a> From<&'a CommentRecord> for Subject<'a> {
    fn from(c: &'a CommentRecord) -> Self {
        Self {
            comment_id: c.comment_id.as_str(),
            media_ids: [
                c.media_id.as_ref().map(|m| m.as_str()),
                c.original_media_id.as_deref(),
            ],
            media_type: c
                .media_product_type
                .as_deref()
                .or(c.is_live().then_some("LIVE")),
            time: c.comment_time,
            text: c.text.as_deref().unwrap_or_default(),
            username: c.commenter_username.as_deref(),
            public_reply_allowed: c.parent_id.is_none()
                && !c.is_live()
                && c.media_product_type.as_deref() != Some("LIVE"),
        }
    }
}

/// Why one campaign does not answer a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    Paused,
    OtherMedia,
    OtherMediaType,
    NotStarted,
    Ended,
    Text(TextMiss),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Paused => f.write_str("paused"),
            Self::OtherMedia => f.write_str("the comment is on another post"),
            Self::OtherMediaType => f.write_str("the comment is on another kind of media"),
            Self::NotStarted => f.write_str("the comment is from before starts_at"),
            Self::Ended => f.write_str("the comment is from after ends_at"),
            Self::Text(TextMiss::NoKeyword) => f.write_str("no keyword in the comment"),
            Self::Text(TextMiss::Excluded(e)) => write!(f, "excluded by {e:?}"),
        }
    }
}

/// The campaign that answers a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen<'a> {
    pub campaign: &'a Campaign,
    /// 0-based index into `campaign.reply`.
    pub variant: usize,
    /// The keyword that matched (`""` for `match: any`).
    pub keyword: &'a str,
    /// The text for this commenter, or why it cannot be sent.
    pub text: Result<String, TextTooLong>,
    /// The public reply for this comment: the campaign has one and the comment may have one.
    pub public_reply: Option<String>,
}

impl Chosen<'_> {
    /// What is frozen on the comment's item (the variant 1-based, as people count), or why the text cannot
    /// be sent.
    pub fn to_choice(&self) -> Result<ReplyChoice, TextTooLong> {
        Ok(ReplyChoice {
            campaign_id: Some(self.campaign.campaign_id.clone()),
            variant: u32::try_from(self.variant + 1).ok(),
            text: self.text.clone()?,
            public_reply: self.public_reply.clone(),
        })
    }
}

#[derive(Debug, Clone)]
struct Compiled {
    campaign: Campaign,
    matcher: Matcher,
    templates: Vec<ReplyTemplate>,
    public_templates: Vec<ReplyTemplate>,
}

/// One account's campaigns, compiled and in the order they are tried: priority (higher first), then
/// specificity (named media, then media types, then account-wide), then ID.
#[derive(Debug, Clone, Default)]
pub struct AccountCampaigns {
    compiled: Vec<Compiled>,
    /// For each first word of a `word` keyword, the campaigns (indices into `compiled`) that have it: a
    /// comment is checked only against the `word` campaigns one of whose first words it contains, so an
    /// account's many campaigns cost a lookup per word of the comment rather than a scan per keyword.
    first_words: HashMap<String, Vec<usize>>,
}

impl AccountCampaigns {
    /// Campaigns whose templates no longer parse (written by hand, or by a later version) are left out with a
    /// warning rather than failing the account.
    pub fn new(campaigns: Vec<Campaign>) -> Self {
        let mut compiled: Vec<Compiled> = campaigns
            .into_iter()
            .filter_map(|campaign| {
                let templates: Result<Vec<_>, _> =
                    campaign.reply.iter().map(|r| ReplyTemplate::parse(r)).collect();
                let public_templates: Result<Vec<_>, _> = campaign
                    .public_reply
                    .iter()
                    .map(|r| ReplyTemplate::parse(r))
                    .collect();
                match (templates, public_templates) {
                    (Ok(templates), Ok(public_templates)) if !templates.is_empty() => Some(Compiled {
                        matcher: Matcher::new(
                            campaign.match_mode,
                            &campaign.keywords,
                            &campaign.exclude,
                        ),
                        templates,
                        public_templates,
                        campaign,
                    }),
                    _ => {
                        tracing::warn!(
                            account_id = %campaign.account_id,
                            campaign_id = %campaign.campaign_id,
                            "ignoring a stored campaign whose reply texts do not parse; apply it again"
                        );
                        None
                    }
                }
            })
            .collect();
        compiled.sort_by(|a, b| {
            let key = |c: &Campaign| (Reverse(c.priority), Reverse(c.specificity()));
            key(&a.campaign)
                .cmp(&key(&b.campaign))
                .then_with(|| a.campaign.campaign_id.cmp(&b.campaign.campaign_id))
        });
        let mut first_words: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in compiled.iter().enumerate() {
            if c.matcher.mode() == MatchMode::Word {
                for word in c.matcher.first_words() {
                    let list = first_words.entry(word.to_owned()).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        Self {
            compiled,
            first_words,
        }
    }

    /// No campaign at all (of any status): the account keeps `REPLY_TEXT`.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    /// The campaigns in the order they are tried.
    pub fn campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.compiled.iter().map(|c| &c.campaign)
    }

    pub fn get(&self, campaign_id: &str) -> Option<&Campaign> {
        self.campaigns().find(|c| c.campaign_id == campaign_id)
    }

    /// The first campaign that answers the comment, with its variant and text.
    pub fn choose(&self, subject: &Subject<'_>) -> Option<Chosen<'_>> {
        let text = NormalText::new(subject.text);
        let mut has_first_word = vec![false; self.compiled.len()];
        for word in text.words() {
            for &i in self.first_words.get(word).map_or(&[][..], Vec::as_slice) {
                has_first_word[i] = true;
            }
        }
        self.compiled.iter().enumerate().find_map(|(i, c)| {
            if c.matcher.mode() == MatchMode::Word && !has_first_word[i] {
                return None; // none of its keywords can be in the comment
            }
            check(c, subject, &text)
                .ok()
                .map(|keyword| chosen(c, subject, keyword))
        })
    }

    /// Only `campaign_id`, as [`Self::choose`] would have it (a backfill for one campaign).
    pub fn choose_only(&self, campaign_id: &str, subject: &Subject<'_>) -> Option<Chosen<'_>> {
        let text = NormalText::new(subject.text);
        let c = self
            .compiled
            .iter()
            .find(|c| c.campaign.campaign_id == campaign_id)?;
        check(c, subject, &text)
            .ok()
            .map(|keyword| chosen(c, subject, keyword))
    }

    /// Every campaign in order with what it makes of the comment (the dry run).
    pub fn explain(&self, subject: &Subject<'_>) -> Vec<(&Campaign, Result<&str, Miss>)> {
        let text = NormalText::new(subject.text);
        self.compiled
            .iter()
            .map(|c| (&c.campaign, check(c, subject, &text)))
            .collect()
    }
}

fn chosen<'a>(c: &'a Compiled, subject: &Subject<'_>, keyword: &'a str) -> Chosen<'a> {
    let variant = variant_of(subject.comment_id, c.templates.len());
    // Its own variant, so that the public and the private texts do not always pair up the same way.
    let public = (subject.public_reply_allowed && !c.public_templates.is_empty()).then(|| {
        let salted = format!("{}#public", subject.comment_id);
        &c.public_templates[variant_of(&salted, c.public_templates.len())]
    });
    Chosen {
        campaign: &c.campaign,
        variant,
        keyword,
        text: c.templates[variant].render_checked(subject.username),
        // Checked at apply with the longest username, so only a hand-edited item can be too long: then no
        // public reply, rather than no private one.
        public_reply: public.and_then(|t| t.render_checked(subject.username).ok()),
    }
}

/// The variant for a comment: the same one on every attempt and in every version (FNV-1a of the ID).
pub fn variant_of(comment_id: &str, variants: usize) -> usize {
    if variants == 0 {
        return 0;
    }
    // Mixed so that the variant does not follow the comment's `due` shard (FNV-1a of the same bytes).
    let hash = fnv1a(comment_id.as_bytes()).rotate_left(13) ^ 0x9e37_79b9;
    usize::try_from(hash).unwrap_or_default() % variants
}

fn check<'a>(c: &'a Compiled, s: &Subject<'_>, text: &NormalText) -> Result<&'a str, Miss> {
    let campaign = &c.campaign;
    if campaign.status != CampaignStatus::Active {
        return Err(Miss::Paused);
    }
    if !campaign.media.is_empty()
        && !s
            .media_ids
            .iter()
            .flatten()
            .any(|m| campaign.media.iter().any(|c| c == m))
    {
        return Err(Miss::OtherMedia);
    }
    if !campaign.media_types.is_empty()
        && !s.media_type.is_some_and(|t| {
            campaign
                .media_types
                .iter()
                .any(|c| c.eq_ignore_ascii_case(t))
        })
    {
        return Err(Miss::OtherMediaType);
    }
    if campaign.starts_at.is_some_and(|at| s.time < at) {
        return Err(Miss::NotStarted);
    }
    if campaign.ends_at.is_some_and(|at| s.time > at) {
        return Err(Miss::Ended);
    }
    c.matcher.check(text).map_err(Miss::Text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::model::Format;

    fn campaign(yaml: &str) -> Campaign {
        let reply = if yaml.contains("reply:") {
            ""
        } else {
            "reply: ['Hi {username|there}']\n"
        };
        let file = format!("account: '1'\n{reply}{yaml}");
        Campaign::from_file(&file, Format::Yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn subject(text: &str) -> Subject<'_> {
        Subject {
            comment_id: "18000000000000001",
            media_ids: [Some("111"), None],
            media_type: Some("REELS"),
            time: DateTime::parse_from_rfc3339("2026-12-10T00:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            text,
            username: Some("ana"),
            public_reply_allowed: true,
        }
    }

    fn winner(book: &AccountCampaigns, s: &Subject<'_>) -> Option<String> {
        book.choose(s).map(|c| c.campaign.campaign_id.clone())
    }

    #[test]
    fn higher_priority_wins_then_specificity_then_id() {
        let book = AccountCampaigns::new(vec![
            campaign("id: b-wide\nkeywords: [link]\n"),
            campaign("id: a-wide\nkeywords: [link]\n"),
            campaign("id: typed\nkeywords: [link]\nmedia_types: [REELS]\n"),
            campaign("id: post\nkeywords: [link]\nmedia: ['111']\n"),
        ]);
        assert_eq!(winner(&book, &subject("link")).as_deref(), Some("post"));
        let order: Vec<_> = book.campaigns().map(|c| c.campaign_id.as_str()).collect();
        assert_eq!(order, ["post", "typed", "a-wide", "b-wide"]);

        let book = AccountCampaigns::new(vec![
            campaign("id: post\nkeywords: [link]\nmedia: ['111']\n"),
            campaign("id: urgent\nkeywords: [link]\npriority: 1\n"),
        ]);
        assert_eq!(winner(&book, &subject("link")).as_deref(), Some("urgent"));
        assert_eq!(winner(&book, &subject("nothing")), None);
    }

    #[test]
    fn paused_campaigns_other_media_and_dates_do_not_answer() {
        let book = AccountCampaigns::new(vec![
            campaign("id: paused\nkeywords: [link]\nstatus: paused\npriority: 9\n"),
            campaign("id: other-post\nkeywords: [link]\nmedia: ['222']\npriority: 8\n"),
            campaign("id: feed-only\nkeywords: [link]\nmedia_types: [FEED]\npriority: 7\n"),
            campaign("id: later\nkeywords: [link]\nstarts_at: 2026-12-11T00:00:00Z\npriority: 6\n"),
            campaign("id: over\nkeywords: [link]\nends_at: 2026-12-09T00:00:00Z\npriority: 5\n"),
            campaign(
                "id: open\nkeywords: [link]\nstarts_at: 2026-12-01T00:00:00Z\nends_at: 2026-12-31T00:00:00Z\n",
            ),
        ]);
        let s = subject("LINK");
        assert_eq!(winner(&book, &s).as_deref(), Some("open"));
        let misses: Vec<_> = book
            .explain(&s)
            .into_iter()
            .map(|(c, r)| (c.campaign_id.clone(), r.err()))
            .collect();
        assert_eq!(
            misses,
            [
                ("paused".into(), Some(Miss::Paused)),
                ("other-post".into(), Some(Miss::OtherMedia)),
                ("feed-only".into(), Some(Miss::OtherMediaType)),
                ("later".into(), Some(Miss::NotStarted)),
                ("over".into(), Some(Miss::Ended)),
                ("open".into(), None),
            ]
        );
    }

    #[test]
    fn an_ad_comment_matches_by_its_original_media() {
        let book = AccountCampaigns::new(vec![campaign(
            "id: post\nkeywords: [link]\nmedia: ['999']\n",
        )]);
        let mut s = subject("link");
        assert_eq!(winner(&book, &s), None);
        s.media_ids = [Some("555"), Some("999")];
        assert_eq!(winner(&book, &s).as_deref(), Some("post"));
    }

    #[test]
    fn the_variant_follows_the_comment_id_and_the_text_is_rendered() {
        let book = AccountCampaigns::new(vec![campaign(
            "id: v\nmatch: any\nreply: ['one {username}', 'two {username|there}', 'three']\n",
        )]);
        let mut seen = [0usize; 3];
        for n in 0..300 {
            let id = format!("1800000000000{n:04}");
            let mut s = subject("x");
            s.comment_id = &id;
            let first = book.choose(&s).map(|c| c.variant);
            assert_eq!(first, book.choose(&s).map(|c| c.variant), "stable");
            if let Some(v) = first {
                seen[v] += 1;
            }
        }
        assert!(
            seen.iter().all(|n| *n > 60),
            "spread over the variants: {seen:?}"
        );
        let mut s = subject("x");
        s.username = None;
        let chosen = book.choose(&s).unwrap_or_else(|| panic!("no choice"));
        let expected = ["one ", "two there", "three"][chosen.variant];
        assert_eq!(chosen.text.as_deref(), Ok(expected));
        let choice = chosen.to_choice().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(choice.campaign_id.as_deref(), Some("v"));
        assert_eq!(choice.variant, u32::try_from(chosen.variant + 1).ok());
    }

    #[test]
    fn choose_only_looks_at_one_campaign() {
        let book = AccountCampaigns::new(vec![
            campaign("id: first\nkeywords: [link]\npriority: 1\n"),
            campaign("id: second\nkeywords: [link]\n"),
        ]);
        let s = subject("link");
        assert_eq!(winner(&book, &s).as_deref(), Some("first"));
        let only = book
            .choose_only("second", &s)
            .map(|c| c.campaign.campaign_id.clone());
        assert_eq!(only.as_deref(), Some("second"));
        assert!(book.choose_only("missing", &s).is_none());
        assert!(book.choose_only("second", &subject("nope")).is_none());
    }

    #[test]
    fn choosing_through_the_first_word_index_agrees_with_trying_every_campaign() {
        let book = AccountCampaigns::new(vec![
            campaign("id: a\nkeywords: [how much, price]\nexclude: [stop]\npriority: 2\n"),
            campaign("id: b\nkeywords: [link, 'link please', 🔥]\npriority: 1\n"),
            campaign("id: c\nmatch: contains\nkeywords: [ink]\n"),
            campaign("id: d\nmatch: exact\nkeywords: [yes]\n"),
            campaign("id: e\nkeywords: [much]\nmedia: ['111']\n"),
        ]);
        let texts = [
            "how much",
            "HOW MUCH, stop",
            "much",
            "price?",
            "link please",
            "🔥🔥",
            "pink",
            "yes!",
            "yes please",
            "nothing",
            "",
            "much link",
            "linked",
            "the price of the link",
        ];
        for text in texts {
            let s = subject(text);
            let slow = book
                .explain(&s)
                .into_iter()
                .find(|(_, r)| r.is_ok())
                .map(|(c, _)| c.campaign_id.clone());
            assert_eq!(winner(&book, &s), slow, "{text:?}");
        }
        assert_eq!(winner(&book, &subject("pink")).as_deref(), Some("c"));
        assert_eq!(winner(&book, &subject("much")).as_deref(), Some("e"));
    }

    #[test]
    fn a_campaign_whose_texts_no_longer_parse_is_left_out() {
        let mut broken = campaign("id: broken\nmatch: any\n");
        broken.reply = vec!["Hi {user}".into()];
        let book = AccountCampaigns::new(vec![broken]);
        assert!(book.is_empty());
    }
}
