//! A campaign as users write it (a YAML or JSON file) and as the campaigns table stores it. Reading a file
//! checks every field and reports every problem at once, so a user fixes a file in one pass and nothing of
//! an invalid file is ever written.

use super::follow_up::FollowUp;
use super::matching::MatchMode;
use super::template::ReplyTemplate;
use super::text::NormalText;
use crate::comment::format_time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Reply variants a campaign may have.
pub const MAX_VARIANTS: usize = 5;
/// Keywords (and, separately, exclusions) a campaign may have, and the longest one in characters.
pub const MAX_KEYWORDS: usize = 100;
pub const MAX_KEYWORD_CHARS: usize = 100;
/// Media IDs a campaign may name.
pub const MAX_MEDIA: usize = 100;
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 200;
/// Priorities are kept small so that they read as ranks.
pub const MAX_PRIORITY: i64 = 1_000_000;
/// The `media_product_type` values Meta sends (PLATFORM.md section 2), and `LIVE` for Live comments.
pub const MEDIA_TYPES: &[&str] = &["FEED", "REELS", "STORY", "AD", "LIVE"];

/// The fields a campaign file may have, in the order `show` prints them: the key (`id`, `account`; stored
/// as `campaign_id`, `account_id`), then [`VALUE_FIELDS`], stored under their own names.
pub const FIELDS: &[&str] = &[
    "id",
    "account",
    "name",
    "status",
    "media",
    "media_types",
    "match",
    "keywords",
    "exclude",
    "priority",
    "starts_at",
    "ends_at",
    "reply",
    "public_reply",
    "follow_up",
];

/// The fields after the key.
pub const VALUE_FIELDS: &[&str] = FIELDS.split_at(2).1;

/// Whether a campaign answers comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    #[default]
    Active,
    Paused,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid campaign. Serialised, it is the campaigns table's item (key `account_id`, `campaign_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub account_id: String,
    pub campaign_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub status: CampaignStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<String>,
    #[serde(rename = "match", default)]
    pub match_mode: MatchMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub priority: i64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::comment::iso8601_option"
    )]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::comment::iso8601_option"
    )]
    pub ends_at: Option<DateTime<Utc>>,
    pub reply: Vec<String>,
    /// Posted once under the comment after the private reply (one variant chosen per comment); empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_reply: Vec<String>,
    /// Sent once when the person first answers the private reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// When it was last applied (and, below, first), for people reading the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// Everything wrong with a campaign file, one line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct Problems(pub Vec<String>);

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// From the file name: `.json` is JSON, anything else YAML (of which JSON is nearly a subset).
    pub fn of_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Yaml,
        }
    }
}

impl Campaign {
    /// Reads and checks a campaign file.
    pub fn from_file(text: &str, format: Format) -> Result<Self, Problems> {
        let value = match format {
            Format::Json => serde_json::from_str::<Value>(text)
                .map_err(|e| Problems(vec![format!("not valid JSON: {e}")]))?,
            Format::Yaml => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
                .map_err(|e| Problems(vec![format!("not valid YAML: {e}")]))
                .and_then(|yaml| {
                    serde_json::to_value(yaml).map_err(|e| {
                        Problems(vec![format!(
                            "not a campaign (keys must be plain words): {e}"
                        )])
                    })
                })?,
        };
        let Value::Object(fields) = value else {
            return Err(Problems(vec![
                "a campaign file is a mapping of fields (id, account, keywords, reply, ...)".into(),
            ]));
        };
        Self::from_fields(&fields)
    }

