//! Whether a comment's text asks for a campaign's reply: its match mode over its keywords, unless one of its
//! exclusions is in the comment. Keywords are normalised once, when the campaign is compiled; the comment once
//! per comment ([`NormalText`]), whatever the number of campaigns.

use super::text::NormalText;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How keywords are compared with a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// Every comment (keywords unused).
    Any,
    /// A keyword's words appear in the comment as whole, consecutive words.
    #[default]
    Word,
    /// A keyword appears anywhere in the comment's text (`link` is in `linked`).
    Contains,
    /// The whole comment, less the whitespace and punctuation at its ends, is a keyword.
    Exact,
}

impl MatchMode {
    pub const ALL: [MatchMode; 4] = [Self::Any, Self::Word, Self::Contains, Self::Exact];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Word => "word",
            Self::Contains => "contains",
            Self::Exact => "exact",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == word)
    }
}

impl fmt::Display for MatchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a text does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMiss {
    /// None of the keywords is in the comment.
    NoKeyword,
    /// This exclusion is in the comment.
    Excluded(String),
}

/// A campaign's keywords and exclusions, normalised.
#[derive(Debug, Clone)]
pub struct Matcher {
    mode: MatchMode,
    /// (as written, normalised)
    keywords: Vec<(String, NormalText)>,
    exclude: Vec<(String, NormalText)>,
}

impl Matcher {
    pub fn new(mode: MatchMode, keywords: &[String], exclude: &[String]) -> Self {
        let compile = |list: &[String]| {
            list.iter()
                .map(|k| (k.clone(), NormalText::new(k)))
                .collect()
        };
        Self {
            mode,
            keywords: compile(keywords),
            exclude: compile(exclude),
        }
    }

    pub fn mode(&self) -> MatchMode {
        self.mode
    }

    /// The first word of each keyword: a `word` match needs one of them among the comment's words.
    pub fn first_words(&self) -> impl Iterator<Item = &str> {
        self.keywords.iter().filter_map(|(_, k)| k.words().next())
    }

