//! `send-comment`: notifications built byte-for-byte like Meta's (`reply_core::sample`), signed with the app
//! secret exactly as Meta signs them, POSTed to a webhook. The webhook stores `entry[].time` as the comment
//! time, so `--age` makes old comments (to exercise the 7-day window) without waiting.

use super::{http_client, transport_error};
use crate::cli::{MediaType, SendCommentArgs};
use crate::config;
use crate::failure::Failure;
use crate::output::{self, Output};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reply_core::sample::{SampleComment, notification_body};
use reply_core::signature::{SIGNATURE_HEADER, sign};
use reqwest::Url;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Instant;

/// Meta's webhook sender identifies itself with this user agent.
pub(crate) const META_USER_AGENT: &str = "facebookexternalua";

/// One POST: its comments (or its one message) and the signed body.
#[derive(Debug)]
pub(crate) struct Post {
    pub(crate) number: usize,
    /// Comment IDs, or the message's `mid`.
    pub(crate) ids: Vec<String>,
    pub(crate) body: Vec<u8>,
}

/// What one POST got back.
#[derive(Debug)]
pub(crate) struct PostResult {
    number: usize,
    repeat: bool,
    comments: usize,
    pub(crate) status: Option<u16>,
    pub(crate) elapsed_ms: u64,
    /// Why there was no HTTP answer.
    pub(crate) error: Option<String>,
    /// The start of the answer's body, for diagnosing non-2xx.
    pub(crate) body: String,
}

impl PostResult {
    pub(crate) fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn json(&self) -> Value {
        json!({
            "post": self.number,
            "repeat": self.repeat,
            "comments": self.comments,
            "status": self.status,
            "ok": self.ok(),
            "elapsed_ms": self.elapsed_ms,
            "error": self.error,
            "body": self.body,
        })
    }
}

pub async fn run(args: SendCommentArgs, out: &Output) -> Result<(), Failure> {
    let url = config::webhook_url(args.webhook.url.clone())?;
    let secret = config::app_secret(args.app_secret.clone(), &url)?;
    let sent_at = Utc::now()
        .checked_sub_signed(args.age)
        .ok_or_else(|| Failure::new("--age is too large"))?;
    let posts = Posts::new(&args, sent_at)?;
    let live = posts.live;
    let total_posts = posts.total_posts();
    let count = posts.count;

    let client = http_client(args.timeout, META_USER_AGENT)?;
    let copies = if args.duplicate { 2 } else { 1 };
    let progress = progress_bar(out, count * copies);
    let started = Instant::now();
    let mut results = Vec::with_capacity(total_posts * copies);
    let mut ids: Vec<String> = Vec::with_capacity(count);
    let concurrency = usize::try_from(args.concurrency).unwrap_or(4).max(1);
    // Posts are built as they are sent, so a large --count never sits in memory as bodies.
    let mut answers = futures::stream::iter(posts)
        .map(|post| send_twice_if(&client, &url, &secret, post, args.duplicate))
        .buffer_unordered(concurrency);
    while let Some((comment_ids, post_results)) = answers.next().await {
        ids.extend(comment_ids);
        for result in post_results {
            progress.inc(result.comments as u64);
            if !out.json() {
                let line = post_line(&result, total_posts);
                if progress.is_hidden() {
                    println!("{line}");
                } else {
                    progress.println(line);
                }
            }
            results.push(result);
        }
    }
    progress.finish_and_clear();
    results.sort_by_key(|r| (r.number, r.repeat));
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

    let failed: Vec<&PostResult> = results.iter().filter(|r| !r.ok()).collect();
    let field = if live { "live_comments" } else { "comments" };
    if out.json() {
        out.print_json(&json!({
            "url": url.as_str(),
            "field": field,
            "entry_time": sent_at.timestamp(),
            "sent": ids.len(),
            "posts": results.iter().map(PostResult::json).collect::<Vec<_>>(),
            "failed_posts": failed.len(),
            "ok": failed.is_empty(),
            "elapsed_ms": elapsed_ms,
            "comment_ids": ids,
        }));
    } else {
        print_summary(&url, field, &ids, results.len(), failed.len(), elapsed_ms);
    }
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(Failure::new(format!(
            "{} of {} POSTs were not accepted (first: {})",
            failed.len(),
            results.len(),
            outcome_text(first)
        ))
        .hint(hint_for(first, &url))),
    }
}

