//! Fuzzes the notification parser on the stable toolchain (issue 10): real-shaped Meta payloads from a seeded
//! PRNG, mutated as JSON values and as bytes.
//!
//! Checked on every input: `parse` does not panic (nor do the record builders downstream of it). Valid
//! payloads read exactly: their comments, their messages (echoes flagged) and what is ignored. Checked on
//! payloads where one field of one comment change was made malformed: every other comment is still returned
//! with its ID, and the malformed one is returned, rejected at its index or counted as ignored, never lost
//! without a trace (PLATFORM.md section 4: never fail a whole POST because of one unusable change).
//!
//! `FUZZ_INPUTS=<n>` sets the number of inputs (default 100,000), `FUZZ_SEED=<u64>` the seed (default fixed,
//! so CI is repeatable), `FUZZ_INDEX=<i>` replays input `i` alone and prints its body. Each input has a PRNG
//! of its own, seeded from (seed, index), so a failure names both and replays without the inputs before it.
#![allow(clippy::unwrap_used)]

mod generate;
mod mutate;

use generate::{Expected, Payload};
use mutate::{Raws, Syntax};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reply_core::comment::CommentSource;
use reply_core::notification::{
    IncomingComment, Notification, RejectReason, RejectedChange, parse,
};
use reply_core::sample::to_meta_json;
use serde_json::Value;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const DEFAULT_SEED: u64 = 0x1f5e_ed10_2026_0010;
const DEFAULT_INPUTS: u64 = 100_000;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    inputs: u64,
    parsed_ok: u64,
    /// Bodies `parse` refused as a whole (not a JSON object).
    refused: u64,
    /// Changes the parser reported as unusable, over all inputs.
    rejected_changes: u64,
    comments: u64,
    messages: u64,
    /// Unmutated payloads compared comment by comment with what was generated.
    exact_checks: u64,
    sibling_checks: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.inputs += o.inputs;
        self.parsed_ok += o.parsed_ok;
        self.refused += o.refused;
        self.messages += o.messages;
        self.rejected_changes += o.rejected_changes;
        self.comments += o.comments;
        self.exact_checks += o.exact_checks;
        self.sibling_checks += o.sibling_checks;
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The payload as generated: parsed exactly.
    Valid,
    /// One field of one comment change made malformed (still valid JSON): siblings survive.
    Sibling,
    /// Any number of mutations anywhere, syntax breakage included: no panic.
    Chaos,
    /// Byte damage to a (valid or chaotic) body: no panic.
    Bytes,
}

/// One generated input and what is known about it.
struct Input {
    mode: Mode,
    body: Vec<u8>,
    payload: Payload,
    /// For `Mode::Sibling`: the change made malformed and how.
    target: Option<(Target, String)>,
}

/// The change made malformed in `Mode::Sibling`.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `payload.comments[i]`.
    Comment(usize),
    /// The bare envelope-level change.
    Bare,
}

fn env_u64(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    let raw = raw.trim().replace('_', "");
    let parsed = match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => raw.parse().ok(),
    };
    Some(parsed.unwrap_or_else(|| panic!("{name}={raw} is not a u64")))
}

/// splitmix64: spreads (seed, index) over the seed space so neighbouring inputs are unrelated.
fn input_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn serialize(rng: &mut SmallRng, v: &Value) -> Vec<u8> {
    // Half as Meta sends it (", " separators, non-ASCII escaped), half compact with raw UTF-8.
    if rng.random_bool(0.5) {
        to_meta_json(v)
    } else {
        serde_json::to_vec(v).unwrap()
    }
}