    /// The keyword (as written) that matched (`""` for `any`), or why none did.
    pub fn check(&self, comment: &NormalText) -> Result<&str, TextMiss> {
        if let Some((excluded, _)) = self.exclude.iter().find(|(_, e)| comment.has_phrase(e)) {
            return Err(TextMiss::Excluded(excluded.clone()));
        }
        let hit = |keyword: &NormalText| match self.mode {
            MatchMode::Any => true,
            MatchMode::Word => comment.has_phrase(keyword),
            MatchMode::Contains => {
                !keyword.as_str().is_empty() && comment.as_str().contains(keyword.as_str())
            }
            MatchMode::Exact => {
                !keyword.trimmed().is_empty() && comment.trimmed() == keyword.trimmed()
            }
        };
        if self.mode == MatchMode::Any {
            return Ok("");
        }
        self.keywords
            .iter()
            .find(|(_, k)| hit(k))
            .map(|(written, _)| written.as_str())
            .ok_or(TextMiss::NoKeyword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(mode: MatchMode, keywords: &[&str], exclude: &[&str]) -> Matcher {
        let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Matcher::new(mode, &owned(keywords), &owned(exclude))
    }

    fn hit(m: &Matcher, comment: &str) -> bool {
        m.check(&NormalText::new(comment)).is_ok()
    }

    #[test]
    fn word_matches_whole_words_and_phrases_in_any_case_and_accent() {
        let m = matcher(MatchMode::Word, &["link", "how much"], &[]);
        for yes in [
            "LINK",
            "link please",
            "Línk?",
            "LÍNK!!",
            "send the link.",
            "How much??",
            "ok how  MUCH",
        ] {
            assert!(hit(&m, yes), "{yes:?}");
        }
        for no in ["linked", "hyperlink", "links", "much how", "howmuch", ""] {
            assert!(!hit(&m, no), "{no:?}");
        }
        assert_eq!(m.check(&NormalText::new("the LINK")), Ok("link"));
    }

    #[test]
    fn contains_matches_substrings() {
        let m = matcher(MatchMode::Contains, &["link"], &[]);
        assert!(hit(&m, "hyperlinked"));
        assert!(hit(&m, "LÍNKS"));
        assert!(!hit(&m, "lnk"));
    }

    #[test]
    fn exact_is_the_whole_comment_less_its_end_punctuation() {
        let m = matcher(MatchMode::Exact, &["link"], &[]);
        assert!(hit(&m, "  Link!! "));
        assert!(hit(&m, "¿LINK?"));
        assert!(!hit(&m, "link please"));
        assert!(!hit(&m, "the link"));
    }

    #[test]
    fn any_matches_everything_but_exclusions() {
        let m = matcher(MatchMode::Any, &[], &["stop"]);
        assert_eq!(m.check(&NormalText::new("whatever")), Ok(""));
        assert_eq!(m.check(&NormalText::new("")), Ok(""));
        assert_eq!(
            m.check(&NormalText::new("STOP this")),
            Err(TextMiss::Excluded("stop".into()))
        );
        assert!(hit(&m, "unstoppable"));
    }

    #[test]
    fn an_exclusion_wins_over_a_keyword() {
        let m = matcher(MatchMode::Word, &["link"], &["stop", "no thanks"]);
        assert!(hit(&m, "link"));
        assert_eq!(
            m.check(&NormalText::new("link? no, THANKS")),
            Err(TextMiss::Excluded("no thanks".into()))
        );
        assert_eq!(
            m.check(&NormalText::new("no thanks, link")),
            Err(TextMiss::Excluded("no thanks".into()))
        );
        assert_eq!(
            m.check(&NormalText::new("Stop! link")),
            Err(TextMiss::Excluded("stop".into()))
        );
        assert_eq!(m.check(&NormalText::new("nope")), Err(TextMiss::NoKeyword));
    }

    #[test]
    fn emoji_keywords_work_in_every_mode() {
        let word = matcher(MatchMode::Word, &["🔥"], &[]);
        assert!(hit(&word, "🔥🔥🔥"));
        assert!(hit(&word, "so good🔥"));
        assert!(!hit(&word, "so good"));
        let heart = matcher(MatchMode::Word, &["❤️"], &[]);
        assert!(hit(&heart, "❤"));
        assert!(hit(&heart, "love it ❤️"));
        let thumbs = matcher(MatchMode::Exact, &["👍"], &[]);
        assert!(hit(&thumbs, "👍🏽"));
        assert!(hit(
            &matcher(MatchMode::Contains, &["🎁"], &[]),
            "gift🎁pls"
        ));
    }

    #[test]
    fn keywords_in_other_scripts() {
        let ru = matcher(MatchMode::Word, &["ссылка"], &[]);
        assert!(hit(&ru, "Где ССЫЛКА?"));
        assert!(!hit(&ru, "ссылками"));
        let el = matcher(MatchMode::Word, &["τιμή"], &[]);
        assert!(hit(&el, "Ποια είναι η ΤΙΜΗ;"));
        let ar = matcher(MatchMode::Word, &["السعر"], &[]);
        assert!(hit(&ar, "كم السعر؟"));
        let ja = matcher(MatchMode::Word, &["リンク"], &[]);
        assert!(hit(&ja, "リンクください"));
        assert!(!hit(&ja, "リンクス"));
        let zh = matcher(MatchMode::Word, &["链接"], &[]);
        assert!(hit(&zh, "请发链接"));
        let de = matcher(MatchMode::Word, &["grösse"], &[]);
        assert!(hit(&de, "Welche GRÖSSE?"));
        assert!(hit(&matcher(MatchMode::Word, &["strasse"], &[]), "Straße"));
    }

    #[test]
    fn match_modes_read_back_from_their_words() {
        for mode in MatchMode::ALL {
            assert_eq!(MatchMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(MatchMode::parse("regex"), None);
        assert_eq!(MatchMode::default(), MatchMode::Word);
    }
}