/// The POSTs to send, built one at a time: `count` comments with distinct IDs, spread over the accounts
/// round-robin, `batch` per POST.
#[derive(Debug)]
struct Posts {
    accounts: Vec<String>,
    comment_id: Option<String>,
    commenter: Option<String>,
    username: Option<String>,
    media_id: String,
    product: &'static str,
    live: bool,
    text: String,
    parent_id: Option<String>,
    ad_id: Option<String>,
    sent_at: DateTime<Utc>,
    count: usize,
    batch: usize,
    made: usize,
    next_number: usize,
    seen: HashSet<String>,
    rng: StdRng,
}

impl Posts {
    fn new(args: &SendCommentArgs, sent_at: DateTime<Utc>) -> Result<Self, Failure> {
        let count = usize::try_from(args.count).unwrap_or(1).max(1);
        if args.comment_id.is_some() && count > 1 {
            return Err(Failure::new(
                "--comment-id names one comment, but --count asks for several",
            )
            .hint("drop --comment-id to get random distinct IDs, or use --count 1"));
        }
        let accounts: Vec<String> = args
            .account
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if accounts.is_empty() {
            return Err(Failure::new("--account is empty")
                .hint("pass an Instagram professional account ID"));
        }
        let live = args.live || args.media_type == MediaType::Live;
        let mut rng = StdRng::from_rng(&mut rand::rng());
        let media_id = args
            .media_id
            .clone()
            .unwrap_or_else(|| format!("178{:014}", rng.random_range(0..100_000_000_000_000u64)));
        Ok(Self {
            accounts,
            comment_id: args.comment_id.clone(),
            commenter: args.commenter.clone(),
            username: args.username.clone(),
            media_id,
            product: if live {
                "LIVE"
            } else {
                args.media_type.product_type()
            },
            live,
            text: args.text.clone(),
            parent_id: args.parent_id.clone(),
            ad_id: args.ad_id.clone(),
            sent_at,
            count,
            batch: usize::try_from(args.batch_size).unwrap_or(100).max(1),
            made: 0,
            next_number: 1,
            seen: HashSet::new(),
            rng,
        })
    }

    fn total_posts(&self) -> usize {
        self.count.div_ceil(self.batch)
    }

    fn comment(&mut self, index: usize) -> SampleComment {
        let comment_id = match &self.comment_id {
            Some(id) => id.clone(),
            None => loop {
                let id = random_comment_id(&mut self.rng);
                if self.seen.insert(id.clone()) {
                    break id;
                }
            },
        };
        let commenter_id = self.commenter.clone().unwrap_or_else(|| {
            self.rng
                .random_range(1_000_000_000_000_000..10_000_000_000_000_000u64)
                .to_string()
        });
        let username = self.username.clone().unwrap_or_else(|| {
            let tail = &commenter_id[commenter_id.len().saturating_sub(6)..];
            format!("commenter_{tail}")
        });
        let mut c = SampleComment::new(
            &self.accounts[index % self.accounts.len()],
            &comment_id,
            &self.text,
        );
        c.commenter_id = commenter_id;
        c.commenter_username = username;
        c.media_id.clone_from(&self.media_id);
        c.media_product_type = self.product.to_owned();
        c.live = self.live;
        c.parent_id.clone_from(&self.parent_id);
        c.ad_id.clone_from(&self.ad_id);
        c
    }
}

impl Iterator for Posts {
    type Item = Post;

