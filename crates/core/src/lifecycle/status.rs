//! Where a comment stands. Stored as upper-case words so the console reads naturally.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommentStatus {
    /// Stored, waiting for its private reply.
    Pending,
    /// Claimed by a replier invocation that is sending the reply now.
    Sending,
    /// The private reply was sent.
    Replied,
    /// Waiting for a retry after a transient error or a rate limit (`next_attempt_at` says when).
    Retry,
    /// The account's token is invalid; the comment waits for a fixed token while its window is open.
    TokenInvalid,
    /// Instagram refused the reply for good (the item keeps the error code).
    Failed,
    /// The reply window closed before a reply could be sent.
    Expired,
    /// Never to be replied to (for example the account's own comment).
    Skipped,
}

impl CommentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [CommentStatus; 8] = [
        Self::Pending,
        Self::Sending,
        Self::Replied,
        Self::Retry,
        Self::TokenInvalid,
        Self::Failed,
        Self::Expired,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sending => "SENDING",
            Self::Replied => "REPLIED",
            Self::Retry => "RETRY",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::Failed => "FAILED",
            Self::Expired => "EXPIRED",
            Self::Skipped => "SKIPPED",
        }
    }

    /// The status for its stored word.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Nothing will happen to the comment any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Replied | Self::Failed | Self::Expired | Self::Skipped
        )
    }
}

impl std::fmt::Display for CommentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_the_words_the_console_shows() {
        for s in [
            CommentStatus::Pending,
            CommentStatus::TokenInvalid,
            CommentStatus::Skipped,
        ] {
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }

    #[test]
    fn all_lists_every_status_once_in_lifecycle_order() {
        // A new status fails to compile here until it gets its place, then fails until ALL lists it.
        fn place(status: CommentStatus) -> usize {
            use CommentStatus::*;
            match status {
                Pending => 0,
                Sending => 1,
                Replied => 2,
                Retry => 3,
                TokenInvalid => 4,
                Failed => 5,
                Expired => 6,
                Skipped => 7,
            }
        }
        assert_eq!(CommentStatus::ALL.len(), 8);
        for (i, status) in CommentStatus::ALL.into_iter().enumerate() {
            assert_eq!(place(status), i, "{status}");
        }
    }

    #[test]
    fn every_status_reads_back_from_its_word() {
        for s in CommentStatus::ALL {
            assert_eq!(CommentStatus::from_word(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(CommentStatus::from_word("pending"), None);
    }
}
