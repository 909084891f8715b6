//! The `graph-sim` process as the local stack runs it: announces its URL on stdout, accepts `ACCESS_TOKEN` for
//! every account, and exits cleanly on SIGTERM.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

/// Kills the child if the test fails half-way, so that no simulator outlives it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
}

#[tokio::test]
async fn the_binary_announces_its_url_serves_replies_and_stops_on_sigterm() {
    let child = Command::new(env!("CARGO_BIN_EXE_graph-sim"))
        .args(["--port", "0"])
        .env("ACCESS_TOKEN", "local-token")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base_url = line
        .trim()
        .strip_prefix("graph-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");

    let resp = reqwest::Client::new()
        .post(format!("{base_url}/v26.0/17841400000000001/messages"))
        .bearer_auth("local-token")
        .json(&json!({"recipient": {"comment_id": "c1"}, "message": {"text": "hi"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut status = None;
    for _ in 0..100 {
        status = child.0.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("graph-sim stops within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}
