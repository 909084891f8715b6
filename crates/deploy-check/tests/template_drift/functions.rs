//! The functions: what each one's code expects, and its template resource checked against it (build,
//! runtime, logs, environment variables, secret). Its role is checked in [`crate::iam`].

use std::collections::BTreeSet;

use reply_core::secrets::WebhookSecrets;
use sam_template::{Function, Secret, SecretValue, Template};
use stream_runner::REPLIER_FUNCTION_RESOURCE;
use testkit::table::{COMMENTS_TABLE_RESOURCE, MESSAGES_TABLE_RESOURCE};

use crate::{ACCOUNT_STATE_TABLE_RESOURCE, CAMPAIGNS_TABLE_RESOURCE, Problems, keys};

/// One Lambda function of the template and what its code expects.
pub(crate) struct FunctionCode {
    pub(crate) resource: &'static str,
    /// The cargo `[[bin]]` that `sam build` builds for it.
    pub(crate) binary: &'static str,
    /// Its crate, relative to the repository root.
    pub(crate) crate_dir: &'static str,
    /// The value of the `Function` dimension of its EMF metrics.
    pub(crate) metric_function: String,
    /// Environment variables the code reads (its `ENV_VARS`, checked against what it reads by its own tests).
    pub(crate) env_vars: BTreeSet<String>,
    /// The metric names the code emits.
    pub(crate) metric_names: BTreeSet<String>,
    /// The DynamoDB actions the code really called ([`crate::calls`]).
    pub(crate) dynamodb_actions: BTreeSet<String>,
    /// Environment variables the code refuses to start without.
    pub(crate) required_env: BTreeSet<String>,
    /// The keys the code reads from its Secrets Manager secret.
    pub(crate) secret_keys: BTreeSet<String>,
    /// Environment variables naming a table, and the table resource each must name.
    pub(crate) table_env: &'static [(&'static str, &'static str)],
}

pub(crate) fn functions() -> Vec<FunctionCode> {
    let recorded = crate::calls::recorded();
    vec![
        FunctionCode {
            resource: "WebhookFunction",
            binary: "webhook",
            crate_dir: "crates/webhook",
            metric_function: webhook::METRICS_FUNCTION.to_owned(),
            env_vars: keys(webhook::WebhookConfig::ENV_VARS),
            metric_names: keys(&webhook::metric_names()),
            dynamodb_actions: recorded.webhook.clone(),
            required_env: keys(webhook::WebhookConfig::REQUIRED_ENV_VARS),
            secret_keys: keys(WebhookSecrets::KEYS),
            table_env: &[
                ("TABLE_NAME", COMMENTS_TABLE_RESOURCE),
                ("MESSAGES_TABLE_NAME", MESSAGES_TABLE_RESOURCE),
            ],
        },
        FunctionCode {
            resource: REPLIER_FUNCTION_RESOURCE,
            binary: "replier",
            crate_dir: "crates/replier",
            metric_function: replier::metrics::FUNCTION.to_owned(),
            env_vars: keys(replier::ReplierConfig::ENV_VARS),
            metric_names: keys(&replier::metrics::metric_names()),
            dynamodb_actions: recorded.replier.clone(),
            required_env: keys(replier::ReplierConfig::REQUIRED_ENV_VARS),
            secret_keys: keys(replier::ReplierSecrets::KEYS),
            table_env: &[
                ("TABLE_NAME", COMMENTS_TABLE_RESOURCE),
                ("ACCOUNT_STATE_TABLE_NAME", ACCOUNT_STATE_TABLE_RESOURCE),
                ("CAMPAIGNS_TABLE_NAME", CAMPAIGNS_TABLE_RESOURCE),
            ],
        },
    ]
}

pub(crate) fn repo_path(relative: &str) -> std::path::PathBuf {
    sam_template::repo_root().join(relative)
}

/// Secret key names that must never appear as environment variables.
fn secret_key_names() -> BTreeSet<String> {
    let mut names = keys(WebhookSecrets::KEYS);
    names.extend(keys(replier::ReplierSecrets::KEYS));
    names
}

