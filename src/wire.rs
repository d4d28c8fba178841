//! The calls on every request (GetItem, PutItem, UpdateItem) sent without the
//! SDK's orchestrator: the body built by hand (`wire_json`), signed with SigV4,
//! sent on a pooled keep-alive connection, under the same retries and time
//! limits as the SDK's calls. Profiled, the orchestrator cost more CPU than
//! everything else in one of these calls; the rest of the store's calls are
//! rare and stay on the SDK.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future as credentials_future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_smithy_types::date_time::{DateTime, Format as DateFormat};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::service_config::ServiceConfigKey;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{Map, Value};

use crate::error::{code, StoreError, StoreResult};
use crate::sigv4;
use crate::stats::Stats;

type HttpClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const USER_AGENT: &str = concat!("connect-dynamodb-rs/", env!("CARGO_PKG_VERSION"));
/// Credentials this close to their expiry are fetched again.
const REFRESH_BEFORE: Duration = Duration::from_secs(60);
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// How long a call may take and how often it is tried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect: Duration,
    pub attempt: Option<Duration>,
    pub total: Option<Duration>,
}

#[derive(Clone, Copy)]
#[allow(clippy::enum_variant_names)] // DynamoDB's own names
pub enum Target {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    DescribeTable,
}

impl Target {
    fn header(self) -> &'static str {
        match self {
            Target::GetItem => "DynamoDB_20120810.GetItem",
            Target::PutItem => "DynamoDB_20120810.PutItem",
            Target::UpdateItem => "DynamoDB_20120810.UpdateItem",
            Target::DeleteItem => "DynamoDB_20120810.DeleteItem",
            Target::DescribeTable => "DynamoDB_20120810.DescribeTable",
        }
    }
}

/// What DynamoDB answered. A failed condition is an answer the store
/// expects, not an error: its body holds the old item when one was asked for.
pub enum Outcome {
    Done(Map<String, Value>),
    ConditionFailed(Map<String, Value>),
}

impl Outcome {
    /// The reply of a call that had no condition.
    pub fn done(self) -> StoreResult<Map<String, Value>> {
        match self {
            Outcome::Done(reply) => Ok(reply),
            Outcome::ConditionFailed(_) => Err(StoreError::new(CONDITION_FAILED, "the call's condition failed")),
        }
    }
}

/// Capacity units in a reply's `ConsumedCapacity`.
pub fn capacity_units(reply: &Map<String, Value>) -> Option<f64> {
    reply.get("ConsumedCapacity")?.get("CapacityUnits")?.as_f64()
}

pub struct Wire {
    http: HttpClient,
    uri: Uri,
    host: String,
    region: String,
    credentials: CachedCredentials,
    limits: Limits,
    stats: Arc<Stats>,
    /// DynamoDB's clock minus ours, learned from a refused signature: a
    /// machine whose clock drifts keeps working, as it does with the SDK.
    clock_skew_ms: AtomicI64,
    signing_keys: sigv4::KeyCache,
}

/// One attempt's failure, and whether another attempt may succeed.
struct Failure {
    error: StoreError,
    retryable: bool,
}

impl Failure {
    fn fatal(error: StoreError) -> Self {
        Failure {
            error,
            retryable: false,
        }
    }

    fn transient(error: StoreError) -> Self {
        Failure { error, retryable: true }
    }
}

impl Wire {
    /// Sends to the endpoint the SDK would use for `config`, with its credentials.
    pub async fn new(
        config: &SdkConfig,
        credentials: CachedCredentials,
        limits: Limits,
        stats: Arc<Stats>,
    ) -> StoreResult<Self> {
        let url = resolve_endpoint(config).await?;
        let uri: Uri = url
            .parse()
            .map_err(|_| StoreError::invalid_option("endpoint", "a valid URL"))?;
        let host = uri
            .authority()
            .map(|authority| authority.as_str().to_string())
            .ok_or_else(|| StoreError::invalid_option("endpoint", "a URL with a host"))?;
        let region = config.region().map(|region| region.to_string()).unwrap_or_default();
        let https = uri.scheme_str() == Some("https");
        Ok(Wire {
            http: http_client(limits.connect, https)?,
            uri,
            host,
            region,
            credentials,
            limits,
            stats,
            clock_skew_ms: AtomicI64::new(0),
            signing_keys: sigv4::KeyCache::default(),
        })
    }

