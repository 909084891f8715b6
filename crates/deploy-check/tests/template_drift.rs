//! `template.yaml` against the code: one source of truth, checked both ways.
//!
//! The deployed stack can only be tried in a real AWS account, which CI does not have. So everything the
//! template and the code must agree on is checked here, offline: a renamed attribute, a changed filter, an
//! environment variable the code no longer reads, a secret key the code does not know, a DynamoDB call
//! without its IAM grant, or a dashboard metric nobody emits would otherwise only show up after a deploy.
//!
//! [`drift`] returns every disagreement as a sentence; the real template must produce none, and each test
//! below that alters a copy of it on purpose proves that one kind of drift is caught.
//!
//! Where the code has no constant to compare with, its Rust sources are read instead (the names passed to
//! `required("...")`/`parse_or("...")` and the DynamoDB SDK calls such as `.update_item()`), skipping
//! `tests.rs` files and inline `#[cfg(test)] mod ... {}` blocks.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reply_core::CommentStatus;
use reply_core::comment::attr;
use reply_core::secrets::WebhookSecrets;
use serde_json::json;
use serde_yaml_ng::Value;
use stream_runner::{COMMENT_STREAM_EVENT, EventSourceSettings, REPLIER_FUNCTION_RESOURCE};
use testkit::table::{self, COMMENTS_TABLE_RESOURCE};

// ---------------------------------------------------------------------------------------------------------
// What the code uses
// ---------------------------------------------------------------------------------------------------------

const ACCOUNT_STATE_TABLE_RESOURCE: &str = "AccountStateTable";
/// The replier reads the new image of each record (and its filter matches on it); the table also keeps the
/// old image so that a person or a future consumer can see what a change replaced.
const STREAM_VIEW: &str = "NEW_AND_OLD_IMAGES";
/// Stream reads done by Lambda's event source mapping with the function's role.
const STREAM_READ_ACTIONS: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];
/// The EventBridge event the replier recognises as its retry sweep is a classic scheduled rule's event
/// (`"detail-type": "Scheduled Event"`, `"source": "aws.events"`), i.e. SAM's `Schedule`, not `ScheduleV2`.
const SWEEP_EVENT_TYPE: &str = "Schedule";
/// SQS's maximum retention, for the stream's dead-letter queue.
const DLQ_RETENTION_SECS: i64 = 14 * 24 * 3600;

/// One Lambda function of the template and what its code expects.
struct FunctionCode {
    resource: &'static str,
    /// The cargo `[[bin]]` that `sam build` builds for it.
    binary: &'static str,
    /// Its crate, relative to the repository root.
    crate_dir: &'static str,
    /// The value of the `Function` dimension of its EMF metrics.
    metric_function: String,
    /// Environment variables the code reads.
    env_vars: BTreeSet<String>,
    /// Environment variables the code refuses to start without.
    required_env: BTreeSet<String>,
    /// The keys the code reads from its Secrets Manager secret.
    secret_keys: BTreeSet<String>,
    /// Environment variables naming a table, and the table resource each must name.
    table_env: &'static [(&'static str, &'static str)],
}

fn functions() -> Vec<FunctionCode> {
    let webhook_env: BTreeSet<String> = webhook::WebhookConfig::ENV_VARS
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    vec![
        FunctionCode {
            resource: "WebhookFunction",
            binary: "webhook",
            crate_dir: "crates/webhook",
            metric_function: "webhook".to_owned(),
            env_vars: webhook_env,
            required_env: env_reads(&src("crates/webhook")).required,
            secret_keys: keys(WebhookSecrets::KEYS),
            table_env: &[("TABLE_NAME", COMMENTS_TABLE_RESOURCE)],
        },
        FunctionCode {
            resource: REPLIER_FUNCTION_RESOURCE,
            binary: "replier",
            crate_dir: "crates/replier",
            metric_function: replier::metrics::FUNCTION.to_owned(),
            // The replier has no list constant (yet); its config module is the list.
            env_vars: env_reads(&src("crates/replier")).all,
            required_env: env_reads(&src("crates/replier")).required,
            secret_keys: keys(replier::ReplierSecrets::KEYS),
            table_env: &[
                ("TABLE_NAME", COMMENTS_TABLE_RESOURCE),
                ("ACCOUNT_STATE_TABLE_NAME", ACCOUNT_STATE_TABLE_RESOURCE),
            ],
        },
    ]
}

/// Every status a comment can have (the `match` fails to compile when a status is added, so that the
/// filter check below learns about it).
fn all_statuses() -> Vec<CommentStatus> {
    use CommentStatus::*;
    let all = vec![
        Pending,
        Sending,
        Replied,
        Retry,
        TokenInvalid,
        Failed,
        Expired,
        Skipped,
    ];
    for status in &all {
        match status {
            Pending | Sending | Replied | Retry | TokenInvalid | Failed | Expired | Skipped => {}
        }
    }
    all
}

/// Secret key names that must never appear as environment variables.
fn secret_key_names() -> BTreeSet<String> {
    let mut names = keys(WebhookSecrets::KEYS);
    names.extend(keys(replier::ReplierSecrets::KEYS));
    names
}

fn keys(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------------------

/// Every disagreement between `yaml` (a template) and the code, as sentences. Empty means they agree.
fn drift(yaml: &str) -> Vec<String> {
    let root: Value = match serde_yaml_ng::from_str(yaml) {
        Ok(root) => root,
        Err(e) => return vec![format!("the template is not YAML: {e}")],
    };
    let mut problems = Problems::default();
    let functions = functions();
    check_comments_table(yaml, &mut problems);
    check_account_state_table(yaml, &mut problems);
    check_tables_are_kept(&root, &mut problems);
    check_stream_mapping(yaml, &root, &mut problems);
    check_every_function_is_known(&root, &functions, &mut problems);
    for function in &functions {
        match resource(&root, function.resource) {
            Some(resource) => check_function(yaml, &root, resource, function, &mut problems),
            None => problems.add(format!("{} is missing", function.resource)),
        }
    }
    check_metrics(&root, &functions, &mut problems);
    problems.0
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    fn expect_eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, template: T, code: T) {
        if template != code {
            self.add(format!(
                "{what}: the template has {template:?}, the code uses {code:?}"
            ));
        }
    }
}

