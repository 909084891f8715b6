use crate::harness::*;
use graph_sim::{RunningSim, SimConfig, Simulator};

const TOKEN: &str = "IGAA-account-token";

async fn simulator() -> RunningSim {
    let mut cfg = SimConfig::default();
    cfg.tokens.insert(ACCOUNT.into(), TOKEN.into());
    Simulator::new(cfg)
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

#[tokio::test]
async fn subscribe_subscribes_the_account_to_comments_live_comments_messages_and_postbacks() {
    let sim = simulator().await;
    let mut cmd = replyctl(&["subscribe", "--account", ACCOUNT]);
    cmd.env("ACCESS_TOKEN", TOKEN)
        .env("GRAPH_API_URL", &sim.base_url);

    let assert = run(cmd).await;

    let out = stdout(&assert);
    assert.success();
    assert!(out.contains("comments, live_comments, messages"), "{out}");
    assert!(!out.contains(TOKEN));
    assert_eq!(
        sim.sim.subscribed_fields(ACCOUNT),
        Some(vec![
            "comments".to_owned(),
            "live_comments".to_owned(),
            "messages".to_owned(),
            "messaging_postbacks".to_owned()
        ])
    );
    assert_eq!(sim.sim.log()[0].version, "v25.0");
}

#[tokio::test]
async fn subscribe_with_a_bad_token_fails_with_190_and_says_to_refresh_the_token() {
    let sim = simulator().await;
    let args = [
        "subscribe",
        "--account",
        ACCOUNT,
        "--token",
        "IGAA-stale-token",
        "--graph-api-url",
        &sim.base_url,
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");

    let human = run(replyctl(&args)).await;
    let json = run(replyctl(&json_args)).await;

    let err = stderr(&human);
    human.code(1);
    assert!(err.contains("code 190"), "{err}");
    assert!(err.contains("refresh it"), "{err}");
    assert!(!err.contains("IGAA-stale-token"));
    let report: serde_json::Value = serde_json::from_str(stderr(&json).trim()).unwrap();
    json.code(1);
    assert_eq!(report["details"]["code"], 190);
    assert_eq!(sim.sim.subscribed_fields(ACCOUNT), None);
}
