//! Every variable of the README's configuration table changes what the local stack runs with.

use super::*;

/// A valid value for a variable, different from its default, and how to read what it changes.
type Probe = (&'static str, fn(&StackSettings) -> String);

/// The probe of each variable the local stack takes.
fn probe(name: &str) -> Option<Probe> {
    let probe: Probe = match name {
        "TABLE_NAME" => ("t", |s| {
            format!("{} {}", s.replier.table_name, s.webhook.table_name)
        }),
        "ACCOUNT_STATE_TABLE_NAME" => ("a", |s| s.replier.account_state_table_name.clone()),
        "MESSAGES_TABLE_NAME" => ("m", |s| s.webhook.messages_table_name.clone()),
        "APP_SECRET" => ("s1,s2", |s| s.app_secret.clone()),
        "VERIFY_TOKEN" => ("v", |s| s.verify_token.clone()),
        "ACCESS_TOKEN" => ("tok", |s| s.access_token.clone()),
        "ACCOUNT_TOKENS" => (r#"{"1": {"token": "t"}}"#, |s| {
            format!("{:?}", s.account_tokens)
        }),
        "SECRETS_TTL_SECS" => ("7", |s| {
            format!("{:?} {:?}", s.replier.secrets_ttl, s.webhook.secrets_ttl)
        }),
        "REPLY_TEXT" => ("Hello {username}", |s| {
            s.replier
                .reply_text
                .as_ref()
                .map(|t| t.render(Some("x")))
                .unwrap_or_default()
        }),
        "CAMPAIGNS_TABLE_NAME" => ("c", |s| s.replier.campaigns_table_name.clone()),
        "CAMPAIGNS_TTL_SECS" => ("5", |s| format!("{:?}", s.replier.campaigns_ttl)),
        "GRAPH_API_URL" => ("http://127.0.0.1:9", |s| {
            format!("{:?} {}", s.graph_api_url, s.replier.graph_api_url)
        }),
        "GRAPH_API_VERSION" => ("v26.0", |s| s.replier.graph_api_version.clone()),
        "HTTP_TIMEOUT_SECS" => ("4", |s| format!("{:?}", s.replier.http_timeout)),
        "HTTP_CONNECT_TIMEOUT_SECS" => ("1", |s| format!("{:?}", s.replier.http_connect_timeout)),
        "RETRY_BASE_SECS" => ("2", |s| format!("{:?}", s.replier.retry_base)),
        "RETRY_MAX_SECS" => ("30", |s| format!("{:?}", s.replier.retry_max)),
        "TOKEN_RECHECK_SECS" => ("9", |s| format!("{:?}", s.replier.token_recheck)),
        "BLOCKED_PAUSE_SECS" => ("9", |s| format!("{:?}", s.replier.blocked_pause)),
        "POSTS_PER_HOUR" => ("20", |s| format!("{:?}", s.replier.posts_budget)),
        "POSTS_WINDOW_SECS" => ("20", |s| format!("{:?}", s.replier.posts_budget)),
        "LIVE_PER_SECOND" => ("5", |s| format!("{:?}", s.replier.live_budget)),
        "PUBLIC_REPLIES_PER_HOUR" => ("7", |s| format!("{:?}", s.replier.public_replies_budget)),
        "LIVE_WINDOW_SECS" => ("2", |s| format!("{:?}", s.replier.live_budget)),
        "EXPIRY_MARGIN_SECS" => ("60", |s| format!("{:?}", s.replier.expiry_margin)),
        "CLAIM_TIMEOUT_SECS" => ("45", |s| format!("{:?}", s.replier.claim_timeout)),
        "DYNAMODB_TIMEOUT_SECS" => ("2", |s| format!("{:?}", s.replier.dynamodb_timeout)),
        "RECORD_CONCURRENCY" => ("3", |s| s.replier.record_concurrency.to_string()),
        "SWEEP_MAX_ITEMS" => ("50", |s| s.replier.sweep_max_items.to_string()),
        "REDRIVE_AFTER_SECS" => ("600", |s| {
            format!(
                "{:?} {:?}",
                s.replier.redrive_after, s.webhook.redrive_after
            )
        }),
        "MAX_BODY_BYTES" => ("1000", |s| s.webhook.max_body_bytes.to_string()),
        "RETENTION_DAYS" => ("7", |s| s.webhook.retention_days.to_string()),
        "WRITE_CONCURRENCY" => ("8", |s| s.webhook.write_concurrency.to_string()),
        "RESPONSE_DEADLINE_MS" => ("1500", |s| format!("{:?}", s.webhook.response_deadline)),
        "WEBHOOK_PORT" => ("3999", |s| s.webhook_port.to_string()),
        "DYNAMODB_PORT" => ("8999", |s| format!("{:?}", s.dynamodb)),
        "SIM_PORT" => ("9123", |s| s.sim_port.to_string()),
        "AWS_ENDPOINT_URL_DYNAMODB" => ("http://127.0.0.1:8123", |s| format!("{:?}", s.dynamodb)),
        "SWEEP_INTERVAL_SECS" => ("1", |s| format!("{:?}", s.sweep_interval)),
        "SEND_SAMPLE" => ("0", |s| s.send_sample.to_string()),
        "EMF_METRICS" => ("1", |s| s.emf_metrics.to_string()),
        _ => return None,
    };
    Some(probe)
}