fn check_comments_table(yaml: &str, problems: &mut Problems) {
    let spec = match table::table_spec_from_template(yaml, COMMENTS_TABLE_RESOURCE) {
        Ok(spec) => spec,
        Err(e) => return problems.add(format!("{COMMENTS_TABLE_RESOURCE}: {e:#}")),
    };
    problems.expect_eq(
        "CommentsTable hash key",
        spec.hash_key.as_str(),
        attr::COMMENT_ID,
    );
    problems.expect_eq("CommentsTable sort key", spec.range_key.as_deref(), None);
    problems.expect_eq(
        "CommentsTable key type",
        spec.attribute_type(attr::COMMENT_ID),
        Some("S"),
    );
    problems.expect_eq(
        "CommentsTable TTL attribute",
        spec.ttl_attribute.as_deref(),
        Some(attr::EXPIRES_AT),
    );
    problems.expect_eq(
        "CommentsTable stream view",
        spec.stream_view_type.as_deref(),
        Some(STREAM_VIEW),
    );
    let index = replier::attr::RETRY_DUE_INDEX;
    match spec.gsi(index) {
        None => problems.add(format!(
            "CommentsTable has no index {index:?} (the retry sweep queries it); it has {:?}",
            spec.gsi_names()
        )),
        Some(gsi) => {
            problems.expect_eq("retry index hash key", gsi.hash_key.as_str(), attr::STATUS);
            problems.expect_eq(
                "retry index sort key",
                gsi.range_key.as_deref(),
                Some(attr::NEXT_ATTEMPT_AT),
            );
            // Statuses are words and next_attempt_at is an ISO 8601 string (CommentRecord's serde form).
            problems.expect_eq(
                "status attribute type",
                spec.attribute_type(attr::STATUS),
                Some("S"),
            );
            problems.expect_eq(
                "next_attempt_at attribute type",
                spec.attribute_type(attr::NEXT_ATTEMPT_AT),
                Some("S"),
            );
        }
    }
}

fn check_account_state_table(yaml: &str, problems: &mut Problems) {
    let spec = match table::table_spec_from_template(yaml, ACCOUNT_STATE_TABLE_RESOURCE) {
        Ok(spec) => spec,
        Err(e) => return problems.add(format!("{ACCOUNT_STATE_TABLE_RESOURCE}: {e:#}")),
    };
    problems.expect_eq(
        "AccountStateTable hash key",
        spec.hash_key.as_str(),
        replier::accounts::attr::PK,
    );
    problems.expect_eq(
        "AccountStateTable sort key",
        spec.range_key.as_deref(),
        None,
    );
    problems.expect_eq(
        "AccountStateTable TTL attribute",
        spec.ttl_attribute.as_deref(),
        Some(replier::accounts::attr::EXPIRES_AT),
    );
}

/// Deleting or replacing the stack never deletes replies; tables are on-demand, encrypted and recoverable.
fn check_tables_are_kept(root: &Value, problems: &mut Problems) {
    for name in [COMMENTS_TABLE_RESOURCE, ACCOUNT_STATE_TABLE_RESOURCE] {
        let Some(table) = resource(root, name) else {
            continue; // reported by the table checks
        };
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            if text(table.get(policy)) != Some("Retain") {
                problems.add(format!("{name}: {policy} must be Retain"));
            }
        }
        let properties = table.get("Properties");
        let at = |path: &[&str]| path.iter().try_fold(properties?, |v, key| v.get(*key));
        if text(at(&["BillingMode"])) != Some("PAY_PER_REQUEST") {
            problems.add(format!("{name}: BillingMode must be PAY_PER_REQUEST"));
        }
        if !is_true(at(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled",
        ])) {
            problems.add(format!("{name}: point-in-time recovery must be enabled"));
        }
        if !is_true(at(&["SSESpecification", "SSEEnabled"])) {
            problems.add(format!("{name}: SSESpecification.SSEEnabled must be true"));
        }
    }
}