    /// Checks every field; every problem found is reported.
    pub fn from_fields(fields: &Map<String, Value>) -> Result<Self, Problems> {
        let mut p = Vec::new();
        for key in fields.keys() {
            if !FIELDS.contains(&key.as_str()) {
                p.push(format!(
                    "unknown field `{key}` (a campaign has: {})",
                    FIELDS.join(", ")
                ));
            }
        }
        let id = required_string(fields, "id", &mut p);
        if let Some(Err(problem)) = id.as_deref().map(check_id) {
            p.push(format!("id: {problem}"));
        }
        let account = required_string(fields, "account", &mut p);
        if let Some(account) = account.as_ref().filter(|a| !is_numeric_id(a)) {
            p.push(format!(
                "account: {account:?} is not an Instagram account ID (digits only)"
            ));
        }
        let name = optional_string(fields, "name", &mut p);
        if name
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NAME_CHARS)
        {
            p.push(format!("name: longer than {MAX_NAME_CHARS} characters"));
        }
        let status = match optional_string(fields, "status", &mut p) {
            None => CampaignStatus::Active,
            Some(word) => CampaignStatus::parse(&word).unwrap_or_else(|| {
                p.push(format!("status: {word:?} is not one of active, paused"));
                CampaignStatus::Active
            }),
        };
        let media = string_list(fields, "media", MAX_MEDIA, &mut p);
        for m in &media {
            if !is_numeric_id(m) {
                p.push(format!("media: {m:?} is not a media ID (digits only)"));
            }
        }
        let mut media_types = string_list(fields, "media_types", MEDIA_TYPES.len(), &mut p);
        for t in &mut media_types {
            *t = t.to_ascii_uppercase();
            if !MEDIA_TYPES.contains(&t.as_str()) {
                p.push(format!(
                    "media_types: {t:?} is not one of {}",
                    MEDIA_TYPES.join(", ")
                ));
            }
        }
        let match_mode = match optional_string(fields, "match", &mut p) {
            None => MatchMode::default(),
            Some(word) => MatchMode::parse(&word).unwrap_or_else(|| {
                p.push(format!(
                    "match: {word:?} is not one of any, word, contains, exact"
                ));
                MatchMode::default()
            }),
        };
        let keywords = string_list(fields, "keywords", MAX_KEYWORDS, &mut p);
        match match_mode {
            MatchMode::Any if !keywords.is_empty() => p.push(
                "keywords: given, but `match: any` answers every comment; remove them or choose word, contains or exact"
                    .into(),
            ),
            MatchMode::Any => {}
            _ if keywords.is_empty() && !fields.contains_key("keywords") => p.push(format!(
                "keywords: required with `match: {match_mode}` (or use `match: any`)"
            )),
            _ if keywords.is_empty() => p.push("keywords: the list is empty".into()),
            _ => {}
        }
        check_phrases("keywords", &keywords, &mut p);
        let exclude = string_list(fields, "exclude", MAX_KEYWORDS, &mut p);
        check_phrases("exclude", &exclude, &mut p);
        let priority = match fields.get("priority") {
            None | Some(Value::Null) => 0,
            Some(v) => match v.as_i64() {
                Some(n) if n.abs() <= MAX_PRIORITY => n,
                _ => {
                    p.push(format!(
                        "priority: must be a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY}"
                    ));
                    0
                }
            },
        };
        let starts_at = time(fields, "starts_at", &mut p);
        let ends_at = time(fields, "ends_at", &mut p);
        if let (Some(s), Some(e)) = (starts_at, ends_at)
            && e <= s
        {
            p.push("ends_at: must be after starts_at".into());
        }
        let reply = match fields.get("reply") {
            None | Some(Value::Null) => {
                p.push(format!("reply: required: 1 to {MAX_VARIANTS} texts"));
                Vec::new()
            }
            Some(Value::String(one)) => vec![one.clone()],
            Some(_) => string_list(fields, "reply", usize::MAX, &mut p),
        };
        if fields.contains_key("reply") && (reply.is_empty() || reply.len() > MAX_VARIANTS) {
            p.push(format!(
                "reply: {} variants; a campaign has 1 to {MAX_VARIANTS}",
                reply.len()
            ));
        }
        for (i, variant) in reply.iter().enumerate() {
            if let Err(e) = ReplyTemplate::parse(variant) {
                p.push(format!("reply[{}]: {e}", i + 1));
            }
        }
        let public_reply = match fields.get("public_reply") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(one)) => vec![one.clone()],
            Some(_) => string_list(fields, "public_reply", usize::MAX, &mut p),
        };
        if public_reply.len() > MAX_VARIANTS
            || (fields.contains_key("public_reply") && public_reply.is_empty())
        {
            p.push(format!(
                "public_reply: {} variants; give 1 to {MAX_VARIANTS}, or leave the field out",
                public_reply.len()
            ));
        }
        for (i, variant) in public_reply.iter().enumerate() {
            if let Err(e) = ReplyTemplate::parse(variant) {
                p.push(format!("public_reply[{}]: {e}", i + 1));
            }
        }
        let follow_up = super::follow_up::read(fields, &mut p);
        match (id, account) {
            (Some(campaign_id), Some(account_id)) if p.is_empty() => Ok(Self {
                account_id,
                campaign_id,
                name,
                status,
                media,
                media_types,
                match_mode,
                keywords,
                exclude,
                priority,
                starts_at,
                ends_at,
                reply,
                public_reply,
                follow_up,
                updated_at: None,
                created_at: None,
            }),
            _ => Err(Problems(p)),
        }
    }

    /// The campaign as a file's fields (what `show --json` prints and `apply` reads back).
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let list = |l: &[String]| Value::from(l.to_vec());
        out.insert("id".into(), self.campaign_id.clone().into());
        out.insert("account".into(), self.account_id.clone().into());
        if let Some(name) = &self.name {
            out.insert("name".into(), name.clone().into());
        }
        out.insert("status".into(), self.status.as_str().into());
        if !self.media.is_empty() {
            out.insert("media".into(), list(&self.media));
        }
        if !self.media_types.is_empty() {
            out.insert("media_types".into(), list(&self.media_types));
        }
        out.insert("match".into(), self.match_mode.as_str().into());
        if !self.keywords.is_empty() {
            out.insert("keywords".into(), list(&self.keywords));
        }
        if !self.exclude.is_empty() {
            out.insert("exclude".into(), list(&self.exclude));
        }
        out.insert("priority".into(), self.priority.into());
        if let Some(t) = self.starts_at {
            out.insert("starts_at".into(), format_time(t).into());
        }
        if let Some(t) = self.ends_at {
            out.insert("ends_at".into(), format_time(t).into());
        }
        out.insert("reply".into(), list(&self.reply));
        if !self.public_reply.is_empty() {
            out.insert("public_reply".into(), list(&self.public_reply));
        }
        if let Some(follow_up) = &self.follow_up {
            // The file's shape is the struct's (`text`, `button: {title, url}`).
            let value = serde_json::to_value(follow_up).unwrap_or_default();
            out.insert("follow_up".into(), value);
        }
        out
    }

    /// How specific its media filter is: named media (2), media types (1), the whole account (0).
    pub fn specificity(&self) -> u8 {
        if !self.media.is_empty() {
            2
        } else if !self.media_types.is_empty() {
            1
        } else {
            0
        }
    }
}