/// Variables the table names that the local stack does not take, and why.
const NOT_LOCAL: &[(&str, &str)] = &[
    (
        "SECRET_ARN",
        "locally the secrets come from the environment",
    ),
    ("AWS_REGION", "DynamoDB Local ignores the region"),
];

/// The variable names of the README's configuration table.
fn readme_variables() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let table = readme
        .split("| Variable |")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap();
    let mut names = Vec::new();
    for row in table.lines().skip(2) {
        let first = row
            .trim_start_matches('|')
            .split('|')
            .next()
            .unwrap_or_default();
        for part in first.split('`').skip(1).step_by(2) {
            if part.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                names.push(part.to_owned());
            }
        }
    }
    names
}

#[test]
fn every_setting_in_the_readme_changes_what_the_local_stack_runs_with() {
    let names = readme_variables();
    assert!(
        names.len() > 30,
        "the README's table was not found: {names:?}"
    );
    let baseline =
        StackSettings::from_lookup(&Env::from_pairs(Vec::<(String, String)>::new())).unwrap();
    for name in &names {
        if NOT_LOCAL.iter().any(|(n, _)| n == name) {
            continue;
        }
        let (value, read) = probe(name).unwrap_or_else(|| {
            panic!("{name} is in the README but the local stack does not take it")
        });
        let env = Env::from_pairs([(name.as_str(), value)]);
        let settings =
            StackSettings::from_lookup(&env).unwrap_or_else(|e| panic!("{name}={value}: {e:#}"));
        assert_ne!(
            read(&settings),
            read(&baseline),
            "{name}={value} changed nothing"
        );
        assert!(env.asked().contains(name), "{name} was not read");
    }
}

#[test]
fn the_local_retry_schedule_is_short_unless_the_environment_says_otherwise() {
    let s = StackSettings::new(DynamoDbChoice::StartOnPort(0));
    assert_eq!(s.replier.retry_base, Duration::from_secs(5));
    assert_eq!(s.replier.retry_max, Duration::from_secs(320));
    let s = StackSettings::from_lookup(&Env::from_pairs([("RETRY_BASE_SECS", "10")])).unwrap();
    assert_eq!(s.replier.retry_max, Duration::from_secs(640));
    let s = StackSettings::from_lookup(&Env::from_pairs([("RETRY_MAX_SECS", "30")])).unwrap();
    assert_eq!(s.replier.retry_max, Duration::from_secs(30));
}

#[test]
fn a_bad_value_names_its_variable() {
    let error = StackSettings::from_lookup(&Env::from_pairs([("POSTS_PER_HOUR", "many")]))
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("POSTS_PER_HOUR"), "{error}");
    let error = StackSettings::from_lookup(&Env::from_pairs([("WEBHOOK_PORT", "http")]))
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("WEBHOOK_PORT"), "{error}");
}
