//! `X-Hub-Signature-256` verification: HMAC-SHA256 of the exact raw body under the app secret, compared in
//! constant time. A pure function over bytes, so it is checked before anything is parsed or stored.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header Meta signs every notification with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Why a signature was refused. Deliberately coarse: callers answer 401 for all of them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("signature header is missing")]
    Missing,
    #[error("signature header is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("signature does not match the body under any configured app secret")]
    Mismatch,
}

/// One or more app secrets. Business Login apps sign with the Instagram app secret, Facebook Login apps with
/// the Meta app secret, so more than one may be configured (PLATFORM.md section 2).
#[derive(Clone)]
pub struct AppSecrets(Vec<SecretString>);

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppSecrets([{} redacted])", self.0.len())
    }
}

impl AppSecrets {
    /// `None` when no non-empty secret is given: running without a signature check is never an option.
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Option<Self> {
        let secrets: Vec<_> = secrets
            .into_iter()
            .filter(|s| !s.expose_secret().trim().is_empty())
            .collect();
        (!secrets.is_empty()).then_some(Self(secrets))
    }

    /// Parses the comma-separated form used in `APP_SECRET`.
    pub fn from_comma_separated(value: &str) -> Option<Self> {
        Self::new(
            value
                .split(',')
                .map(|s| SecretString::from(s.trim().to_owned())),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks `header` (the raw `X-Hub-Signature-256` value) against `body` as received.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let expected = parse_header(header)?;
        // Every secret is tried (no early exit on the first miss); the number of secrets is configuration,
        // not a secret, and each comparison is constant-time.
        let mut matched = false;
        for secret in &self.0 {
            let mut mac = new_mac(secret);
            mac.update(body);
            matched |= mac.verify_slice(&expected).is_ok();
        }
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

fn new_mac(secret: &SecretString) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the request path panic-free.
    HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

fn parse_header(header: &[u8]) -> Result<[u8; 32], SignatureError> {
    let hex_digest = header
        .trim_ascii()
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).map_err(|_| SignatureError::Malformed)?;
    Ok(out)
}

/// The header value Meta would send for `body` under `secret`. For tests, the CLI and the local stack.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = new_mac(&SecretString::from(secret.to_owned()));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(s: &str) -> AppSecrets {
        AppSecrets::from_comma_separated(s).unwrap_or_else(|| panic!("no secrets in {s:?}"))
    }

    // The captured Reel notification from PLATFORM.md section 3, byte for byte.
    const BODY: &[u8] = br#"{"entry": [{"id": "17841401906857599", "time": 1726106088, "changes": [{"value": {"from": {"id": "2706325442860345", "username": "rachitsaini670"}, "media": {"id": "17868660555124283", "media_product_type": "REELS"}, "id": "18058455121735594", "text": "7"}, "field": "comments"}]}], "object": "instagram"}"#;

    #[test]
    fn a_body_signed_with_the_secret_verifies() {
        let header = sign("s3cret", BODY);
        assert_eq!(
            secrets("s3cret").verify(Some(header.as_bytes()), BODY),
            Ok(())
        );
    }

    #[test]
    fn a_known_hmac_vector_matches() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let header = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            header,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn any_configured_secret_is_accepted() {
        let header = sign("instagram-app-secret", BODY);
        let both = secrets("meta-app-secret, instagram-app-secret");
        assert_eq!(both.len(), 2);
        assert_eq!(both.verify(Some(header.as_bytes()), BODY), Ok(()));
    }

    #[test]
    fn a_changed_body_or_wrong_secret_is_a_mismatch() {
        let header = sign("s3cret", BODY);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            secrets("s3cret").verify(Some(header.as_bytes()), &tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            secrets("other").verify(Some(header.as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let s = secrets("s3cret");
        assert_eq!(s.verify(None, BODY), Err(SignatureError::Missing));
        for bad in [
            "",
            "sha256=",
            "sha1=abcdef",
            "sha256=zz",
            "sha256=abcd",
            &format!("sha256={}", "g".repeat(64)),
            &sign("s3cret", BODY).replace("sha256=", "SHA256="),
        ] {
            assert_eq!(
                s.verify(Some(bad.as_bytes()), BODY),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let header = sign("s3cret", BODY)
            .to_uppercase()
            .replace("SHA256=", "sha256=");
        assert_eq!(
            secrets("s3cret").verify(Some(header.as_bytes()), BODY),
            Ok(())
        );
    }

    #[test]
    fn blank_secrets_are_not_secrets() {
        assert!(AppSecrets::from_comma_separated("").is_none());
        assert!(AppSecrets::from_comma_separated(" , ").is_none());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let s = secrets("s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
