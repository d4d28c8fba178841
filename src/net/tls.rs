//! HTTPS on the store's own sockets: the rustls configuration, trusting the
//! certificate authorities Node trusts (`stream.rs` drives each session).
//! The shim hands over Node's list (its bundled roots, `NODE_EXTRA_CA_CERTS`,
//! the system's where Node was told to use them) plus `AWS_CA_BUNDLE`, so
//! Node's CA settings apply here as they would on a Node socket.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The client configuration for every connection of a store: these roots, HTTP/1.1.
pub fn client_config(pems: &[String]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
            // A certificate rustls cannot use is skipped, as Node skips it.
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
