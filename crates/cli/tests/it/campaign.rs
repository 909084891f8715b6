//! `replyctl campaign ...` against a fresh comments table and a fresh campaigns table (both from the template)
//! in DynamoDB Local.

use crate::harness::*;
use chrono::{Duration, Utc};
use reply_core::CommentStatus;
use reply_core::comment::format_time;
use std::path::PathBuf;

/// A stack with a campaigns table; `replyctl` is pointed at both tables.
struct Campaigns {
    stack: Stack,
    table: String,
}

async fn campaigns() -> Campaigns {
    let stack = spawn_stack().await;
    let table = testkit::dynamodb_local()
        .await
        .fresh_table_of("CampaignsTable", "campaigns-test")
        .await
        .unwrap();
    Campaigns { stack, table }
}

impl Campaigns {
    fn replyctl(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.stack.replyctl(&["campaign"]);
        cmd.args(args).env("CAMPAIGNS_TABLE_NAME", &self.table);
        cmd
    }

    /// `campaign apply -` with this YAML on standard input; asserts success.
    async fn apply(&self, yaml: &str) -> String {
        let mut cmd = self.replyctl(&["apply", "-"]);
        cmd.write_stdin(yaml.to_owned());
        let assert = run(cmd).await;
        let out = stdout(&assert);
        assert.success();
        out
    }

