//! Signed provider links. A provider has no account: what they may do is carried by the
//! link in the email they were sent — one case, one role, the evidence asked for, and
//! an expiry — signed with HMAC-SHA256 under the server's secret. Changing any byte of
//! a token breaks its signature; a token past its expiry is refused even though its
//! signature holds. The two are told apart so the page can say which.
//!
//! A token is `<payload>.<mac>`, both URL-safe base64 without padding; the payload is
//! `v1`, the case id, the role, the evidence ids (comma-separated) and the expiry in
//! Unix seconds, one per line.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a link lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    /// The case.
    pub case_id: i64,
    /// The external role the holder acts as.
    pub role: String,
    /// The evidence ids the holder is asked for (and may provide).
    pub evidence: Vec<String>,
    /// When the link stops working.
    pub expires_at: jiff::Timestamp,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token at all (cut short when copied, say).
    #[error("the link is not valid: it may have been cut short when it was copied")]
    Malformed,
    /// The signature does not match: the token was changed, or signed with another secret.
    #[error("the link is not valid: it has been altered")]
    Altered,
    /// Genuine, but too old.
    #[error("the link expired at {at}")]
    Expired {
        /// When it expired.
        at: jiff::Timestamp,
    },
    /// The configured secret is too short to sign with.
    #[error("the link secret must be at least {MIN_SECRET_BYTES} bytes long")]
    WeakSecret,
}

/// Signs and checks link tokens with the server secret.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    /// A signer for `secret`, which must be at least [`MIN_SECRET_BYTES`] long.
    pub fn new(secret: &[u8]) -> Result<LinkSigner, LinkError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(LinkError::WeakSecret);
        }
        Ok(LinkSigner { key: secret.to_vec() })
    }

    /// The token for `claims`.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let payload = format!(
            "v1\n{}\n{}\n{}\n{}",
            claims.case_id,
            claims.role,
            claims.evidence.join(","),
            claims.expires_at.as_second()
        );
        let payload = B64.encode(payload);
        let mac = B64.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{mac}")
    }

    /// The claims of a genuine token that has not expired at `now`.
    pub fn verify(&self, token: &str, now: jiff::Timestamp) -> Result<LinkClaims, LinkError> {
        let (payload, mac) = token.trim().split_once('.').ok_or(LinkError::Malformed)?;
        let mac = B64.decode(mac).map_err(|_| LinkError::Malformed)?;
        // Constant time: a forger learns nothing from how long the check takes.
        self.mac(payload).verify_slice(&mac).map_err(|_| LinkError::Altered)?;
        let text = B64.decode(payload).ok().and_then(|b| String::from_utf8(b).ok()).ok_or(LinkError::Malformed)?;
        let claims = parse(&text).ok_or(LinkError::Malformed)?;
        if claims.expires_at <= now {
            return Err(LinkError::Expired { at: claims.expires_at });
        }
        Ok(claims)
    }

    /// `value` with a signature for `purpose` (a session cookie, a form's CSRF token):
    /// `<value>.<mac>`. A value signed for one purpose does not verify for another.
    pub fn seal(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(purpose.as_bytes());
        mac.update(b".");
        mac.update(value.as_bytes());
        format!("{value}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// The value of a sealed string, if its signature for `purpose` holds (checked in
    /// constant time).
    pub fn open<'a>(&self, purpose: &str, sealed: &'a str) -> Option<&'a str> {
        let (value, mac) = sealed.rsplit_once('.')?;
        let mac = B64.decode(mac).ok()?;
        let mut expected = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        expected.update(purpose.as_bytes());
        expected.update(b".");
        expected.update(value.as_bytes());
        expected.verify_slice(&mac).ok()?;
        Some(value)
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(b"gatehouse-link.");
        mac.update(payload.as_bytes());
        mac
    }
}

fn parse(text: &str) -> Option<LinkClaims> {
    let mut lines = text.split('\n');
    if lines.next()? != "v1" {
        return None;
    }
    let case_id = lines.next()?.parse().ok()?;
    let role = lines.next()?.to_string();
    let evidence = lines.next()?.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect();
    let expires_at = jiff::Timestamp::from_second(lines.next()?.parse().ok()?).ok()?;
    if lines.next().is_some() || role.is_empty() {
        return None;
    }
    Some(LinkClaims { case_id, role, evidence, expires_at })
}

