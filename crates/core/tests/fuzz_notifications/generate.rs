//! Real-shaped Meta notifications (PLATFORM.md sections 3, 8 and 11) together with what the parser must read
//! from them, so that a mutated copy can be checked against the original.

use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use reply_core::sample::{SampleComment, notification_body};
use serde_json::{Map, Value, json};

/// Where a comment change sits, numbered the way the parser numbers `RejectedChange`s: `changes[change]` of
/// `entry`, or the entry-level `field`/`value` shape, which counts as change `changes.len()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub entry: usize,
    pub change: usize,
    pub entry_level: bool,
}

impl Loc {
    /// The JSON pointer of the object holding the change's `field` and `value`.
    pub fn pointer(&self) -> String {
        if self.entry_level {
            format!("/entry/{}", self.entry)
        } else {
            format!("/entry/{}/changes/{}", self.entry, self.change)
        }
    }
}

/// A comment the parser must return, with the fields that are cheap to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub loc: Loc,
    pub account_id: String,
    pub comment_id: String,
    pub live: bool,
    pub text: Option<String>,
    pub parent_id: Option<String>,
    pub commenter_id: Option<String>,
    pub media_id: Option<String>,
    pub ad_id: Option<String>,
}

#[derive(Debug)]
pub struct Payload {
    pub body: Value,
    /// In the parser's order: entries in order, within an entry `changes[]` then the entry-level change.
    pub comments: Vec<Expected>,
    /// Non-comment changes plus `messaging` events of other kinds (reactions), which the parser counts as
    /// ignored.
    pub ignored: usize,
    /// `messaging` messages and postbacks, which the parser reads; `echoes` of them are the account's own.
    pub messages: usize,
    pub echoes: usize,
    /// A bare `field`/`value` change in the envelope (Meta's dashboard sample has no entry): reported as
    /// having no account, never stored.
    pub bare: bool,
}

const ACCOUNTS: &[&str] = &[
    "17841401906857599",
    "17841400000000001",
    "17841400000000002",
    "17841405822304914",
];
const OTHER_FIELDS: &[&str] = &[
    "mentions",
    "story_insights",
    "messages",
    "message_reactions",
    "messaging_postbacks",
    "standby",
    "comment_poll_response",
    "",
];
const PRODUCT_TYPES: &[&str] = &["FEED", "REELS", "AD", "STORY", "CAROUSEL_ALBUM", "IGTV"];
const USERNAMES: &[&str] = &[
    "rachitsaini670",
    "märta.öberg",
    "ana_",
    "test",
    "x",
    "long.user.name.with.dots_and_underscores",
];
const TEXTS: &[&str] = &[
    "LINK",
    "7",
    "link please 🙏",
    "äöå",
    "Wie viel kostet das?",
    "🔥🔥🔥",
    "",
    "  ",
    "line\nbreak",
    "tab\t\"quoted\" \\ back/slash",
    "nul\u{0}inside",
    "مرحبا LINK",
    "你好",
    "👩\u{200d}👩\u{200d}👧\u{200d}👦",
    "e\u{301}",
    "\u{feff}bom",
    "\u{10ffff}\u{fffd}",
];

/// An object from owned parts; `json!` would serialize each embedded `Value` again (slow in debug builds).
fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Meta-shaped IDs: long decimal strings.
fn id(rng: &mut SmallRng, prefix: u64) -> String {
    format!(
        "{prefix}{:014}",
        rng.random_range(0..100_000_000_000_000u64)
    )
}

/// An ID as Meta sends it (a string) or, rarely, as a bare number (hand-written samples); returns the JSON
/// and the string the parser must make of it.
fn lenient_id(rng: &mut SmallRng, s: String) -> (Value, String) {
    match s.parse::<u64>() {
        Ok(n) if rng.random_ratio(1, 30) => (json!(n), n.to_string()),
        _ => (json!(s), s),
    }
}

