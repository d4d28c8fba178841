//! Which certificate authorities HTTPS to DynamoDB trusts, on both paths (the
//! hand-built one and the SDK's): the system's roots (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` included), plus the PEM files a Node user names in
//! `NODE_EXTRA_CA_CERTS` and an AWS user in `AWS_CA_BUNDLE`, as the JS SDK
//! honours them. A private CA (a TLS-inspecting proxy, LocalStack, a VPC
//! endpoint behind one) then works without further setup. Read once per
//! process; a file that cannot be read is skipped, as Node skips it.

use once_cell::sync::Lazy;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

const EXTRA_CA_VARIABLES: [&str; 2] = ["NODE_EXTRA_CA_CERTS", "AWS_CA_BUNDLE"];

/// The PEM files' contents, as named by the environment.
pub static EXTRA_CA_PEMS: Lazy<Vec<Vec<u8>>> = Lazy::new(|| {
    EXTRA_CA_VARIABLES
        .iter()
        .filter_map(std::env::var_os)
        .filter(|path| !path.is_empty())
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
});

/// Every root certificate the hand-built path trusts.
pub static ROOTS: Lazy<Vec<CertificateDer<'static>>> = Lazy::new(|| {
    let mut roots = rustls_native_certs::load_native_certs().certs;
    for pem in EXTRA_CA_PEMS.iter() {
        roots.extend(CertificateDer::pem_slice_iter(pem).filter_map(Result::ok));
    }
    roots
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_certificates_and_skips_what_is_not_one() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        let found: Vec<_> = CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].as_ref(), &[0, 1, 2]);
        assert_eq!(
            CertificateDer::pem_slice_iter(b"no pem here")
                .filter_map(Result::ok)
                .count(),
            0
        );
    }
}
