//! Comment text as campaigns compare it. Keywords and comments go through the same steps, so whatever a step
//! loses it loses on both sides:
//! 1. Unicode NFKC (full-width `ＬＩＮＫ`, ligatures and styled letters become plain ones);
//! 2. full case folding (`LINK`, `Link`, `ß`/`ss`);
//! 3. canonical decomposition with the diacritics dropped (`línk` is `link`; see [`is_dropped`] for which
//!    marks are diacritics), then recomposition;
//!    emoji variation selectors and skin-tone modifiers go too, so `❤️` is `❤` and `👍🏽` is `👍`;
//! 4. every run of whitespace becomes one space, and the ends are trimmed.
//!
//! Words are the Unicode word segments (UAX #29) of the normalised text that hold anything but whitespace and
//! punctuation: `"LINK, please!"` is `link`, `please`; an emoji is a word of its own; a Han or Hiragana text
//! is a word per character, so a keyword in those scripts matches as a phrase of its characters.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::emoji::{self, EmojiStatus};
use unicode_properties::{
    GeneralCategory, GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory,
};
use unicode_segmentation::UnicodeSegmentation;

/// Text after the four steps, with its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalText {
    text: String,
    /// Byte ranges of `text`'s words.
    words: Vec<(usize, usize)>,
}

impl NormalText {
    pub fn new(raw: &str) -> Self {
        let text = normalise(raw);
        let words = text
            .split_word_bound_indices()
            .filter(|(_, segment)| is_word(segment))
            .map(|(at, segment)| (at, at + segment.len()))
            .collect();
        Self { text, words }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its words, in order.
    pub fn words(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.words.iter().map(|&(from, to)| &self.text[from..to])
    }

    fn word(&self, index: usize) -> &str {
        let (from, to) = self.words[index];
        &self.text[from..to]
    }

    /// Whether `phrase`'s words appear here consecutively (whole words: `linked` is not `link`).
    pub fn has_phrase(&self, phrase: &NormalText) -> bool {
        let n = phrase.words.len();
        if n == 0 || n > self.words.len() {
            return false;
        }
        (0..=self.words.len() - n)
            .any(|start| (0..n).all(|i| self.word(start + i) == phrase.word(i)))
    }

    /// The text without the whitespace and punctuation at its ends (what `exact` compares).
    pub fn trimmed(&self) -> &str {
        self.text
            .trim_matches(|c: char| c.is_whitespace() || is_punctuation(c))
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// The four steps of the module doc.
pub fn normalise(raw: &str) -> String {
    let folded = caseless::default_case_fold_str(&raw.nfkc().collect::<String>());
    let bare: String = folded.nfd().filter(|c| !is_dropped(*c)).nfc().collect();
    let mut out = String::with_capacity(bare.len());
    for word in bare.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Diacritics: nonspacing marks that sit above, below or through their letter (canonical combining class 10
/// and up: Latin, Greek and Cyrillic accents, Hebrew and Arabic vowel points). Marks that make a different
/// letter (the kana voicing marks, nukta and virama, class 7 to 9) and vowel signs (class 0) stay. Emoji
/// variation selectors and skin-tone modifiers go too.
fn is_dropped(c: char) -> bool {
    (c.general_category() == GeneralCategory::NonspacingMark
        && unicode_normalization::char::canonical_combining_class(c) >= 10)
        || emoji::is_emoji_presentation_selector(c)
        || emoji::is_text_presentation_selector(c)
        || c.emoji_status() == EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
}

fn is_punctuation(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Punctuation
}

fn is_word(segment: &str) -> bool {
    segment
        .chars()
        .any(|c| !c.is_whitespace() && !is_punctuation(c) && c != '\u{200D}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(raw: &str) -> Vec<String> {
        NormalText::new(raw).words().map(str::to_owned).collect()
    }

    #[test]
    fn case_accents_and_compatibility_forms_are_folded_away() {
        for raw in [
            "LINK",
            "Link",
            "línk",
            "LÍNK",
            "ＬＩＮＫ",
            "l\u{0069}\u{0301}nk",
            "ℒink",
        ] {
            assert_eq!(normalise(raw), "link", "{raw:?}");
        }
        assert_eq!(normalise("Straße"), "strasse");
        assert_eq!(normalise("ﬁnd"), "find");
        assert_eq!(normalise("  how \t\n much  "), "how much");
        assert_eq!(normalise("Ça coûte combien ?"), "ca coute combien ?");
    }

    #[test]
    fn emoji_keep_their_meaning_without_their_presentation() {
        assert_eq!(normalise("❤️"), "❤");
        assert_eq!(normalise("👍🏽"), "👍");
        assert_eq!(words("🔥🔥 link"), ["🔥", "🔥", "link"]);
        // A ZWJ sequence is one word.
        assert_eq!(words("👩‍💻 yes"), ["👩‍💻", "yes"]);
    }

    #[test]
    fn words_leave_out_whitespace_and_punctuation() {
        assert_eq!(words("LINK, please!"), ["link", "please"]);
        assert_eq!(words("...!!!"), Vec::<String>::new());
        assert_eq!(words("don't"), ["don't"]);
        assert_eq!(words("$20?"), ["$", "20"]);
    }

    #[test]
    fn word_boundaries_hold_in_several_scripts() {
        // Marks go in every script (й is и with a breve), the same in keywords and comments.
        assert_eq!(words("Ссылка, пожалуйста"), ["ссылка", "пожалуиста"]);
        assert_eq!(words("Λινκ παρακαλώ"), ["λινκ", "παρακαλω"]);
        assert_eq!(words("الرابط من فضلك"), ["الرابط", "من", "فضلك"]);
        // Arabic vowel points are diacritics; Devanagari vowel signs are not.
        assert_eq!(normalise("مَرْحَبًا"), "مرحبا");
        assert_eq!(words("लिंक भेजो"), ["लिंक", "भेजो"]);
        assert_eq!(words("リンクください"), ["リンク", "く", "だ", "さ", "い"]);
        assert_eq!(words("链接"), ["链", "接"]);
    }

    #[test]
    fn phrases_are_consecutive_whole_words() {
        let comment = NormalText::new("How MUCH is it? The link pls");
        assert!(comment.has_phrase(&NormalText::new("how much")));
        assert!(comment.has_phrase(&NormalText::new("LINK")));
        assert!(!comment.has_phrase(&NormalText::new("much how")));
        assert!(!NormalText::new("linked").has_phrase(&NormalText::new("link")));
        assert!(!NormalText::new("hyperlink").has_phrase(&NormalText::new("link")));
        assert!(!comment.has_phrase(&NormalText::new("")));
    }

    #[test]
    fn trimmed_drops_end_punctuation_only() {
        assert_eq!(NormalText::new("  LINK!!! ").trimmed(), "link");
        assert_eq!(NormalText::new("¿link?").trimmed(), "link");
        assert_eq!(NormalText::new("link, please").trimmed(), "link, please");
    }
}
