//! Verify + parse cost for a one-comment POST and a 1000-change POST (targets: < 10 us and < 2 ms), and for
//! a POST of 1000 messaging events (the same budget as 1000 changes).

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reply_core::notification;
use reply_core::sample::{SampleComment, SampleMessage, messaging_body, notification_body};
use reply_core::signature::{AppSecrets, sign};
use std::hint::black_box;

fn batch(n: usize) -> Vec<u8> {
    let comments: Vec<_> = (0..n)
        .map(|i| {
            SampleComment::new(
                &format!("178414{:011}", i % 10),
                &format!("180{i:014}"),
                "LINK please ✨",
            )
        })
        .collect();
    notification_body(&comments, Utc::now())
}

fn messages(n: usize) -> Vec<u8> {
    let messages: Vec<_> = (0..n)
        .map(|i| {
            let mut m = SampleMessage::new(
                &format!("178414{:011}", i % 10),
                &format!("27{i:015}"),
                &format!("aWdfZAG1faWdfaXRlbTox{i:012}"),
                "yes please ✨",
            );
            m.echo = i % 4 == 0;
            m
        })
        .collect();
    messaging_body(&messages, Utc::now())
}

fn bench(c: &mut Criterion) {
    let secrets = AppSecrets::from_comma_separated("bench-app-secret").expect("secret");
    let mut group = c.benchmark_group("verify_parse");
    for (name, n) in [("one_comment", 1usize), ("batch_1000", 1000)] {
        let body = batch(n);
        let header = sign("bench-app-secret", &body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                secrets
                    .verify(Some(black_box(header.as_bytes())), black_box(&body))
                    .expect("valid");
                let parsed = notification::parse(black_box(&body)).expect("parses");
                assert_eq!(parsed.comments.len(), n);
                parsed
            })
        });
        // The two halves separately, to see where the time goes.
        group.bench_function(format!("{name}/verify_only"), |b| {
            b.iter(|| secrets.verify(Some(black_box(header.as_bytes())), black_box(&body)))
        });
        group.bench_function(format!("{name}/parse_only"), |b| {
            b.iter(|| notification::parse(black_box(&body)).expect("parses"))
        });
    }
    let body = messages(1000);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("messages_1000/parse_only", |b| {
        b.iter(|| {
            let parsed = notification::parse(black_box(&body)).expect("parses");
            assert_eq!(parsed.messages.len(), 1000);
            parsed
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