/// The replier's stream trigger: the filter the replier and the local stream runner rely on, the settings
/// the runner plays locally, the dead-letter queue, and the sweep schedule.
fn check_stream_mapping(yaml: &str, root: &Value, problems: &mut Problems) {
    let at = format!("{REPLIER_FUNCTION_RESOURCE}.Events.{COMMENT_STREAM_EVENT}");
    let settings = match EventSourceSettings::from_template_str(
        yaml,
        REPLIER_FUNCTION_RESOURCE,
        COMMENT_STREAM_EVENT,
    ) {
        Ok(settings) => settings,
        Err(e) => return problems.add(format!("{at}: the local stream runner refuses it: {e:#}")),
    };
    if !settings.report_batch_item_failures {
        problems.add(format!(
            "{at}: FunctionResponseTypes must contain ReportBatchItemFailures (the replier answers with batchItemFailures)"
        ));
    }
    if !settings.bisect_batch_on_function_error {
        problems.add(format!("{at}: BisectBatchOnFunctionError must be true"));
    }
    if settings.maximum_retry_attempts.is_none() || settings.maximum_record_age.is_none() {
        problems.add(format!(
            "{at}: MaximumRetryAttempts and MaximumRecordAgeInSeconds must be finite"
        ));
    }

    // The filter: exactly the one pattern, and it lets through new images in PENDING and nothing else.
    let pending = CommentStatus::Pending.as_str();
    let expected = json!({"dynamodb": {"NewImage": {(attr::STATUS): {"S": [pending]}}}});
    match settings.filters.as_slice() {
        [filter] => {
            let actual: serde_json::Value =
                serde_json::from_str(filter.source()).unwrap_or_default();
            if actual != expected {
                problems.add(format!(
                    "{at}: the filter is {actual}, the replier expects {expected}"
                ));
            }
            for status in all_statuses() {
                let delivered =
                    filter.matches(&stream_record("MODIFY", Some(status), Some(status)));
                let wanted = status == CommentStatus::Pending;
                if delivered != wanted {
                    problems.add(format!(
                        "{at}: a record whose new image is {status} is {} by the filter, but the replier expects {}",
                        if delivered { "delivered" } else { "dropped" },
                        if wanted { "it" } else { "only PENDING" },
                    ));
                }
            }
            if filter.matches(&stream_record("REMOVE", Some(CommentStatus::Pending), None)) {
                problems.add(format!(
                    "{at}: the filter delivers TTL deletions (records with no new image)"
                ));
            }
        }
        filters => problems.add(format!(
            "{at}: expected exactly one filter pattern ({expected}), found {}",
            filters.len()
        )),
    }

    let Some(function) = resource(root, REPLIER_FUNCTION_RESOURCE) else {
        return;
    };
    let events = function.get("Properties").and_then(|p| p.get("Events"));
    let event = events.and_then(|events| events.get(COMMENT_STREAM_EVENT));
    let properties = event.and_then(|e| e.get("Properties"));
    if properties
        .and_then(|p| p.get("Stream"))
        .and_then(get_att)
        .as_ref()
        .map(|(r, a)| (r.as_str(), a.as_str()))
        != Some((COMMENTS_TABLE_RESOURCE, "StreamArn"))
    {
        problems.add(format!(
            "{at}.Stream must be !GetAtt CommentsTable.StreamArn"
        ));
    }

    // The on-failure destination: an SQS queue keeping messages 14 days.
    let destination = properties
        .and_then(|p| p.get("DestinationConfig"))
        .and_then(|d| d.get("OnFailure"))
        .and_then(|o| o.get("Destination"))
        .and_then(get_att);
    match destination {
        Some((queue, attribute)) if attribute == "Arn" => {
            let queue_resource = resource(root, &queue);
            if queue_resource.and_then(resource_type) != Some("AWS::SQS::Queue") {
                problems.add(format!(
                    "{at}: the OnFailure destination {queue} is not an SQS queue"
                ));
            } else if queue_resource
                .and_then(|q| q.get("Properties"))
                .and_then(|p| p.get("MessageRetentionPeriod"))
                .and_then(integer)
                != Some(DLQ_RETENTION_SECS)
            {
                problems.add(format!(
                    "{queue}: MessageRetentionPeriod must be {DLQ_RETENTION_SECS} (14 days)"
                ));
            }
        }
        _ => problems.add(format!(
            "{at}: DestinationConfig.OnFailure.Destination must be !GetAtt <an SQS queue>.Arn"
        )),
    }

    // The retry sweep.
    let event_types: Vec<&str> = events
        .and_then(Value::as_mapping)
        .map(|events| {
            events
                .values()
                .filter_map(|event| text(event.get("Type")))
                .collect()
        })
        .unwrap_or_default();
    if !event_types.contains(&SWEEP_EVENT_TYPE) {
        problems.add(format!(
            "{REPLIER_FUNCTION_RESOURCE} has no {SWEEP_EVENT_TYPE} event: nothing runs the retry sweep"
        ));
    }
    if event_types.contains(&"ScheduleV2") {
        problems.add(format!(
            "{REPLIER_FUNCTION_RESOURCE}: a ScheduleV2 (EventBridge Scheduler) event does not send the \
             \"Scheduled Event\" the replier recognises as its sweep; use Schedule"
        ));
    }
}