/// A function added to the template must be taught to this test (and to infra/check-deploy.sh).
pub(crate) fn check_every_function_is_known(
    template: &Template,
    functions: &[FunctionCode],
    problems: &mut Problems,
) {
    let check_deploy =
        std::fs::read_to_string(repo_path("infra/check-deploy.sh")).unwrap_or_default();
    let listed = check_deploy
        .lines()
        .find(|line| line.trim_start().starts_with("readonly FUNCTIONS=("))
        .unwrap_or_default();
    for function in template.functions() {
        let name = function.id();
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

pub(crate) fn check_function(
    template: &Template,
    function: &Function<'_>,
    code: &FunctionCode,
    problems: &mut Problems,
) {
    let name = code.resource;
    let node = function.resource().node();
    let literal = |key: &str| function.property(key).and_then(|v| v.as_str());

    // Build: cargo-lambda builds this function's binary for Graviton, as a custom runtime.
    if node
        .find(&["Metadata", "BuildMethod"])
        .and_then(|v| v.as_str())
        != Some("rust-cargolambda")
    {
        problems.add(format!(
            "{name}: Metadata.BuildMethod must be rust-cargolambda"
        ));
    }
    let binary = node
        .find(&["Metadata", "BuildProperties", "Binary"])
        .and_then(|v| v.as_str());
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
        literal("CodeUri"),
        Some(code.crate_dir),
    );
    problems.expect_eq(
        &format!("{name} Runtime"),
        literal("Runtime"),
        Some("provided.al2023"),
    );
    problems.expect_eq(
        &format!("{name} Handler"),
        literal("Handler"),
        Some("bootstrap"),
    );
    let architectures: Vec<&str> = function
        .property("Architectures")
        .and_then(|a| a.items().ok())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    problems.expect_eq(
        &format!("{name} Architectures"),
        architectures,
        vec!["arm64"],
    );
    for key in ["MemorySize", "Timeout"] {
        if function
            .property(key)
            .and_then(|v| v.as_integer())
            .is_none()
        {
            problems.add(format!("{name}: {key} must be set"));
        }
    }
    // Logs: JSON (the code writes JSON lines and EMF), into a log group with a retention.
    let logging = function.property("LoggingConfig");
    if logging
        .as_ref()
        .and_then(|l| l.get("LogFormat"))
        .and_then(|v| v.as_str())
        != Some("JSON")
    {
        problems.add(format!("{name}: LoggingConfig.LogFormat must be JSON"));
    }
    let log_group = logging
        .and_then(|l| l.get("LogGroup"))
        .and_then(|group| group.ref_target());
    match log_group.and_then(|group| template.resource(group)) {
        Some(group)
            if group.type_name() == "AWS::Logs::LogGroup"
                && group.property("RetentionInDays").is_some() => {}
        _ => problems.add(format!(
            "{name}: LoggingConfig.LogGroup must be !Ref a log group with RetentionInDays"
        )),
    }

    check_environment(template, function, code, problems);
    crate::iam::check_role(template, function, code, problems);
}

fn check_environment(
    template: &Template,
    function: &Function<'_>,
    code: &FunctionCode,
    problems: &mut Problems,
) {
    let name = code.resource;
    let variables = match function.environment() {
        Ok(variables) => variables,
        Err(e) => return problems.add(format!("{name}: {e:#}")),
    };
    let set: BTreeSet<&str> = variables.iter().map(|v| v.name).collect();
    let mut allowed = code.env_vars.clone();
    allowed.insert(reply_core::secrets::SECRET_ARN_VAR.to_owned());
    allowed.extend(keys(reply_core::telemetry::ENV_VARS));
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
            .find(|v| v.name == variable)
            .map(|v| &v.value)
    };
    for (variable, table) in code.table_env {
        if value_of(variable).and_then(|v| v.ref_target()) != Some(*table) {
            problems.add(format!("{name}: {variable} must be !Ref {table}"));
        }
    }

    // Secrets: from this function's own Secrets Manager secret, holding exactly the keys the code reads.
    let secret_var = reply_core::secrets::SECRET_ARN_VAR;
    let Some(secret) = value_of(secret_var).and_then(|v| v.ref_target()) else {
        return problems.add(format!(
            "{name}: {secret_var} must be !Ref a Secrets Manager secret"
        ));
    };
    match template.secret(secret) {
        Ok(resource) => check_secret(&resource, code, problems),
        Err(_) => problems.add(format!(
            "{name}: {secret_var} names {secret}, which is not an AWS::SecretsManager::Secret"
        )),
    }
}

/// The secret's initial JSON has exactly the keys the code reads, and no value in it (values are put with
/// `aws secretsmanager put-secret-value`; only a generated verify token may be filled in by CloudFormation).
fn check_secret(secret: &Secret<'_>, code: &FunctionCode, problems: &mut Problems) {
    let name = secret.id();
    let (json_text, generated_key) = match secret.initial_value() {
        Ok(SecretValue::Literal(literal)) => (literal.as_str(), None),
        Ok(SecretValue::Generated { template, key }) => (
            template.and_then(|t| t.as_str()),
            key.and_then(|k| k.as_str()),
        ),
        Err(_) => {
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
