use super::*;
use crate::message::MessageKind;
use crate::sample::{SampleComment, notification_body};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parsed(body: &[u8]) -> Notification {
    parse(body).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

#[test]
fn the_captured_reel_comment_is_read_field_by_field() {
    let n = parsed(&fixture("reel_comment.json"));
    assert!(n.rejected.is_empty() && n.ignored.is_empty());
    assert_eq!(n.comments.len(), 1);
    let c = &n.comments[0];
    assert_eq!(c.comment_id.as_str(), "18058455121735594");
    assert_eq!(c.account_id.as_str(), "17841401906857599");
    assert_eq!(
        c.commenter_id.as_ref().map(|u| u.as_str()),
        Some("2706325442860345")
    );
    assert_eq!(c.commenter_username.as_deref(), Some("rachitsaini670"));
    assert_eq!(
        c.media_id.as_ref().map(|m| m.as_str()),
        Some("17868660555124283")
    );
    assert_eq!(c.media_product_type.as_deref(), Some("REELS"));
    assert_eq!(c.text.as_deref(), Some("7"));
    assert_eq!(c.source, CommentSource::Comment);
    assert_eq!(c.parent_id, None);
    assert_eq!(c.notified_at.map(|t| t.timestamp()), Some(1_726_106_088));
    assert!(!c.is_own_comment());
}

#[test]
fn escaped_unicode_is_decoded() {
    let n = parsed(&fixture("escaped_unicode.json"));
    let c = &n.comments[0];
    assert_eq!(c.text.as_deref(), Some("LINK äöå 😍"));
    assert_eq!(c.commenter_username.as_deref(), Some("märta.öberg"));
}

#[test]
fn live_comments_are_marked_as_live() {
    let n = parsed(&fixture("live_comment.json"));
    assert_eq!(n.comments.len(), 1);
    assert_eq!(n.comments[0].source, CommentSource::LiveComment);
    assert_eq!(n.comments[0].media_product_type.as_deref(), Some("LIVE"));
}

#[test]
fn a_mixed_batch_keeps_every_usable_comment_and_reports_the_rest() {
    let n = parsed(&fixture("mixed_batch.json"));
    let ids: Vec<_> = n.comments.iter().map(|c| c.comment_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "18000000000000001",
            "18000000000000002",
            "18000000000000003",
            "18000000000000010"
        ]
    );
    // The shop's own reply is read (and later stored as SKIPPED), with its parent.
    let own = &n.comments[1];
    assert!(own.is_own_comment());
    assert_eq!(
        own.parent_id.as_ref().map(|p| p.as_str()),
        Some("18000000000000001")
    );
    // Ad comments keep the ad ID; unknown fields inside the value are ignored.
    assert_eq!(n.comments[2].ad_id.as_deref(), Some("120200000000000001"));
    assert_eq!(n.comments[2].media_product_type.as_deref(), Some("AD"));
    assert_eq!(n.comments[3].account_id.as_str(), "17841400000000002");
    assert_eq!(n.comments[3].source, CommentSource::LiveComment);

    let reasons: Vec<_> = n
        .rejected
        .iter()
        .map(|r| (r.entry_index, r.change_index, r.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, Some(1), RejectReason::MissingCommentId),
            (0, Some(5), RejectReason::InvalidChange),
            (0, Some(6), RejectReason::InvalidValue),
            (3, Some(0), RejectReason::MissingAccountId),
        ]
    );
    assert_eq!(n.ignored.get("mentions"), Some(&1));
    assert_eq!(n.ignored_count(), 1);
    // The person's answer in the third entry is a message, no longer an ignored change.
    assert_eq!(n.messages.len(), 1);
    assert_eq!(n.messages[0].message_id, "aWdfZAAA");
    assert_eq!(n.messages[0].account_id.as_str(), "17841400000000002");
}

#[test]
fn numeric_ids_are_accepted_as_text() {
    let body = br#"{"object": "instagram", "entry": [{"id": 17841400000000001, "time": 1764093000, "changes": [{"field": "comments", "value": {"id": 18000000000000004, "text": "hi"}}]}]}"#;
    let n = parsed(body);
    assert_eq!(n.comments[0].comment_id.as_str(), "18000000000000004");
    assert_eq!(n.comments[0].account_id.as_str(), "17841400000000001");
}

