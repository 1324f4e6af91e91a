//! A certificate for a TLS server on loopback: self-signed for 127.0.0.1 and localhost
//! (rcgen), so that it is its own CA, the way an internal relay's CA is to Gatehouse.

use std::path::PathBuf;

/// The certificate and its key as PEM files in a fresh folder (removed when dropped).
pub struct LoopbackCert {
    pub dir: tempfile::TempDir,
    /// The certificate: also the CA file that makes Gatehouse trust it.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl LoopbackCert {
    pub fn new() -> LoopbackCert {
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert_file, key_file) = (dir.path().join("relay.pem"), dir.path().join("relay.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, signing_key.serialize_pem()).unwrap();
        LoopbackCert { dir, cert: cert_file, key: key_file }
    }
}