fn text(rng: &mut SmallRng) -> String {
    if rng.random_ratio(1, 500) {
        // Long texts: Meta allows 2,200 characters; the parser must not care about more.
        "LINK 😍 ".repeat(rng.random_range(100..3000))
    } else {
        (*TEXTS.choose(rng).unwrap_or(&"LINK")).to_owned()
    }
}

fn time(rng: &mut SmallRng, value: &mut Map<String, Value>, millis: bool) {
    let secs = rng.random_range(1_700_000_000i64..1_800_000_000);
    let t = match rng.random_range(0..100) {
        _ if millis => json!(secs * 1000 + rng.random_range(0..1000)),
        0..80 => json!(secs),
        80..88 => json!(secs * 1000),
        88..92 => json!(secs.to_string()),
        92..95 => return,
        95..98 => json!(secs as f64 + 0.5),
        _ => json!(-secs),
    };
    value.insert("time".into(), t);
}

/// One `comments`/`live_comments` value; `dashboard` gives Meta's "Test" sample (PLATFORM.md section 11).
fn comment_value(
    rng: &mut SmallRng,
    loc: Loc,
    account: &str,
    live: bool,
    next_id: &mut u64,
) -> (Value, Expected) {
    let mut v = Map::new();
    let mut e = Expected {
        loc,
        account_id: account.to_owned(),
        comment_id: String::new(),
        live,
        text: None,
        parent_id: None,
        commenter_id: None,
        media_id: None,
        ad_id: None,
    };
    if account == "0" || rng.random_ratio(1, 50) {
        let older = rng.random_bool(0.3);
        e.comment_id = if older {
            "123456789"
        } else {
            "17865799348089039"
        }
        .to_owned();
        e.text = Some("This is an example.".to_owned());
        e.media_id = Some("123123123".to_owned());
        v.insert("id".into(), json!(e.comment_id));
        v.insert("text".into(), json!("This is an example."));
        v.insert(
            "media".into(),
            json!({"id": "123123123", "media_product_type": "FEED"}),
        );
        if !older {
            e.commenter_id = Some("232323232".to_owned());
            v.insert(
                "from".into(),
                json!({"id": "232323232", "username": "test"}),
            );
        }
        return (Value::Object(v), e);
    }
    *next_id += 1;
    let (cid, cid_str) = lenient_id(rng, next_id.to_string());
    e.comment_id = cid_str;
    // Meta's example page uses `comment_id`; real traffic uses `id`.
    let key = if rng.random_ratio(1, 12) {
        "comment_id"
    } else {
        "id"
    };
    v.insert(key.into(), cid);
    if rng.random_ratio(9, 10) {
        let t = text(rng);
        v.insert("text".into(), json!(t));
        e.text = Some(t);
    }
    if rng.random_ratio(19, 20) {
        // A comment by the account itself (its own public reply) comes back with from.id == entry.id.
        let from_id = if rng.random_ratio(1, 10) {
            account.to_owned()
        } else {
            id(rng, 27)
        };
        let mut from = json!({"id": from_id, "username": USERNAMES.choose(rng).unwrap_or(&"x")});
        if rng.random_ratio(1, 20) {
            from["self_ig_scoped_id"] = json!(id(rng, 35));
        }
        e.commenter_id = Some(from_id);
        v.insert("from".into(), from);
    }
    if rng.random_ratio(19, 20) {
        let media_id = id(rng, 178);
        let product = if live {
            "LIVE"
        } else {
            PRODUCT_TYPES.choose(rng).unwrap_or(&"FEED")
        };
        let mut media = json!({"id": media_id, "media_product_type": product});
        if product == "AD" {
            let ad = id(rng, 12020);
            media["ad_id"] = json!(ad);
            media["ad_title"] = json!("Winter sale ❄");
            if rng.random_bool(0.5) {
                media["original_media_id"] = json!(id(rng, 178));
            }
            e.ad_id = Some(ad);
        }
        e.media_id = Some(media_id);
        v.insert("media".into(), media);
    }
    if rng.random_ratio(3, 20) {
        let parent = (*next_id - rng.random_range(1..=5)).to_string();
        v.insert("parent_id".into(), json!(parent));
        e.parent_id = Some(parent);
    }
    if rng.random_ratio(1, 20) {
        // Fields Meta may add later must be ignored.
        v.insert(
            "some_future_field".into(),
            json!({"x": [1, 2.5, null, "y"], "flag": true}),
        );
    }
    (Value::Object(v), e)
}