/// A stream record in Lambda's JSON form with the given images (only the key and status attributes).
fn stream_record(
    event_name: &str,
    old: Option<CommentStatus>,
    new: Option<CommentStatus>,
) -> serde_json::Value {
    let image = |status: CommentStatus| {
        json!({
            (attr::COMMENT_ID): {"S": "18058455121735594"},
            (attr::STATUS): {"S": status.as_str()},
        })
    };
    let mut dynamodb = json!({
        "Keys": {(attr::COMMENT_ID): {"S": "18058455121735594"}},
        "SequenceNumber": "100000000000000000001",
        "StreamViewType": STREAM_VIEW,
    });
    if let Some(status) = old {
        dynamodb["OldImage"] = image(status);
    }
    if let Some(status) = new {
        dynamodb["NewImage"] = image(status);
    }
    json!({"eventID": "1", "eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb})
}

/// A function added to the template must be taught to this test (and to infra/check-deploy.sh).
fn check_every_function_is_known(
    root: &Value,
    functions: &[FunctionCode],
    problems: &mut Problems,
) {
    let check_deploy =
        std::fs::read_to_string(repo_path("infra/check-deploy.sh")).unwrap_or_default();
    let listed = check_deploy
        .lines()
        .find(|line| line.trim_start().starts_with("readonly FUNCTIONS=("))
        .unwrap_or_default();
    for (name, value) in resources(root) {
        if resource_type(value) != Some("AWS::Serverless::Function") {
            continue;
        }
        if !functions.iter().any(|f| f.resource == name) {
            problems.add(format!(
                "{name} is a function this test does not know; add it to functions() in {}",
                file!()
            ));
        }
        if !listed.split(['(', ')', ' ']).any(|word| word == name) {
            problems.add(format!(
                "{name} is not in FUNCTIONS of infra/check-deploy.sh, so CI does not check its artifact"
            ));
        }
    }
}

fn check_function(
    yaml: &str,
    root: &Value,
    function: &Value,
    code: &FunctionCode,
    problems: &mut Problems,
) {
    let name = code.resource;
    let properties = function.get("Properties");
    let property = |key: &str| properties.and_then(|p| p.get(key));

    // Build: cargo-lambda builds this function's binary for Graviton, as a custom runtime.
    let metadata = function.get("Metadata");
    if text(metadata.and_then(|m| m.get("BuildMethod"))) != Some("rust-cargolambda") {
        problems.add(format!(
            "{name}: Metadata.BuildMethod must be rust-cargolambda"
        ));
    }
    let binary = text(
        metadata
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary")),
    );
    problems.expect_eq(
        &format!("{name} Metadata.BuildProperties.Binary"),
        binary,
        Some(code.binary),
    );
    let manifest = std::fs::read_to_string(repo_path(&format!("{}/Cargo.toml", code.crate_dir)))
        .unwrap_or_default();
    if !manifest.contains(&format!("[[bin]]\nname = \"{}\"", code.binary)) {
        problems.add(format!(
            "{}/Cargo.toml has no [[bin]] named {:?}",
            code.crate_dir, code.binary
        ));
    }
    // SAM runs cargo-lambda in CodeUri: in the crate's own directory cargo builds that package, whereas
    // at the workspace root (itself the `e2e` package) `--bin` would not find the function's binary.
    problems.expect_eq(
        &format!("{name} CodeUri"),
        text(property("CodeUri")),
        Some(code.crate_dir),
    );
    problems.expect_eq(
        &format!("{name} Runtime"),
        text(property("Runtime")),
        Some("provided.al2023"),
    );
    problems.expect_eq(
        &format!("{name} Handler"),
        text(property("Handler")),
        Some("bootstrap"),
    );
    let architectures: Vec<&str> = property("Architectures")
        .and_then(Value::as_sequence)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    problems.expect_eq(
        &format!("{name} Architectures"),
        architectures,
        vec!["arm64"],
    );
    for key in ["MemorySize", "Timeout"] {
        if property(key).and_then(integer).is_none() {
            problems.add(format!("{name}: {key} must be set"));
        }
    }
    // Logs: JSON (the code writes JSON lines and EMF), into a log group with a retention.
    let logging = property("LoggingConfig");
    if text(logging.and_then(|l| l.get("LogFormat"))) != Some("JSON") {
        problems.add(format!("{name}: LoggingConfig.LogFormat must be JSON"));
    }
    let log_group = logging.and_then(|l| l.get("LogGroup")).and_then(ref_to);
    match log_group.and_then(|group| resource(root, group)) {
        Some(group)
            if resource_type(group) == Some("AWS::Logs::LogGroup")
                && group
                    .get("Properties")
                    .and_then(|p| p.get("RetentionInDays"))
                    .is_some() => {}
        _ => problems.add(format!(
            "{name}: LoggingConfig.LogGroup must be !Ref a log group with RetentionInDays"
        )),
    }

    check_environment(root, properties, code, problems);
    check_role(yaml, root, properties, code, problems);
}

fn environment_names<'a>(
    root: &'a Value,
    properties: Option<&'a Value>,
) -> Vec<(&'a str, &'a Value)> {
    let globals = root
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"));
    let own = properties.and_then(|p| p.get("Environment"));
    [globals, own]
        .into_iter()
        .flatten()
        .filter_map(|environment| environment.get("Variables").and_then(Value::as_mapping))
        .flat_map(|variables| variables.iter())
        .filter_map(|(name, value)| Some((name.as_str()?, value)))
        .collect()
}

fn check_environment(
    root: &Value,
    properties: Option<&Value>,
    code: &FunctionCode,
    problems: &mut Problems,
) {
    let name = code.resource;
    let variables = environment_names(root, properties);
    let set: BTreeSet<&str> = variables.iter().map(|(n, _)| *n).collect();
    let mut allowed = code.env_vars.clone();
    allowed.insert(reply_core::secrets::SECRET_ARN_VAR.to_owned());
    allowed.extend(env_reads(&src("crates/core")).all);
    for variable in &set {
        if secret_key_names().contains(*variable) {
            problems.add(format!(
                "{name} sets the secret {variable} as an environment variable; secrets belong in Secrets Manager"
            ));
        } else if !allowed.contains(*variable) {
            problems.add(format!(
                "{name} sets {variable}, which the code never reads (it reads {allowed:?})"
            ));
        }
    }
    for required in &code.required_env {
        if !set.contains(required.as_str()) {
            problems.add(format!(
                "{name} does not set {required}, which the code requires"
            ));
        }
    }
    let value_of = |variable: &str| {
        variables
            .iter()
            .find(|(n, _)| *n == variable)
            .map(|(_, v)| *v)
    };
    for (variable, table) in code.table_env {
        if value_of(variable).and_then(ref_to) != Some(*table) {
            problems.add(format!("{name}: {variable} must be !Ref {table}"));
        }
    }

    // Secrets: from this function's own Secrets Manager secret, holding exactly the keys the code reads.
    let secret_var = reply_core::secrets::SECRET_ARN_VAR;
    let Some(secret) = value_of(secret_var).and_then(ref_to) else {
        return problems.add(format!(
            "{name}: {secret_var} must be !Ref a Secrets Manager secret"
        ));
    };
    match resource(root, secret) {
        Some(resource) if resource_type(resource) == Some("AWS::SecretsManager::Secret") => {
            check_secret(secret, resource, code, problems);
        }
        _ => problems.add(format!(
            "{name}: {secret_var} names {secret}, which is not an AWS::SecretsManager::Secret"
        )),
    }
}

/// The secret's initial JSON has exactly the keys the code reads, and no value in it (values are put with
/// `aws secretsmanager put-secret-value`; only a generated verify token may be filled in by CloudFormation).
fn check_secret(name: &str, secret: &Value, code: &FunctionCode, problems: &mut Problems) {
    let properties = secret.get("Properties");
    let literal = properties.and_then(|p| p.get("SecretString"));
    let generate = properties.and_then(|p| p.get("GenerateSecretString"));
    let (json_text, generated_key) = match (literal, generate) {
        (Some(literal), None) => (text(Some(literal)), None),
        (None, Some(generate)) => (
            text(generate.get("SecretStringTemplate")),
            text(generate.get("GenerateStringKey")),
        ),
        _ => {
            return problems.add(format!(
                "{name}: needs SecretString or GenerateSecretString (one of them)"
            ));
        }
    };
    let Some(object) = json_text
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| v.as_object().cloned())
    else {
        return problems.add(format!(
            "{name}: its initial value must be a literal JSON object"
        ));
    };
    let mut template_keys: BTreeSet<String> = object.keys().cloned().collect();
    template_keys.extend(generated_key.map(str::to_owned));
    problems.expect_eq(
        &format!("{name} keys (read by {})", code.resource),
        &template_keys,
        &code.secret_keys,
    );
    for (key, value) in &object {
        let empty = match value {
            serde_json::Value::String(s) => s.is_empty(),
            serde_json::Value::Object(o) => o.is_empty(),
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Null => true,
            _ => false,
        };
        if !empty {
            problems.add(format!(
                "{name}: {key} has a value in the template; secrets must never be template literals"
            ));
        }
    }
}