    fn next(&mut self) -> Option<Post> {
        if self.made >= self.count {
            return None;
        }
        let n = self.batch.min(self.count - self.made);
        let comments: Vec<SampleComment> = (self.made..self.made + n)
            .map(|i| self.comment(i))
            .collect();
        self.made += n;
        let number = self.next_number;
        self.next_number += 1;
        Some(Post {
            number,
            ids: comments.iter().map(|c| c.comment_id.clone()).collect(),
            body: notification_body(&comments, self.sent_at),
        })
    }
}

/// 17 or 18 digits starting with 17 or 18, like Instagram's comment IDs.
pub(crate) fn random_comment_id(rng: &mut impl rand::Rng) -> String {
    let prefix = if rng.random_bool(0.5) { "17" } else { "18" };
    if rng.random_bool(0.5) {
        format!(
            "{prefix}{:015}",
            rng.random_range(0..1_000_000_000_000_000u64)
        )
    } else {
        format!(
            "{prefix}{:016}",
            rng.random_range(0..10_000_000_000_000_000u64)
        )
    }
}

/// Sends the POST, and with `duplicate` the same bytes once more after the first answer.
async fn send_twice_if(
    client: &reqwest::Client,
    url: &Url,
    secret: &str,
    post: Post,
    duplicate: bool,
) -> (Vec<String>, Vec<PostResult>) {
    let mut results = vec![send(client, url, secret, &post, false).await];
    if duplicate {
        results.push(send(client, url, secret, &post, true).await);
    }
    (post.ids, results)
}

pub(crate) async fn send(
    client: &reqwest::Client,
    url: &Url,
    secret: &str,
    post: &Post,
    repeat: bool,
) -> PostResult {
    let started = Instant::now();
    let response = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sign(secret, &post.body))
        .body(post.body.clone())
        .send()
        .await;
    let (status, error, body) = match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (Some(status), None, text.chars().take(200).collect())
        }
        Err(e) => (None, Some(transport_error(&e).to_owned()), String::new()),
    };
    PostResult {
        number: post.number,
        repeat,
        comments: post.ids.len(),
        status,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error,
        body,
    }
}

fn progress_bar(out: &Output, total: usize) -> ProgressBar {
    if !out.interactive() || total <= 1 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:32.cyan/blue} {pos}/{len} comments ({percent}%)  {elapsed_precise}, eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

pub(crate) fn outcome_text(r: &PostResult) -> String {
    match (r.status, &r.error) {
        (Some(s), _) => {
            let reason = reqwest::StatusCode::from_u16(s)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("");
            format!("{s} {reason}").trim_end().to_owned()
        }
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".to_owned(),
    }
}

fn post_line(r: &PostResult, of: usize) -> String {
    let outcome = outcome_text(r);
    let outcome = if r.ok() {
        output::good(&outcome)
    } else {
        output::bad(&outcome)
    };
    let again = if r.repeat { " (repeat)" } else { "" };
    let noun = if r.comments == 1 {
        "comment"
    } else {
        "comments"
    };
    format!(
        "POST {}/{of}{again}  {} {noun}  {outcome}  {}",
        r.number,
        r.comments,
        output::dim(&format!("{} ms", r.elapsed_ms))
    )
}

fn print_summary(
    url: &Url,
    field: &str,
    ids: &[String],
    posts: usize,
    failed: usize,
    elapsed_ms: u64,
) {
    let noun = if ids.len() == 1 {
        "comment"
    } else {
        "comments"
    };
    let post_noun = if posts == 1 { "POST" } else { "POSTs" };
    let verdict = if failed == 0 {
        output::good("all accepted")
    } else {
        output::bad(&format!("{failed} not accepted"))
    };
    println!(
        "Sent {} {noun} ({field}) to {url} in {posts} {post_noun}: {verdict} ({elapsed_ms} ms)",
        ids.len()
    );
    const SHOWN: usize = 10;
    if ids.len() == 1 {
        println!("Comment ID: {}", ids[0]);
    } else if ids.len() <= SHOWN {
        println!("Comment IDs: {}", ids.join(", "));
    } else {
        println!(
            "Comment IDs: {}, ... and {} more (--json lists them all)",
            ids[..5].join(", "),
            ids.len() - 5
        );
    }
}

