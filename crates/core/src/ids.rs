//! Newtypes for the IDs Meta hands us, so an account ID can never be passed where a comment ID is expected.
//! Meta sends them as decimal strings; they are kept as given (never parsed to integers, which would lose
//! leading zeros or overflow on future formats).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// `None` for an empty or blank ID, which Meta never sends for a real object.
            pub fn new(id: impl Into<String>) -> Option<Self> {
                let id = id.into();
                if id.trim().is_empty() { None } else { Some(Self(id)) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An Instagram comment ID: the key of a stored comment and the recipient of its private reply.
    CommentId
);
id_type!(
    /// The app user's Instagram professional account ID (`entry[].id` of a notification).
    AccountId
);
id_type!(
    /// An Instagram media ID (post, reel, story, Live or ad).
    MediaId
);
id_type!(
    /// An Instagram-scoped user ID (the commenter's `from.id`).
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_ids_are_refused() {
        assert!(CommentId::new("").is_none());
        assert!(CommentId::new("  ").is_none());
        assert_eq!(
            CommentId::new("0017").map(|c| c.to_string()),
            Some("0017".into())
        );
    }
}
