//! The credentials that sign every call: the configured provider (options, a
//! JS client's provider, or the AWS default chain) behind one cache, which the
//! SDK's client asks too, so both share one fetch. Reading fresh credentials
//! is synchronous; only a fetch waits (on tokio, off the hot path).

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future as credentials_future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::error::{code, StoreError, StoreResult};

/// Credentials this close to their expiry are fetched again.
const REFRESH_BEFORE: Duration = Duration::from_secs(60);

/// The configured credentials, kept until a minute before they expire and
/// fetched one at a time. The SDK client asks this cache too, so both paths
/// share one fetch.
#[derive(Clone)]
pub struct CachedCredentials(Arc<CredentialsState>);

struct CredentialsState {
    provider: Option<SharedCredentialsProvider>,
    current: RwLock<Option<Credentials>>,
    fetching: tokio::sync::Mutex<()>,
}

impl CachedCredentials {
    pub fn new(provider: Option<SharedCredentialsProvider>) -> Self {
        CachedCredentials(Arc::new(CredentialsState {
            provider,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    pub async fn credentials(&self) -> StoreResult<Credentials> {
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let _one_at_a_time = self.0.fetching.lock().await;
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let provider = self
            .0
            .provider
            .as_ref()
            .ok_or_else(|| StoreError::new(code::CREDENTIALS, "no AWS credentials provider is configured"))?;
        let credentials = provider.provide_credentials().await.map_err(|err| {
            StoreError::new(
                code::CREDENTIALS,
                format!("could not load AWS credentials: {}", DisplayErrorContext(&err)),
            )
        })?;
        well_formed(&credentials)?;
        if let Ok(mut current) = self.0.current.write() {
            *current = Some(credentials.clone());
        }
        Ok(credentials)
    }

    pub(crate) fn fresh(&self) -> Option<Credentials> {
        let current = self.0.current.read().ok()?;
        let credentials = current.as_ref()?;
        match credentials.expiry() {
            Some(expiry) if SystemTime::now() + REFRESH_BEFORE >= expiry => None,
            _ => Some(credentials.clone()),
        }
    }
}

/// Every source's credentials (options, a JS client's provider, the chain)
/// pass here before they sign anything: a line break in a key would make
/// the signer panic, a space would corrupt the header.
fn well_formed(credentials: &Credentials) -> StoreResult<()> {
    let fields = [
        ("accessKeyId", Some(credentials.access_key_id())),
        ("secretAccessKey", Some(credentials.secret_access_key())),
        (
            "sessionToken",
            credentials.session_token().filter(|token| !token.is_empty()),
        ),
    ];
    match fields
        .into_iter()
        .find(|(_, value)| value.is_some_and(|v| !crate::options::is_credential_text(v)))
    {
        Some((name, _)) => Err(StoreError::new(
            code::CREDENTIALS,
            format!("the AWS credentials' {name} is empty or holds characters other than visible ASCII"),
        )),
        None => Ok(()),
    }
}

impl std::fmt::Debug for CachedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachedCredentials")
    }
}

impl ProvideCredentials for CachedCredentials {
    fn provide_credentials<'a>(&'a self) -> credentials_future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let cache = self.clone();
        credentials_future::ProvideCredentials::new(async move {
            cache
                .credentials()
                .await
                .map_err(|err| CredentialsError::provider_error(err.message))
        })
    }
}