/// What to check for a POST that was not accepted.
pub(crate) fn hint_for(r: &PostResult, url: &Url) -> String {
    match r.status {
        None if r.error.as_deref() == Some("timed out") => format!(
            "the webhook did not answer within --timeout; Meta waits only 5 s. Check the webhook's logs and that {url} is right"
        ),
        None => config::unreachable_hint(url),
        Some(401) => "401: the signature was refused, so APP_SECRET here differs from the webhook's APP_SECRET \
            (deployed: the APP_SECRET key of the secret named by SECRET_ARN; local stack: local-app-secret)"
            .to_owned(),
        Some(404) => format!("404: nothing is served at {url}; the webhook's path ends with /webhook"),
        Some(413) => "413: the POST is larger than the webhook's MAX_BODY_BYTES; use a smaller --batch-size".to_owned(),
        Some(400) => format!("400: the webhook could not read the body ({}); is this the product's webhook?", r.body),
        Some(s) if s >= 500 => format!(
            "{s}: the webhook could not store the comments or messages, so the store is failing: check that the \
             tables exist (TABLE_NAME and MESSAGES_TABLE_NAME on the webhook), DynamoDB is reachable, and the \
             webhook's logs"
        ),
        Some(s) => format!("{s}: unexpected answer ({}); check the URL", r.body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_comment_ids_look_like_instagrams() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let id = random_comment_id(&mut rng);
            assert!(id.len() == 17 || id.len() == 18, "{id}");
            assert!(id.starts_with("17") || id.starts_with("18"), "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        }
    }

    fn send_args(extra: &[&str]) -> SendCommentArgs {
        use clap::Parser as _;
        let argv = ["replyctl", "send-comment"].iter().chain(extra).copied();
        match crate::cli::Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(crate::cli::Command::SendComment(args)) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn posts_are_batched_and_spread_over_the_accounts_round_robin() {
        let args = send_args(&[
            "--count",
            "5",
            "--batch-size",
            "2",
            "--account",
            "111,222",
            "--live",
        ]);
        let posts: Vec<Post> = Posts::new(&args, Utc::now())
            .map(Iterator::collect)
            .unwrap_or_default();
        assert_eq!(
            posts.iter().map(|p| p.ids.len()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let ids: HashSet<&String> = posts.iter().flat_map(|p| &p.ids).collect();
        assert_eq!(ids.len(), 5);
        let body: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap_or_default();
        assert_eq!(body["entry"][0]["id"], "111");
        assert_eq!(body["entry"][1]["id"], "222");
        assert_eq!(body["entry"][0]["changes"][0]["field"], "live_comments");
        assert_eq!(
            body["entry"][0]["changes"][0]["value"]["media"]["media_product_type"],
            "LIVE"
        );
    }

    #[test]
    fn a_fixed_comment_id_with_a_count_is_refused() {
        let args = send_args(&["--count", "2", "--comment-id", "17900000000000001"]);
        assert!(Posts::new(&args, Utc::now()).is_err());
    }

    #[test]
    fn a_401_says_the_app_secrets_differ() {
        let r = PostResult {
            number: 1,
            repeat: false,
            comments: 1,
            status: Some(401),
            elapsed_ms: 1,
            error: None,
            body: String::new(),
        };
        let url = Url::parse("http://127.0.0.1:3000/webhook").unwrap_or_else(|e| panic!("{e}"));
        assert!(hint_for(&r, &url).contains("APP_SECRET"));
        assert_eq!(outcome_text(&r), "401 Unauthorized");
    }
}
