//! Reading stored comment items for display. Items are read as raw attribute maps, not as `CommentRecord`,
//! because the replier adds attributes the webhook's record does not know, and `show` prints them all.
//! Attributes that could hold a credential are never printed.

use crate::dynamo::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use reply_core::lifecycle::attr;
use serde_json::{Map, Value, json};

/// The order `show` prints attributes in (the lifecycle's); any others follow alphabetically.
pub const DISPLAY_ORDER: &[&str] = attr::LIFECYCLE_ORDER;

/// Attributes whose values might be credentials (a fingerprint is a hash, safe to show).
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    (n.contains("token") && !n.contains("fingerprint"))
        || n.contains("secret")
        || n.contains("password")
}

pub const REDACTED: &str = "(redacted)";

/// An attribute as JSON: numbers as numbers when they fit, sets as arrays, binary as its length.
pub fn to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!(s),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Ss(v) => json!(v),
        AttributeValue::Ns(v) => Value::Array(v.iter().map(|n| number(n)).collect()),
        AttributeValue::L(v) => Value::Array(v.iter().map(to_json).collect()),
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        AttributeValue::B(b) => json!(format!("<{} bytes>", b.as_ref().len())),
        AttributeValue::Bs(v) => json!(format!("<{} binary values>", v.len())),
        _ => Value::Null,
    }
}

fn number(n: &str) -> Value {
    n.parse::<i64>()
        .map(Value::from)
        .or_else(|_| n.parse::<f64>().map(Value::from))
        .unwrap_or_else(|_| json!(n))
}

/// The item as a JSON object, credentials redacted.
pub fn item_json(item: &Item) -> Value {
    let mut map = Map::new();
    for (k, v) in item {
        let value = if is_secret(k) {
            json!(REDACTED)
        } else {
            to_json(v)
        };
        map.insert(k.clone(), value);
    }
    Value::Object(map)
}

/// Attribute names in display order.
pub fn ordered_names(item: &Item) -> Vec<&str> {
    let mut names: Vec<&str> = DISPLAY_ORDER
        .iter()
        .copied()
        .filter(|n| item.contains_key(*n))
        .collect();
    let mut rest: Vec<&str> = item
        .keys()
        .map(String::as_str)
        .filter(|k| !DISPLAY_ORDER.contains(k))
        .collect();
    rest.sort_unstable();
    names.extend(rest);
    names
}

pub fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name)? {
        AttributeValue::S(s) => Some(s),
        AttributeValue::N(n) => Some(n),
        _ => None,
    }
}

pub fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(string(item, name)?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What `list` shows as the reason: `status_reason`, and Meta's code/subcode when the replier recorded one.
pub fn reason(item: &Item) -> String {
    let code = string(item, attr::ERROR_CODE).map(|c| match string(item, attr::ERROR_SUBCODE) {
        Some(sub) => format!("{c}/{sub}"),
        None => c.to_owned(),
    });
    match (string(item, attr::STATUS_REASON), code) {
        (Some(r), Some(c)) => format!("{r} ({c})"),
        (Some(r), None) => r.to_owned(),
        (None, Some(c)) => format!("error {c}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn credentials_are_redacted_but_fingerprints_are_shown() {
        let i = item(&[
            ("access_token", AttributeValue::S("IGAA-secret".into())),
            ("token_fingerprint", AttributeValue::S("sha256:ab".into())),
        ]);
        let j = item_json(&i);
        assert_eq!(j["access_token"], REDACTED);
        assert_eq!(j["token_fingerprint"], "sha256:ab");
    }

    #[test]
    fn numbers_become_json_numbers() {
        assert_eq!(to_json(&AttributeValue::N("613".into())), json!(613));
        assert_eq!(to_json(&AttributeValue::N("1.5".into())), json!(1.5));
    }

    #[test]
    fn the_reason_combines_status_reason_and_meta_codes() {
        let i = item(&[
            ("status_reason", AttributeValue::S("rate_limited".into())),
            ("error_code", AttributeValue::N("613".into())),
            ("error_subcode", AttributeValue::N("2534040".into())),
        ]);
        assert_eq!(reason(&i), "rate_limited (613/2534040)");
        assert_eq!(
            reason(&item(&[("error_code", AttributeValue::N("2".into()))])),
            "error 2"
        );
    }

    #[test]
    fn known_attributes_come_first_in_lifecycle_order() {
        let i = item(&[
            ("zeta", AttributeValue::S("z".into())),
            ("status", AttributeValue::S("RETRY".into())),
            ("comment_id", AttributeValue::S("1".into())),
            ("alpha", AttributeValue::S("a".into())),
        ]);
        assert_eq!(
            ordered_names(&i),
            vec!["comment_id", "status", "alpha", "zeta"]
        );
    }
}
