//! Meta's usage headers (PLATFORM.md section 6): `X-Business-Use-Case-Usage` (per business object, a list of
//! `{type, call_count, total_cputime, total_time, estimated_time_to_regain_access}`) and `X-App-Usage`
//! (`{call_count, total_cputime, total_time}`). Percentages reach 100 when the caller is throttled;
//! `estimated_time_to_regain_access` is in minutes. Malformed headers are ignored: they only refine a backoff.

use serde_json::Value;
use std::time::Duration;

pub const BUSINESS_USE_CASE_HEADER: &str = "x-business-use-case-usage";
pub const APP_USAGE_HEADER: &str = "x-app-usage";

/// What the headers of one response say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The highest of every reported percentage (`call_count`, `total_cputime`, `total_time`).
    pub max_percent: Option<u32>,
    /// The longest `estimated_time_to_regain_access`, in minutes; `Some(0)` means "not throttled".
    pub regain_minutes: Option<u32>,
}

impl Usage {
    /// Reads both headers (either may be absent or malformed).
    pub fn from_headers(business_use_case: Option<&str>, app: Option<&str>) -> Self {
        let mut usage = Self::default();
        if let Some(Value::Object(accounts)) =
            business_use_case.and_then(|h| serde_json::from_str(h).ok())
        {
            for entries in accounts.values() {
                match entries {
                    Value::Array(list) => list.iter().for_each(|e| usage.absorb(e)),
                    other => usage.absorb(other),
                }
            }
        }
        if let Some(app) = app.and_then(|h| serde_json::from_str::<Value>(h).ok()) {
            usage.absorb(&app);
        }
        usage
    }

    /// How long until access is regained, when the headers say so.
    pub fn regain_after(&self) -> Option<Duration> {
        self.regain_minutes
            .filter(|m| *m > 0)
            .map(|m| Duration::from_secs(u64::from(m) * 60))
    }

    fn absorb(&mut self, entry: &Value) {
        for key in ["call_count", "total_cputime", "total_time"] {
            if let Some(p) = number(&entry[key]) {
                self.max_percent = Some(self.max_percent.map_or(p, |m| m.max(p)));
            }
        }
        if let Some(m) = number(&entry["estimated_time_to_regain_access"]) {
            self.regain_minutes = Some(self.regain_minutes.map_or(m, |r| r.max(m)));
        }
    }
}

/// A non-negative whole number, sent either as a JSON number or as a numeric string.
pub(crate) fn number(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        Value::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_business_use_case_header_gives_the_regain_time_in_minutes() {
        let buc = r#"{"17841401906857599":[{"type":"instagram","call_count":100,"total_cputime":12,"total_time":30,"estimated_time_to_regain_access":7}]}"#;
        let usage = Usage::from_headers(Some(buc), None);
        assert_eq!(
            usage,
            Usage {
                max_percent: Some(100),
                regain_minutes: Some(7)
            }
        );
        assert_eq!(usage.regain_after(), Some(Duration::from_secs(420)));
    }

    #[test]
    fn the_longest_regain_time_and_highest_share_win_across_entries_and_headers() {
        let buc = r#"{"1":[{"call_count":10,"estimated_time_to_regain_access":0}],"2":[{"total_time":"55","estimated_time_to_regain_access":"3"}]}"#;
        let app = r#"{"call_count":80,"total_cputime":5,"total_time":7}"#;
        assert_eq!(
            Usage::from_headers(Some(buc), Some(app)),
            Usage {
                max_percent: Some(80),
                regain_minutes: Some(3)
            }
        );
    }

    #[test]
    fn no_throttling_means_no_regain_delay() {
        let usage = Usage::from_headers(
            None,
            Some(r#"{"call_count":4,"total_cputime":1,"total_time":2}"#),
        );
        assert_eq!(usage.max_percent, Some(4));
        assert_eq!(usage.regain_after(), None);
        let zero = Usage::from_headers(
            Some(r#"{"1":[{"estimated_time_to_regain_access":0}]}"#),
            None,
        );
        assert_eq!(zero.regain_after(), None);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for h in [
            "",
            "not json",
            "[]",
            r#"{"1": "x"}"#,
            r#"{"1":[{"call_count":-5}]}"#,
        ] {
            assert_eq!(
                Usage::from_headers(Some(h), Some(h)),
                Usage::default(),
                "{h}"
            );
        }
    }
}