fn make_input(seed: u64, index: u64) -> Input {
    // SmallRng: cheap in debug builds; its stream is fixed for a given rand version and platform, which is
    // all a replay needs.
    let mut rng = SmallRng::seed_from_u64(input_seed(seed, index));
    let mode = match rng.random_range(0..20) {
        0..2 => Mode::Valid,
        2..11 => Mode::Sibling,
        11..16 => Mode::Chaos,
        _ => Mode::Bytes,
    };
    let min_comments = if matches!(mode, Mode::Sibling) { 2 } else { 0 };
    let mut payload = generate::payload(&mut rng, min_comments);
    let mut raws = Raws::default();
    let mut target = None;
    match mode {
        Mode::Valid => {}
        Mode::Sibling => {
            let (t, base, whole) = if payload.bare && rng.random_bool(0.5) {
                (Target::Bare, String::new(), false)
            } else {
                let i = rng.random_range(0..payload.comments.len());
                let loc = payload.comments[i].loc;
                (Target::Comment(i), loc.pointer(), !loc.entry_level)
            };
            let what = malform_one(&mut rng, &mut raws, &mut payload.body, &base, whole);
            target = Some((t, what));
        }
        Mode::Chaos => mutate::chaos(&mut rng, &mut raws, &mut payload.body),
        Mode::Bytes => {
            if rng.random_bool(0.3) {
                mutate::chaos(&mut rng, &mut raws, &mut payload.body);
            }
        }
    }
    let mut body = raws.splice(serialize(&mut rng, &payload.body));
    if matches!(mode, Mode::Bytes) {
        mutate::bytes(&mut rng, &mut body);
    }
    Input {
        mode,
        body,
        payload,
        target,
    }
}

/// Makes one field of the change at `base` (a JSON pointer) malformed, keeping the body valid JSON; `whole`
/// when the change may be replaced as a whole (it is an element of `changes[]`). Returns what was done.
fn malform_one(
    rng: &mut SmallRng,
    raws: &mut Raws,
    body: &mut Value,
    base: &str,
    whole: bool,
) -> String {
    let level = rng.random_range(0..10);
    if level == 0 && whole {
        // The whole change: another type, or its object with a repeated key.
        let change = body.pointer_mut(base).unwrap();
        let what = match change {
            Value::Object(o) if rng.random_bool(0.5) => {
                *change = mutate::with_duplicate_key(rng, raws, &o.clone());
                "duplicate_key"
            }
            _ => {
                *change = mutate::junk(rng, raws, Syntax::Valid, 0);
                "junk"
            }
        };
        return format!("{base}: {what}");
    }
    let (parent, keys): (String, &[&str]) = match level {
        0..3 => (base.to_owned(), &["field", "value"]),
        3..7 => (
            format!("{base}/value"),
            &[
                "id",
                "comment_id",
                "text",
                "from",
                "media",
                "parent_id",
                "new",
            ],
        ),
        7..9 => (
            format!("{base}/value/from"),
            &["id", "username", "self_ig_scoped_id"],
        ),
        _ => (
            format!("{base}/value/media"),
            &[
                "id",
                "media_product_type",
                "ad_id",
                "ad_title",
                "original_media_id",
            ],
        ),
    };
    // A comment without `from` or `media` has that field itself changed instead.
    let (parent, key) = match body.pointer(&parent) {
        Some(Value::Object(_)) => (parent, keys[rng.random_range(0..keys.len())]),
        _ => {
            let (up, key) = parent.rsplit_once('/').unwrap();
            (up.to_owned(), key)
        }
    };
    let Some(Value::Object(m)) = body.pointer_mut(&parent) else {
        unreachable!("{parent} is an object")
    };
    let what = mutate::mutate_slot(rng, raws, m, key, Syntax::Valid);
    format!("{parent}/{key}: {what}")
}

fn same_comment(got: &IncomingComment, want: &Expected) -> bool {
    let source = if want.live {
        CommentSource::LiveComment
    } else {
        CommentSource::Comment
    };
    got.comment_id.as_str() == want.comment_id
        && got.account_id.as_str() == want.account_id
        && got.source == source
}

/// The report of the bare envelope-level change: no entry, so no account to reply from.
fn is_bare_reject(r: &RejectedChange) -> bool {
    r.change_index.is_none()
        && r.messaging_index.is_none()
        && r.reason == RejectReason::MissingAccountId
}