    async fn campaign_item(&self, account: &str, id: &str) -> Option<Item> {
        self.stack
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("account_id", s(account))
            .key("campaign_id", s(id))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    async fn campaign_count(&self) -> usize {
        self.stack
            .dynamodb
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
            .len()
    }
}

/// The campaign most tests use: `link` on ACCOUNT, two variants (one without a username fallback).
fn link_campaign(extra: &str) -> String {
    format!(
        "id: spring-link\naccount: '{ACCOUNT}'\nkeywords: [link, how much]\nexclude: [stop]\n\
         reply:\n  - 'Hi {{username}}! The link: https://example.com/a'\n  - 'Hey {{username|there}}: https://example.com/b'\n{extra}"
    )
}

/// A file in the system's temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("replyctl-it-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

fn string_of<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// An unanswered comment (`SKIPPED`, `no_matching_campaign`) made `age` ago, with this text.
fn unanswered(
    comment_id: &str,
    account: &str,
    text: &str,
    age: Duration,
) -> reply_core::CommentRecord {
    let mut c = comment(comment_id, account, CommentStatus::Skipped, age);
    c.status_reason = Some("no_matching_campaign".into());
    c.text = Some(text.into());
    c
}

#[tokio::test]
async fn apply_creates_then_updates_and_show_json_applies_back() {
    let t = campaigns().await;

    let mut first = t.replyctl(&["apply", "-"]);
    first.write_stdin(link_campaign(""));
    let created = run(first).await;
    let (out, err) = (stdout(&created), stderr(&created));
    created.success();
    assert!(out.contains("Created campaign spring-link"), "{out}");
    assert!(
        err.contains("warning:") && err.contains("reply[1]") && err.contains("{username|there}"),
        "a username without a fallback is warned about: {err}"
    );
    assert!(!err.contains("reply[2]"), "{err}");
    let item = t.campaign_item(ACCOUNT, "spring-link").await.unwrap();
    let created_at = string_of(&item, "created_at").to_owned();
    assert_eq!(string_of(&item, "status"), "active");

    let updated = t.apply(&link_campaign("priority: 5\n")).await;
    assert!(
        updated.contains("Updated campaign spring-link"),
        "{updated}"
    );

    let shown = run(t.replyctl(&["show", "spring-link", "--account", ACCOUNT, "--json"])).await;
    let fields = stdout_json(&shown);
    shown.success();
    assert_eq!(fields["id"], "spring-link");
    assert_eq!(fields["priority"], 5);
    assert_eq!(fields["keywords"], serde_json::json!(["link", "how much"]));
    assert!(
        fields.get("created_at").is_none(),
        "the JSON is a campaign file"
    );

    // The JSON file form goes back in as it came out (a .json path is read as JSON).
    let mut edited = fields.clone();
    edited["keywords"] = serde_json::json!(["link", "price"]);
    let file = TempFile::new("spring-link.json", &edited.to_string());
    let reapplied = run(t.replyctl(&["apply", file.path(), "--json"])).await;
    let report = stdout_json(&reapplied);
    reapplied.success();
    assert_eq!(report["applied"], "updated");
    assert_eq!(report["warnings"].as_array().unwrap().len(), 1);
    let item = t.campaign_item(ACCOUNT, "spring-link").await.unwrap();
    assert_eq!(
        string_of(&item, "created_at"),
        created_at,
        "kept from the first apply"
    );
    let keywords: Vec<_> = item["keywords"]
        .as_l()
        .unwrap()
        .iter()
        .map(|k| k.as_s().unwrap().as_str())
        .collect();
    assert_eq!(keywords, ["link", "price"]);

    let table = run(t.replyctl(&["show", "spring-link", "--account", ACCOUNT])).await;
    let out = stdout(&table);
    table.success();
    assert!(
        out.contains("reply[2]")
            && out.contains("Hey {username|there}")
            && out.contains("created_at"),
        "{out}"
    );
}

#[tokio::test]
async fn an_invalid_file_is_refused_with_every_problem_and_nothing_is_written() {
    let t = campaigns().await;
    let bad = "id: Spring_Link\naccount: abc\nmatch: regex\ncolour: red\nreply: ['Hi {user}']\n";
    let file = TempFile::new("bad.yaml", bad);

    let refused = run(t.replyctl(&["apply", file.path()])).await;
    let err = stderr(&refused);
    refused.code(1);
    for problem in [
        "unknown field `colour`",
        "id: \"Spring_Link\"",
        "account: \"abc\"",
        "match: \"regex\"",
        "keywords: required",
        "reply[1]: unknown placeholder",
    ] {
        assert!(err.contains(problem), "missing {problem:?} in {err}");
    }
    assert!(
        err.contains("6 problems") && err.contains("nothing was written"),
        "{err}"
    );

    let mut json = t.replyctl(&["apply", "-", "--json"]);
    json.write_stdin(bad);
    let refused = run(json).await;
    let report: serde_json::Value = serde_json::from_str(stderr(&refused).trim()).unwrap();
    refused.code(1);
    assert_eq!(report["details"]["problems"].as_array().unwrap().len(), 6);
    assert_eq!(t.campaign_count().await, 0, "nothing written");

    let missing = run(t.replyctl(&["apply", "/nonexistent/campaign.yaml"])).await;
    let err = stderr(&missing);
    missing.code(1);
    assert!(err.contains("could not read the campaign file"), "{err}");
}

#[tokio::test]
async fn pause_resume_and_delete_change_the_campaign_and_a_missing_one_is_a_clear_error() {
    let t = campaigns().await;
    t.apply(&link_campaign("")).await;
    let key = ["spring-link", "--account", ACCOUNT];

    let paused = run(t.replyctl(&[&["pause"][..], &key].concat())).await;
    let out = stdout(&paused);
    paused.success();
    assert!(out.contains("paused"), "{out}");
    let item = t.campaign_item(ACCOUNT, "spring-link").await.unwrap();
    assert_eq!(string_of(&item, "status"), "paused");

    let resumed = run(t.replyctl(&[&["resume", "--json"][..], &key].concat())).await;
    let report = stdout_json(&resumed);
    resumed.success();
    assert_eq!(report["status"], "active");
    let item = t.campaign_item(ACCOUNT, "spring-link").await.unwrap();
    assert_eq!(string_of(&item, "status"), "active");

    let deleted = run(t.replyctl(&[&["delete"][..], &key].concat())).await;
    deleted.success();
    assert!(t.campaign_item(ACCOUNT, "spring-link").await.is_none());

    for command in ["show", "pause", "resume", "delete"] {
        let missing = run(t.replyctl(&[&[command][..], &key].concat())).await;
        let err = stderr(&missing);
        missing.code(1);
        assert!(
            err.contains(&format!("no campaign spring-link for account {ACCOUNT}"))
                && err.contains(&format!("replyctl campaign list --account {ACCOUNT}")),
            "{command}: {err}"
        );
    }
    assert_eq!(
        t.campaign_count().await,
        0,
        "pausing a missing campaign creates nothing"
    );
}

#[tokio::test]
async fn list_counts_what_each_campaign_answered_failed_and_skipped() {
    let t = campaigns().await;
    t.apply(&link_campaign("")).await;
    t.apply(&format!(
        "id: other\naccount: '{OTHER_ACCOUNT}'\nmatch: any\nmedia_types: [REELS]\nreply: [hi]\nstatus: paused\n"
    ))
    .await;
    let seeded = [
        (
            "17900000000000101",
            ACCOUNT,
            CommentStatus::Replied,
            "spring-link",
        ),
        (
            "17900000000000102",
            ACCOUNT,
            CommentStatus::Replied,
            "spring-link",
        ),
        (
            "17900000000000103",
            ACCOUNT,
            CommentStatus::Failed,
            "spring-link",
        ),
        (
            "17900000000000104",
            ACCOUNT,
            CommentStatus::Skipped,
            "spring-link",
        ),
        (
            "17900000000000105",
            ACCOUNT,
            CommentStatus::Pending,
            "spring-link",
        ),
        (
            "17900000000000106",
            OTHER_ACCOUNT,
            CommentStatus::Replied,
            "other",
        ),
        // Another account's campaign of the same ID is another campaign.
        (
            "17900000000000107",
            OTHER_ACCOUNT,
            CommentStatus::Replied,
            "spring-link",
        ),
    ];
    for (id, account, status, campaign) in seeded {
        let mut record = comment(id, account, status, Duration::hours(1));
        record.campaign_id = Some(campaign.into());
        record.reply_variant = Some(1);
        record.reply_text = Some("Hi".into());
        stack_put(&t, &record).await;
    }
    // No campaign: not counted.
    stack_put(
        &t,
        &unanswered("17900000000000108", ACCOUNT, "hello", Duration::hours(1)),
    )
    .await;

    let listed = run(t.replyctl(&["list", "--json"])).await;
    let report = stdout_json(&listed);
    listed.success();
    assert_eq!(report["count"], 2);
    assert_eq!(report["scanned"], 8);
    assert_eq!(report["truncated"], false);
    let by_id = |id: &str| {
        report["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    let link = by_id("spring-link");
    assert_eq!(link["account"], ACCOUNT);
    assert_eq!(link["comments"]["answered"], 2);
    assert_eq!(link["comments"]["failed"], 1);
    assert_eq!(link["comments"]["skipped"], 1);
    assert_eq!(link["comments"]["by_status"]["PENDING"], 1);
    assert_eq!(by_id("other")["comments"]["answered"], 1);

    let table = run(t.replyctl(&["list", "--account", ACCOUNT])).await;
    let out = stdout(&table);
    table.success();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("ANSWERED")
            && lines[0].contains("FAILED")
            && lines[0].contains("SKIPPED"),
        "{out}"
    );
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert!(
        lines[1].starts_with("spring-link")
            && lines[1].contains("link, how much (not: stop)")
            && cells.ends_with(&["0", "2", "1", "1"]),
        "priority, answered, failed, skipped: {out}"
    );
    assert!(
        !out.contains("other"),
        "only the account's campaigns: {out}"
    );

    let capped = run(t.replyctl(&["list", "--max-items", "3", "--json"])).await;
    let report = stdout_json(&capped);
    capped.success();
    assert_eq!(report["truncated"], true);

    let none = run(t.replyctl(&["list", "--account", "17841400000000009"])).await;
    let out = stdout(&none);
    none.success();
    assert!(
        out.contains("No campaigns for account") && out.contains("REPLY_TEXT"),
        "{out}"
    );
}

async fn stack_put(t: &Campaigns, record: &reply_core::CommentRecord) {
    t.stack.put(record, &[]).await;
}

#[tokio::test]
async fn test_shows_the_campaign_variant_and_text_a_comment_would_get_or_why_none() {
    let t = campaigns().await;

    let mut empty = t.replyctl(&[
        "test",
        "--account",
        ACCOUNT,
        "--text",
        "link",
        "--username",
        "ana",
    ]);
    empty.env("REPLY_TEXT", "Hello {username|friend}");
    let empty = run(empty).await;
    let out = stdout(&empty);
    empty.success();
    assert!(
        out.contains("has no campaigns") && out.contains("REPLY_TEXT") && out.contains("Hello ana"),
        "{out}"
    );

    t.apply(&link_campaign("priority: 1\n")).await;
    t.apply(&format!(
        "id: paused-one\naccount: '{ACCOUNT}'\nkeywords: [link]\nreply: [x]\nstatus: paused\npriority: 9\n"
    ))
    .await;
    t.apply(&format!(
        "id: feed-only\naccount: '{ACCOUNT}'\nmatch: any\nmedia_types: [FEED]\nreply: [y]\npriority: 8\n"
    ))
    .await;

    let hit = run(t.replyctl(&[
        "test",
        "--account",
        ACCOUNT,
        "--text",
        "LINK please!",
        "--username",
        "ana",
        "--media-type",
        "REELS",
        "--comment-id",
        "17900000000000201",
        "--json",
    ]))
    .await;
    let report = stdout_json(&hit);
    hit.success();
    assert_eq!(report["verdict"], "reply");
    let decision = &report["decision"];
    assert_eq!(decision["campaign_id"], "spring-link");
    assert_eq!(decision["keyword"], "link");
    let variant = decision["variant"].as_u64().unwrap();
    let expected = [
        "Hi ana! The link: https://example.com/a",
        "Hey ana: https://example.com/b",
    ][usize::try_from(variant - 1).unwrap()];
    assert_eq!(decision["text"], expected);
    let reasons: Vec<(String, String)> = report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["campaign_id"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap_or("match").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("paused-one".to_owned(), "paused".to_owned()),
            (
                "feed-only".to_owned(),
                "the comment is on another kind of media".to_owned()
            ),
            ("spring-link".to_owned(), "match".to_owned()),
        ]
    );

    let terminal = run(t.replyctl(&[
        "test",
        "--account",
        ACCOUNT,
        "--text",
        "how much?",
        "--media-type",
        "reels",
    ]))
    .await;
    let out = stdout(&terminal);
    terminal.success();
    assert!(
        out.contains("campaign spring-link answers it (keyword \"how much\")"),
        "{out}"
    );
    assert!(
        out.contains("Hi ! The link") || out.contains("Hey there: "),
        "no username: {out}"
    );

    let miss = run(t.replyctl(&[
        "test",
        "--account",
        ACCOUNT,
        "--text",
        "link? stop",
        "--media-type",
        "STORY",
    ]))
    .await;
    let out = stdout(&miss);
    miss.success();
    assert!(
        out.contains("No match:") && out.contains("no_matching_campaign"),
        "{out}"
    );
    assert!(
        out.contains("excluded by \"stop\"")
            && out.contains("paused")
            && out.contains("another kind of media"),
        "each campaign's reason: {out}"
    );
    assert_eq!(t.stack.count().await, 0, "a dry run writes no comment");
}

#[tokio::test]
async fn backfill_requeues_only_the_matching_unanswered_open_comments_once() {
    let t = campaigns().await;
    t.apply(&link_campaign("")).await;
    let long = format!("{}{{username}}", "a".repeat(965));
    t.apply(&format!(
        "id: long\naccount: '{ACCOUNT}'\nkeywords: [essay]\nreply: ['{long}']\n"
    ))
    .await;

    let hit = unanswered(
        "17900000000000301",
        ACCOUNT,
        "LINK please",
        Duration::hours(1),
    );
    let older = unanswered("17900000000000302", ACCOUNT, "link", Duration::days(3));
    let no_keyword = unanswered("17900000000000303", ACCOUNT, "nice pic", Duration::hours(1));
    let other_account = unanswered(
        "17900000000000304",
        OTHER_ACCOUNT,
        "link",
        Duration::hours(1),
    );
    // Its window closes in 5 minutes: within the replier's expiry margin.
    let closing = unanswered(
        "17900000000000305",
        ACCOUNT,
        "link",
        Duration::days(7) - Duration::minutes(5),
    );
    let mut own = unanswered("17900000000000306", ACCOUNT, "link", Duration::hours(1));
    own.status_reason = Some("own_comment".into());
    let mut replied = comment(
        "17900000000000307",
        ACCOUNT,
        CommentStatus::Replied,
        Duration::hours(1),
    );
    replied.text = Some("link".into());
    let mut essay = unanswered("17900000000000308", ACCOUNT, "essay", Duration::hours(1));
    essay.commenter_username = Some("u".repeat(40));
    for record in [
        &hit,
        &older,
        &no_keyword,
        &other_account,
        &closing,
        &own,
        &replied,
        &essay,
    ] {
        stack_put(&t, record).await;
    }
    let before = t.stack.item("17900000000000301").await.unwrap();
    let key = ["spring-link", "--account", ACCOUNT];

    let dry = run(t.replyctl(&[&["backfill", "--dry-run", "--json"][..], &key].concat())).await;
    let report = stdout_json(&dry);
    dry.success();
    assert_eq!(
        report["matched"],
        serde_json::json!(["17900000000000301", "17900000000000302"])
    );
    assert_eq!(report["requeued"], serde_json::json!([]));
    assert_eq!(t.stack.item("17900000000000301").await.unwrap(), before);
    // With the replier's margin set to a minute (EXPIRY_MARGIN_SECS), the comment closing in 5 minutes is open.
    let mut narrow = t.replyctl(&[&["backfill", "--dry-run", "--json"][..], &key].concat());
    narrow.env("EXPIRY_MARGIN_SECS", "60");
    let narrow = run(narrow).await;
    let report = stdout_json(&narrow);
    narrow.success();
    assert_eq!(
        report["matched"],
        serde_json::json!([
            "17900000000000301",
            "17900000000000302",
            "17900000000000305"
        ])
    );

    let started = Utc::now();
    let first = run(t.replyctl(&[&["backfill", "--json"][..], &key].concat())).await;
    let report = stdout_json(&first);
    first.success();
    assert_eq!(report["scanned"], 8);
    assert_eq!(
        report["unanswered"], 5,
        "SKIPPED no_matching_campaign of ACCOUNT"
    );
    assert_eq!(
        report["older_than_since"], 0,
        "3 days is within the default 7d"
    );
    assert_eq!(report["window_closing"], 1);
    assert_eq!(report["not_matched"], 2, "no keyword, and the essay");
    assert_eq!(
        report["requeued"],
        serde_json::json!(["17900000000000301", "17900000000000302"])
    );

    let item = t.stack.item("17900000000000301").await.unwrap();
    assert_eq!(string_of(&item, "status"), "PENDING");
    assert_eq!(string_of(&item, "status_reason"), "backfilled");
    assert_eq!(string_of(&item, "campaign_id"), "spring-link");
    let variant: usize = item["reply_variant"].as_n().unwrap().parse().unwrap();
    let expected = [
        "Hi user_17900000000000301! The link: https://example.com/a",
        "Hey user_17900000000000301: https://example.com/b",
    ][variant - 1];
    assert_eq!(string_of(&item, "reply_text"), expected);
    let due_at = string_of(&item, "due_at");
    assert!(
        due_at >= format_time(started + Duration::minutes(14)).as_str()
            && due_at <= format_time(Utc::now() + Duration::minutes(16)).as_str(),
        "re-driven by the sweep in 15 minutes if the stream record is lost: {due_at}"
    );
    assert!(item.contains_key("due_shard"), "in the due index");
    for untouched in [
        "17900000000000303",
        "17900000000000304",
        "17900000000000305",
        "17900000000000306",
        "17900000000000307",
        "17900000000000308",
    ] {
        let item = t.stack.item(untouched).await.unwrap();
        assert_ne!(string_of(&item, "status"), "PENDING", "{untouched}");
        assert!(!item.contains_key("reply_text"), "{untouched}");
    }

    let second = run(t.replyctl(&[&["backfill"][..], &key].concat())).await;
    let out = stdout(&second);
    second.success();
    assert!(out.contains("Nothing to backfill"), "{out}");
    assert_eq!(
        t.stack.item("17900000000000301").await.unwrap(),
        item,
        "the second run sends nothing more"
    );

    // --since, and a text over Meta's limit with this commenter's username.
    let recent = run(t.replyctl(&[
        "backfill",
        "long",
        "--account",
        ACCOUNT,
        "--since",
        "2d",
        "--json",
    ]))
    .await;
    let report = stdout_json(&recent);
    recent.success();
    assert_eq!(report["too_long"], serde_json::json!(["17900000000000308"]));
    assert_eq!(report["requeued"], serde_json::json!([]));

    let too_far = run(t.replyctl(&[&["backfill", "--since", "8d"][..], &key].concat())).await;
    let err = stderr(&too_far);
    too_far.failure();
    assert!(err.contains("7 days"), "{err}");

    let paused = run(t.replyctl(&[&["pause"][..], &key].concat())).await;
    paused.success();
    let refused = run(t.replyctl(&[&["backfill"][..], &key].concat())).await;
    let err = stderr(&refused);
    refused.code(1);
    assert!(
        err.contains("paused") && err.contains("resume it first"),
        "{err}"
    );

    let missing = run(t.replyctl(&["backfill", "nope", "--account", ACCOUNT])).await;
    let err = stderr(&missing);
    missing.code(1);
    assert!(err.contains("no campaign nope"), "{err}");
}

#[tokio::test]
async fn misses_lists_the_most_recent_unanswered_comments_first() {
    let t = campaigns().await;
    for (id, account, text, minutes) in [
        ("17900000000000401", ACCOUNT, "price?", 30),
        ("17900000000000402", ACCOUNT, "where to buy", 10),
        ("17900000000000403", ACCOUNT, "size M?", 20),
        ("17900000000000404", OTHER_ACCOUNT, "other account", 5),
    ] {
        stack_put(
            &t,
            &unanswered(id, account, text, Duration::minutes(minutes)),
        )
        .await;
    }
    stack_put(
        &t,
        &comment(
            "17900000000000405",
            ACCOUNT,
            CommentStatus::Replied,
            Duration::minutes(1),
        ),
    )
    .await;

    let listed = run(t.replyctl(&["misses", "--account", ACCOUNT, "--limit", "2", "--json"])).await;
    let report = stdout_json(&listed);
    listed.success();
    let ids: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["comment_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["17900000000000402", "17900000000000403"]);
    assert_eq!(report["matched"], 3);
    assert_eq!(report["items"][0]["text"], "where to buy");
    assert_eq!(report["items"][0]["window_open"], true);

    let table = run(t.replyctl(&["misses", "--account", ACCOUNT])).await;
    let out = stdout(&table);
    table.success();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("COMMENTED") && lines[0].contains("TEXT"),
        "{out}"
    );
    assert!(
        lines[1].contains("17900000000000402")
            && lines[1].contains("@user_17900000000000402")
            && lines[1].ends_with("where to buy"),
        "{out}"
    );
    assert!(lines[3].contains("17900000000000401"), "{out}");
    assert!(!out.contains("other account"), "{out}");

    let none = run(t.replyctl(&["misses", "--account", "17841400000000009"])).await;
    let out = stdout(&none);
    none.success();
    assert!(out.contains("No unanswered comments"), "{out}");
}

#[test]
fn campaign_help_lists_every_subcommand() {
    let assert = replyctl(&["campaign", "--help"]).assert();
    let out = stdout(&assert);
    assert.success();
    for sub in [
        "apply", "list", "show", "pause", "resume", "delete", "test", "misses", "backfill",
    ] {
        assert!(out.contains(sub), "{sub}: {out}");
    }
}

/// The whole local pipeline: a comment no campaign answers is skipped; a campaign made after it, backfilled,
/// answers it once through the stream and the replier, and a second backfill sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_through_the_local_stack_answers_an_earlier_comment_exactly_once() {
    use local_stack::{DynamoDbChoice, Stack, StackSettings};
    use reply_core::sample::{SampleComment, notification_body};
    let local = testkit::dynamodb_local().await;
    let mut settings = StackSettings::new(DynamoDbChoice::Endpoint(local.endpoint.clone()));
    let n = std::process::id();
    let (comments, campaigns) = (format!("bf-comments-{n}"), format!("bf-campaigns-{n}"));
    settings.set_table_names(&comments, &format!("bf-accounts-{n}"), &campaigns);
    settings.sweep_interval = std::time::Duration::from_millis(500);
    settings.replier.campaigns_ttl = std::time::Duration::ZERO;
    settings.webhook.response_deadline = std::time::Duration::from_secs(30);
    let app_secret = settings.app_secret.clone();
    let stack = Stack::start(settings).await.unwrap();
    let sim = stack.sim.as_ref().unwrap().sim.clone();
    let replyctl = |args: &[&str]| {
        let mut cmd = replyctl(args);
        cmd.env("TABLE_NAME", &comments)
            .env("CAMPAIGNS_TABLE_NAME", &campaigns)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &local.endpoint);
        cmd
    };
    let status_of = |id: &'static str| {
        let dynamodb = stack.dynamodb.clone();
        let table = comments.clone();
        async move {
            let item = dynamodb
                .get_item()
                .table_name(&table)
                .key("comment_id", s(id))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .unwrap_or_default();
            (string_of(&item, "status").to_owned(), item)
        }
    };
    let wait_for = |id: &'static str, want: &'static str| async move {
        for _ in 0..300 {
            let (status, item) = status_of(id).await;
            if status == want {
                return item;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{id} never became {want}: {:?}", status_of(id).await.1);
    };

    // The account already has a campaign, which does not answer this comment.
    let mut first = replyctl(&["campaign", "apply", "-"]);
    first.write_stdin(format!(
        "id: other\naccount: '{ACCOUNT}'\nkeywords: [price]\nreply: [price list]\n"
    ));
    run(first).await.success();
    const ID: &str = "17990000000000777";
    let mut comment = SampleComment::new(ACCOUNT, ID, "Where can I get the catalogue?");
    comment.commenter_username = "early.bird".into();
    let body = notification_body(&[comment], Utc::now());
    let posted = reqwest::Client::new()
        .post(&stack.webhook_url)
        .header(
            "X-Hub-Signature-256",
            reply_core::signature::sign(&app_secret, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let skipped = wait_for(ID, "SKIPPED").await;
    assert_eq!(string_of(&skipped, "status_reason"), "no_matching_campaign");

    // A campaign made afterwards answers it once backfilled.
    let mut apply = replyctl(&["campaign", "apply", "-"]);
    apply.write_stdin(format!(
        "id: catalogue\naccount: '{ACCOUNT}'\nkeywords: [catalogue]\nreply: ['Here it is, {{username}}']\n"
    ));
    run(apply).await.success();
    let backfill = || async {
        let args = [
            "--json",
            "campaign",
            "backfill",
            "catalogue",
            "--account",
            ACCOUNT,
        ];
        let done = run(replyctl(&args)).await;
        let report = stdout_json(&done);
        done.success();
        report
    };
    let report = backfill().await;
    assert_eq!(report["requeued"], serde_json::json!([ID]), "{report}");
    let replied = wait_for(ID, "REPLIED").await;
    assert_eq!(string_of(&replied, "campaign_id"), "catalogue");
    assert_eq!(string_of(&replied, "status_reason"), "");
    let texts: Vec<String> = sim.replies().into_iter().map(|r| r.text).collect();
    assert_eq!(texts, ["Here it is, early.bird"]);

    let report = backfill().await;
    assert_eq!(report["requeued"], serde_json::json!([]), "{report}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(sim.reply_count_for(ID), 1);
    stack.stop().await;
}