#[test]
fn the_example_pages_comment_id_variant_is_read() {
    let body = br#"{"object": "instagram", "entry": [{"id": "1", "time": 1, "changes": [{"field": "comments", "value": {"comment_id": "77", "text": "hi"}}]}]}"#;
    assert_eq!(parsed(body).comments[0].comment_id.as_str(), "77");
}

#[test]
fn the_dashboard_sample_without_an_entry_is_reported_not_stored() {
    let body = br#"{"field": "comments", "value": {"from": {"id": "232323232", "username": "test"}, "media": {"id": "123123123", "media_product_type": "FEED"}, "id": "17865799348089039", "text": "This is an example."}}"#;
    let n = parsed(body);
    assert!(n.comments.is_empty());
    assert_eq!(n.rejected[0].reason, RejectReason::MissingAccountId);
}

#[test]
fn other_objects_are_ignored_as_a_whole() {
    let body = br#"{"object": "page", "entry": [{"id": "1", "time": 1, "changes": [{"field": "comments", "value": {"id": "5"}}]}]}"#;
    let n = parsed(body);
    assert_eq!(n.foreign_object.as_deref(), Some("page"));
    assert!(n.comments.is_empty());
}

#[test]
fn bodies_that_are_not_json_objects_are_errors() {
    for body in [
        &b"not json"[..],
        b"",
        b"[1,2]",
        b"\"instagram\"",
        b"{\"entry\": 5}",
        b"{\"entry\": [}",
    ] {
        assert!(parse(body).is_err(), "{:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn millisecond_times_are_not_read_as_seconds() {
    let body = br#"{"object": "instagram", "entry": [{"id": "1", "time": 1764093002000, "changes": [{"field": "comments", "value": {"id": "5"}}]}]}"#;
    let t = parsed(body).comments[0].notified_at.map(|t| t.timestamp());
    assert_eq!(t, Some(1_764_093_002));
}

#[test]
fn a_thousand_change_batch_across_accounts_is_read_whole() {
    let comments: Vec<_> = (0..1000)
        .map(|i| {
            SampleComment::new(
                &format!("178414{:011}", i % 7),
                &format!("180{i:014}"),
                "LINK ä",
            )
        })
        .collect();
    let body = notification_body(&comments, Utc::now());
    let n = parsed(&body);
    assert_eq!(n.comments.len(), 1000);
    assert!(n.rejected.is_empty());
    // Grouped into one entry per account; every comment keeps its own account.
    let mut ids = std::collections::HashSet::new();
    for c in &n.comments {
        let i: usize = c.comment_id.as_str()[3..].parse().unwrap_or(usize::MAX);
        assert_eq!(c.account_id.as_str(), format!("178414{:011}", i % 7));
        ids.insert(i);
    }
    assert_eq!(ids.len(), 1000);
    assert!(ids.contains(&0) && ids.contains(&999));
}

#[test]
fn records_carry_the_window_the_ttl_and_skip_own_comments() {
    let n = parsed(&fixture("mixed_batch.json"));
    let received = DateTime::from_timestamp(1_764_093_010, 0).unwrap_or_default();
    let retention = Duration::days(30);
    let first = n.comments[0].clone().into_record(received, retention);
    assert_eq!(first.status, CommentStatus::Pending);
    assert_eq!(first.comment_time.timestamp(), 1_764_093_000);
    assert_eq!(first.reply_deadline - first.comment_time, REPLY_WINDOW);
    assert_eq!(
        first.expires_at,
        (first.reply_deadline + retention).timestamp()
    );
    let own = n.comments[1].clone().into_record(received, retention);
    assert_eq!(own.status, CommentStatus::Skipped);
    assert_eq!(own.status_reason.as_deref(), Some("own_comment"));
}

#[test]
fn a_notification_time_in_the_future_does_not_extend_the_window() {
    let n = parsed(&fixture("reel_comment.json"));
    let received = DateTime::from_timestamp(1_726_000_000, 0).unwrap_or_default();
    let rec = n.comments[0]
        .clone()
        .into_record(received, Duration::days(1));
    assert_eq!(rec.comment_time, received);
}

#[test]
fn the_one_pass_and_the_granular_reading_agree() {
    let comments: Vec<_> = (0..50)
        .map(|i| {
            SampleComment::new(
                &format!("178414{:011}", i % 3),
                &format!("180{i:014}"),
                "LINK ä",
            )
        })
        .collect();
    let mut bodies = vec![notification_body(&comments, Utc::now())];
    for name in [
        "reel_comment.json",
        "escaped_unicode.json",
        "live_comment.json",
        "mixed_batch.json",
    ] {
        bodies.push(fixture(name));
    }
    bodies.push(br#"{"object": "page", "entry": []}"#.to_vec());
    bodies.push(br#"{"field": "comments", "value": {"id": "1"}}"#.to_vec());
    for body in bodies {
        let fast = parse(&body).unwrap_or_else(|e| panic!("{e}"));
        let granular = parse_granular(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fast, granular, "{}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn an_entry_with_a_string_time_or_an_object_messaging_keeps_its_comments() {
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": "1726106088", "messaging": {"unexpected": true}, "changes": [{"field": "comments", "value": {"id": "18058455121735594", "text": "LINK", "from": {"id": "2706325442860345", "username": "ana"}}}]}]}"#;
    let n = parsed(body);
    assert_eq!(n.comments.len(), 1, "{:?}", n.rejected);
    assert_eq!(
        n.comments[0].notified_at,
        DateTime::from_timestamp(1_726_106_088, 0)
    );
    // The odd `messaging` is reported for the entry as a whole (no event index), not silently dropped.
    let reasons: Vec<_> = n
        .rejected
        .iter()
        .map(|r| (r.entry_index, r.change_index, r.messaging_index, r.reason))
        .collect();
    assert_eq!(reasons, [(0, None, None, RejectReason::InvalidEvent)]);
    assert!(n.ignored.is_empty() && n.messages.is_empty());
}

#[test]
fn the_entry_level_change_shape_is_read_like_a_change() {
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1726106088, "field": "comments", "value": {"id": "18058455121735594", "text": "LINK", "from": {"id": "2706325442860345", "username": "ana"}}}]}"#;
    let n = parsed(body);
    assert_eq!(n.comments.len(), 1, "{n:?}");
    assert_eq!(n.comments[0].comment_id.as_str(), "18058455121735594");
    // The same entry with an unusable value is counted, not lost without a trace.
    let odd = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": "x", "field": "comments", "value": {"id": {"nested": 1}}}]}"#;
    let n = parsed(odd);
    assert!(n.comments.is_empty());
    assert_eq!(n.rejected.len(), 1, "{n:?}");
    assert_eq!(n.rejected[0].reason, RejectReason::InvalidValue);
}

#[test]
fn dashboard_test_deliveries_are_kept_a_day_under_keys_of_their_own_and_never_replied_to() {
    // The "Test" button's sample: entry id 0 and the fixed comment ID (docs/meta-platform.md).
    let body = br#"{"object": "instagram", "entry": [{"id": "0", "time": 1726106088, "changes": [{"field": "comments", "value": {"from": {"id": "232323232", "username": "test"}, "media": {"id": "123123123", "media_product_type": "FEED"}, "id": "17865799348089039", "parent_id": "1791233333333", "text": "This is an example."}}]}]}"#;
    let n = parsed(body);
    assert_eq!(n.comments.len(), 1);
    assert!(n.comments[0].is_dashboard_test());
    let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let first = n.comments[0].clone().into_record(at, Duration::days(30));
    let second = n.comments[0]
        .clone()
        .into_record(at + Duration::milliseconds(1500), Duration::days(30));
    assert_eq!(first.status, CommentStatus::Skipped);
    assert_eq!(first.status_reason.as_deref(), Some("dashboard_test"));
    assert_ne!(first.comment_id, second.comment_id, "each test is kept");
    assert!(first.comment_id.as_str().starts_with("dashboard-test#"));
    assert!(first.comment_id.as_str().ends_with("#17865799348089039"));
    assert_eq!(first.expires_at, (at + Duration::days(1)).timestamp());
    // The older sample (comment 123456789) under a real account is a test too; a real comment is not.
    let mut older = n.comments[0].clone();
    older.account_id = AccountId::new("17841401906857599").unwrap();
    older.comment_id = CommentId::new("123456789").unwrap();
    assert!(older.is_dashboard_test());
    older.comment_id = CommentId::new("18058455121735594").unwrap();
    assert!(!older.is_dashboard_test());
    assert_eq!(
        older.into_record(at, Duration::days(30)).status,
        CommentStatus::Pending
    );
}

#[test]
fn an_entry_level_field_that_is_not_a_string_costs_only_that_change() {
    // Found by tests/fuzz_notifications: the whole entry was rejected, and its `changes[]` comments with it.
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1726106088, "changes": [{"field": "comments", "value": {"id": "18000000000000001", "text": "LINK"}}, {"field": "live_comments", "value": {"id": "18000000000000002"}}], "field": 5, "value": {"id": "18000000000000003"}}]}"#;
    let n = parsed(body);
    let ids: Vec<_> = n.comments.iter().map(|c| c.comment_id.as_str()).collect();
    assert_eq!(ids, ["18000000000000001", "18000000000000002"], "{n:?}");
    let reasons: Vec<_> = n
        .rejected
        .iter()
        .map(|r| (r.entry_index, r.change_index, r.reason))
        .collect();
    assert_eq!(reasons, [(0, Some(2), RejectReason::InvalidChange)]);
    // A string `field` and a `null` one still read as before.
    let null_field = br#"{"object": "instagram", "entry": [{"id": "1", "time": "x", "field": null, "value": {"id": "7"}}]}"#;
    assert_eq!(parsed(null_field).ignored.get("(none)"), Some(&1));
}