/// `[a-z0-9-]`, 1 to 64 characters.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(format!("{id:?} must be 1 to {MAX_ID_CHARS} characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "{id:?} may only hold lowercase letters, digits and `-`"
        ));
    }
    Ok(())
}

fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A string, or a whole number written without quotes (YAML reads `account: 1784...` as a number).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn required_string(fields: &Map<String, Value>, key: &str, p: &mut Vec<String>) -> Option<String> {
    match fields.get(key) {
        None | Some(Value::Null) => {
            p.push(format!("{key}: required"));
            None
        }
        Some(v) => {
            let s = as_text(v);
            if s.is_none() {
                p.push(format!("{key}: must be text"));
            }
            s
        }
    }
}

fn optional_string(fields: &Map<String, Value>, key: &str, p: &mut Vec<String>) -> Option<String> {
    match fields.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let s = as_text(v);
            if s.is_none() {
                p.push(format!("{key}: must be text"));
            }
            s
        }
    }
}

fn string_list(
    fields: &Map<String, Value>,
    key: &str,
    max: usize,
    p: &mut Vec<String>,
) -> Vec<String> {
    let items = match fields.get(key) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            p.push(format!("{key}: must be a list"));
            return Vec::new();
        }
    };
    if items.len() > max {
        p.push(format!("{key}: {} entries; at most {max}", items.len()));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match as_text(item) {
            Some(s) => out.push(s),
            None => p.push(format!("{key}[{}]: must be text", i + 1)),
        }
    }
    out
}

/// Keywords and exclusions must say something once normalised (`"!!!"` has no words).
fn check_phrases(key: &str, phrases: &[String], p: &mut Vec<String>) {
    for (i, phrase) in phrases.iter().enumerate() {
        if phrase.chars().count() > MAX_KEYWORD_CHARS {
            p.push(format!(
                "{key}[{}]: longer than {MAX_KEYWORD_CHARS} characters",
                i + 1
            ));
        } else if NormalText::new(phrase).is_empty() {
            p.push(format!(
                "{key}[{}]: {phrase:?} has no words (only spaces or punctuation)",
                i + 1
            ));
        }
    }
}

