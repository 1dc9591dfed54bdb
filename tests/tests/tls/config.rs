//! Certificates and keys from PEM files: each bad input is an error that
//! names the file and what is wrong.

use std::io;

use netutil::tls::{ClientTls, ServerTls, TlsConfigError, pem};

use crate::pki::pki;

fn server_err(cert: &std::path::Path, key: &std::path::Path) -> TlsConfigError {
    ServerTls::from_pem_files(cert, key).unwrap_err()
}

#[test]
fn good_files_load() {
    let p = pki();
    assert_eq!(pem::load_certs(&p.cert).unwrap().len(), 1);
    pem::load_private_key(&p.key).unwrap();
    assert_eq!(pem::load_roots(&p.ca).unwrap().len(), 1);
    ServerTls::from_pem_files(&p.cert, &p.key).unwrap();
    ClientTls::with_ca_file(&p.ca).unwrap();
}

#[test]
fn a_missing_file_is_named() {
    let p = pki();
    let missing = p.dir.join("missing.pem");
    let err = server_err(&missing, &p.key);
    assert!(matches!(err, TlsConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
    let err = server_err(&p.cert, &missing);
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let err = ClientTls::with_ca_file(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[test]
fn a_file_that_is_not_pem_is_named() {
    let p = pki();
    let garbage = p.dir.join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let err = server_err(&garbage, &p.key);
    assert!(
        matches!(
            err,
            TlsConfigError::NotPem {
                wanted: "certificate",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("garbage.pem"), "{err}");
    assert!(err.to_string().contains("no certificate section"), "{err}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidData);
}

#[test]
fn a_certificate_given_as_the_key_is_named() {
    let p = pki();
    let err = server_err(&p.cert, &p.cert);
    assert!(
        matches!(
            err,
            TlsConfigError::NotPem {
                wanted: "private key",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cert.pem"), "{err}");
}

#[test]
fn a_damaged_pem_file_is_named() {
    let p = pki();
    let damaged = p.dir.join("damaged.pem");
    let good = std::fs::read_to_string(&p.cert).unwrap();
    // Cut before the end marker.
    std::fs::write(&damaged, &good[..good.len() / 2]).unwrap();
    let err = server_err(&damaged, &p.key);
    assert!(matches!(err, TlsConfigError::NotPem { .. }), "{err:?}");
    assert!(err.to_string().contains("damaged.pem"), "{err}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_named() {
    let p = pki();
    let err = server_err(&p.cert, &p.other_key);
    match &err {
        TlsConfigError::KeyMismatch { cert, key } => {
            assert_eq!(cert, &p.cert);
            assert_eq!(key, &p.other_key);
        }
        other => panic!("not a mismatch: {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("other-key.pem") && message.contains("cert.pem"),
        "{message}"
    );
    assert!(message.contains("does not match"), "{message}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);
}