/// Least privilege: the role grants the DynamoDB actions the code calls and nothing else, the stream reads
/// only to a stream-triggered function, its own secret, its own logs, and its own dead-letter queue.
fn check_role(
    yaml: &str,
    root: &Value,
    properties: Option<&Value>,
    code: &FunctionCode,
    problems: &mut Problems,
) {
    let name = code.resource;
    let Some((role_name, _)) = properties.and_then(|p| p.get("Role")).and_then(get_att) else {
        return problems.add(format!(
            "{name}: Role must be !GetAtt <an AWS::IAM::Role>.Arn (SAM's generated roles are broader)"
        ));
    };
    let Some(role) =
        resource(root, &role_name).filter(|r| resource_type(r) == Some("AWS::IAM::Role"))
    else {
        return problems.add(format!("{name}: {role_name} is not an AWS::IAM::Role"));
    };
    if role
        .get("Properties")
        .and_then(|p| p.get("ManagedPolicyArns"))
        .is_some()
    {
        problems.add(format!(
            "{role_name}: no managed policies (they grant more than the function uses)"
        ));
    }
    let grants = allowed_actions(role);

    // DynamoDB item actions: exactly those the function's code calls.
    let called = dynamodb_calls(code, problems);
    let granted: BTreeSet<String> = grants
        .iter()
        .map(|(action, _)| action.clone())
        .filter(|a| a.starts_with("dynamodb:") && !STREAM_READ_ACTIONS.contains(&a.as_str()))
        .collect();
    for action in called.difference(&granted) {
        problems.add(format!(
            "{role_name} does not grant {action}, which {name}'s code calls"
        ));
    }
    for action in granted.difference(&called) {
        problems.add(format!(
            "{role_name} grants {action}, which {name}'s code never calls"
        ));
    }
    // An index named in a resource must exist.
    for (_, resource_value) in &grants {
        if let Some(sub) = sub_text(resource_value)
            && let Some((table_part, index)) = sub.split_once("/index/")
        {
            let table = table_part
                .trim_start_matches("${")
                .trim_end_matches(".Arn}");
            let exists = table::table_spec_from_template(yaml, table)
                .map(|spec| spec.gsi(index).is_some())
                .unwrap_or(false);
            if !exists {
                problems.add(format!(
                    "{role_name} grants access to index {index} of {table}, which does not exist"
                ));
            }
        }
    }

    // Stream reads iff the function is triggered by a stream.
    let stream_triggered = properties
        .and_then(|p| p.get("Events"))
        .and_then(Value::as_mapping)
        .is_some_and(|events| {
            events
                .values()
                .any(|e| text(e.get("Type")) == Some("DynamoDB"))
        });
    for action in STREAM_READ_ACTIONS {
        let has = grants.iter().any(|(a, _)| a == action);
        if stream_triggered && !has {
            problems.add(format!(
                "{role_name} lacks {action}, which its stream trigger needs"
            ));
        }
        if !stream_triggered && has {
            problems.add(format!(
                "{role_name} grants {action}, but {name} reads no stream"
            ));
        }
    }

    // Everything else: its own secret, logs and dead-letter queue.
    let secret = environment_names(root, properties)
        .into_iter()
        .find(|(n, _)| *n == reply_core::secrets::SECRET_ARN_VAR)
        .and_then(|(_, v)| ref_to(v));
    for (action, resource_value) in &grants {
        if action.starts_with("dynamodb:") {
            continue;
        }
        let fine = match action.as_str() {
            "secretsmanager:GetSecretValue" => {
                ref_to(resource_value).is_some() && ref_to(resource_value) == secret
            }
            "logs:CreateLogStream" | "logs:PutLogEvents" => {
                get_att(resource_value).is_some_and(|(group, _)| {
                    resource(root, &group).and_then(resource_type) == Some("AWS::Logs::LogGroup")
                })
            }
            "sqs:SendMessage" => {
                stream_triggered
                    && get_att(resource_value).is_some_and(|(queue, _)| {
                        resource(root, &queue).and_then(resource_type) == Some("AWS::SQS::Queue")
                    })
            }
            _ => false,
        };
        if !fine {
            problems.add(format!(
                "{role_name} grants {action} on {}, which {name} does not need",
                describe(resource_value)
            ));
        }
    }
    if secret.is_some()
        && !grants
            .iter()
            .any(|(a, _)| a == "secretsmanager:GetSecretValue")
    {
        problems.add(format!("{role_name} cannot read {name}'s secret"));
    }
}

