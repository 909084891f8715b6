//! Who may call, checked first by every endpoint: a `/{version}/...` path that names an API version, then a
//! token the account accepts (and that has not expired). One place, so that all endpoints refuse alike; the
//! public-reply endpoints, whose path names a comment, find the account from the comment or the token.

use chrono::{DateTime, Utc};

use super::State;
use crate::errors::{GraphError, SUB_TOKEN_EXPIRED};

impl State {
    /// The first checks of either endpoint: `/{version}/{ig_id}/{endpoint}` with a `vNN.N` version, then a token
    /// the account accepts.
    pub(super) fn check_path_and_token(
        &self,
        version: &str,
        ig_id: &str,
        endpoint: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), GraphError> {
        check_version(version, ig_id, endpoint)?;
        self.check_token(ig_id, token, now)
    }

    /// The token check alone: present (`104`), not expired (`190/463`), accepted by account `ig_id` (`190`).
    pub(super) fn check_token(
        &self,
        ig_id: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), GraphError> {
        let Some(token) = token else {
            return Err(GraphError::new(104, None));
        };
        if let Some(expired_at) = self.expired.get(token) {
            let fmt = "%A, %d-%b-%y %H:%M:%S UTC";
            return Err(
                GraphError::new(190, Some(SUB_TOKEN_EXPIRED)).with_message(format!(
                    "Error validating access token: Session has expired on {}. The current time is {}.",
                    expired_at.format(fmt),
                    now.format(fmt)
                )),
            );
        }
        let accepted = self.tokens.get(ig_id).is_some_and(|t| t == token)
            || self.default_token.as_deref() == Some(token);
        if accepted {
            Ok(())
        } else {
            Err(GraphError::new(190, None))
        }
    }
}

impl State {
    /// The account whose own token `token` is (the smallest ID if several share it), ignoring the default token
    /// that every account accepts: who is calling, for the endpoints whose path names no account.
    pub(super) fn token_account(&self, token: &str) -> Option<String> {
        self.tokens
            .iter()
            .filter(|(_, t)| *t == token)
            .map(|(ig_id, _)| ig_id)
            .min()
            .cloned()
    }
}

/// `/{version}/{object_id}/{endpoint}` must name a `vNN.N` API version (`2500` otherwise).
pub(super) fn check_version(
    version: &str,
    object_id: &str,
    endpoint: &str,
) -> Result<(), GraphError> {
    if is_version(version) {
        Ok(())
    } else {
        Err(GraphError::new(2500, None).with_message(format!(
            "Unknown path components: /{version}/{object_id}/{endpoint}"
        )))
    }
}

/// `vNN.N`, as in `v25.0`.
fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_must_look_like_v_major_dot_minor() {
        assert!(is_version("v25.0"));
        assert!(is_version("v3.10"));
        assert!(!is_version("25.0"));
        assert!(!is_version("v25"));
        assert!(!is_version("v2x.0"));
    }
}
