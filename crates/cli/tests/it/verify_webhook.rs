use crate::harness::*;
use predicates::str::contains;

#[tokio::test]
async fn the_handshake_passes_with_the_webhooks_verify_token_and_a_wrong_token_gets_403() {
    let stack = spawn_stack().await;

    let human = run(stack.replyctl(&["verify-webhook"])).await;
    let json = run(stack.replyctl(&["verify-webhook", "--json"])).await;

    let out = stdout(&human);
    human.success();
    assert!(out.contains("PASS: Meta's handshake will succeed"), "{out}");
    let report = stdout_json(&json);
    json.success();
    assert_eq!(report["pass"], true);
    assert_eq!(report["right_token"]["answer"]["status"], 200);
    assert_eq!(report["right_token"]["answer"]["body"], report["challenge"]);
    assert_eq!(report["wrong_token"]["answer"]["status"], 403);
}

#[tokio::test]
async fn the_handshake_fails_with_a_wrong_verify_token_and_says_which_setting_differs() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&["verify-webhook", "--verify-token", "not-the-token"])).await;

    let out = stdout(&assert);
    assert.code(1).stderr(contains("VERIFY_TOKEN here differs"));
    let row = out.lines().find(|l| l.starts_with("verify token")).unwrap();
    assert!(row.contains("403") && row.ends_with("FAIL"), "{out}");
}