/// Every (action, resource) pair an Allow statement of the role's inline policies grants.
fn allowed_actions(role: &Value) -> Vec<(String, Value)> {
    let mut grants = Vec::new();
    let policies = role
        .get("Properties")
        .and_then(|p| p.get("Policies"))
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    for policy in &policies {
        let statements = policy
            .get("PolicyDocument")
            .and_then(|d| d.get("Statement"))
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for statement in &statements {
            if text(statement.get("Effect")) != Some("Allow") {
                continue;
            }
            let list = |key: &str| match statement.get(key) {
                Some(Value::Sequence(items)) => items.clone(),
                Some(item) => vec![item.clone()],
                None => Vec::new(),
            };
            for action in list("Action") {
                for resource_value in list("Resource") {
                    if let Some(action) = action.as_str() {
                        grants.push((action.to_owned(), resource_value));
                    }
                }
            }
        }
    }
    grants
}

/// The IAM actions of the DynamoDB calls in the function's crate, plus the core's DynamoDB adapter when the
/// crate uses it.
fn dynamodb_calls(code: &FunctionCode, problems: &mut Problems) -> BTreeSet<String> {
    const OPERATIONS: &[(&str, Option<&str>)] = &[
        ("put_item", Some("dynamodb:PutItem")),
        ("update_item", Some("dynamodb:UpdateItem")),
        ("get_item", Some("dynamodb:GetItem")),
        ("delete_item", Some("dynamodb:DeleteItem")),
        ("query", Some("dynamodb:Query")),
        ("scan", Some("dynamodb:Scan")),
        ("batch_get_item", Some("dynamodb:BatchGetItem")),
        ("batch_write_item", Some("dynamodb:BatchWriteItem")),
        ("describe_table", Some("dynamodb:DescribeTable")),
        // Transactions are authorised per item action: teach this test which ones.
        ("transact_write_items", None),
        ("transact_get_items", None),
        ("execute_statement", None),
    ];
    let mut sources = rust_sources(&src(code.crate_dir));
    if sources
        .iter()
        .any(|(_, text)| text.contains("DynamoCommentStore"))
    {
        sources.extend(rust_sources(&repo_path("crates/core/src/store/dynamo.rs")));
    }
    let mut actions = BTreeSet::new();
    for (path, text) in &sources {
        for (operation, action) in OPERATIONS {
            if !text.contains(&format!(".{operation}()")) {
                continue;
            }
            match action {
                Some(action) => {
                    actions.insert((*action).to_owned());
                }
                None => problems.add(format!(
                    "{} calls .{operation}(); add its IAM actions to dynamodb_calls() in {}",
                    path.display(),
                    file!()
                )),
            }
        }
    }
    actions
}

/// Alarms and the dashboard read metrics the code emits, under the namespace and dimension it uses.
fn check_metrics(root: &Value, functions: &[FunctionCode], problems: &mut Problems) {
    let mut used: Vec<(String, String, Option<String>)> = Vec::new(); // (where, metric, Function)
    for (name, value) in resources(root) {
        let properties = value.get("Properties");
        match resource_type(value) {
            Some("AWS::CloudWatch::Alarm") => {
                let namespace = text(properties.and_then(|p| p.get("Namespace")));
                if namespace != Some(reply_core::metrics::NAMESPACE) {
                    continue;
                }
                let metric = text(properties.and_then(|p| p.get("MetricName"))).unwrap_or_default();
                let function = properties
                    .and_then(|p| p.get("Dimensions"))
                    .and_then(Value::as_sequence)
                    .and_then(|dims| {
                        dims.iter()
                            .find(|d| text(d.get("Name")) == Some("Function"))
                            .and_then(|d| text(d.get("Value")))
                    });
                used.push((
                    name.to_owned(),
                    metric.to_owned(),
                    function.map(str::to_owned),
                ));
            }
            Some("AWS::CloudWatch::Dashboard") => {
                let body = properties
                    .and_then(|p| p.get("DashboardBody"))
                    .and_then(|b| sub_text(b).or_else(|| b.as_str()));
                let Some(body) =
                    body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                else {
                    problems.add(format!("{name}: DashboardBody is not JSON"));
                    continue;
                };
                let mut shown = BTreeSet::new();
                for widget in body["widgets"].as_array().into_iter().flatten() {
                    for line in widget["properties"]["metrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let parts: Vec<&str> = line
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(serde_json::Value::as_str)
                            .collect();
                        let [namespace, metric, dimensions @ ..] = parts.as_slice() else {
                            continue;
                        };
                        shown.insert(((*namespace).to_owned(), (*metric).to_owned()));
                        if *namespace != reply_core::metrics::NAMESPACE {
                            continue;
                        }
                        let function = dimensions
                            .chunks(2)
                            .find(|pair| pair.first() == Some(&"Function"))
                            .and_then(|pair| pair.get(1))
                            .map(|f| (*f).to_owned());
                        used.push((name.to_owned(), (*metric).to_owned(), function));
                    }
                }
                for (namespace, metric) in [
                    ("IgPrivateReplies", "RepliesSent"),
                    ("IgPrivateReplies", "RepliesFailed"),
                    ("IgPrivateReplies", "RepliesExpired"),
                    ("IgPrivateReplies", "RepliesRetried"),
                    ("IgPrivateReplies", "RateLimited"),
                    ("AWS/ApiGateway", "Latency"),
                    ("AWS/Lambda", "IteratorAge"),
                ] {
                    if !shown.contains(&(namespace.to_owned(), metric.to_owned())) {
                        problems.add(format!("{name} does not show {namespace} {metric}"));
                    }
                }
            }
            _ => {}
        }
    }
    for (place, metric, function) in used {
        let Some(code) = functions
            .iter()
            .find(|f| Some(&f.metric_function) == function.as_ref())
        else {
            problems.add(format!(
                "{place}: {metric} has Function={function:?}, which no function emits"
            ));
            continue;
        };
        let literal = format!("\"{metric}\"");
        let emitted = rust_sources(&src(code.crate_dir))
            .iter()
            .any(|(_, text)| text.contains(&literal));
        if !emitted {
            problems.add(format!(
                "{place}: {} never emits the metric {metric}",
                code.crate_dir
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading the template (CloudFormation short tags are kept as tagged values by serde_yaml_ng)
// ---------------------------------------------------------------------------------------------------------

fn resources(root: &Value) -> Vec<(&str, &Value)> {
    root.get("Resources")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?, v)))
                .collect()
        })
        .unwrap_or_default()
}