#[test]
fn a_bare_change_whose_field_is_not_a_string_does_not_cost_the_entries() {
    // Found by tests/fuzz_notifications: the whole body was refused (a 400, redelivered for 36 hours).
    let body = br#"{"object": "instagram", "field": {"odd": true}, "value": {"id": "17865799348089039"}, "entry": [{"id": "17841401906857599", "time": 1726106088, "changes": [{"field": "comments", "value": {"id": "18000000000000001", "text": "LINK"}}]}]}"#;
    let n = parsed(body);
    let ids: Vec<_> = n.comments.iter().map(|c| c.comment_id.as_str()).collect();
    assert_eq!(ids, ["18000000000000001"], "{n:?}");
    // The bare change is still reported as having no account.
    let reasons: Vec<_> = n
        .rejected
        .iter()
        .map(|r| (r.change_index, r.reason))
        .collect();
    assert_eq!(reasons, [(None, RejectReason::MissingAccountId)]);
}

/// A `messages` entry exactly as PLATFORM.md section 8 describes it (times in milliseconds).
const PERSON_ANSWERS: &[u8] = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1764093002500, "messaging": [{"sender": {"id": "2706325442860345"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002123, "message": {"mid": "aWdfZAG1faWdfaXRlbTox", "text": "LINK please \u00e4"}}]}]}"#;