fn exactly(n: &Notification, p: &Payload) -> Result<(), String> {
    let bare_ok = match n.rejected.as_slice() {
        [] => !p.bare,
        [r] => p.bare && is_bare_reject(r),
        _ => false,
    };
    if !bare_ok || n.foreign_object.is_some() {
        return Err(format!("a valid payload had rejects: {:?}", n.rejected));
    }
    if n.ignored_count() != p.ignored {
        return Err(format!(
            "ignored {:?}, expected {} in all",
            n.ignored, p.ignored
        ));
    }
    let echoes = n.messages.iter().filter(|m| m.is_echo()).count();
    if (n.messages.len(), echoes) != (p.messages, p.echoes) {
        return Err(format!(
            "{} messages ({echoes} echoes) read, {} ({} echoes) generated",
            n.messages.len(),
            p.messages,
            p.echoes
        ));
    }
    if n.comments.len() != p.comments.len() {
        return Err(format!(
            "{} comments read, {} generated",
            n.comments.len(),
            p.comments.len()
        ));
    }
    for (got, want) in n.comments.iter().zip(&p.comments) {
        let fields_match = same_comment(got, want)
            && got.text == want.text
            && got.parent_id.as_ref().map(|p| p.as_str()) == want.parent_id.as_deref()
            && got.commenter_id.as_ref().map(|u| u.as_str()) == want.commenter_id.as_deref()
            && got.media_id.as_ref().map(|m| m.as_str()) == want.media_id.as_deref()
            && got.ad_id == want.ad_id;
        if !fields_match {
            return Err(format!("read {got:?}, generated {want:?}"));
        }
    }
    Ok(())
}

/// The sibling property for a payload whose change `target` was malformed.
fn siblings_survive(n: &Notification, p: &Payload, target: Target) -> Result<(), String> {
    let mut left: Vec<&IncomingComment> = n.comments.iter().collect();
    for (i, sibling) in p.comments.iter().enumerate() {
        if matches!(target, Target::Comment(t) if t == i) {
            continue;
        }
        match left.iter().position(|c| same_comment(c, sibling)) {
            Some(at) => {
                left.remove(at);
            }
            None => {
                return Err(format!(
                    "sibling {} at {:?} was lost; rejected: {:?}",
                    sibling.comment_id, sibling.loc, n.rejected
                ));
            }
        }
    }
    // What is left can only be the malformed comment, read after all.
    let read = match (left.len(), target) {
        (0, _) => false,
        (1, Target::Comment(_)) => true,
        _ => return Err(format!("more comments than changes: {left:?}")),
    };
    let at_target = |r: &RejectedChange| match target {
        Target::Comment(t) => {
            let loc = p.comments[t].loc;
            r.entry_index == loc.entry && r.change_index == Some(loc.change)
        }
        Target::Bare => false,
    };
    if let Some(other) = n
        .rejected
        .iter()
        .find(|r| !(at_target(r) || (p.bare && is_bare_reject(r))))
    {
        return Err(format!(
            "a change other than the malformed one was rejected: {other:?}"
        ));
    }
    // The bare change is reported whatever its field and value hold (it has no account).
    if p.bare && !n.rejected.iter().any(is_bare_reject) {
        return Err(format!(
            "the bare change was not reported: {:?}",
            n.rejected
        ));
    }
    let ignored_more = n.ignored_count().checked_sub(p.ignored);
    if !matches!(ignored_more, Some(0 | 1)) {
        return Err(format!("ignored {:?}, expected {}", n.ignored, p.ignored));
    }
    let accounted = match target {
        Target::Comment(_) => read || n.rejected.iter().any(at_target) || ignored_more == Some(1),
        Target::Bare => true,
    };
    if !accounted {
        return Err(format!(
            "the malformed change {target:?} vanished: not read, not rejected, not counted"
        ));
    }
    Ok(())
}

