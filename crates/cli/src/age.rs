//! Durations as operators type them (`8d`, `2h`, `30m`, `1d12h`, `0`), and back for display.

use chrono::Duration;

/// Parses `<number><unit>` groups, units `d`, `h`, `m`, `s`; `0` alone is zero.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::zero());
    }
    let invalid = || format!("{text:?} is not a duration like 8d, 2h, 30m, 45s or 1d12h");
    let mut total = Duration::zero();
    let mut digits = String::new();
    let mut groups = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| invalid())?;
        let part = match c {
            'd' => Duration::try_days(n),
            'h' => Duration::try_hours(n),
            'm' => Duration::try_minutes(n),
            's' => Duration::try_seconds(n),
            _ => None,
        }
        .ok_or_else(invalid)?;
        total = total.checked_add(&part).ok_or_else(invalid)?;
        digits.clear();
        groups += 1;
    }
    if groups == 0 || !digits.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

/// `3d 4h`, `2h 5m`, `45s`: the two largest units, for "ago" and "in" notes.
pub fn short(d: Duration) -> String {
    let secs = d.num_seconds().abs();
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// `2h ago` or `in 3d 4h`, relative to `now`.
pub fn relative(t: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let d = t - now;
    if d.num_seconds() == 0 {
        "just now".to_owned()
    } else if d.num_seconds() < 0 {
        format!("{} ago", short(d))
    } else {
        format!("in {}", short(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_combined_units_parse() {
        assert_eq!(parse_age("8d"), Ok(Duration::days(8)));
        assert_eq!(parse_age("2h"), Ok(Duration::hours(2)));
        assert_eq!(parse_age("30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse_age("1d12h"), Ok(Duration::hours(36)));
        assert_eq!(parse_age("0"), Ok(Duration::zero()));
    }

    #[test]
    fn text_that_is_not_a_duration_is_refused() {
        for bad in ["", "8", "d", "8x", "-1d", "8d3", "1.5h"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_durations_keep_the_two_largest_units() {
        assert_eq!(short(Duration::seconds(45)), "45s");
        assert_eq!(short(Duration::minutes(125)), "2h 5m");
        assert_eq!(short(Duration::hours(76)), "3d 4h");
        assert_eq!(short(Duration::days(-8)), "8d");
    }
}