    /// Sends one call, retrying throttling and transient faults with
    /// exponential backoff and full jitter, within the call's time limit.
    pub async fn call(&self, target: Target, body: Vec<u8>) -> StoreResult<Outcome> {
        let attempts = self.attempts(target, Bytes::from(body));
        match self.limits.total {
            Some(limit) => tokio::time::timeout(limit, attempts)
                .await
                .unwrap_or_else(|_| Err(timed_out("the call", limit))),
            None => attempts.await,
        }
    }

    async fn attempts(&self, target: Target, body: Bytes) -> StoreResult<Outcome> {
        let mut retries = 0;
        loop {
            let failure = match self.attempt_in_time(target, body.clone()).await {
                Ok(outcome) => return Ok(outcome),
                Err(failure) => failure,
            };
            if !failure.retryable || retries >= self.limits.max_retries {
                return Err(failure.error);
            }
            retries += 1;
            Stats::count(&self.stats.retries);
            tokio::time::sleep(backoff(&self.limits, retries)).await;
        }
    }

    async fn attempt_in_time(&self, target: Target, body: Bytes) -> Result<Outcome, Failure> {
        match self.limits.attempt {
            Some(limit) => tokio::time::timeout(limit, self.attempt(target, body))
                .await
                .unwrap_or_else(|_| Err(Failure::transient(timed_out("an attempt", limit)))),
            None => self.attempt(target, body).await,
        }
    }

    async fn attempt(&self, target: Target, body: Bytes) -> Result<Outcome, Failure> {
        let credentials = self.credentials.credentials().await.map_err(Failure::fatal)?;
        let request = self
            .signed_request(&credentials, target, body)
            .map_err(Failure::fatal)?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|err| Failure::transient(unreachable(&err)))?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|err| {
            Failure::transient(StoreError::new(
                code::NETWORK,
                format!("the response from DynamoDB was cut off: {}", error_chain(&err)),
            ))
        })?;
        let mut reply = read_reply(parts.status, &parts.headers, &bytes.to_bytes());
        if let Err(failure) = &mut reply {
            let known = self.clock_skew_ms.load(Ordering::Relaxed);
            if let Some(skew) = new_clock_skew(&failure.error.code, &parts.headers, SystemTime::now(), known) {
                self.clock_skew_ms.store(skew, Ordering::Relaxed);
                failure.retryable = true;
            }
        }
        reply
    }

    /// Now, by DynamoDB's clock as far as this store knows it.
    fn signing_time(&self) -> SystemTime {
        let skew = self.clock_skew_ms.load(Ordering::Relaxed);
        let offset = Duration::from_millis(skew.unsigned_abs());
        let now = SystemTime::now();
        if skew >= 0 {
            now + offset
        } else {
            now.checked_sub(offset).unwrap_or(now)
        }
    }

    fn signed_request(
        &self,
        credentials: &Credentials,
        target: Target,
        body: Bytes,
    ) -> StoreResult<Request<Full<Bytes>>> {
        let signature = self.sign(credentials, target, &body);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header("user-agent", USER_AGENT)
            .header("content-type", CONTENT_TYPE)
            .header("host", self.host.as_str())
            .header("x-amz-target", target.header())
            .header("x-amz-date", signature.amz_date)
            .header("authorization", signature.authorization);
        if let Some(token) = credentials.session_token() {
            request = request.header("x-amz-security-token", token);
        }
        request
            .body(Full::new(body))
            .map_err(|err| StoreError::new(code::INTERNAL, format!("could not build the request: {err}")))
    }

    fn sign(&self, credentials: &Credentials, target: Target, body: &[u8]) -> sigv4::Signature {
        sigv4::sign(
            &sigv4::Request {
                path: self.uri.path_and_query().map_or("/", |p| p.as_str()),
                host: &self.host,
                region: &self.region,
                target: target.header(),
                content_type: CONTENT_TYPE,
                body,
                time: self.signing_time(),
            },
            &sigv4::Secret {
                access_key_id: credentials.access_key_id(),
                secret_access_key: credentials.secret_access_key(),
                session_token: credentials.session_token(),
            },
            &self.signing_keys,
        )
    }
}

