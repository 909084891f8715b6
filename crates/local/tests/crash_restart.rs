//! Crash and restart: the real `local-stack` binary is SIGKILLed while many private replies are in flight to a
//! slow Graph API, then started again on the same DynamoDB and tables. Every comment must still end `REPLIED`
//! with exactly one reply delivered, and Meta must only be asked twice about the comments whose send was
//! under way at the kill (the second answer, `100/2534025`, is recorded as `confirmed=false`).
//!
//! It lives in the `local-stack` package because only a package's own tests get `CARGO_BIN_EXE_<bin>`. The
//! DynamoDB Local and the simulator belong to the test process, so both outlive the killed stack: the table
//! keeps its state and the simulator's log says what Meta saw before and after the kill.
#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::AttributeValue;
use graph_sim::{Fault, LoggedRequest, SimConfig, Simulator};
use reply_core::sample::{SampleComment, notification_body};
use reply_core::signature::sign;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const COMMENTS: usize = 300;
const ACCOUNTS: [&str; 4] = [
    "17841400000001001",
    "17841400000001002",
    "17841400000001003",
    "17841400000001004",
];
const PER_POST: usize = 10;
const POSTS_AT_ONCE: usize = 4;
/// Meta takes each reply at once and answers this late, so a stream batch's sends are all in flight together.
const ANSWER_DELAY: Duration = Duration::from_millis(250);
const ACCESS_TOKEN: &str = "crash-restart-token";
const APP_SECRET: &str = "crash-restart-secret";
/// The kill comes once this many replies went out (all comments are stored by then).
const KILL_AFTER_REPLIES: usize = COMMENTS / 3;
/// ... and at least this many were sent in the last half ANSWER_DELAY.
const KILL_WITH_IN_FLIGHT: usize = 10;

type Item = HashMap<String, AttributeValue>;

/// Run by bash with the stack's process group as `$1`: SIGKILLs that group once stdin, a pipe only the test
/// process holds open, reaches end of file. That happens when the test lets go of the stack, and also when the
/// test process dies without running destructors (SIGKILL, a CI timeout), so the stack never outlives it.
const WATCHDOG: &str = r#"while read -r _; do :; done; kill -KILL -- "-$1" 2>/dev/null; exit 0"#;

