//! Counts in CloudWatch embedded metric format (EMF): a JSON log line that CloudWatch turns into metrics with no
//! API call and no extra latency. The dashboard and alarms of the deployed stack read these names.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns EMF lines off for this process (the local stack's terminal is for people; CloudWatch is not there).
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// The CloudWatch namespace of every metric the product emits.
pub const NAMESPACE: &str = "IgPrivateReplies";

/// Writes one EMF line with `counts` under the `Function` dimension (plus `extra` dimensions). Zero counts
/// are kept, so a dashboard shows a flat line rather than a gap.
pub fn emit_counts(function: &str, extra: &[(&str, &str)], counts: &[(&str, u64)]) {
    if counts.is_empty() || !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let timestamp = chrono::Utc::now().timestamp_millis();
    let mut dims = vec!["Function"];
    dims.extend(extra.iter().map(|(k, _)| *k));
    let metrics: Vec<_> = counts
        .iter()
        .map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dims], "Metrics": metrics}],
        },
        "Function": function,
    });
    if let Some(obj) = line.as_object_mut() {
        for (k, v) in extra {
            obj.insert((*k).to_owned(), serde_json::Value::from(*v));
        }
        for (name, value) in counts {
            obj.insert((*name).to_owned(), serde_json::Value::from(*value));
        }
    }
    let mut out = std::io::stdout().lock();
    // Losing a metric line must never fail a request.
    let _ = writeln!(out, "{line}");
}