#[test]
fn a_persons_answer_is_read_field_by_field() {
    let n = parsed(PERSON_ANSWERS);
    assert!(n.rejected.is_empty() && n.ignored.is_empty() && n.comments.is_empty());
    assert_eq!(n.messages.len(), 1);
    let m = &n.messages[0];
    assert_eq!(m.message_id, "aWdfZAG1faWdfaXRlbTox");
    assert_eq!(m.account_id.as_str(), "17841401906857599");
    assert_eq!(m.sender_id.as_str(), "2706325442860345");
    assert_eq!(
        m.recipient_id.as_ref().map(|r| r.as_str()),
        Some("17841401906857599")
    );
    assert_eq!(m.kind, MessageKind::Message);
    assert_eq!(m.text.as_deref(), Some("LINK please ä"));
    assert_eq!(
        m.sent_at.map(|t| t.timestamp_millis()),
        Some(1_764_093_002_123)
    );
    assert!(!m.is_echo() && !m.has_attachments);
    assert_eq!(
        (
            &m.quick_reply_payload,
            &m.postback_payload,
            &m.reply_to_story_id
        ),
        (&None, &None, &None)
    );
}

#[test]
fn quick_replies_story_replies_attachments_and_replies_to_a_message_are_read() {
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1764093002500, "messaging": [
        {"sender": {"id": "27001"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002000, "message": {"mid": "m-1", "text": "Yes", "quick_reply": {"payload": "YES_PLEASE"}, "reply_to": {"mid": "m-0"}}},
        {"sender": {"id": "27002"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002001, "message": {"mid": "m-2", "text": "wow", "reply_to": {"story": {"id": "17900000000000001", "url": "https://lookaside.example/story"}}}},
        {"sender": {"id": "27003"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002002, "message": {"mid": "m-3", "attachments": [{"type": "image", "payload": {"url": "https://lookaside.example/a.jpg"}}]}},
        {"sender": {"id": "27004"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002003, "message": {"mid": "m-4", "text": "none", "attachments": []}}
    ]}]}"#;
    let n = parsed(body);
    assert!(n.rejected.is_empty(), "{:?}", n.rejected);
    let [quick, story, image, empty] = n.messages.as_slice() else {
        panic!("{:?}", n.messages)
    };
    assert_eq!(quick.quick_reply_payload.as_deref(), Some("YES_PLEASE"));
    assert_eq!(quick.reply_to_message_id.as_deref(), Some("m-0"));
    assert_eq!(
        story.reply_to_story_id.as_deref(),
        Some("17900000000000001")
    );
    assert_eq!(story.reply_to_message_id, None);
    assert!(image.has_attachments && image.text.is_none());
    assert!(!empty.has_attachments);
}

#[test]
fn a_button_tap_is_read_as_a_postback_with_its_title_and_payload() {
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1764093002500, "messaging": [{"sender": {"id": "2706325442860345"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002000, "postback": {"mid": "aWdfZAPB", "title": "Get the link", "payload": "GET_LINK"}}]}]}"#;
    let n = parsed(body);
    let m = &n.messages[0];
    assert_eq!(m.kind, MessageKind::Postback);
    assert_eq!(m.message_id, "aWdfZAPB");
    assert_eq!(m.postback_title.as_deref(), Some("Get the link"));
    assert_eq!(m.postback_payload.as_deref(), Some("GET_LINK"));
    assert_eq!(m.text, None);
}