fn resource<'a>(root: &'a Value, name: &str) -> Option<&'a Value> {
    root.get("Resources")?.get(name)
}

fn resource_type(resource: &Value) -> Option<&str> {
    text(resource.get("Type"))
}

fn text(value: Option<&Value>) -> Option<&str> {
    value?.as_str()
}

fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The function name and argument of an intrinsic, short (`!Ref X`) or long (`{"Ref": "X"}`) form.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        Value::Mapping(mapping) if mapping.len() == 1 => {
            let (key, argument) = mapping.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key.starts_with("Fn::"))
                .then(|| (key.trim_start_matches("Fn::").to_owned(), argument))
        }
        _ => None,
    }
}

fn ref_to(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (name, argument) if name == "Ref" => argument.as_str(),
        _ => None,
    }
}

fn get_att(value: &Value) -> Option<(String, String)> {
    let (name, argument) = intrinsic(value)?;
    if name != "GetAtt" {
        return None;
    }
    match argument {
        Value::String(s) => {
            let (resource, attribute) = s.split_once('.')?;
            Some((resource.to_owned(), attribute.to_owned()))
        }
        Value::Sequence(items) => Some((
            items.first()?.as_str()?.to_owned(),
            items.get(1)?.as_str()?.to_owned(),
        )),
        _ => None,
    }
}

fn sub_text(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (name, Value::String(s)) if name == "Sub" => Some(s),
        (name, Value::Sequence(items)) if name == "Sub" => items.first()?.as_str(),
        _ => None,
    }
}

fn describe(value: &Value) -> String {
    if let Some(target) = ref_to(value) {
        format!("!Ref {target}")
    } else if let Some((resource, attribute)) = get_att(value) {
        format!("!GetAtt {resource}.{attribute}")
    } else if let Some(sub) = sub_text(value) {
        format!("!Sub {sub:?}")
    } else {
        serde_yaml_ng::to_string(value)
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading the code
// ---------------------------------------------------------------------------------------------------------

fn repo_path(relative: &str) -> PathBuf {
    table::repo_root().join(relative)
}

fn src(crate_dir: &str) -> PathBuf {
    repo_path(crate_dir).join("src")
}

/// The production Rust sources under `path` (a file or a directory): `tests.rs` files are skipped, and an
/// inline `#[cfg(test)] mod x { ... }` ends what is read of a file (test modules come last by convention).
fn rust_sources(path: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            files.push((path, production_part(&text).to_owned()));
        }
    }
    files.sort();
    files
}

fn production_part(text: &str) -> &str {
    let mut offset = 0;
    while let Some(found) = text[offset..].find("#[cfg(test)]") {
        let at = offset + found;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        let line = after.lines().next().unwrap_or_default();
        if line.starts_with("mod ") && line.trim_end().ends_with('{') {
            return &text[..at];
        }
        offset = at + 1;
    }
    text
}

/// Environment variable names the code reads: string literals passed to the config helpers.
#[derive(Debug, Default)]
struct EnvReads {
    all: BTreeSet<String>,
    /// Passed to `required(...)`: the code refuses to start without them.
    required: BTreeSet<String>,
}

fn env_reads(dir: &Path) -> EnvReads {
    const READERS: &[&str] = &["required", "optional", "parse_or", "secs", "var", "var_os"];
    let mut reads = EnvReads::default();
    for (_, text) in rust_sources(dir) {
        for reader in READERS {
            let call = format!("{reader}(");
            let mut rest = text.as_str();
            while let Some(found) = rest.find(&call) {
                let preceded_by_ident = rest[..found]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                rest = &rest[found + call.len()..];
                if preceded_by_ident {
                    continue;
                }
                let argument = rest.trim_start();
                let Some(literal) = argument.strip_prefix('"') else {
                    continue;
                };
                let name: String = literal.chars().take_while(|c| *c != '"').collect();
                let is_env_name = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if is_env_name {
                    if *reader == "required" {
                        reads.required.insert(name.clone());
                    }
                    reads.all.insert(name);
                }
            }
        }
    }
    reads
}

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

fn real_template() -> String {
    std::fs::read_to_string(table::template_path()).unwrap()
}

/// The real template with the first occurrence of `from` replaced by `to` (which must exist).
fn altered(from: &str, to: &str) -> String {
    let template = real_template();
    assert!(
        template.contains(from),
        "the template no longer contains {from:?}; update this test"
    );
    template.replacen(from, to, 1)
}

#[track_caller]
fn assert_caught(yaml: &str, expected: &str) {
    let problems = drift(yaml);
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem mentioning {expected:?}, got {problems:#?}"
    );
}