impl Wire {
    /// Spike (issue 13, sans-IO): one call as the bytes of a signed HTTP/1.1
    /// request, built and signed synchronously. None when the credentials
    /// at hand are missing or stale (fetching them is async).
    pub fn request_bytes(&self, target: Target, body: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let Some(credentials) = self.credentials.fresh() else {
            return Ok(None);
        };
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let signature = self.sign(&credentials, target, body);
        let token = credentials
            .session_token()
            .map(|token| format!("x-amz-security-token: {token}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nuser-agent: {USER_AGENT}\r\ncontent-type: {CONTENT_TYPE}\r\n\
             x-amz-target: {}\r\nx-amz-date: {}\r\n{token}authorization: {}\r\ncontent-length: {}\r\n\r\n",
            self.host,
            target.header(),
            signature.amz_date,
            signature.authorization,
            body.len()
        );
        let mut bytes = Vec::with_capacity(head.len() + body.len());
        bytes.extend_from_slice(head.as_bytes());
        bytes.extend_from_slice(body);
        Ok(Some(bytes))
    }
}

/// Spike (issue 13, sans-IO): the answer in a reply's status and body.
pub fn reply_of(status: u16, body: &[u8]) -> StoreResult<Outcome> {
    let status = StatusCode::from_u16(status)
        .map_err(|_| StoreError::new(code::INVALID_RESPONSE, format!("DynamoDB answered HTTP {status}")))?;
    read_reply(status, &HeaderMap::new(), body).map_err(|failure| failure.error)
}

/// The answer to one attempt: the reply, a failed condition, or DynamoDB's
/// error, retryable when it is throttling or a fault on its side.
fn read_reply(status: StatusCode, headers: &HeaderMap, bytes: &[u8]) -> Result<Outcome, Failure> {
    let body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => Some(body),
        _ => None,
    };
    if status.is_success() {
        return body.map(Outcome::Done).ok_or_else(|| {
            Failure::fatal(StoreError::new(
                code::INVALID_RESPONSE,
                "DynamoDB answered with a body that is not a JSON object",
            ))
        });
    }
    let empty = Map::new();
    let fields = body.as_ref().unwrap_or(&empty);
    let error_type = headers
        .get("x-amzn-errortype")
        .and_then(|value| value.to_str().ok())
        .or_else(|| fields.get("__type").and_then(Value::as_str))
        .map(exception_name);
    let Some(name) = error_type else {
        let error = StoreError::new(
            code::INVALID_RESPONSE,
            format!("DynamoDB answered HTTP {status} without an error type"),
        );
        return Err(Failure {
            error,
            retryable: status.is_server_error(),
        });
    };
    if name == CONDITION_FAILED {
        return Ok(Outcome::ConditionFailed(body.unwrap_or_default()));
    }
    let message = ["message", "Message"]
        .iter()
        .find_map(|field| fields.get(*field).and_then(Value::as_str))
        .unwrap_or("DynamoDB returned an error");
    Err(Failure {
        retryable: status.is_server_error() || is_retryable(name),
        error: StoreError::new(name, message),
    })
}

