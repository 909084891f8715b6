//! `template.yaml` against the code: one source of truth, checked both ways.
//!
//! The deployed stack can only be tried in a real AWS account, which CI does not have. So everything the
//! template and the code must agree on is checked here, offline: a renamed attribute, a changed filter, an
//! environment variable the code no longer reads, a secret key the code does not know, a DynamoDB call
//! without its IAM grant, or a dashboard metric nobody emits would otherwise only show up after a deploy.
//!
//! [`drift`] returns every disagreement as a sentence; the real template must produce none, and each test
//! in [`altered`] alters a copy of it on purpose to prove that one kind of drift is caught.
//!
//! The template is read by `sam-template`. No check reads Rust source: the code's side comes from its
//! constants (each function's `ENV_VARS`, `REQUIRED_ENV_VARS`, secret keys and metric names, which the
//! functions' own tests check against what they really read and emit) and from the DynamoDB calls the
//! functions really make, recorded while they run ([`calls`]).
//!
//! - [`tables`]: the two tables' keys, TTL and stream, and that they are kept.
//! - [`stream`]: the replier's stream trigger, its filter, dead-letter queue and sweep schedule.
//! - [`functions`]: each function's build, runtime, logs, environment and secret.
//! - [`iam`]: each function's role grants what its code needs and nothing else.
//! - [`metrics`]: alarms and the dashboard show metrics the code emits.
//! - [`calls`]: the DynamoDB actions each function really calls, recorded on DynamoDB Local.
//! - [`altered`]: altered copies of the template, each of which must be caught.
#![allow(clippy::unwrap_used)]

mod altered;
mod calls;
mod functions;
mod iam;
mod metrics;
mod stream;
mod tables;

use std::collections::BTreeSet;

use sam_template::Template;

use crate::functions::functions;

const ACCOUNT_STATE_TABLE_RESOURCE: &str = "AccountStateTable";
const CAMPAIGNS_TABLE_RESOURCE: &str = "CampaignsTable";
/// The replier reads the new image of each record (and its filter matches on it); the table also keeps the
/// old image so that a person or a future consumer can see what a change replaced.
const STREAM_VIEW: &str = "NEW_AND_OLD_IMAGES";

fn keys(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------------------

/// Every disagreement between `yaml` (a template) and the code, as sentences. Empty means they agree.
fn drift(yaml: &str) -> Vec<String> {
    let template = match Template::parse(yaml) {
        Ok(template) => template,
        Err(e) => return vec![format!("the template cannot be read: {e:#}")],
    };
    let mut problems = Problems::default();
    let functions = functions();
    tables::check_comments_table(&template, &mut problems);
    tables::check_account_state_table(&template, &mut problems);
    tables::check_campaigns_table(&template, &mut problems);
    tables::check_messages_table(&template, &mut problems);
    tables::check_tables_are_kept(&template, &mut problems);
    stream::check_stream_mapping(&template, &mut problems);
    functions::check_every_function_is_known(&template, &functions, &mut problems);
    for code in &functions {
        if template.resource(code.resource).is_none() {
            problems.add(format!("{} is missing", code.resource));
            continue;
        }
        match template.function(code.resource) {
            Ok(function) => functions::check_function(&template, &function, code, &mut problems),
            Err(e) => problems.add(format!("{e:#}")),
        }
    }
    metrics::check_metrics(&template, &functions, &mut problems);
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

// ---------------------------------------------------------------------------------------------------------
// The real template
// ---------------------------------------------------------------------------------------------------------

fn real_template() -> String {
    std::fs::read_to_string(sam_template::template_path()).unwrap()
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
    // If these were empty, every check built on them would pass vacuously.
    for name in [
        "TABLE_NAME",
        "ACCOUNT_STATE_TABLE_NAME",
        "CAMPAIGNS_TABLE_NAME",
    ] {
        assert!(
            replier::ReplierConfig::REQUIRED_ENV_VARS.contains(&name),
            "{name}"
        );
        assert!(replier::ReplierConfig::ENV_VARS.contains(&name), "{name}");
    }
    assert!(webhook::WebhookConfig::REQUIRED_ENV_VARS.contains(&"TABLE_NAME"));
    for name in webhook::WebhookConfig::REQUIRED_ENV_VARS {
        assert!(
            webhook::WebhookConfig::ENV_VARS.contains(name),
            "the webhook requires {name}, missing from WebhookConfig::ENV_VARS"
        );
    }
    let functions = functions();
    let replier_calls = &functions[1].dynamodb_actions;
    assert!(
        replier_calls.contains("dynamodb:UpdateItem"),
        "{replier_calls:?}"
    );
    let webhook_calls = &functions[0].dynamodb_actions;
    assert_eq!(
        webhook_calls,
        &keys(&[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ])
    );
    assert!(functions.iter().all(|f| !f.metric_names.is_empty()));
}
