//! Loading certificates and private keys from PEM files, with errors that
//! name the file and what is wrong with it.
//!
//! # Examples
//!
//! ```
//! use netutil::tls::{pem, rustls, ServerTls};
//!
//! # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-pm", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
//! # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
//! # std::fs::write(&cert_pem, made.cert.pem())?;
//! # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
//! // A hand-built rustls configuration from PEM files.
//! let config = rustls::ServerConfig::builder()
//!     .with_no_client_auth()
//!     .with_single_cert(pem::load_certs(&cert_pem)?, pem::load_private_key(&key_pem)?)?;
//! let tls = ServerTls::from_config(config);
//! # let _ = tls;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::tls::TlsConfigError;

/// Reads a certificate chain (the server's certificate first, then the
/// intermediates) from the PEM file at `path`.
///
/// # Errors
///
/// [`TlsConfigError::Read`] if the file cannot be read;
/// [`TlsConfigError::NotPem`] if it is not PEM, is damaged, or holds no
/// `CERTIFICATE` section.
///
/// # Examples
///
/// ```no_run
/// let chain = netutil::tls::pem::load_certs("/etc/ssl/example.crt")?;
/// println!("{} certificates", chain.len());
/// # Ok::<(), netutil::tls::TlsConfigError>(())
/// ```
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let path = path.as_ref();
    let data = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| not_pem(path, "certificate", err))?;
    if certs.is_empty() {
        return Err(not_pem(path, "certificate", pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// Reads a private key (PKCS#8, PKCS#1 or SEC1: the first key in the
/// file) from the PEM file at `path`.
///
/// # Errors
///
/// [`TlsConfigError::Read`] if the file cannot be read;
/// [`TlsConfigError::NotPem`] if it is not PEM, is damaged, or holds no
/// private key.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-p1", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
/// # std::fs::write(&cert_pem, made.cert.pem())?;
/// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
/// let key = netutil::tls::pem::load_private_key(&key_pem)?;
/// assert!(matches!(key, netutil::tls::rustls::pki_types::PrivateKeyDer::Pkcs8(_)));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let path = path.as_ref();
    let data = read(path)?;
    PrivateKeyDer::from_pem_slice(&data).map_err(|err| not_pem(path, "private key", err))
}

/// Reads trusted root certificates (a CA bundle) from the PEM file at
/// `path`.
///
/// # Errors
///
/// As [`load_certs`]; [`TlsConfigError::Rejected`] if a certificate cannot
/// be used as a trust anchor.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-p2", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
/// # std::fs::write(&cert_pem, made.cert.pem())?;
/// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
/// let roots = netutil::tls::pem::load_roots(&cert_pem)?;
/// assert_eq!(roots.len(), 1);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_roots(path: impl AsRef<Path>) -> Result<RootCertStore, TlsConfigError> {
    let path = path.as_ref();
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|reason| TlsConfigError::Rejected {
            what: path.display().to_string(),
            reason,
        })?;
    }
    Ok(roots)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

fn not_pem(path: &Path, wanted: &'static str, err: pem::Error) -> TlsConfigError {
    let reason = match err {
        pem::Error::NoItemsFound => format!("no {wanted} section found"),
        other => other.to_string().to_lowercase(),
    };
    TlsConfigError::NotPem {
        path: path.to_owned(),
        wanted,
        reason,
    }
}
