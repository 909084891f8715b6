//! A private reply's text with its placeholders: `{username}` (the commenter's username) or
//! `{username|there}` (with a fallback for comments that arrive without one); `{{` and `}}` are literal
//! braces. A template is checked when it is applied (a campaign) or at cold start (`REPLY_TEXT`), against
//! Meta's limit of 1,000 UTF-8 bytes with the longest username Instagram allows; per comment only the username
//! is filled in and the result checked again (PLATFORM.md section 5).

/// Longest message text Meta accepts, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 1000;
/// Instagram usernames are at most 30 characters of letters, digits, `.` and `_`: at most 30 bytes.
pub const MAX_USERNAME_BYTES: usize = 30;
/// The one placeholder's name.
pub const USERNAME: &str = "username";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the reply text is empty")]
    Empty,
    #[error(
        "the reply text can be {0} bytes with a {MAX_USERNAME_BYTES}-character username; Instagram accepts at most {MAX_TEXT_BYTES}"
    )]
    TooLong(usize),
    #[error(
        "unknown placeholder {0:?} at byte {1}: only {{username}} and {{username|fallback}} are supported (write {{{{ and }}}} for literal braces)"
    )]
    UnknownPlaceholder(String, usize),
    #[error("unmatched {0:?} at byte {1} (write {{{{ and }}}} for literal braces)")]
    UnmatchedBrace(char, usize),
}

/// A comment's text would exceed Meta's limit once the username is filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the reply would be {0} bytes; Instagram accepts at most {MAX_TEXT_BYTES}")]
pub struct TextTooLong(pub usize);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// The username, or this fallback when the comment came without one.
    Username {
        fallback: String,
    },
}

/// A validated reply text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTemplate {
    parts: Vec<Part>,
}

impl ReplyTemplate {
    /// Any brace but the placeholders and doubled braces is an error, so that `{user}` or `{ username }`
    /// cannot go out to people verbatim.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        if template.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        let mut at = 0;
        while let Some(c) = rest.chars().next() {
            let step = if rest.starts_with("{{") {
                text.push('{');
                2
            } else if rest.starts_with("}}") {
                text.push('}');
                2
            } else if c == '{' {
                let Some(end) = rest[1..].find(['{', '}']).map(|i| i + 1) else {
                    return Err(TemplateError::UnmatchedBrace('{', at));
                };
                if !rest[end..].starts_with('}') {
                    return Err(TemplateError::UnmatchedBrace('{', at));
                }
                let inner = &rest[1..end];
                let (name, fallback) = match inner.split_once('|') {
                    Some((name, fallback)) => (name, fallback),
                    None => (inner, ""),
                };
                if name != USERNAME {
                    let shown: String = inner.chars().take(40).collect();
                    return Err(TemplateError::UnknownPlaceholder(
                        format!("{{{shown}}}"),
                        at,
                    ));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Username {
                    fallback: fallback.to_owned(),
                });
                end + 1
            } else if c == '}' {
                return Err(TemplateError::UnmatchedBrace('}', at));
            } else {
                text.push(c);
                c.len_utf8()
            };
            rest = &rest[step..];
            at += step;
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        let template = Self { parts };
        if template.render(Some("")).trim().is_empty() && template.render(None).trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let longest = template.longest_bytes();
        if longest > MAX_TEXT_BYTES {
            return Err(TemplateError::TooLong(longest));
        }
        Ok(template)
    }

    /// The most bytes the text can take: with a username of [`MAX_USERNAME_BYTES`], or the fallback where it
    /// is longer.
    pub fn longest_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.len(),
                Part::Username { fallback } => fallback.len().max(MAX_USERNAME_BYTES),
            })
            .sum()
    }

    /// Whether a placeholder has no fallback (a comment without a username would read "Hi !").
    pub fn lacks_fallback(&self) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Username { fallback } if fallback.is_empty()))
    }

    /// The text for one commenter; without a username, each placeholder's fallback.
    pub fn render(&self, username: Option<&str>) -> String {
        let username = username.filter(|u| !u.is_empty());
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Username { fallback } => out.push_str(username.unwrap_or(fallback)),
            }
        }
        out
    }

    /// The text for one commenter, or why it cannot be sent.
    pub fn render_checked(&self, username: Option<&str>) -> Result<String, TextTooLong> {
        check_length(self.render(username))
    }
}

