//! Least privilege: each function's role grants what its code needs and nothing else.

use std::collections::BTreeSet;

use sam_template::{Function, Template};

use crate::Problems;
use crate::functions::FunctionCode;

/// Stream reads done by Lambda's event source mapping with the function's role.
const STREAM_READ_ACTIONS: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

/// Least privilege: the role grants the DynamoDB actions the code calls and nothing else, the stream reads
/// only to a stream-triggered function, its own secret, its own logs, and its own dead-letter queue.
pub(crate) fn check_role(
    template: &Template,
    function: &Function<'_>,
    code: &FunctionCode,
    problems: &mut Problems,
) {
    let name = code.resource;
    let Some((role_name, _)) = function.property("Role").and_then(|role| role.get_att()) else {
        return problems.add(format!(
            "{name}: Role must be !GetAtt <an AWS::IAM::Role>.Arn (SAM's generated roles are broader)"
        ));
    };
    let Ok(role) = template.role(role_name) else {
        return problems.add(format!("{name}: {role_name} is not an AWS::IAM::Role"));
    };
    if role.managed_policy_arns().is_some() {
        problems.add(format!(
            "{role_name}: no managed policies (they grant more than the function uses)"
        ));
    }
    let grants = match role.allowed() {
        Ok(grants) => grants,
        Err(e) => return problems.add(format!("{role_name}: {e:#}")),
    };

    // DynamoDB item actions: exactly those the function's code calls.
    let called = &code.dynamodb_actions;
    let granted: BTreeSet<String> = grants
        .iter()
        .map(|grant| grant.action.to_owned())
        .filter(|a| a.starts_with("dynamodb:") && !STREAM_READ_ACTIONS.contains(&a.as_str()))
        .collect();
    for action in called.difference(&granted) {
        problems.add(format!(
            "{role_name} does not grant {action}, which {name}'s code calls"
        ));
    }
    for action in granted.difference(called) {
        problems.add(format!(
            "{role_name} grants {action}, which {name}'s code never calls"
        ));
    }
    // An index named in a resource must exist.
    for grant in &grants {
        if let Some(sub) = grant.resource.sub_text()
            && let Some((table_part, index)) = sub.split_once("/index/")
        {
            let table = table_part
                .trim_start_matches("${")
                .trim_end_matches(".Arn}");
            let exists = template
                .table(table)
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
    let stream_triggered = function
        .events()
        .is_ok_and(|events| events.iter().any(|e| e.event_type == "DynamoDB"));
    for action in STREAM_READ_ACTIONS {
        let has = grants.iter().any(|grant| grant.action == *action);
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
    let secret = function
        .environment()
        .ok()
        .and_then(|variables| {
            variables
                .into_iter()
                .find(|v| v.name == reply_core::secrets::SECRET_ARN_VAR)
        })
        .and_then(|v| v.value.ref_target());
    let resource_type = |id: &str| template.resource(id).map(|r| r.type_name());
    for grant in &grants {
        let action = grant.action;
        if action.starts_with("dynamodb:") {
            continue;
        }
        let fine = match action {
            "secretsmanager:GetSecretValue" => {
                grant.resource.ref_target().is_some() && grant.resource.ref_target() == secret
            }
            "logs:CreateLogStream" | "logs:PutLogEvents" => grant
                .resource
                .get_att()
                .is_some_and(|(group, _)| resource_type(group) == Some("AWS::Logs::LogGroup")),
            "sqs:SendMessage" => {
                stream_triggered
                    && grant
                        .resource
                        .get_att()
                        .is_some_and(|(queue, _)| resource_type(queue) == Some("AWS::SQS::Queue"))
            }
            _ => false,
        };
        if !fine {
            problems.add(format!(
                "{role_name} grants {action} on {}, which {name} does not need",
                grant.resource.render()
            ));
        }
    }
    if secret.is_some()
        && !grants
            .iter()
            .any(|grant| grant.action == "secretsmanager:GetSecretValue")
    {
        problems.add(format!("{role_name} cannot read {name}'s secret"));
    }
}
