//! Choosing the campaign for one comment among 100 campaigns of its account (target: under 20 us). The
//! worst case is measured: a comment that no campaign matches, so every campaign's media, dates, exclusions
//! and keywords are tried; and a comment matched by the last campaign tried.

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use reply_core::campaign::{AccountCampaigns, Campaign, Format, Subject};
use std::hint::black_box;

fn campaigns(n: usize) -> AccountCampaigns {
    let list = (0..n)
        .map(|i| {
            let media = if i % 3 == 0 {
                format!("media: ['1786866055512{i:04}', '1786866055513{i:04}']\n")
            } else {
                String::new()
            };
            let file = format!(
                "id: campaign-{i:03}\naccount: '17841400000000001'\n{media}match: word\n\
                 keywords: ['link {i}', 'how much {i}', 'price{i}', 'info {i} please', '🔥{i}']\n\
                 exclude: ['stop', 'unsubscribe']\npriority: {}\n\
                 reply: ['Hi {{username|there}}! Here is link {i}: https://example.com/{i}', 'Hey {{username}}: https://example.com/{i}']\n",
                i % 7
            );
            Campaign::from_file(&file, Format::Yaml).expect("campaign")
        })
        .collect();
    AccountCampaigns::new(list)
}

fn bench(c: &mut Criterion) {
    let book = campaigns(100);
    let time = Utc
        .with_ymd_and_hms(2026, 12, 10, 0, 0, 0)
        .single()
        .expect("time");
    let subject = |text: &'static str| Subject {
        comment_id: "18058455121735594",
        media_ids: [Some("17868660555124283"), None],
        media_type: Some("REELS"),
        time,
        text,
        username: Some("rachitsaini670"),
        public_reply_allowed: true,
    };
    let mut group = c.benchmark_group("campaign_match_100");
    let miss =
        subject("Wow, this looks AMAZING!!! Where can I buy it? Do you ship to Canada? 😍😍");
    assert!(book.choose(&miss).is_none());
    group.bench_function("no_match", |b| b.iter(|| book.choose(black_box(&miss))));
    let last = book
        .campaigns()
        .last()
        .map(|c| c.campaign_id.clone())
        .expect("last");
    let number: &'static str = Box::leak(
        format!(
            "Could you send the LÍNK {}?",
            last.trim_start_matches("campaign-").trim_start_matches('0')
        )
        .into_boxed_str(),
    );
    let hit = subject(number);
    assert_eq!(
        book.choose(&hit).map(|c| c.campaign.campaign_id.clone()),
        Some(last)
    );
    group.bench_function("last_matches", |b| b.iter(|| book.choose(black_box(&hit))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