/// A value for a field the parser does not read.
fn other_value(rng: &mut SmallRng) -> Value {
    match rng.random_range(0..4) {
        0 => json!({"media_id": id(rng, 178), "comment_id": id(rng, 180)}),
        1 => json!({"media_id": id(rng, 178), "impressions": 44, "reach": 40, "exits": 3}),
        2 => json!([{"weird": true}, 5]),
        _ => json!({"id": id(rng, 180), "text": "not a comment field"}),
    }
}

/// What the parser makes of a `messaging` event.
enum EventKind {
    Message,
    Echo,
    Ignored,
}

/// Adds a generated event to what the parser must report.
fn expect_event(out: &mut Payload, (event, kind): (Value, EventKind)) -> Value {
    match kind {
        EventKind::Message => out.messages += 1,
        EventKind::Echo => {
            out.messages += 1;
            out.echoes += 1;
        }
        EventKind::Ignored => out.ignored += 1,
    }
    event
}

/// A `messaging` event (PLATFORM.md section 8): a message, an echo, a quick reply, a button tap, a reaction.
fn messaging_event(rng: &mut SmallRng, account: &str) -> (Value, EventKind) {
    let person = id(rng, 27);
    let ts = rng.random_range(1_700_000_000_000i64..1_800_000_000_000);
    let mid = format!("aWdfZAG1faW{}", rng.random_range(0..u32::MAX));
    match rng.random_range(0..6) {
        0 => (
            json!({"sender": {"id": person}, "recipient": {"id": account}, "timestamp": ts,
                     "message": {"mid": mid, "text": text(rng)}}),
            EventKind::Message,
        ),
        1 => (
            json!({"sender": {"id": account}, "recipient": {"id": person}, "timestamp": ts,
                     "message": {"mid": mid, "text": "Here is your link", "is_echo": true}}),
            EventKind::Echo,
        ),
        2 => (
            json!({"sender": {"id": person}, "recipient": {"id": account}, "timestamp": ts,
                     "message": {"mid": mid, "text": "Yes", "quick_reply": {"payload": "YES"},
                                 "reply_to": {"mid": "aWdfZAG1"},
                                 "attachments": [{"type": "image", "payload": {"url": "https://example.com/a.jpg"}}]}}),
            EventKind::Message,
        ),
        3 => (
            json!({"sender": {"id": person}, "recipient": {"id": account}, "timestamp": ts,
                     "message": {"mid": mid, "reply_to": {"story": {"id": id(rng, 179), "url": "https://example.com/s"}},
                                 "text": text(rng)}}),
            EventKind::Message,
        ),
        4 => (
            json!({"sender": {"id": person}, "recipient": {"id": account}, "timestamp": ts,
                     "postback": {"mid": mid, "title": "Get it", "payload": "GET_LINK"}}),
            EventKind::Message,
        ),
        _ => (
            json!({"sender": {"id": person}, "recipient": {"id": account}, "timestamp": ts,
                     "reaction": {"mid": mid, "action": "react", "reaction": "love", "emoji": "❤️"}}),
            EventKind::Ignored,
        ),
    }
}