#[test]
fn echoes_are_read_and_flagged_by_is_echo_or_by_their_sender() {
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1764093002500, "messaging": [
        {"sender": {"id": "17841401906857599"}, "recipient": {"id": "27001"}, "timestamp": 1764093002000, "message": {"mid": "e-1", "text": "Here is your LINK", "is_echo": true}},
        {"sender": {"id": "17841401906857599"}, "recipient": {"id": "27001"}, "timestamp": 1764093002001, "message": {"mid": "e-2", "text": "LINK"}},
        {"sender": {"id": "27001"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002002, "message": {"mid": "e-3", "text": "LINK", "is_echo": false}}
    ]}]}"#;
    let n = parsed(body);
    let echoes: Vec<_> = n.messages.iter().map(IncomingMessage::is_echo).collect();
    assert_eq!(echoes, [true, true, false]);
    assert!(n.messages[0].marked_echo && !n.messages[1].marked_echo);
}

#[test]
fn other_event_kinds_are_counted_by_kind_and_unusable_events_are_reported() {
    let body = br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1764093002500, "messaging": [
        {"sender": {"id": "27001"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002000, "read": {"mid": "m-0"}},
        {"sender": {"id": "27001"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002000, "reaction": {"mid": "m-0", "action": "react", "reaction": "love"}},
        {"sender": {"id": "27001"}, "recipient": {"id": "17841401906857599"}, "timestamp": 1764093002000, "reaction": {"mid": "m-1", "action": "unreact"}},
        {"sender": {"id": "27001"}, "timestamp": 1764093002000},
        {"recipient": {"id": "17841401906857599"}, "timestamp": 1764093002000, "message": {"mid": "no-sender", "text": "hi"}},
        {"sender": {"id": "27001"}, "timestamp": 1764093002000, "message": {"text": "no mid"}},
        {"sender": {"id": "27001"}, "timestamp": 1764093002000, "message": {"mid": "odd", "is_echo": "yes"}},
        "not an event",
        {"sender": {"id": "27002"}, "timestamp": "1764093002000", "message": {"mid": "kept", "text": "still read"}}
    ]}]}"#;
    let n = parsed(body);
    assert_eq!(n.ignored.get("messaging.read"), Some(&1));
    assert_eq!(n.ignored.get("messaging.reaction"), Some(&2));
    assert_eq!(n.ignored.get("messaging.(none)"), Some(&1));
    let reasons: Vec<_> = n
        .rejected
        .iter()
        .map(|r| (r.change_index, r.messaging_index, r.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (None, Some(4), RejectReason::MissingSenderId),
            (None, Some(5), RejectReason::MissingMessageId),
            (None, Some(6), RejectReason::InvalidEvent),
            (None, Some(7), RejectReason::InvalidEvent),
        ]
    );
    let ids: Vec<_> = n.messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["kept"]);
    // A timestamp sent as a string still reads as milliseconds.
    assert_eq!(
        n.messages[0].sent_at.map(|t| t.timestamp_millis()),
        Some(1_764_093_002_000)
    );
}

