//! Campaigns through the whole local pipeline (signed POST -> table -> stream -> replier -> simulator): which
//! comment gets which reply, for an account with campaigns next to one that keeps `REPLY_TEXT`, and an edit
//! taking effect within `CAMPAIGNS_TTL_SECS`.

#![allow(clippy::unwrap_used)]

use e2e::sample::SampleComment;
use e2e::{s, spawn_stack};
use reply_core::campaign::{Campaign, Format};
use reply_core::store::campaigns::DynamoCampaignStore;
use std::time::Duration;

const SHOP: &str = "17841400000000201";
const LEGACY: &str = "17841400000000202";
const POST: &str = "17868660555124283";
const OTHER_POST: &str = "17868660555124999";

fn campaign(yaml: &str) -> Campaign {
    Campaign::from_file(&format!("account: '{SHOP}'\n{yaml}"), Format::Yaml).unwrap()
}

fn on(account: &str, id: &str, media: &str, text: &str) -> SampleComment {
    let mut c = SampleComment::new(account, id, text);
    c.media_id = media.to_owned();
    c.commenter_username = format!("user{}", &id[id.len() - 3..]);
    c
}

fn text_sent(t: &e2e::TestStack, id: &str) -> Option<String> {
    t.sim()
        .replies()
        .into_iter()
        .find(|r| r.comment_id == id)
        .map(|r| r.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_decide_who_gets_which_reply_and_reply_text_keeps_accounts_without_any() {
    let t = spawn_stack(|_| {}).await.unwrap();
    let store = DynamoCampaignStore::new(t.stack.dynamodb.clone(), &t.stack.campaigns_table_name);
    let now = chrono::Utc::now();
    for c in [
        // Account-wide, on keywords.
        campaign("id: wide\nkeywords: [link]\nreply: ['Wide link for {username}']\n"),
        // The post's own campaign wins over the account-wide one at equal priority.
        campaign(&format!(
            "id: post\nmedia: ['{POST}']\nkeywords: [link, how much]\nexclude: [stop]\nreply: ['Post link for {{username}}']\n"
        )),
        // Higher priority wins over everything, but only on its exact comment.
        campaign(
            "id: vip\nmatch: exact\nkeywords: ['VIP']\npriority: 5\nreply: ['VIP code for {username}']\n",
        ),
        campaign("id: off\nmatch: any\nstatus: paused\npriority: 9\nreply: ['never sent']\n"),
    ] {
        store.apply(&c, now).await.unwrap();
    }
    let all = [
        on(SHOP, "17990000000000001", POST, "LINK please"),
        on(SHOP, "17990000000000002", OTHER_POST, "línk?"),
        on(SHOP, "17990000000000003", POST, "How MUCH is it"),
        on(SHOP, "17990000000000004", OTHER_POST, "vip!"),
        on(SHOP, "17990000000000005", POST, "link, but stop"),
        on(SHOP, "17990000000000006", POST, "so pretty 😍"),
        on(SHOP, "17990000000000007", OTHER_POST, "the linked post"),
        on(LEGACY, "17990000000000008", POST, "anything at all"),
    ];
    assert_eq!(t.post(&all).await.unwrap(), 200);
    let ids = e2e::ids(&all);
    let items = t
        .wait_all_final(&ids, Duration::from_secs(30))
        .await
        .unwrap();

    let expect: [(&str, Option<&str>, Option<&str>); 8] = [
        ("REPLIED", Some("post"), Some("Post link for user001")),
        ("REPLIED", Some("wide"), Some("Wide link for user002")),
        ("REPLIED", Some("post"), Some("Post link for user003")),
        ("REPLIED", Some("vip"), Some("VIP code for user004")),
        // The post's campaign excludes it, and the account-wide one still answers it.
        ("REPLIED", Some("wide"), Some("Wide link for user005")),
        ("SKIPPED", None, None),
        ("SKIPPED", None, None),
        (
            "REPLIED",
            None,
            Some("Hi user008! Here is your link: https://example.com/offer"),
        ),
    ];
    for ((id, item), (status, campaign_id, text)) in ids.iter().zip(&items).zip(expect) {
        assert_eq!(s(item, "status"), status, "{id}: {item:?}");
        let stored_campaign = item.get("campaign_id").and_then(|v| v.as_s().ok());
        assert_eq!(stored_campaign.map(String::as_str), campaign_id, "{id}");
        assert_eq!(text_sent(&t, id).as_deref(), text, "{id}");
        if status == "SKIPPED" {
            assert_eq!(s(item, "status_reason"), "no_matching_campaign", "{id}");
            assert_eq!(t.sim().reply_count_for(id), 0, "{id}");
        } else {
            assert_eq!(
                item.get("reply_text")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str),
                text,
                "{id}: the text sent is the text frozen on the item"
            );
        }
    }
    assert_eq!(t.sim().log().len(), 6, "no call for the skipped comments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_campaign_answers_new_comments_within_its_ttl() {
    let t = spawn_stack(|s| s.replier.campaigns_ttl = Duration::from_secs(1))
        .await
        .unwrap();
    let store = DynamoCampaignStore::new(t.stack.dynamodb.clone(), &t.stack.campaigns_table_name);
    store
        .apply(
            &campaign("id: c\nkeywords: [link]\nreply: ['first text']\n"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let first = on(SHOP, "17990000000000101", POST, "link");
    assert_eq!(t.post(&[first]).await.unwrap(), 200);
    t.wait_for("17990000000000101", &["REPLIED"], Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        text_sent(&t, "17990000000000101").as_deref(),
        Some("first text")
    );

    store
        .apply(
            &campaign("id: c\nkeywords: [link, info]\nreply: ['edited text']\n"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = on(SHOP, "17990000000000102", POST, "INFO pls");
    assert_eq!(t.post(&[second]).await.unwrap(), 200);
    t.wait_for("17990000000000102", &["REPLIED"], Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        text_sent(&t, "17990000000000102").as_deref(),
        Some("edited text")
    );
}