/// One `local-stack` process in a process group of its own, so a kill reaches anything it might have
/// started. Dropping it SIGKILLs the group, so a failing test leaves nothing running.
struct StackProcess {
    child: Child,
    /// The watchdog (in the test's process group, so a group kill spares it) and our end of its pipe.
    watchdog: Option<(Child, ChildStdin)>,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl StackProcess {
    fn spawn(env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_local-stack"));
        // Only what the test sets (plus PATH, HOME and RUST_LOG), so a developer's TABLE_NAME or ACCOUNT_TOKENS
        // cannot leak in.
        command.env_clear();
        for name in ["PATH", "HOME", "RUST_LOG"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let mut child = command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || keep_tail(pipe, &tail));
        let mut watchdog = Command::new("bash")
            .args(["-c", WATCHDOG, "crash-restart-watchdog"])
            .arg(child.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pipe = watchdog.stdin.take().unwrap();
        Self {
            child,
            watchdog: Some((watchdog, pipe)),
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                _ => panic!(
                    "local-stack printed no line containing {needle:?} within {timeout:?}\nstdout:\n{}\n{}",
                    self.seen.join("\n"),
                    self.stderr_tail()
                ),
            }
        }
    }

    fn stderr_tail(&self) -> String {
        let lines = self
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        format!(
            "stderr (last {} lines):\n{}",
            lines.len(),
            lines.iter().cloned().collect::<Vec<_>>().join("\n")
        )
    }

    /// SIGKILL to the whole process group, then reaps the stack.
    fn kill(&mut self) {
        signal_group(self.pid(), "-KILL");
        // Before reaping the stack, whose unreaped pid keeps the group's ID from being reused meanwhile.
        self.release_watchdog();
        let _ = self.child.wait();
    }

    /// Closes the watchdog's pipe (it kills what is left of the group) and waits for it.
    fn release_watchdog(&mut self) {
        if let Some((mut watchdog, pipe)) = self.watchdog.take() {
            drop(pipe);
            let _ = watchdog.wait();
        }
    }

    /// SIGINT, as Ctrl-C; waits for a clean exit.
    fn interrupt(&mut self, timeout: Duration) {
        let _ = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.release_watchdog();
                assert!(
                    status.success(),
                    "local-stack exited with {status}\n{}",
                    self.stderr_tail()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "local-stack did not stop within {timeout:?} of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for StackProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
        self.release_watchdog();
    }
}

fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// The pids still in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-g", &pgid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn keep_tail(stream: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        let mut tail = tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tail.len() == 50 {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

fn s<'a>(item: &'a Item, key: &str) -> &'a str {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

fn n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn b(item: &Item, key: &str) -> Option<bool> {
    item.get(key).and_then(|v| v.as_bool().ok()).copied()
}

/// Every item of the table, by comment ID (strongly consistent).
async fn scan(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> HashMap<String, Item> {
    testkit::table::scan_all(dynamodb, table)
        .await
        .unwrap()
        .into_iter()
        .map(|item| (s(&item, "comment_id").to_owned(), item))
        .collect()
}

/// Requests to the messages endpoint, by comment ID, in order.
fn requests_by_comment(log: &[LoggedRequest]) -> HashMap<String, Vec<LoggedRequest>> {
    let mut by = HashMap::<String, Vec<LoggedRequest>>::new();
    for r in log.iter().filter(|r| r.endpoint == "messages") {
        if let Some(id) = &r.comment_id {
            by.entry(id.clone()).or_default().push(r.clone());
        }
    }
    by
}

/// POSTs one signed notification until it is answered `200`, as Meta redelivers; returns how many times it was
/// delivered again.
async fn deliver(http: &reqwest::Client, url: &str, body: Vec<u8>) -> u32 {
    let signature = sign(APP_SECRET, &body);
    for again in 0..5 {
        let status = http
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", &signature)
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        match status {
            200 => return again,
            503 => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("the webhook answered {other}"),
        }
    }
    panic!("the webhook answered 503 five times");
}

fn comments() -> Vec<SampleComment> {
    (0..COMMENTS)
        .map(|i| {
            let id = format!("179{:05}9{:06}", std::process::id() % 100_000, i);
            let mut c = SampleComment::new(ACCOUNTS[i % ACCOUNTS.len()], &id, "LINK");
            c.commenter_id = format!("56{:014}", i);
            c.commenter_username = format!("crashfan{i}");
            c
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_killed_with_replies_in_flight_restarts_and_every_comment_gets_exactly_one_reply() {
    let started = Instant::now();
    let dynamodb_local = testkit::start_dynamodb_local().await.unwrap();
    let java_pid = dynamodb_local.java_pid();
    let dynamodb = dynamodb_local.client();
    let sim = Simulator::new(SimConfig::with_default_token(ACCESS_TOKEN))
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    sim.sim.inject(Fault::delay(ANSWER_DELAY, true));

    let table = format!("crash-comments-{}", std::process::id());
    let webhook_port = testkit::process::free_port().unwrap();
    let webhook_url = format!("http://127.0.0.1:{webhook_port}/webhook");
    let env: Vec<(&str, String)> = vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint.clone()),
        ("TABLE_NAME", table.clone()),
        (
            "ACCOUNT_STATE_TABLE_NAME",
            format!("crash-accounts-{}", std::process::id()),
        ),
        (
            "CAMPAIGNS_TABLE_NAME",
            format!("crash-campaigns-{}", std::process::id()),
        ),
        ("GRAPH_API_URL", sim.base_url.clone()),
        ("ACCESS_TOKEN", ACCESS_TOKEN.to_owned()),
        ("APP_SECRET", APP_SECRET.to_owned()),
        ("WEBHOOK_PORT", webhook_port.to_string()),
        ("SEND_SAMPLE", "0".to_owned()),
        ("SWEEP_INTERVAL_SECS", "1".to_owned()),
        ("RETRY_BASE_SECS", "1".to_owned()),
        // Timeouts with room for a busy 2-core machine: a live send or claim timing out would also be asked twice.
        ("HTTP_TIMEOUT_SECS", "3".to_owned()),
        ("HTTP_CONNECT_TIMEOUT_SECS", "1".to_owned()),
        ("DYNAMODB_TIMEOUT_SECS", "2".to_owned()),
        // Validated minimum: more than 3 + 4 x 2 + 2 = 13 s. A dead claim is found when its comment falls due,
        // REDRIVE_AFTER_SECS after it was stored, which must be later.
        ("CLAIM_TIMEOUT_SECS", "15".to_owned()),
        ("REDRIVE_AFTER_SECS", "17".to_owned()),
    ];

    let mut first = StackProcess::spawn(&env);
    let ready = first.wait_for_line("ready", Duration::from_secs(60)).await;
    assert!(ready.contains(&webhook_url), "{ready}");
    // Given an endpoint, the stack starts no DynamoDB Local of its own: nothing else in its process group.
    assert_eq!(group_members(first.pid()), vec![first.pid()]);

    let comments = comments();
    let posting_started = Instant::now();
    let http = reqwest::Client::new();
    // A few POSTs at a time, as Meta delivers; a 503 (not all stored within RESPONSE_DEADLINE_MS) is delivered
    // again, as Meta does.
    let mut posts = tokio::task::JoinSet::new();
    let mut redelivered = 0;
    for batch in comments.chunks(PER_POST) {
        if posts.len() == POSTS_AT_ONCE {
            redelivered += posts.join_next().await.unwrap().unwrap();
        }
        let body = notification_body(batch, chrono::Utc::now());
        let http = http.clone();
        let url = webhook_url.clone();
        posts.spawn(async move { deliver(&http, &url, body).await });
    }
    while let Some(n) = posts.join_next().await {
        redelivered += n.unwrap();
    }
    let posted = Instant::now();
    let posting = posted.duration_since(posting_started);

    // Kill right after a batch's sends reached Meta: their answers are still ANSWER_DELAY away.
    let deadline = Instant::now() + Duration::from_secs(30);
    let just_sent = loop {
        let replies = sim.sim.replies();
        let cutoff = sim.sim.now() - ANSWER_DELAY / 2;
        let just_sent = replies.iter().filter(|r| r.at > cutoff).count();
        if replies.len() >= KILL_AFTER_REPLIES && just_sent >= KILL_WITH_IN_FLIGHT {
            break just_sent;
        }
        assert!(
            Instant::now() < deadline,
            "{} replies within 30 s, {just_sent} just sent\n{}",
            replies.len(),
            first.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    first.kill();
    let killed = Instant::now();
    assert!(
        group_members(first.pid()).is_empty(),
        "nothing of the killed stack is left"
    );
    assert!(
        alive(java_pid),
        "the test's DynamoDB Local survives the stack"
    );
    // A request already on its way when the process died may still be read by the simulator; after this, the
    // log holds everything the first stack sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_log = sim.sim.log();
    let before_items = scan(&dynamodb, &table).await;
    assert_eq!(before_items.len(), COMMENTS, "every comment was stored");
    let sent_before = requests_by_comment(&before_log);
    let replied_before = before_items
        .values()
        .filter(|i| s(i, "status") == "REPLIED")
        .count();
    assert!(replied_before < COMMENTS, "the kill came after every reply");
    // In flight at the kill: Meta accepted the request, the outcome was never recorded.
    let mut in_flight = HashSet::new();
    for (id, requests) in &sent_before {
        assert_eq!(requests.len(), 1, "{id} was asked twice before the kill");
        match s(&before_items[id], "status") {
            "REPLIED" => {}
            "SENDING" => {
                in_flight.insert(id.clone());
            }
            other => panic!("{id}: sent before the kill, then {other}"),
        }
    }
    let claimed_unsent = before_items
        .iter()
        .filter(|(id, i)| s(i, "status") == "SENDING" && !sent_before.contains_key(*id))
        .count();
    // A comment that waited in the stream longer than REDRIVE_AFTER_SECS (a slow machine) was re-driven, and its
    // next due time is twice as far: a dead claim on it is found only then.
    let redriven_before = before_items
        .values()
        .filter(|i| n(i, "redrives").unwrap_or(0) > 0)
        .count();
    let latest_due = before_items
        .values()
        .filter_map(|i| chrono::DateTime::parse_from_rfc3339(s(i, "due_at")).ok())
        .max()
        .map_or(chrono::Utc::now(), |d| d.to_utc());

    let mut second = StackProcess::spawn(&env);
    second.wait_for_line("ready", Duration::from_secs(60)).await;
    let restarted = Instant::now();

    let ids: Vec<String> = comments.iter().map(|c| c.comment_id.clone()).collect();
    let wait = (latest_due - chrono::Utc::now())
        .to_std()
        .unwrap_or_default()
        + Duration::from_secs(30);
    let deadline = Instant::now() + wait;
    let items = loop {
        let items = scan(&dynamodb, &table).await;
        let open = ids
            .iter()
            .filter(|id| {
                !matches!(
                    items.get(*id).map(|i| s(i, "status")),
                    Some("REPLIED" | "FAILED" | "EXPIRED" | "SKIPPED")
                )
            })
            .count();
        if open == 0 {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "{open} comments not final within {wait:?} of the restart (30 s after the latest due time)\n{}",
            second.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let recovered = Instant::now();

    let log = sim.sim.log();
    let requests = requests_by_comment(&log);
    for id in &ids {
        let item = &items[id];
        assert_eq!(s(item, "status"), "REPLIED", "{id}: {item:?}");
        assert_eq!(sim.sim.reply_count_for(id), 1, "{id}: one reply delivered");
        let asked = &requests[id];
        if in_flight.contains(id) {
            assert_eq!(asked.len(), 2, "{id} was in flight at the kill: {asked:?}");
            assert_eq!(
                (asked[1].code, asked[1].subcode),
                (Some(100), Some(2_534_025)),
                "{id}: Meta refuses the repeat"
            );
            assert_eq!(b(item, "confirmed"), Some(false), "{id}: {item:?}");
            assert_eq!(b(item, "unconfirmed_send"), Some(true), "{id}: {item:?}");
        } else {
            assert_eq!(
                asked.len(),
                1,
                "{id} was not in flight at the kill ({} then, {} requests before the restart), yet Meta was asked \
                 {} times: {asked:?}\nnow: {item:?}\n{}",
                s(&before_items[id], "status"),
                before_log.len(),
                asked.len(),
                second.stderr_tail()
            );
            assert_eq!(b(item, "confirmed"), Some(true), "{id}: {item:?}");
        }
    }
    let asked_twice = requests.values().filter(|r| r.len() > 1).count();
    assert_eq!(
        sim.sim.replies().len(),
        COMMENTS,
        "one reply per comment, no more"
    );
    assert!(
        !in_flight.is_empty(),
        "the kill found no send in flight, so it tested nothing"
    );

    // A clean stop of the restarted stack leaves the DynamoDB it was given running.
    second.interrupt(Duration::from_secs(30));
    assert!(group_members(second.pid()).is_empty());
    assert!(
        alive(java_pid),
        "the stack never stops a DynamoDB it was given"
    );
    drop(sim);
    dynamodb_local.stop();
    assert!(!alive(java_pid), "DynamoDB Local is stopped");

    println!(
        "crash-restart: {COMMENTS} comments posted in {:.1} s ({redelivered} POSTs redelivered after a 503); \
         killed {:.1} s later, {just_sent} sends just made: {replied_before} replied, {} in flight (sent, outcome \
         not recorded), {claimed_unsent} claimed but not sent, {redriven_before} re-driven; {asked_twice} second \
         requests (all 100/2534025, confirmed=false); all REPLIED {:.1} s after the restart ({:.1} s after the \
         kill); test {:.1} s",
        posting.as_secs_f64(),
        killed.duration_since(posted).as_secs_f64(),
        in_flight.len(),
        recovered.duration_since(restarted).as_secs_f64(),
        recovered.duration_since(killed).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}