/// A payload with at least `min_comments` comment changes.
pub fn payload(rng: &mut SmallRng, min_comments: usize) -> Payload {
    if rng.random_ratio(1, 20) {
        return from_sample_builder(rng, min_comments);
    }
    let mut next_id = 18_000_000_000_000_000 + rng.random_range(0..1_000_000_000_000u64);
    let mut out = Payload {
        body: Value::Null,
        comments: Vec::new(),
        ignored: 0,
        messages: 0,
        echoes: 0,
        bare: false,
    };
    if min_comments == 0 && rng.random_ratio(1, 50) {
        // The dashboard's bare sample on its own.
        out.body = bare_change(rng, &mut next_id);
        out.bare = true;
        return out;
    }
    // Most real POSTs carry one entry (batching is not guaranteed); some carry several accounts.
    let entries = match rng.random_range(0..10) {
        0..5 => 1,
        5..9 => rng.random_range(2..=3),
        _ => rng.random_range(4..=10),
    };
    let mut list = Vec::new();
    for entry in 0..entries {
        let account = if rng.random_ratio(1, 25) {
            "0".to_owned()
        } else if rng.random_ratio(1, 5) {
            format!("178414{:011}", rng.random_range(0..100_000_000_000u64))
        } else {
            (*ACCOUNTS.choose(rng).unwrap_or(&ACCOUNTS[0])).to_owned()
        };
        let (account_json, account) = lenient_id(rng, account);
        let mut e = Map::new();
        e.insert("id".into(), account_json);
        if rng.random_ratio(1, 8) {
            time(rng, &mut e, true);
            let events: Vec<_> = (0..rng.random_range(1..=3))
                .map(|_| {
                    let event = messaging_event(rng, &account);
                    expect_event(&mut out, event)
                })
                .collect();
            e.insert("messaging".into(), Value::Array(events));
            list.push(Value::Object(e));
            continue;
        }
        time(rng, &mut e, false);
        let entry_level = rng.random_ratio(3, 20);
        let n = match rng.random_range(0..10) {
            0..8 => rng.random_range(usize::from(!entry_level)..=3),
            _ => rng.random_range(4..=8),
        };
        let mut changes = Vec::new();
        for change in 0..n {
            let loc = Loc {
                entry,
                change,
                entry_level: false,
            };
            changes.push(change_json(rng, loc, &account, &mut next_id, &mut out));
        }
        if rng.random_ratio(1, 20) {
            let events: Vec<_> = (0..rng.random_range(0..=2))
                .map(|_| {
                    let event = messaging_event(rng, &account);
                    expect_event(&mut out, event)
                })
                .collect();
            e.insert("messaging".into(), Value::Array(events));
        }
        if entry_level {
            let loc = Loc {
                entry,
                change: n,
                entry_level: true,
            };
            if let Value::Object(c) = change_json(rng, loc, &account, &mut next_id, &mut out) {
                e.extend(c);
            }
        }
        if !changes.is_empty() || rng.random_bool(0.5) {
            e.insert("changes".into(), Value::Array(changes));
        }
        list.push(Value::Object(e));
    }
    // Top up with one more entry of plain comments when the draw gave too few.
    if out.comments.len() < min_comments {
        let entry = list.len();
        let account = ACCOUNTS[entry % ACCOUNTS.len()];
        let mut changes = Vec::new();
        while out.comments.len() < min_comments {
            let loc = Loc {
                entry,
                change: changes.len(),
                entry_level: false,
            };
            let (value, expected) = comment_value(rng, loc, account, false, &mut next_id);
            out.comments.push(expected);
            changes.push(obj([("value", value), ("field", json!("comments"))]));
        }
        list.push(obj([
            ("id", json!(account)),
            ("time", json!(1_764_093_000)),
            ("changes", Value::Array(changes)),
        ]));
    }
    out.body = obj([
        ("entry", Value::Array(list)),
        ("object", json!("instagram")),
    ]);
    if rng.random_ratio(1, 40) {
        // Never seen beside entries, but nothing stops it: it must not cost the entries.
        if let (Value::Object(body), Value::Object(bare)) =
            (&mut out.body, bare_change(rng, &mut next_id))
        {
            body.extend(bare);
            out.bare = true;
        }
    }
    out
}

