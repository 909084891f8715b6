//! Starts `local-stack` as a person would (the README's run command builds and runs this binary), sees the
//! sample comment and one more signed comment replied, stops it with SIGINT and checks nothing is left running.
#![allow(clippy::unwrap_used)]

use reply_core::sample::{SampleComment, notification_body};
use reply_core::signature::sign;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    needle: &str,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(_) => panic!(
                "no line containing {needle:?} within {timeout:?}; output so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}

fn port_in_use_by_java(port: u16) -> bool {
    let out = Command::new("pgrep")
        .args(["-f", &format!("DynamoDBLocal.jar .*-port {port}$")])
        .output()
        .unwrap();
    !out.stdout.is_empty()
}

#[test]
fn the_local_stack_replies_to_a_signed_comment_and_stops_everything_on_ctrl_c() {
    let webhook_port = testkit::process::free_port().unwrap();
    let dynamodb_port = testkit::process::free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .env("WEBHOOK_PORT", webhook_port.to_string())
        .env("DYNAMODB_PORT", dynamodb_port.to_string())
        .env("SWEEP_INTERVAL_SECS", "1")
        .env("APP_SECRET", "readme-test-secret")
        .env_remove("GRAPH_API_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();

    let ready = wait_for_line(&lines, &mut seen, "ready", Duration::from_secs(120));
    assert!(
        ready.contains(&format!("http://127.0.0.1:{webhook_port}/webhook")),
        "{ready}"
    );
    assert!(
        seen.iter().any(|l| l.contains("readme-test-secret")),
        "the secrets are printed for signing"
    );
    let sample = wait_for_line(&lines, &mut seen, "sample comment", Duration::from_secs(30));
    assert!(sample.contains("200"), "{sample}");
    let replied = wait_for_line(&lines, &mut seen, ": REPLIED", Duration::from_secs(60));
    assert!(replied.contains("sample comment"), "{replied}");
    assert!(replied.contains("campaign spring-link"), "{replied}");
    assert!(replied.contains("public reply POSTED"), "{replied}");
    // The sample's second comment asks for nothing: the sample campaign does not answer it.
    let skipped = wait_for_line(&lines, &mut seen, ": SKIPPED", Duration::from_secs(60));
    assert!(skipped.contains("(no_matching_campaign)"), "{skipped}");

    // One more comment, signed the way Meta signs, posted from outside.
    let comment = SampleComment::new("17841400000000042", "17999000000000042", "LINK");
    let body = notification_body(&[comment], chrono::Utc::now());
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{webhook_port}/webhook"))
            .header("X-Hub-Signature-256", sign("readme-test-secret", &body))
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    wait_for_line(
        &lines,
        &mut seen,
        "reply delivered: comment 17999000000000042",
        Duration::from_secs(60),
    );
    assert!(
        port_in_use_by_java(dynamodb_port),
        "DynamoDB Local runs while the stack does"
    );

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "local-stack did not stop within 30 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "local-stack exited with {exit}");
    wait_for_line(&lines, &mut seen, "stopped", Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(15);
    while port_in_use_by_java(dynamodb_port) {
        assert!(
            Instant::now() < deadline,
            "DynamoDB Local on port {dynamodb_port} outlived the stack"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", webhook_port)).is_err(),
        "nothing listens on the webhook port any more"
    );
}
