//! Building the one DynamoDB client a store uses, from explicit options, from
//! a JS `DynamoDBClient` the app passed in, or from the AWS default chain.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use napi_derive::napi;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::credentials::CachedCredentials;
use crate::error::{code, StoreError, StoreResult};
use crate::options::{ConnectionOptions, CONNECT_TIMEOUT_MS, MAX_RETRIES, REGION, TIMEOUT_MS};
use crate::stats::Stats;
use crate::transport::Transport;
use crate::wire::{Limits, Wire};

const INITIAL_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// What the shim reads off a JS SDK client: its region and custom endpoint.
#[napi(object)]
pub struct JsClientConfig {
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// One answer of a JS SDK client's credentials provider.
#[napi(object)]
pub struct JsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Epoch milliseconds.
    pub expiration: Option<f64>,
}

/// A JS async function called from Rust. Weak: it never keeps Node alive.
pub type JsProvider<T> = ThreadsafeFunction<(), Promise<T>, (), Status, false, true>;

/// The JS client the app passed in, seen through its async providers.
pub struct JsClient {
    pub config: JsProvider<JsClientConfig>,
    pub credentials: Arc<JsProvider<JsCredentials>>,
}

/// The two ways a store reaches DynamoDB, from one configuration: the SDK
/// client for the rare calls, the wire for the ones on every request.
pub struct Connection {
    pub sdk: Client,
    pub wire: Arc<Wire>,
}

/// Both ways share one configuration: the region and endpoint (the wire
/// resolves it by the SDK's rules; the SDK client is then pinned to it), the
/// credentials (one cache), the CAs (`trust`: the PEM certificates the core's
/// sockets trust, which are Node's), the retry limits and backoff, and the
/// time limits.
pub async fn connect(
    options: &ConnectionOptions,
    js: Option<&JsClient>,
    transport: Arc<dyn Transport>,
    stats: Arc<Stats>,
    trust: &[String],
) -> StoreResult<Connection> {
    let (mut region, mut endpoint) = (options.region.clone(), options.endpoint.clone());
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client(trust));
    if let Some(js) = js {
        let config = call_js(&js.config)
            .await
            .map_err(|e| StoreError::new(code::CREDENTIALS, format!("could not read the client's config: {e}")))?;
        region = config.region.or(region);
        endpoint = config.endpoint.or(endpoint);
        loader = loader.credentials_provider(JsCredentialsProvider(js.credentials.clone()));
    } else if let Some(creds) = &options.credentials {
        loader = loader.credentials_provider(Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            creds.session_token.clone(),
            None,
            "connect-dynamodb-rs options",
        ));
    }
    let region_chain = RegionProviderChain::first_try(region.map(Region::new))
        .or_default_provider()
        .or_else(Region::new(REGION));
    loader = loader.region(region_chain);
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    let limits = limits(options);
    // Standard mode: exponential backoff with full jitter, and only for
    // throttling, 5xx, timeouts and connection faults; never for validation,
    // missing tables, denied access or failed conditions.
    loader = loader.retry_config(
        RetryConfig::standard()
            .with_max_attempts(limits.max_retries + 1)
            .with_initial_backoff(limits.initial_backoff)
            .with_max_backoff(limits.max_backoff),
    );
    loader = loader.timeout_config(timeouts(&limits));
    let shared = loader.load().await;
    let credentials = CachedCredentials::new(shared.credentials_provider());
    let wire = Wire::new(&shared, transport, credentials.clone(), limits, stats.clone()).await?;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .endpoint_url(wire.endpoint().url())
        .credentials_provider(credentials)
        .interceptor(CountRetries(stats))
        .build();
    Ok(Connection {
        sdk: Client::from_conf(config),
        wire: Arc::new(wire),
    })
}

/// Counts the attempts that were retries, for `stats()`.
struct CountRetries(Arc<Stats>);

impl std::fmt::Debug for CountRetries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountRetries")
    }
}

impl Intercept for CountRetries {
    fn name(&self) -> &'static str {
        "CountRetries"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|attempts| attempts.attempts() > 1)
        {
            Stats::count(&self.0.retries);
        }
        Ok(())
    }
}

/// HTTPS over rustls with ring, trusting exactly the CAs in `trust` (those
/// the core's sockets trust), for table setup and for the credential
/// providers that fetch over HTTPS. Its calls are rare, so it keeps no idle
/// connection: a store's connections are all its own pool's, and close()
/// closes them all.
fn https_client(trust: &[String]) -> SharedHttpClient {
    let trust = trust.iter().fold(tls::TrustStore::empty(), |store, pem| {
        store.with_pem_certificate(pem.as_bytes())
    });
    let builder = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(0)
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(_) => builder.build_https(),
    }
}

/// The whole call gets `timeout` (default 2 s); one attempt gets half of it
/// (or httpOptions.timeout), so a stalled connection still leaves time for a retry.
fn limits(options: &ConnectionOptions) -> Limits {
    let total = options.operation_timeout_ms.unwrap_or(TIMEOUT_MS);
    let attempt = options
        .timeout_ms
        .filter(|ms| *ms > 0)
        .or((total > 0).then_some(total / 2));
    let connect = options
        .connect_timeout_ms
        .unwrap_or(CONNECT_TIMEOUT_MS)
        .min(attempt.unwrap_or(u64::MAX));
    Limits {
        max_retries: options.max_retries.unwrap_or(MAX_RETRIES),
        initial_backoff: INITIAL_BACKOFF,
        max_backoff: MAX_BACKOFF,
        connect: Duration::from_millis(connect.max(1)),
        attempt: attempt.map(|ms| Duration::from_millis(ms.max(1))),
        total: (total > 0).then(|| Duration::from_millis(total)),
    }
}

fn timeouts(limits: &Limits) -> TimeoutConfig {
    let mut timeouts = TimeoutConfig::builder().connect_timeout(limits.connect);
    if let Some(total) = limits.total {
        timeouts = timeouts.operation_timeout(total);
    }
    if let Some(attempt) = limits.attempt {
        timeouts = timeouts.operation_attempt_timeout(attempt);
    }
    timeouts.build()
}

async fn call_js<T: napi::bindgen_prelude::FromNapiValue + 'static>(provider: &JsProvider<T>) -> napi::Result<T> {
    provider.call_async_catch(()).await?.await
}

/// Asks the JS client's provider each time the SDK's identity cache needs
/// fresh credentials (on first use and when they near their expiration).
#[derive(Clone)]
struct JsCredentialsProvider(Arc<JsProvider<JsCredentials>>);

impl JsCredentialsProvider {
    async fn fetch(self) -> aws_credential_types::provider::Result {
        let js = call_js(&self.0)
            .await
            .map_err(|e| CredentialsError::provider_error(e.reason))?;
        let expiry = js
            .expiration
            .filter(|ms| ms.is_finite() && *ms > 0.0)
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms as u64));
        Ok(Credentials::new(
            js.access_key_id,
            js.secret_access_key,
            js.session_token,
            expiry,
            "js-client",
        ))
    }
}

impl std::fmt::Debug for JsCredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsCredentialsProvider")
    }
}

impl ProvideCredentials for JsCredentialsProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.clone().fetch())
    }
}