/// When DynamoDB refused a signature as too old or too new and its `Date`
/// says our clock is off by more than what is already corrected: the new
/// offset (ms). Then the call is retried once signed with the corrected time.
fn new_clock_skew(code: &str, headers: &HeaderMap, now: SystemTime, known_ms: i64) -> Option<i64> {
    const SKEW_ERRORS: [&str; 5] = [
        "InvalidSignatureException",
        "RequestExpired",
        "RequestTimeTooSkewed",
        "RequestInTheFuture",
        "SignatureDoesNotMatch",
    ];
    if !SKEW_ERRORS.contains(&code) {
        return None;
    }
    let date = headers.get("date")?.to_str().ok()?;
    let server = SystemTime::try_from(DateTime::from_str(date, DateFormat::HttpDate).ok()?).ok()?;
    let skew_ms = match server.duration_since(now) {
        Ok(ahead) => ahead.as_millis() as i64,
        Err(behind) => -(behind.duration().as_millis() as i64),
    };
    ((skew_ms - known_ms).abs() > 60_000).then_some(skew_ms)
}

/// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` (or with a
/// `:…` suffix, as some services add) to `ResourceNotFoundException`.
fn exception_name(error_type: &str) -> &str {
    let name = error_type.rsplit('#').next().unwrap_or(error_type);
    name.split(':').next().unwrap_or(name)
}

/// Throttling and transient errors, as the SDKs' standard retry mode lists them.
fn is_retryable(name: &str) -> bool {
    matches!(
        name,
        "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "LimitExceededException"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalServerError"
            | "ServiceUnavailable"
    )
}

/// Full jitter: a random delay up to `initial · 2^(retry-1)`, capped.
fn backoff(limits: &Limits, retry: u32) -> Duration {
    let ceiling = limits
        .initial_backoff
        .saturating_mul(1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX))
        .min(limits.max_backoff);
    ceiling.mul_f64(random_fraction())
}

fn random_fraction() -> f64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes) as f64 / u32::MAX as f64,
        Err(_) => 0.5,
    }
}

fn timed_out(what: &str, limit: Duration) -> StoreError {
    StoreError::new(
        code::TIMEOUT,
        format!(
            "DynamoDB did not answer in time: {what} ran out of its {} ms",
            limit.as_millis()
        ),
    )
}

fn unreachable(err: &hyper_util::client::legacy::Error) -> StoreError {
    let chain = error_chain(err);
    let timed_out = err.is_connect() && chain.contains("timed out");
    StoreError::new(
        if timed_out { code::TIMEOUT } else { code::NETWORK },
        format!("could not reach DynamoDB: {chain}"),
    )
}

/// An error and each of its causes, as one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The endpoint the SDK's own rules pick (region, FIPS, dual-stack, or the
/// endpoint given), resolved once.
async fn resolve_endpoint(config: &SdkConfig) -> StoreResult<String> {
    let params = Params::builder()
        .set_region(config.region().map(|region| region.to_string()))
        .set_endpoint(endpoint_url(config))
        .set_use_fips(config.use_fips())
        .set_use_dual_stack(config.use_dual_stack())
        .build()
        .map_err(|err| {
            StoreError::new(
                code::INVALID_OPTION,
                format!("no DynamoDB endpoint for these options: {err}"),
            )
        })?;
    let endpoint = DefaultResolver::new().resolve_endpoint(&params).await.map_err(|err| {
        StoreError::new(
            code::INVALID_OPTION,
            format!("no DynamoDB endpoint for these options: {}", DisplayErrorContext(&*err)),
        )
    })?;
    Ok(endpoint.url().to_string())
}

/// The endpoint URL given for DynamoDB, as the SDK picks it: one set in code
/// wins, then `AWS_ENDPOINT_URL_DYNAMODB` (or the profile's), then the global one.
fn endpoint_url(config: &SdkConfig) -> Option<String> {
    let global = config.endpoint_url().map(str::to_string);
    if config.get_origin("endpoint_url").is_client_config() {
        return global;
    }
    let key = ServiceConfigKey::builder()
        .service_id("DynamoDB")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    config
        .service_config()
        .and_then(|service| service.load_config(key))
        .or(global)
}

