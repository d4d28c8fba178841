//! Which certificate authorities the SDK's HTTPS client trusts (the store's
//! rare calls): its default roots plus the PEM files a Node user names in
//! `NODE_EXTRA_CA_CERTS` and an AWS user in `AWS_CA_BUNDLE`, as the JS SDK
//! honours them. The session calls go over Node's TLS, which lib/transport.js
//! gives the same extra files. Read once per process; a file that cannot be
//! read is skipped, as Node skips it.

use once_cell::sync::Lazy;

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
