//! Alarms and the dashboard show metrics the code emits, under the namespace and dimension it uses.

use std::collections::BTreeSet;

use sam_template::Template;

use crate::Problems;
use crate::functions::FunctionCode;

/// Alarms and the dashboard read metrics the code emits, under the namespace and dimension it uses.
pub(crate) fn check_metrics(
    template: &Template,
    functions: &[FunctionCode],
    problems: &mut Problems,
) {
    let mut used: Vec<(String, String, Option<String>)> = Vec::new(); // (where, metric, Function)
    match template.alarms() {
        Ok(alarms) => {
            for alarm in alarms {
                if alarm.namespace != Some(reply_core::metrics::NAMESPACE) {
                    continue;
                }
                let metric = alarm.metric_name.unwrap_or_default();
                let function = alarm.dimension("Function").and_then(|v| v.as_str());
                used.push((
                    alarm.id.to_owned(),
                    metric.to_owned(),
                    function.map(str::to_owned),
                ));
            }
        }
        Err(e) => problems.add(format!("{e:#}")),
    }
    for dashboard in template.dashboards() {
        let name = dashboard.id();
        let Some(body) = dashboard
            .body()
            .ok()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
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
        if !code.metric_names.contains(&metric) {
            problems.add(format!(
                "{place}: {} never emits the metric {metric}",
                code.crate_dir
            ));
        }
    }
}