/// Keep-alive HTTP/1.1, over rustls on ring for https (with the roots of
/// `trust.rs`, loaded only when needed).
fn http_client(connect_timeout: Duration, https: bool) -> StoreResult<HttpClient> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    let mut roots = rustls::RootCertStore::empty();
    if https {
        roots.add_parsable_certificates(crate::trust::ROOTS.iter().cloned());
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| StoreError::new(code::INTERNAL, format!("could not set up TLS: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector))
}

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

    async fn credentials(&self) -> StoreResult<Credentials> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Result<Outcome, Failure> {
        read_reply(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn failure(status: u16, body: &str) -> Failure {
        match reply(status, body) {
            Err(failure) => failure,
            Ok(_) => panic!("expected a failure for {body}"),
        }
    }

    #[test]
    fn exception_names_lose_their_namespace_and_suffix() {
        assert_eq!(
            exception_name("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"),
            "ResourceNotFoundException"
        );
        assert_eq!(
            exception_name("ThrottlingException:http://internal.amazon.com/"),
            "ThrottlingException"
        );
        assert_eq!(exception_name("ValidationException"), "ValidationException");
    }

    #[test]
    fn errors_carry_dynamodb_code_and_message_and_only_faults_retry() {
        let throttled = failure(
            400,
            r#"{"__type":"x#ProvisionedThroughputExceededException","message":"slow down"}"#,
        );
        assert_eq!(
            (throttled.error.code.as_str(), throttled.error.message.as_str()),
            ("ProvisionedThroughputExceededException", "slow down")
        );
        assert!(throttled.retryable);
        let missing = failure(400, r#"{"__type":"x#ResourceNotFoundException","Message":"no table"}"#);
        assert_eq!(missing.error.message, "no table");
        assert!(!missing.retryable);
        assert!(failure(500, r#"{"__type":"x#InternalServerError"}"#).retryable);
        let html = failure(502, "<html>bad gateway</html>");
        assert_eq!(html.error.code, code::INVALID_RESPONSE);
        assert!(html.retryable);
        assert!(!failure(403, "").retryable);
        assert!(!failure(200, "not json").retryable);
    }

    #[test]
    fn a_failed_condition_is_an_outcome_with_the_old_item() {
        match reply(
            400,
            r#"{"__type":"x#ConditionalCheckFailedException","Item":{"id":{"S":"a"}}}"#,
        ) {
            Ok(Outcome::ConditionFailed(body)) => assert!(body.contains_key("Item")),
            _ => panic!("expected ConditionFailed"),
        }
    }

    #[test]
    fn a_refused_signature_with_a_distant_server_date_corrects_the_clock() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        // 1_700_000_600 s: ten minutes after `now`.
        headers.insert("date", "Tue, 14 Nov 2023 22:23:20 GMT".parse().unwrap());
        assert_eq!(
            new_clock_skew("InvalidSignatureException", &headers, now, 0),
            Some(600_000)
        );
        // Already corrected, or a different error, or no date: nothing to learn, no retry.
        assert_eq!(
            new_clock_skew("InvalidSignatureException", &headers, now, 590_000),
            None
        );
        assert_eq!(new_clock_skew("ValidationException", &headers, now, 0), None);
        assert_eq!(
            new_clock_skew("InvalidSignatureException", &HeaderMap::new(), now, 0),
            None
        );
        let behind = now + Duration::from_secs(1_200);
        assert_eq!(new_clock_skew("RequestExpired", &headers, behind, 0), Some(-600_000));
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_stays_capped() {
        let limits = Limits {
            max_retries: 3,
            initial_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_millis(500),
            connect: Duration::from_secs(1),
            attempt: None,
            total: None,
        };
        for retry in 1..40 {
            let delay = backoff(&limits, retry);
            let ceiling = Duration::from_millis(25 * 2u64.saturating_pow(retry - 1)).min(Duration::from_millis(500));
            assert!(delay <= ceiling, "retry {retry}: {delay:?} > {ceiling:?}");
        }
    }

    #[test]
    fn capacity_is_read_from_the_reply() {
        let body: Value =
            serde_json::from_str(r#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.5}}"#).unwrap();
        assert_eq!(capacity_units(body.as_object().unwrap()), Some(1.5));
        assert_eq!(capacity_units(&Map::new()), None);
    }
}