fn time(fields: &Map<String, Value>, key: &str, p: &mut Vec<String>) -> Option<DateTime<Utc>> {
    let text = optional_string(fields, key, p)?;
    match DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            p.push(format!(
                "{key}: {text:?} is not a date and time like 2026-12-01T00:00:00Z"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Button;

    const SAMPLE: &str = r#"
id: spring-link              # required
account: "17841400000000001"
name: Spring sale link
status: active
media: ["17868660555124283"]
media_types: [FEED, reels]
match: word
keywords: ["link", "how much"]
exclude: ["stop"]
priority: 3
starts_at: 2026-12-01T00:00:00Z
ends_at: 2026-12-31T23:59:59Z
reply:
  - "Hi {username}! Here is the link: https://example.com/sale"
  - "Hey {username|there}, here you go: https://example.com/sale"
public_reply: ["Sent you a DM, {username|friend}!"]
follow_up:
  text: "Here is your code: SPRING25"
  button: {title: "Open the shop", url: "https://example.com/shop"}
"#;

    fn problems(text: &str) -> Vec<String> {
        match Campaign::from_file(text, Format::Yaml) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(Problems(p)) => p,
        }
    }

    #[test]
    fn the_sample_file_reads_into_every_field() {
        let c = Campaign::from_file(SAMPLE, Format::Yaml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.campaign_id, "spring-link");
        assert_eq!(c.account_id, "17841400000000001");
        assert_eq!(c.name.as_deref(), Some("Spring sale link"));
        assert_eq!(c.media, ["17868660555124283"]);
        assert_eq!(c.media_types, ["FEED", "REELS"]);
        assert_eq!(c.match_mode, MatchMode::Word);
        assert_eq!(c.keywords, ["link", "how much"]);
        assert_eq!(c.exclude, ["stop"]);
        assert_eq!(c.priority, 3);
        assert_eq!(
            c.starts_at.map(format_time).as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            c.ends_at.map(format_time).as_deref(),
            Some("2026-12-31T23:59:59Z")
        );
        assert_eq!(c.reply.len(), 2);
        assert_eq!(c.public_reply, ["Sent you a DM, {username|friend}!"]);
        let follow_up = c.follow_up.as_ref().unwrap_or_else(|| panic!("follow_up"));
        assert_eq!(follow_up.text, "Here is your code: SPRING25");
        assert_eq!(
            follow_up.button,
            Some(Button {
                title: "Open the shop".into(),
                url: "https://example.com/shop".into()
            })
        );
        assert_eq!(c.specificity(), 2);
    }

    #[test]
    fn public_replies_are_checked_like_replies() {
        let base = "id: a\naccount: 17841400000000001\nkeywords: [link]\nreply: Hi!\n";
        let one = |extra: &str| problems(&format!("{base}{extra}"));
        assert!(one("public_reply: []\n")[0].starts_with("public_reply: 0 variants"));
        assert!(
            one("public_reply: [a, b, c, d, e, f]\n")[0].starts_with("public_reply: 6 variants")
        );
        assert!(one("public_reply: ['{nickname}']\n")[0].starts_with("public_reply[1]:"));
    }

    #[test]
    fn json_reads_the_same_fields_and_round_trips_through_to_fields() {
        let c = Campaign::from_file(SAMPLE, Format::Yaml).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&c.to_fields()).unwrap_or_default();
        let back = Campaign::from_file(&json, Format::Json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }

    #[test]
    fn defaults_fill_the_optional_fields() {
        let c = Campaign::from_file(
            "id: a\naccount: 17841400000000001\nkeywords: [link]\nreply: Hi!\n",
            Format::Yaml,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.account_id, "17841400000000001");
        assert_eq!(c.status, CampaignStatus::Active);
        assert_eq!(c.match_mode, MatchMode::Word);
        assert_eq!(c.priority, 0);
        assert_eq!(c.reply, ["Hi!"]);
        assert_eq!(c.specificity(), 0);
    }

    #[test]
    fn every_problem_of_a_file_is_listed() {
        let p = problems(
            "id: Spring_Link\naccount: abc\nstatus: live\nmatch: regex\nmedia: [x1]\nmedia_types: [TV]\n\
             priority: 1.5\nstarts_at: tomorrow\ncolour: red\nreply: [\"Hi {user}\", \"\", \"x\", \"x\", \"x\", \"x\"]\n",
        );
        let expect = [
            "unknown field `colour`",
            "id: \"Spring_Link\" may only hold",
            "account: \"abc\" is not",
            "status: \"live\" is not one of",
            "media: \"x1\" is not a media ID",
            "media_types: \"TV\" is not one of",
            "match: \"regex\" is not one of",
            "keywords: required with `match: word`",
            "priority: must be a whole number",
            "starts_at: \"tomorrow\" is not a date",
            "reply: 6 variants",
            "reply[1]: unknown placeholder \"{user}\"",
            "reply[2]: the reply text is empty",
        ];
        for e in expect {
            assert!(
                p.iter().any(|line| line.starts_with(e)),
                "missing {e:?} in {p:#?}"
            );
        }
        assert_eq!(p.len(), expect.len(), "{p:#?}");
    }

    #[test]
    fn keyword_rules_follow_the_match_mode() {
        let base = "id: a\naccount: '1'\nreply: [hi]\n";
        assert!(
            problems(&format!("{base}match: any\nkeywords: [x]\n"))[0]
                .starts_with("keywords: given")
        );
        assert!(
            problems(&format!("{base}keywords: []\n"))[0]
                .starts_with("keywords: the list is empty")
        );
        assert!(problems(&format!("{base}keywords: ['!!!']\n"))[0].contains("has no words"));
        assert!(
            problems(&format!("{base}keywords: [x]\nexclude: ['  ']\n"))[0]
                .starts_with("exclude[1]")
        );
        assert!(Campaign::from_file(&format!("{base}match: any\n"), Format::Yaml).is_ok());
        assert!(Campaign::from_file(&format!("{base}keywords: ['🔥']\n"), Format::Yaml).is_ok());
    }

    #[test]
    fn ids_dates_and_variant_lengths_are_checked() {
        let base = "account: '1'\nkeywords: [x]\n";
        assert!(problems(&format!("{base}id: ''\nreply: [hi]\n"))[0].starts_with("id:"));
        assert!(
            problems(&format!("{base}id: {}\nreply: [hi]\n", "a".repeat(65)))[0].starts_with("id:")
        );
        assert!(
            Campaign::from_file(
                &format!("{base}id: {}\nreply: [hi]\n", "a-9".repeat(21)),
                Format::Yaml
            )
            .is_ok()
        );
        assert_eq!(
            problems(&format!(
                "{base}id: a\nreply: [hi]\nstarts_at: 2026-12-02T00:00:00Z\nends_at: 2026-12-01T00:00:00Z\n"
            )),
            ["ends_at: must be after starts_at"]
        );
        let long = format!("{}{{username}}", "a".repeat(971));
        let p = problems(&format!("{base}id: a\nreply: ['{long}']\n"));
        assert!(
            p[0].starts_with("reply[1]: the reply text can be 1001 bytes"),
            "{p:?}"
        );
        assert!(problems(&format!("{base}id: a\nreply: []\n"))[0].starts_with("reply: 0 variants"));
        assert_eq!(
            problems(&format!("{base}id: a\n")),
            ["reply: required: 1 to 5 texts"]
        );
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_refused_plainly() {
        assert!(problems("- a\n- b\n")[0].starts_with("a campaign file is a mapping"));
        assert!(problems("id: [unclosed\n")[0].starts_with("not valid YAML"));
        assert!(Campaign::from_file("{", Format::Json).is_err());
    }

    #[test]
    fn the_stored_item_reads_back() {
        let c = Campaign::from_file(SAMPLE, Format::Yaml).unwrap_or_else(|e| panic!("{e}"));
        let item: crate::store::Item = serde_dynamo::to_item(&c).unwrap_or_default();
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut expected = vec!["account_id", "campaign_id"];
        expected.extend(VALUE_FIELDS);
        expected.sort_unstable();
        assert_eq!(
            names, expected,
            "the item holds the key and the file's other fields"
        );
        assert_eq!(
            item.get("match")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some("word")
        );
        assert_eq!(
            item.get("status")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some("active")
        );
        assert!(item.get("starts_at").is_some_and(|v| v.is_s()));
        let back: Campaign = serde_dynamo::from_item(item).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }
}
