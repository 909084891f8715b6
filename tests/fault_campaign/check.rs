//! The promises, checked against what really happened (the table, and the simulator's log of every request
//! and delivered reply), and the one-screen summary.

use crate::kills::{ALL_POINTS, KillPoint};
use crate::plan::{GraphFault, Plan};
use aws_sdk_dynamodb::types::AttributeValue;
use graph_sim::Simulator;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write as _;
use std::time::{Duration, Instant};
use testkit::faults::DynamoFault;

pub type Item = HashMap<String, AttributeValue>;

const FINAL: [&str; 4] = ["REPLIED", "FAILED", "EXPIRED", "SKIPPED"];
/// A public reply still on its way (the comment is not settled until it is posted or given up).
const PUBLIC_IN_PROGRESS: [&str; 3] = ["QUEUED", "POSTING", "RETRY"];

/// Where the item stands: its status, or its public reply's while that is in progress.
fn standing(item: &Item) -> &str {
    let public = s(item, "public_reply_status");
    if PUBLIC_IN_PROGRESS.contains(&public) {
        return public;
    }
    s(item, "status")
}

fn s<'a>(item: &'a Item, key: &str) -> &'a str {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

fn b(item: &Item, key: &str) -> Option<bool> {
    item.get(key).and_then(|v| v.as_bool().ok()).copied()
}