#[test]
fn the_template_agrees_with_the_code() {
    let problems = drift(&real_template());
    assert!(
        problems.is_empty(),
        "template.yaml and the code disagree:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn the_code_constants_this_test_relies_on_are_read_from_the_code() {
    // If these scans found nothing, every check built on them would pass vacuously.
    let replier = env_reads(&src("crates/replier"));
    for name in ["TABLE_NAME", "ACCOUNT_STATE_TABLE_NAME", "REPLY_TEXT"] {
        assert!(replier.required.contains(name), "{replier:?}");
    }
    let webhook = env_reads(&src("crates/webhook"));
    assert!(webhook.required.contains("TABLE_NAME"), "{webhook:?}");
    for name in &webhook.all {
        assert!(
            webhook::WebhookConfig::ENV_VARS.contains(&name.as_str()),
            "the webhook reads {name}, missing from WebhookConfig::ENV_VARS"
        );
    }
    let functions = functions();
    let mut problems = Problems::default();
    let replier_calls = dynamodb_calls(&functions[1], &mut problems);
    assert!(
        replier_calls.contains("dynamodb:UpdateItem"),
        "{replier_calls:?}"
    );
    let webhook_calls = dynamodb_calls(&functions[0], &mut problems);
    assert_eq!(webhook_calls, keys(&["dynamodb:PutItem"]));
    assert!(problems.0.is_empty(), "{:?}", problems.0);
}

#[test]
fn a_renamed_ttl_attribute_is_caught() {
    let yaml = altered(
        "AttributeName: expires_at\n        Enabled: true",
        "AttributeName: ttl\n        Enabled: true",
    );
    assert_caught(&yaml, "CommentsTable TTL attribute");
}

#[test]
fn a_renamed_table_key_is_caught() {
    let yaml = real_template().replace("AttributeName: comment_id", "AttributeName: id");
    assert_caught(&yaml, "CommentsTable hash key");
}

#[test]
fn a_renamed_retry_index_is_caught() {
    let yaml = altered("IndexName: retry_due", "IndexName: due");
    assert_caught(&yaml, "CommentsTable has no index \"retry_due\"");
    assert_caught(&yaml, "grants access to index retry_due");
}

#[test]
fn a_stream_without_old_images_is_caught() {
    let yaml = altered(
        "StreamViewType: NEW_AND_OLD_IMAGES",
        "StreamViewType: NEW_IMAGE",
    );
    assert_caught(&yaml, "CommentsTable stream view");
}

#[test]
fn a_filter_that_lets_other_statuses_through_is_caught() {
    let yaml = altered(r#"{"S": ["PENDING"]}"#, r#"{"S": ["PENDING", "RETRY"]}"#);
    assert_caught(&yaml, "new image is RETRY is delivered");
}

#[test]
fn a_filter_on_the_old_image_is_caught() {
    let yaml = altered(r#""NewImage": {"status""#, r#""OldImage": {"status""#);
    assert_caught(&yaml, "the replier expects");
}

#[test]
fn a_secret_as_an_environment_variable_is_caught() {
    let yaml = altered(
        "          SECRET_ARN: !Ref WebhookSecret\n",
        "          SECRET_ARN: !Ref WebhookSecret\n          APP_SECRET: hunter2\n",
    );
    assert_caught(&yaml, "sets the secret APP_SECRET");
}

#[test]
fn an_environment_variable_the_code_never_reads_is_caught() {
    let yaml = altered(
        "          REPLY_TEXT: !Ref ReplyText\n",
        "          REPLY_TXT: !Ref ReplyText\n",
    );
    assert_caught(&yaml, "sets REPLY_TXT, which the code never reads");
    assert_caught(&yaml, "does not set REPLY_TEXT");
}

#[test]
fn a_table_name_pointing_at_the_wrong_table_is_caught() {
    let yaml = altered(
        "ACCOUNT_STATE_TABLE_NAME: !Ref AccountStateTable",
        "ACCOUNT_STATE_TABLE_NAME: !Ref CommentsTable",
    );
    assert_caught(
        &yaml,
        "ACCOUNT_STATE_TABLE_NAME must be !Ref AccountStateTable",
    );
}

#[test]
fn a_secret_value_written_in_the_template_is_caught() {
    let yaml = altered(r#"'{"APP_SECRET": ""}'"#, r#"'{"APP_SECRET": "hunter2"}'"#);
    assert_caught(&yaml, "secrets must never be template literals");
}

#[test]
fn a_secret_missing_a_key_the_code_reads_is_caught() {
    let yaml = altered(r#", "ACCOUNT_TOKENS": {}"#, "");
    assert_caught(&yaml, "ReplierSecret keys");
}

#[test]
fn an_extra_iam_action_is_caught() {
    let yaml = altered(
        "Action: [dynamodb:PutItem]",
        "Action: [dynamodb:PutItem, dynamodb:Scan]",
    );
    assert_caught(
        &yaml,
        "grants dynamodb:Scan, which WebhookFunction's code never calls",
    );
}

#[test]
fn a_missing_iam_action_is_caught() {
    let yaml = altered("Action: [dynamodb:Query]", "Action: [dynamodb:GetItem]");
    assert_caught(&yaml, "does not grant dynamodb:Query");
}

#[test]
fn a_secret_readable_by_the_wrong_function_is_caught() {
    let yaml = altered(
        "Action: [secretsmanager:GetSecretValue]\n                Resource: !Ref WebhookSecret",
        "Action: [secretsmanager:GetSecretValue]\n                Resource: !Ref ReplierSecret",
    );
    assert_caught(
        &yaml,
        "grants secretsmanager:GetSecretValue on !Ref ReplierSecret",
    );
}

#[test]
fn an_alarm_on_a_metric_nobody_emits_is_caught() {
    let yaml = altered("MetricName: TokenErrors", "MetricName: TokenError");
    assert_caught(&yaml, "never emits the metric TokenError");
}

#[test]
fn an_x86_function_is_caught() {
    let yaml = altered("Architectures: [arm64]", "Architectures: [x86_64]");
    assert_caught(&yaml, "WebhookFunction Architectures");
}

#[test]
fn a_deletable_comments_table_is_caught() {
    let yaml = altered(
        "  CommentsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain",
        "  CommentsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete",
    );
    assert_caught(&yaml, "CommentsTable: DeletionPolicy must be Retain");
}

#[test]
fn a_sweep_on_eventbridge_scheduler_is_caught() {
    let yaml = altered("          Type: Schedule\n", "          Type: ScheduleV2\n");
    assert_caught(&yaml, "nothing runs the retry sweep");
}