/// The secret kept in `path` (hex), created with 32 random bytes, readable by the owner
/// only, when the file does not exist. For one process on embedded SQLite; processes
/// that share a database must share a secret (`GATEHOUSE_SECRET`).
pub fn load_or_create_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    use rand::RngCore as _;
    if let Ok(text) = std::fs::read_to_string(path) {
        return hex::decode(text.trim()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a hex secret: {e}", path.display()))
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(hex::encode(&secret).as_bytes())?;
        f.sync_all()?;
    }
    // Two processes starting at once: the first rename wins and both read it back.
    if std::fs::hard_link(&tmp, path).is_err() && !path.exists() {
        std::fs::rename(&tmp, path)?;
    }
    let _ = std::fs::remove_file(&tmp);
    let text = std::fs::read_to_string(path)?;
    hex::decode(text.trim()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LinkSigner {
        LinkSigner::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_unchanged_and_for_its_purpose() {
        let s = signer();
        let sealed = s.seal("session", "abc.123");
        assert_eq!(s.open("session", &sealed), Some("abc.123"));
        assert_eq!(s.open("csrf", &sealed), None);
        assert_eq!(s.open("session", &sealed.replace("abc", "abd")), None);
        assert_eq!(s.open("session", "abc.123"), None);
        let other = LinkSigner::new(b"another secret, 32 bytes or more!").unwrap();
        assert_eq!(other.open("session", &sealed), None);
    }

    fn claims() -> LinkClaims {
        LinkClaims {
            case_id: 42,
            role: "provider".into(),
            evidence: vec!["notice_acknowledged".into(), "exit_plan".into()],
            expires_at: "2026-03-01T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_genuine_token_gives_back_its_claims_until_it_expires() {
        let token = signer().sign(&claims());
        let before = "2026-02-28T23:59:59Z".parse().unwrap();
        assert_eq!(signer().verify(&token, before), Ok(claims()));
        let after = "2026-03-01T00:00:00Z".parse().unwrap();
        assert_eq!(signer().verify(&token, after), Err(LinkError::Expired { at: claims().expires_at }));
    }

    #[test]
    fn an_altered_token_is_refused_as_altered() {
        let now = "2026-01-01T00:00:00Z".parse().unwrap();
        let token = signer().sign(&claims());
        // Another case id, signed by nobody.
        let mut other = claims();
        other.case_id = 43;
        let forged =
            format!("{}.{}", signer().sign(&other).split_once('.').unwrap().0, token.split_once('.').unwrap().1);
        assert_eq!(signer().verify(&forged, now), Err(LinkError::Altered));
        // A later expiry, signed by nobody: altered, not expired.
        let mut later = claims();
        later.expires_at = "2030-01-01T00:00:00Z".parse().unwrap();
        let forged =
            format!("{}.{}", signer().sign(&later).split_once('.').unwrap().0, token.split_once('.').unwrap().1);
        assert_eq!(signer().verify(&forged, now), Err(LinkError::Altered));
        // Another server's secret.
        let stranger = LinkSigner::new(&[7u8; 32]).unwrap();
        assert_eq!(stranger.verify(&token, now), Err(LinkError::Altered));
        // Every single-character change.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != token {
                assert!(
                    matches!(signer().verify(&changed, now), Err(LinkError::Altered | LinkError::Malformed)),
                    "{changed}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_malformed_and_short_secrets_are_refused() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(signer().verify("", now), Err(LinkError::Malformed));
        assert_eq!(signer().verify("abc", now), Err(LinkError::Malformed));
        assert_eq!(signer().verify("abc.!!!", now), Err(LinkError::Malformed));
        assert_eq!(LinkSigner::new(b"short").unwrap_err(), LinkError::WeakSecret);
    }

    #[test]
    fn the_secret_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("secret");
        let a = load_or_create_secret(&path).unwrap();
        let b = load_or_create_secret(&path).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