/// Waits until `expected` items are final, or `timeout`; returns how long it waited.
pub async fn wait_until_settled(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    expected: usize,
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let mut reported = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(items) = testkit::table::scan_all(client, table).await {
            let waiting: BTreeMap<&str, usize> = items
                .iter()
                .map(standing)
                .filter(|status| !FINAL.contains(status))
                .fold(BTreeMap::new(), |mut counts, status| {
                    *counts.entry(status).or_default() += 1;
                    counts
                });
            let done = items.len() - waiting.values().sum::<usize>();
            if done >= expected {
                break;
            }
            if reported.elapsed() >= Duration::from_secs(15) {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "  settling for {:.0} s: {done} of {expected} final, waiting {waiting:?}",
                    started.elapsed().as_secs_f64()
                );
                reported = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    started.elapsed()
}

#[derive(Debug, Clone, Copy)]
pub struct Posts {
    pub posts: usize,
    pub redelivered: u64,
}

#[derive(Debug)]
pub struct Injected {
    pub posts: Posts,
    pub dynamo: BTreeMap<(String, DynamoFault), u64>,
    pub kills: BTreeMap<KillPoint, u64>,
    pub batches: u64,
    pub failed_invocations: u64,
    pub sweeps: u64,
}

#[derive(Debug)]
pub struct Times {
    pub attack: Duration,
    pub settle: Duration,
    pub total: Duration,
}

#[derive(Debug)]
pub struct Report {
    seed: u64,
    comments: usize,
    live: usize,
    duplicated: usize,
    graph_faults: BTreeMap<GraphFault, usize>,
    injected: Injected,
    outcomes: BTreeMap<String, usize>,
    unconfirmed_replies: usize,
    public_replies: BTreeMap<String, usize>,
    requests: usize,
    second_requests: usize,
    losses: usize,
    times: Times,
    pub violations: Vec<String>,
}

impl Report {
    pub fn new(
        plan: &Plan,
        items: &[Item],
        sim: &Simulator,
        injected: Injected,
        times: Times,
    ) -> Self {
        let by_id: HashMap<&str, &Item> = items.iter().map(|i| (s(i, "comment_id"), i)).collect();
        let log = sim.log();
        // Private-reply requests; public replies (`replies`) are checked on their own below.
        let mut requests: HashMap<&str, Vec<&graph_sim::LoggedRequest>> = HashMap::new();
        for r in log.iter().filter(|r| r.endpoint == "messages") {
            if let Some(id) = r.comment_id.as_deref() {
                requests.entry(id).or_default().push(r);
            }
        }
        let mut published: HashMap<String, Vec<graph_sim::PublicReply>> = HashMap::new();
        for reply in sim.public_replies() {
            published
                .entry(reply.comment_id.clone())
                .or_default()
                .push(reply);
        }
        let mut public_replies: BTreeMap<String, usize> = BTreeMap::new();
        let replies_sent = sim.replies();
        let delivered: HashMap<String, usize> =
            replies_sent
                .iter()
                .fold(HashMap::new(), |mut counts, reply| {
                    *counts.entry(reply.comment_id.clone()).or_default() += 1;
                    counts
                });
        let texts: HashMap<&str, &str> = replies_sent
            .iter()
            .map(|r| (r.comment_id.as_str(), r.text.as_str()))
            .collect();
        let mut violations = Vec::new();
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        let mut graph_faults: BTreeMap<GraphFault, usize> = BTreeMap::new();
        let (mut losses, mut second_requests, mut unconfirmed_replies) = (0, 0, 0);
        for planned in &plan.comments {
            let id = planned.comment.comment_id.as_str();
            if let Some(fault) = planned.fault {
                *graph_faults.entry(fault).or_default() += 1;
            }
            let Some(item) = by_id.get(id) else {
                losses += 1;
                violations.push(format!("{id}: lost (never stored)"));
                continue;
            };
            let status = s(item, "status");
            *outcomes.entry(status.to_owned()).or_default() += 1;
            let reqs = requests.get(id).map_or(&[][..], Vec::as_slice);
            let replies = delivered.get(id).copied().unwrap_or(0);
            if !FINAL.contains(&status) {
                violations.push(format!("{id}: left {status}: {item:?}"));
            }
            if replies > 1 {
                violations.push(format!("{id}: {replies} replies delivered"));
            }
            if (status == "REPLIED") != (replies == 1) {
                violations.push(format!(
                    "{id}: {status} but {replies} replies delivered by Meta"
                ));
            }
            let expected = match planned.fault {
                _ if !planned.answered => "SKIPPED",
                Some(GraphFault::UnknownCode) => "FAILED",
                _ => "REPLIED",
            };
            if !planned.answered
                && (s(item, "status_reason") != "no_matching_campaign" || !reqs.is_empty())
            {
                violations.push(format!(
                    "{id}: no campaign answers it, yet {} requests: {item:?}",
                    reqs.len()
                ));
            }
            // Whatever the attempts met, the text Meta got is the one decided and frozen on the item, and
            // a campaign account's comment got its campaign's.
            if let Some(text) = texts.get(id) {
                if *text != s(item, "reply_text") {
                    violations.push(format!(
                        "{id}: Meta got {text:?} but the item froze {:?}",
                        s(item, "reply_text")
                    ));
                }
                let campaign = s(item, "campaign_id");
                let on_campaign_account =
                    planned.comment.account_id == crate::plan::CAMPAIGN_ACCOUNT;
                if on_campaign_account != (campaign == "link") {
                    violations.push(format!(
                        "{id}: answered by campaign {campaign:?} (account {})",
                        planned.comment.account_id
                    ));
                }
            }
            if status != expected {
                violations.push(format!(
                    "{id}: {status}, expected {expected} (fault {:?}): {item:?}",
                    planned.fault
                ));
            }
            if reqs.len() > 1 {
                second_requests += 1;
                // A second request only after an attempt whose fate the replier could not know, which it
                // records; and if an earlier one had delivered, the reply is recorded unconfirmed.
                if b(item, "unconfirmed_send") != Some(true)
                    && reqs[..reqs.len() - 1]
                        .iter()
                        .any(|r| r.message_id.is_some())
                {
                    violations.push(format!(
                        "{id}: a second request after a delivered reply without unconfirmed_send: {reqs:?}"
                    ));
                }
                let delivered_before_last = reqs[..reqs.len() - 1]
                    .iter()
                    .any(|r| r.message_id.is_some());
                if delivered_before_last
                    && status == "REPLIED"
                    && b(item, "confirmed") != Some(false)
                {
                    violations.push(format!(
                        "{id}: replied by an earlier request but recorded confirmed: {item:?}"
                    ));
                }
            }
            if status == "REPLIED" && b(item, "confirmed") == Some(false) {
                unconfirmed_replies += 1;
            }
            if ["FAILED", "EXPIRED"].contains(&status) && s(item, "status_reason").is_empty() {
                violations.push(format!("{id}: {status} without a reason"));
            }
            // The public reply: exactly once for a sent reply of the campaign that has one (whatever its
            // requests met), with the frozen text, recorded with its ID; never for anything else.
            let public = published.get(id).map_or(&[][..], Vec::as_slice);
            let public_status = s(item, "public_reply_status");
            let wanted = status == "REPLIED" && s(item, "campaign_id") == "link";
            if public.len() > 1 {
                violations.push(format!("{id}: {} public replies published", public.len()));
            }
            if wanted {
                *public_replies
                    .entry(format!(
                        "{public_status} by {}",
                        s(item, "public_reply_confirmed_by")
                    ))
                    .or_default() += 1;
                if public_status != "POSTED" || public.len() != 1 {
                    violations.push(format!(
                        "{id}: public reply {public_status:?} with {} published (fault {:?}): {item:?}",
                        public.len(),
                        planned.public_fault
                    ));
                }
                if let Some(reply) = public.first()
                    && (reply.text != s(item, "public_reply_text")
                        || reply.reply_id != s(item, "public_reply_id"))
                {
                    violations.push(format!(
                        "{id}: published {reply:?} but the item says {:?} / {:?}",
                        s(item, "public_reply_text"),
                        s(item, "public_reply_id")
                    ));
                }
            } else if !public.is_empty() || !public_status.is_empty() {
                violations.push(format!(
                    "{id}: a public reply ({public_status:?}, {} published) for a comment that has none: {item:?}",
                    public.len()
                ));
            }
        }
        for r in &log {
            if r.code == Some(613) && r.fault.is_none() {
                violations.push(format!("a 613 caused by our own pacing: {r:?}"));
            }
        }
        Self {
            seed: plan.seed,
            comments: plan.comments.len(),
            live: plan.comments.iter().filter(|p| p.comment.live).count(),
            duplicated: plan.duplicated,
            graph_faults,
            injected,
            outcomes,
            unconfirmed_replies,
            public_replies,
            requests: log.iter().filter(|r| r.comment_id.is_some()).count(),
            second_requests,
            losses,
            times,
            violations,
        }
    }

    /// Every kill point fired at least once: the campaign reached every await point of the send path.
    pub fn assert_every_point_hit(&self) {
        let missed: Vec<KillPoint> = ALL_POINTS
            .into_iter()
            .filter(|p| !self.injected.kills.contains_key(p))
            .collect();
        assert!(
            missed.is_empty(),
            "kill points never hit: {missed:?}\n{self}"
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.injected;
        writeln!(
            f,
            "fault campaign (seed {}): {} comments ({} Live) in {} POSTs, {} delivered twice, {} POSTs re-delivered after a 5xx",
            self.seed,
            self.comments,
            self.live,
            i.posts.posts,
            self.duplicated,
            i.posts.redelivered
        )?;
        writeln!(f, "  Graph API faults: {:?}", self.graph_faults)?;
        let dynamo: Vec<String> = i
            .dynamo
            .iter()
            .map(|((op, kind), n)| format!("{op} {kind:?} {n}"))
            .collect();
        writeln!(f, "  DynamoDB faults: {}", dynamo.join(", "))?;
        writeln!(
            f,
            "  invocations killed: {:?} ({} invocations, {} failed; {} sweeps)",
            i.kills, i.batches, i.failed_invocations, i.sweeps
        )?;
        writeln!(
            f,
            "  outcomes: {:?} ({} replies recorded confirmed=false)",
            self.outcomes, self.unconfirmed_replies
        )?;
        writeln!(f, "  public replies: {:?}", self.public_replies)?;
        writeln!(
            f,
            "  requests to Meta: {} ({} comments asked twice or more); losses: {}",
            self.requests, self.second_requests, self.losses
        )?;
        writeln!(
            f,
            "  time: attack {:.1} s, settling {:.1} s, in all {:.1} s",
            self.times.attack.as_secs_f64(),
            self.times.settle.as_secs_f64(),
            self.times.total.as_secs_f64()
        )?;
        if self.violations.is_empty() {
            write!(f, "  violations: none")
        } else {
            writeln!(f, "  violations: {}", self.violations.len())?;
            for v in self.violations.iter().take(20) {
                writeln!(f, "    {v}")?;
            }
            Ok(())
        }
    }
}