/// `text` if Meta accepts its length.
pub fn check_length(text: String) -> Result<String, TextTooLong> {
    if text.len() > MAX_TEXT_BYTES {
        Err(TextTooLong(text.len()))
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(s: &str) -> ReplyTemplate {
        ReplyTemplate::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn the_username_is_filled_in_wherever_the_placeholder_stands() {
        let t = template("Hi @{username}! Thanks, {username} 🙌");
        assert_eq!(t.render(Some("ana")), "Hi @ana! Thanks, ana 🙌");
        assert_eq!(
            template("no placeholder").render(Some("ana")),
            "no placeholder"
        );
    }

    #[test]
    fn a_missing_username_takes_the_fallback() {
        let t = template("Hi {username|there}, here you go");
        assert_eq!(t.render(Some("ana")), "Hi ana, here you go");
        assert_eq!(t.render(None), "Hi there, here you go");
        assert_eq!(t.render(Some("")), "Hi there, here you go");
        assert!(!t.lacks_fallback());
        let bare = template("Hi {username}, here you go");
        assert_eq!(bare.render_checked(None), Ok("Hi , here you go".into()));
        assert!(bare.lacks_fallback());
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        assert_eq!(
            template("{{not}} {username}}}").render(Some("x")),
            "{not} x}"
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_refused() {
        assert_eq!(
            ReplyTemplate::parse("Hi {user}"),
            Err(TemplateError::UnknownPlaceholder("{user}".into(), 3))
        );
        assert_eq!(
            ReplyTemplate::parse("Hi {user|x}"),
            Err(TemplateError::UnknownPlaceholder("{user|x}".into(), 3))
        );
        assert!(matches!(
            ReplyTemplate::parse("Hi { username }"),
            Err(TemplateError::UnknownPlaceholder(..))
        ));
        assert_eq!(
            ReplyTemplate::parse("Hi {username"),
            Err(TemplateError::UnmatchedBrace('{', 3))
        );
        assert_eq!(
            ReplyTemplate::parse("Hi {username {username}"),
            Err(TemplateError::UnmatchedBrace('{', 3))
        );
        assert_eq!(
            ReplyTemplate::parse("a } b"),
            Err(TemplateError::UnmatchedBrace('}', 2))
        );
    }

    #[test]
    fn an_empty_or_blank_template_is_refused() {
        assert_eq!(ReplyTemplate::parse(""), Err(TemplateError::Empty));
        assert_eq!(ReplyTemplate::parse("  \n"), Err(TemplateError::Empty));
        assert_eq!(
            ReplyTemplate::parse(" {username} "),
            Err(TemplateError::Empty)
        );
        assert!(ReplyTemplate::parse("{username|friend}").is_ok());
    }

    #[test]
    fn the_limit_counts_a_worst_case_username_at_apply_time() {
        assert!(ReplyTemplate::parse(&"a".repeat(1000)).is_ok());
        assert_eq!(
            ReplyTemplate::parse(&"a".repeat(1001)),
            Err(TemplateError::TooLong(1001))
        );
        assert_eq!(
            ReplyTemplate::parse(&"€".repeat(334)),
            Err(TemplateError::TooLong(1002))
        );
        assert!(ReplyTemplate::parse(&format!("{}{{username}}", "a".repeat(970))).is_ok());
        assert_eq!(
            ReplyTemplate::parse(&format!("{}{{username}}", "a".repeat(971))),
            Err(TemplateError::TooLong(1001))
        );
        let long_fallback = format!("{}{{username|{}}}", "a".repeat(960), "b".repeat(41));
        assert_eq!(
            ReplyTemplate::parse(&long_fallback),
            Err(TemplateError::TooLong(1001))
        );
    }

    #[test]
    fn the_limit_counts_utf8_bytes_of_the_filled_in_text() {
        let t = template(&format!("{}{{username}}", "a".repeat(960)));
        assert_eq!(
            t.render_checked(Some(&"x".repeat(40))).map(|s| s.len()),
            Ok(1000)
        );
        assert_eq!(
            t.render_checked(Some(&"x".repeat(41))),
            Err(TextTooLong(1001))
        );
        assert_eq!(t.render_checked(Some("😀😀")).map(|s| s.len()), Ok(968));
    }
}
