//! The certificate authorities SMTP's TLS trusts: the webpki roots (Mozilla's), and
//! beside them the certificates of a PEM file (`GATEHOUSE_SMTP_CA_FILE`), for the
//! internal relays of councils and NHS trusts whose certificates come from their own
//! CA. The file's certificates are added to the webpki roots, never put in their place,
//! and the same ones are trusted by STARTTLS (lettre's TLS settings) and by implicit TLS
//! (the rustls connector of [`super::server`]).
//!
//! The file is read once, at start: a missing or unreadable file, or one without a
//! usable certificate, stops Gatehouse with the reason rather than failing every
//! message later with a certificate error.

use std::path::{Path, PathBuf};
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

/// Certificate authorities trusted beside the webpki roots; `default()` is none.
#[derive(Debug, Clone, Default)]
pub struct ExtraRoots {
    /// Each one checked to be usable as a trust anchor.
    certs: Vec<CertificateDer<'static>>,
}

/// The CA file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("GATEHOUSE_SMTP_CA_FILE `{}` is not usable: {reason}", .path.display())]
pub struct CaFileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl ExtraRoots {
    /// Every `CERTIFICATE` block of the PEM file at `path` (other blocks, such as a
    /// private key, are passed over). A file with none is an error too: an empty file,
    /// or a key given by mistake, would otherwise only show as certificate errors when
    /// mail is sent.
    pub fn from_pem_file(path: &Path) -> Result<ExtraRoots, CaFileError> {
        let fail = |reason: String| CaFileError { path: path.to_path_buf(), reason };
        let pem = std::fs::read(path).map_err(|e| fail(format!("it cannot be read: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(format!("it is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(fail("it holds no certificate (no `-----BEGIN CERTIFICATE-----` block)".into()));
        }
        let count = certs.len();
        for (n, cert) in certs.iter().enumerate() {
            RootCertStore::empty()
                .add(cert.clone())
                .map_err(|e| fail(format!("certificate {} of {count} cannot be trusted as a CA: {e}", n + 1)))?;
        }
        Ok(ExtraRoots { certs })
    }

    /// How many certificates there are.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether there are none (only the webpki roots are trusted).
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The certificates, DER-encoded.
    pub(super) fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// The webpki roots with these added.
    pub(super) fn with_webpki(&self) -> RootCertStore {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        // Each was added to a store once already, in `from_pem_file`, so none is ignored.
        roots.add_parsable_certificates(self.certs.iter().cloned());
        roots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn ca(name: &str) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("a key");
        params.self_signed(&key).expect("a certificate").pem()
    }

    #[test]
    fn every_certificate_of_the_file_is_added_to_the_webpki_roots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "cas.pem", &format!("{}\n{}", ca("Leeds City Council CA"), ca("NHS Trust CA")));
        let roots = ExtraRoots::from_pem_file(&path).expect("read");
        assert_eq!(roots.len(), 2);
        assert_eq!(roots.with_webpki().len(), webpki_roots::TLS_SERVER_ROOTS.len() + 2);
        assert_eq!(ExtraRoots::default().with_webpki().len(), webpki_roots::TLS_SERVER_ROOTS.len());
    }

    #[test]
    fn an_unusable_file_is_an_error_naming_it_and_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (dir.path().join("missing.pem"), "cannot be read"),
            (write(dir.path(), "empty.pem", ""), "holds no certificate"),
            (
                write(dir.path(), "key.pem", &rcgen::KeyPair::generate().expect("a key").serialize_pem()),
                "holds no certificate",
            ),
            (write(dir.path(), "torn.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"), "not valid PEM"),
            (
                write(dir.path(), "garbage.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                "certificate 1 of 1 cannot be trusted as a CA",
            ),
        ];
        for (path, why) in cases {
            let err = ExtraRoots::from_pem_file(&path).expect_err("refused");
            let text = err.to_string();
            assert!(text.starts_with("GATEHOUSE_SMTP_CA_FILE `"), "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(why), "{path:?}: {text}");
        }
    }
}
