//! Identifiers shaped like Meta's: opaque `aWdfZ...` message IDs, numeric comment IDs, random `fbtrace_id`s,
//! numeric IGSIDs, and a token fingerprint so that logs can tell tokens apart without ever holding one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use sha2::{Digest as _, Sha256};

/// A message ID like Meta's: base64 of `ig_d...`, so it starts with `aWdfZ`.
pub(crate) fn message_id(ig_id: &str) -> String {
    let n: u64 = rand::rng().random();
    URL_SAFE_NO_PAD.encode(format!("ig_d_item:1:IGMessageID:{ig_id}:{n}"))
}

/// A new comment's ID like Meta's Instagram comment IDs: 17 digits starting with `18`.
pub(crate) fn comment_id() -> String {
    let n: u64 = rand::rng().random_range(0..1_000_000_000_000_000);
    format!("18{n:015}")
}

/// A stable username for account `ig_id`, as the `from.username` of its public replies.
pub(crate) fn username_for(ig_id: &str) -> String {
    format!("sim_account_{ig_id}")
}

pub(crate) fn fbtrace_id() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(23)
        .map(char::from)
        .collect()
}

/// A stable 16-digit Instagram-scoped ID for a commenter nobody registered, derived from the comment ID so that
/// repeated runs agree.
pub(crate) fn commenter_id_for(comment_id: &str) -> String {
    let digest = Sha256::digest(comment_id.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(head) % 9_000_000_000_000_000;
    (1_000_000_000_000_000 + n).to_string()
}

/// `sha256:` and the first 12 hex digits of the token's hash: enough to tell tokens apart, useless to replay.
pub(crate) fn token_fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_look_like_metas_and_differ() {
        let a = message_id("17841401906857599");
        assert!(a.starts_with("aWdfZ"), "{a}");
        assert_ne!(a, message_id("17841401906857599"));
    }

    #[test]
    fn comment_ids_are_seventeen_digits_and_differ() {
        let a = comment_id();
        assert_eq!(a.len(), 17, "{a}");
        assert!(a.starts_with("18") && a.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(a, comment_id());
    }

    #[test]
    fn commenter_ids_are_sixteen_digits_and_stable() {
        let id = commenter_id_for("18058455121735594");
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(id, commenter_id_for("18058455121735594"));
    }

    #[test]
    fn a_token_fingerprint_does_not_contain_the_token() {
        let fp = token_fingerprint("EAAGsecret");
        assert!(!fp.contains("EAAGsecret"));
        assert_eq!(fp, token_fingerprint("EAAGsecret"));
        assert_ne!(fp, token_fingerprint("EAAGother"));
    }
}
