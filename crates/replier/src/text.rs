//! The private reply's text. The template is checked once at cold start, so a typo in `REPLY_TEXT` fails the
//! deployment instead of every comment; per comment only the commenter's username is filled in, and the result
//! is checked against Meta's limit of 1,000 UTF-8 bytes (PLATFORM.md section 5).

/// Longest message text Meta accepts, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 1000;
/// The one placeholder a template may contain.
pub const USERNAME_PLACEHOLDER: &str = "{username}";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the reply text is empty")]
    Empty,
    #[error("the reply text is {0} bytes; Instagram accepts at most {MAX_TEXT_BYTES}")]
    TooLong(usize),
    #[error(
        "unknown placeholder {0:?} at byte {1}: only {{username}} is supported (write {{{{ and }}}} for literal braces)"
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
    Username,
}

/// A validated `REPLY_TEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTemplate {
    parts: Vec<Part>,
}

impl ReplyTemplate {
    /// `{username}` is the placeholder; `{{` and `}}` are literal braces; any other brace is an error, so that
    /// `{user}` or `{ username }` cannot go out to people verbatim.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        if template.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        if template.len() > MAX_TEXT_BYTES {
            return Err(TemplateError::TooLong(template.len()));
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
            } else if rest.starts_with(USERNAME_PLACEHOLDER) {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Username);
                USERNAME_PLACEHOLDER.len()
            } else if c == '{' {
                let name: String = rest.chars().take_while(|c| *c != '}').take(40).collect();
                return Err(if rest[name.len()..].starts_with('}') {
                    TemplateError::UnknownPlaceholder(format!("{name}}}"), at)
                } else {
                    TemplateError::UnmatchedBrace('{', at)
                });
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
        if template.render("").trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        Ok(template)
    }

    /// The text for one commenter. A missing username fills the placeholder with nothing.
    pub fn render(&self, username: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Username => out.push_str(username),
            }
        }
        out
    }

    /// The text for one commenter, or why it cannot be sent.
    pub fn render_checked(&self, username: Option<&str>) -> Result<String, TextTooLong> {
        let text = self.render(username.unwrap_or_default());
        if text.len() > MAX_TEXT_BYTES {
            Err(TextTooLong(text.len()))
        } else {
            Ok(text)
        }
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
        assert_eq!(t.render("ana"), "Hi @ana! Thanks, ana 🙌");
        assert_eq!(template("no placeholder").render("ana"), "no placeholder");
    }

    #[test]
    fn a_missing_username_leaves_the_placeholder_empty() {
        assert_eq!(
            template("Hi {username}, here you go").render_checked(None),
            Ok("Hi , here you go".into())
        );
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        assert_eq!(template("{{not}} {username}}}").render("x"), "{not} x}");
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_refused_at_cold_start() {
        assert_eq!(
            ReplyTemplate::parse("Hi {user}"),
            Err(TemplateError::UnknownPlaceholder("{user}".into(), 3))
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
    }

    #[test]
    fn the_template_itself_may_be_at_most_1000_bytes() {
        assert!(ReplyTemplate::parse(&"a".repeat(1000)).is_ok());
        assert_eq!(
            ReplyTemplate::parse(&"a".repeat(1001)),
            Err(TemplateError::TooLong(1001))
        );
        // 334 three-byte characters are 1002 bytes, though only 334 characters.
        assert_eq!(
            ReplyTemplate::parse(&"€".repeat(334)),
            Err(TemplateError::TooLong(1002))
        );
    }

    #[test]
    fn the_limit_counts_utf8_bytes_of_the_filled_in_text() {
        let t = template(&format!("{}{{username}}", "a".repeat(990)));
        assert_eq!(
            t.render_checked(Some("0123456789")).map(|s| s.len()),
            Ok(1000)
        );
        assert_eq!(
            t.render_checked(Some("0123456789x")),
            Err(TextTooLong(1001))
        );
        // Emoji are 4 bytes each: two fit, three push the text 2 bytes over.
        assert_eq!(t.render_checked(Some("😀😀")).map(|s| s.len()), Ok(998));
        assert_eq!(t.render_checked(Some("😀😀😀")), Err(TextTooLong(1002)));
    }
}