#[test]
fn a_message_without_an_account_or_a_timestamp_is_reported_or_timed_by_its_entry() {
    let no_account = br#"{"object": "instagram", "entry": [{"time": 1764093002500, "messaging": [{"sender": {"id": "27001"}, "message": {"mid": "m-1", "text": "hi"}}]}]}"#;
    let n = parsed(no_account);
    assert!(n.messages.is_empty());
    assert_eq!(n.rejected[0].reason, RejectReason::MissingAccountId);
    assert_eq!(n.rejected[0].messaging_index, Some(0));
    let untimed = br#"{"object": "instagram", "entry": [{"id": 17841401906857599, "time": 1764093002500, "messaging": [{"sender": {"id": 27001}, "message": {"mid": "m-1", "text": "hi"}}]}]}"#;
    let n = parsed(untimed);
    assert_eq!(n.messages[0].sender_id.as_str(), "27001");
    assert_eq!(
        n.messages[0].sent_at.map(|t| t.timestamp_millis()),
        Some(1_764_093_002_500)
    );
}

#[test]
fn message_records_are_pending_cut_to_size_and_kept_a_week_from_sending() {
    let mut m = parsed(PERSON_ANSWERS).messages.remove(0);
    m.text = Some("é".repeat(150));
    let received = DateTime::from_timestamp(1_764_093_010, 0).unwrap_or_default();
    let rec = m.clone().into_record(received);
    assert_eq!(rec.status, crate::message::MessageStatus::Pending);
    assert_eq!(
        rec.text.as_deref().map(str::len),
        Some(MAX_STORED_TEXT_BYTES)
    );
    assert_eq!(rec.sent_at.timestamp(), 1_764_093_002);
    assert_eq!(rec.received_at, received);
    assert_eq!(
        rec.expires_at,
        1_764_093_002 + crate::message::MESSAGE_RETENTION.num_seconds()
    );
    // A timestamp in the future (a skewed clock) is not believed beyond the receipt.
    let early = DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();
    assert_eq!(m.into_record(early).sent_at, early);
}

#[test]
fn comments_and_messages_in_one_body_read_the_same_on_both_paths() {
    let bodies: [&[u8]; 2] = [
        PERSON_ANSWERS,
        br#"{"object": "instagram", "entry": [{"id": "17841401906857599", "time": 1764093002500, "messaging": [{"sender": {"id": "27001"}, "timestamp": 1764093002000, "message": {"mid": "m-1", "text": "hi", "quick_reply": {"payload": "P"}, "attachments": [{"type": "image"}], "reply_to": {"story": {"id": "1"}}}}, {"sender": {"id": "27001"}, "timestamp": 1764093002000, "postback": {"mid": "m-2", "title": "T", "payload": "P"}}, {"sender": {"id": "27001"}, "reaction": {"mid": "m-1"}}], "changes": [{"field": "comments", "value": {"id": "18000000000000001", "text": "LINK"}}]}]}"#,
    ];
    for body in bodies {
        let fast = parsed(body);
        assert!(!fast.messages.is_empty());
        let granular = parse_granular(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fast, granular, "{}", String::from_utf8_lossy(body));
    }
}
