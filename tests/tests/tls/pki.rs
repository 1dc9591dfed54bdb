//! Test certificates, made once per run: a certificate authority, a server
//! certificate it signs for `localhost` and `127.0.0.1`, one that expired,
//! one from an authority nobody trusts, and a stray key.

use std::path::PathBuf;
use std::sync::OnceLock;

use netutil::tls::rustls::RootCertStore;
use netutil::tls::rustls::pki_types::CertificateDer;
use netutil::tls::{ClientTls, ServerTls};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};

/// Paths of the PEM files, in a directory of this run.
#[derive(Debug)]
pub(crate) struct Pki {
    pub(crate) dir: PathBuf,
    /// The authority's certificate (the CA bundle clients trust).
    pub(crate) ca: PathBuf,
    ca_der: CertificateDer<'static>,
    /// The server's certificate (for `localhost` and `127.0.0.1`) and key.
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// A certificate for `localhost` that expired in 2001, and its key.
    pub(crate) expired_cert: PathBuf,
    pub(crate) expired_key: PathBuf,
    /// A certificate for `localhost` signed by another authority, and its key.
    pub(crate) stranger_cert: PathBuf,
    pub(crate) stranger_key: PathBuf,
    /// A key that matches none of the certificates.
    pub(crate) other_key: PathBuf,
}

/// The run's certificates.
pub(crate) fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(make)
}

fn authority(name: &str) -> (Issuer<'static, KeyPair>, String, CertificateDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (Issuer::new(params, key), cert.pem(), cert.der().clone())
}

fn leaf(issuer: &Issuer<'static, KeyPair>, expired: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    if expired {
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2001, 1, 1);
    }
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn make() -> Pki {
    let dir = std::env::temp_dir().join(format!("netutil-tls-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, data: &str| {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
    };
    let (ca, ca_pem, ca_der) = authority("netutil test authority");
    let (stranger_ca, _, _) = authority("an authority nobody trusts");
    let (cert, key) = leaf(&ca, false);
    let (expired_cert, expired_key) = leaf(&ca, true);
    let (stranger_cert, stranger_key) = leaf(&stranger_ca, false);
    Pki {
        ca: write("ca.pem", &ca_pem),
        ca_der,
        cert: write("cert.pem", &cert),
        key: write("key.pem", &key),
        expired_cert: write("expired-cert.pem", &expired_cert),
        expired_key: write("expired-key.pem", &expired_key),
        stranger_cert: write("stranger-cert.pem", &stranger_cert),
        stranger_key: write("stranger-key.pem", &stranger_key),
        other_key: write(
            "other-key.pem",
            &KeyPair::generate().unwrap().serialize_pem(),
        ),
        dir,
    }
}

impl Pki {
    /// The server configuration with the good certificate.
    pub(crate) fn server(&self) -> ServerTls {
        ServerTls::from_pem_files(&self.cert, &self.key).unwrap()
    }

    /// A client that trusts the test authority only.
    pub(crate) fn client(&self) -> ClientTls {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        ClientTls::with_roots(roots)
    }
}