/// Meta's dashboard "Test" sample as a bare change, without `object` or `entry`.
fn bare_change(rng: &mut SmallRng, next_id: &mut u64) -> Value {
    let loc = Loc {
        entry: 0,
        change: 0,
        entry_level: true,
    };
    let (value, _) = comment_value(rng, loc, "0", false, next_id);
    obj([("field", json!("comments")), ("value", value)])
}

/// One change object: a comment (most often), a Live comment, or another field.
fn change_json(
    rng: &mut SmallRng,
    loc: Loc,
    account: &str,
    next_id: &mut u64,
    out: &mut Payload,
) -> Value {
    match rng.random_range(0..20) {
        0..15 => {
            let live = rng.random_range(0..5) == 0;
            let (value, expected) = comment_value(rng, loc, account, live, next_id);
            out.comments.push(expected);
            let field = if live { "live_comments" } else { "comments" };
            obj([("value", value), ("field", json!(field))])
        }
        15 => {
            // A change without `field` is counted under "(none)".
            out.ignored += 1;
            obj([("value", other_value(rng))])
        }
        _ => {
            out.ignored += 1;
            let field = OTHER_FIELDS.choose(rng).unwrap_or(&"mentions");
            obj([("value", other_value(rng)), ("field", json!(field))])
        }
    }
}

/// The crate's own builder (used by the CLI and the local stack), so its bytes are fuzzed too.
fn from_sample_builder(rng: &mut SmallRng, min_comments: usize) -> Payload {
    let n = rng.random_range(min_comments.max(1)..=min_comments.max(1) + 8);
    let mut samples = Vec::new();
    for i in 0..n {
        let account = ACCOUNTS[rng.random_range(0..ACCOUNTS.len())];
        let mut c = SampleComment::new(account, &format!("180000000000{i:05}"), &text(rng));
        c.live = rng.random_ratio(1, 5);
        if c.live {
            c.media_product_type = "LIVE".into();
        } else if rng.random_ratio(1, 5) {
            c.media_product_type = "AD".into();
            c.ad_id = Some(id(rng, 12020));
        }
        if i > 0 && rng.random_ratio(1, 5) {
            c.parent_id = Some(format!("180000000000{:05}", i - 1));
        }
        samples.push(c);
    }
    let time = chrono::DateTime::from_timestamp(1_764_093_000, 0).unwrap_or_default();
    let body = serde_json::from_slice(&notification_body(&samples, time)).unwrap_or(Value::Null);
    // The builder groups comments into one entry per account, in first-seen order.
    let mut accounts: Vec<&str> = Vec::new();
    let mut per_account: Vec<usize> = Vec::new();
    let mut comments = Vec::new();
    for c in &samples {
        let entry = match accounts.iter().position(|a| *a == c.account_id) {
            Some(p) => p,
            None => {
                accounts.push(&c.account_id);
                per_account.push(0);
                accounts.len() - 1
            }
        };
        comments.push(Expected {
            loc: Loc {
                entry,
                change: per_account[entry],
                entry_level: false,
            },
            account_id: c.account_id.clone(),
            comment_id: c.comment_id.clone(),
            live: c.live,
            text: Some(c.text.clone()),
            parent_id: c.parent_id.clone(),
            commenter_id: Some(c.commenter_id.clone()),
            media_id: Some(c.media_id.clone()),
            ad_id: c.ad_id.clone(),
        });
        per_account[entry] += 1;
    }
    // The parser's order is entry by entry.
    comments.sort_by_key(|c| (c.loc.entry, c.loc.change));
    Payload {
        body,
        comments,
        ignored: 0,
        messages: 0,
        echoes: 0,
        bare: false,
    }
}