/// Runs input `index`; `Err` names what failed.
fn run_one(seed: u64, index: u64, counts: &mut Counts) -> Result<(), String> {
    let input = make_input(seed, index);
    counts.inputs += 1;
    let parsed = catch_unwind(AssertUnwindSafe(|| parse(&input.body)))
        .map_err(|_| "parse panicked".to_owned())?;
    let n = match parsed {
        Ok(n) => n,
        // Broken syntax may be refused as a whole; that is the parser's contract.
        Err(_) if matches!(input.mode, Mode::Chaos | Mode::Bytes) => {
            counts.refused += 1;
            return Ok(());
        }
        Err(e) => return Err(format!("a valid-JSON body was refused: {e}")),
    };
    counts.parsed_ok += 1;
    counts.rejected_changes += n.rejected.len() as u64;
    counts.comments += n.comments.len() as u64;
    counts.messages += n.messages.len() as u64;
    // What the webhook does next with each comment must not panic either.
    let received = chrono::DateTime::from_timestamp(1_764_093_100, 0).unwrap();
    catch_unwind(AssertUnwindSafe(|| {
        for c in &n.comments {
            let _ = (c.is_dashboard_test(), c.is_own_comment());
            let _ = c.clone().into_record(received, chrono::Duration::days(30));
        }
        for m in &n.messages {
            let _ = (m.is_echo(), m.clone().into_record(received));
        }
    }))
    .map_err(|_| "into_record panicked".to_owned())?;
    match (input.mode, &input.target) {
        (Mode::Valid, _) => {
            counts.exact_checks += 1;
            exactly(&n, &input.payload)
        }
        (Mode::Sibling, Some((t, what))) => {
            counts.sibling_checks += 1;
            let result = siblings_survive(&n, &input.payload, *t).and_then(|()| {
                // Spelling a string with escapes changes nothing: the payload reads exactly as generated.
                if what.ends_with(": escaped") {
                    exactly(&n, &input.payload)
                } else {
                    Ok(())
                }
            });
            result.map_err(|e| format!("{e} (mutation {what})"))
        }
        _ => Ok(()),
    }
}

fn show(body: &[u8]) -> String {
    const MAX: usize = 4_000;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}... ({} bytes in all)", body.len())
    } else {
        text
    }
}

#[test]
fn the_parser_survives_mutated_notifications_and_keeps_valid_siblings() {
    let seed = env_u64("FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let out = std::io::stdout();
    if let Some(index) = env_u64("FUZZ_INDEX") {
        let input = make_input(seed, index);
        writeln!(
            out.lock(),
            "input {index} ({:?}): {}",
            input.mode,
            show(&input.body)
        )
        .unwrap();
        let result = run_one(seed, index, &mut Counts::default());
        assert!(result.is_ok(), "{}", result.unwrap_err());
        return;
    }
    let inputs = env_u64("FUZZ_INPUTS").unwrap_or(DEFAULT_INPUTS);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get() as u64)
        .min(inputs.max(1));
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let results: Vec<(Counts, Option<(u64, String)>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let stop = &stop;
                s.spawn(move || {
                    let mut counts = Counts::default();
                    let mut index = t;
                    while index < inputs && !stop.load(Ordering::Relaxed) {
                        if let Err(e) = run_one(seed, index, &mut counts) {
                            stop.store(true, Ordering::Relaxed);
                            return (counts, Some((index, e)));
                        }
                        index += threads;
                    }
                    (counts, None)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut total = Counts::default();
    for (c, _) in &results {
        total.add(c);
    }
    let seconds = started.elapsed().as_secs_f64();
    writeln!(
        out.lock(),
        "fuzz_notifications: seed={seed} inputs={} parsed_ok={} refused={} rejected_changes={} comments={} messages={} \
         exact_checks={} sibling_checks={} threads={threads} seconds={seconds:.1}",
        total.inputs,
        total.parsed_ok,
        total.refused,
        total.rejected_changes,
        total.comments,
        total.messages,
        total.exact_checks,
        total.sibling_checks,
    )
    .unwrap();
    // The first failing input (each thread stops at its first).
    let failure = results
        .iter()
        .filter_map(|(_, f)| f.as_ref())
        .min_by_key(|(index, _)| *index);
    if let Some((index, e)) = failure {
        let body = make_input(seed, *index).body;
        panic!(
            "input {index} failed: {e}\nreplay: FUZZ_SEED={seed} FUZZ_INDEX={index} cargo test -p reply-core \
             --test fuzz_notifications\nbody: {}",
            show(&body)
        );
    }
}
