//! A campaign's `follow_up`: the message sent when the person answers the private reply, and the checks
//! `apply` makes of it against Meta's limits for a message, and for a button template (PLATFORM.md section 8).

use super::template::{MAX_USERNAME_BYTES, ReplyTemplate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A follow-up with a button is sent as Meta's button template, whose text is at most 640 characters and whose
/// button title at most 20 (PLATFORM.md section 8).
pub const MAX_BUTTON_TEXT_CHARS: usize = 640;
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// A web URL we put in a button: long enough for any tracking link, short enough to read in the console.
pub const MAX_URL_BYTES: usize = 2000;

/// The message sent when the person answers the private reply (inside the 24-hour window that answer opens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// A reply template (`{username}` allowed).
    pub text: String,
    /// With a button, the message is Meta's button template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<Button>,
}

/// One web-URL button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub title: String,
    pub url: String,
}

/// `follow_up: {text, button?: {title, url}}`: the text a template within Meta's limits (640 characters with
/// a button, whose title is at most 20 characters and whose URL is https).
pub(super) fn read(fields: &Map<String, Value>, p: &mut Vec<String>) -> Option<FollowUp> {
    let value = match fields.get("follow_up") {
        None | Some(Value::Null) => return None,
        Some(Value::Object(value)) => value,
        Some(_) => {
            p.push("follow_up: must be a mapping with `text` (and optionally `button`)".into());
            return None;
        }
    };
    let before = p.len();
    for key in value
        .keys()
        .filter(|k| !["text", "button"].contains(&k.as_str()))
    {
        p.push(format!(
            "follow_up: unknown field `{key}` (it has: text, button)"
        ));
    }
    let text = match value.get("text") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(Value::String(_)) => {
            p.push("follow_up.text: empty".into());
            String::new()
        }
        None | Some(Value::Null) => {
            p.push("follow_up.text: required".into());
            String::new()
        }
        Some(_) => {
            p.push("follow_up.text: must be text".into());
            String::new()
        }
    };
    let button = match value.get("button") {
        None | Some(Value::Null) => None,
        Some(Value::Object(b)) => {
            for key in b.keys().filter(|k| !["title", "url"].contains(&k.as_str())) {
                p.push(format!(
                    "follow_up.button: unknown field `{key}` (it has: title, url)"
                ));
            }
            let field = |key: &str, p: &mut Vec<String>| match b.get(key) {
                Some(Value::String(v)) if !v.trim().is_empty() => v.clone(),
                _ => {
                    p.push(format!("follow_up.button.{key}: required text"));
                    String::new()
                }
            };
            let title = field("title", p);
            let url = field("url", p);
            if title.chars().count() > MAX_BUTTON_TITLE_CHARS {
                p.push(format!(
                    "follow_up.button.title: longer than {MAX_BUTTON_TITLE_CHARS} characters (Meta's limit)"
                ));
            }
            if let Some(Err(problem)) = (!url.is_empty()).then(|| check_url(&url)) {
                p.push(format!("follow_up.button.url: {problem}"));
            }
            Some(Button { title, url })
        }
        Some(_) => {
            p.push("follow_up.button: must be a mapping with `title` and `url`".into());
            None
        }
    };
    if !text.is_empty() {
        match ReplyTemplate::parse(&text) {
            Err(e) => p.push(format!("follow_up.text: {e}")),
            // The button template's text is counted in characters, with the longest username filled in.
            Ok(template) if button.is_some() => {
                let longest = template.render(Some(&"W".repeat(MAX_USERNAME_BYTES)));
                if longest.chars().count() > MAX_BUTTON_TEXT_CHARS {
                    p.push(format!(
                        "follow_up.text: longer than {MAX_BUTTON_TEXT_CHARS} characters, Meta's limit for a message with a button"
                    ));
                }
            }
            Ok(_) => {}
        }
    }
    (p.len() == before).then_some(FollowUp { text, button })
}

/// An absolute `https://` URL with a host and no spaces or control characters.
fn check_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("{url:?} must start with https://"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with('.') || !host.contains('.') && host != "localhost" {
        return Err(format!("{url:?} has no host"));
    }
    if url.len() > MAX_URL_BYTES {
        return Err(format!("longer than {MAX_URL_BYTES} bytes"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} holds spaces or control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::campaign::{Campaign, Format, Problems};

    fn problems(text: &str) -> Vec<String> {
        match Campaign::from_file(text, Format::Yaml) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(Problems(p)) => p,
        }
    }

    #[test]
    fn follow_ups_are_checked_against_meta_limits() {
        let base = "id: a\naccount: 17841400000000001\nkeywords: [link]\nreply: Hi!\n";
        let one = |extra: &str| problems(&format!("{base}{extra}"));
        assert_eq!(
            one("follow_up: hello\n"),
            ["follow_up: must be a mapping with `text` (and optionally `button`)"]
        );
        assert_eq!(one("follow_up: {}\n"), ["follow_up.text: required"]);
        assert_eq!(
            one("follow_up: {text: hi, colour: red}\n"),
            ["follow_up: unknown field `colour` (it has: text, button)"]
        );
        let title = "x".repeat(21);
        assert_eq!(
            one(&format!(
                "follow_up: {{text: hi, button: {{title: {title}, url: 'https://a.example'}}}}\n"
            )),
            ["follow_up.button.title: longer than 20 characters (Meta's limit)"]
        );
        for url in [
            "http://a.example/x",
            "https:///x",
            "https://a.example/x y",
            "shop",
        ] {
            let p = one(&format!(
                "follow_up: {{text: hi, button: {{title: Shop, url: '{url}'}}}}\n"
            ));
            assert!(
                p.len() == 1 && p[0].starts_with("follow_up.button.url:"),
                "{url}: {p:?}"
            );
        }
        assert_eq!(
            one("follow_up: {text: hi, button: {title: Shop}}\n"),
            ["follow_up.button.url: required text"]
        );
        // 640 characters with a button, counted with the longest username filled in; 1,000 bytes always.
        let text = format!("{}{{username}}", "a".repeat(611));
        let with_button = format!(
            "follow_up: {{text: '{text}', button: {{title: Shop, url: 'https://a.example'}}}}\n"
        );
        assert!(one(&with_button)[0].starts_with("follow_up.text: longer than 640 characters"));
        let plain = Campaign::from_file(
            &format!("{base}follow_up: {{text: '{}'}}\n", "é".repeat(490)),
            Format::Yaml,
        );
        assert!(plain.is_ok(), "{plain:?}");
        let ok = Campaign::from_file(
            &format!(
                "{base}follow_up: {{text: '{}', button: {{title: Shop, url: 'https://a.example'}}}}\n",
                "a".repeat(610)
            ),
            Format::Yaml,
        );
        assert!(ok.is_ok(), "{ok:?}");
        assert!(
            one(&format!("follow_up: {{text: '{}'}}\n", "é".repeat(501)))[0]
                .starts_with("follow_up.text:")
        );
    }
}
