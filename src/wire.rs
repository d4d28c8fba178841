//! Every call the store makes to its sessions, its locks and its user index
//! (items, scans, queries, batches, the breaker's probe, DescribeTable): the
//! body built by hand (`wire_json`), signed with SigV4 (`sigv4`), carried by
//! the store's transport (`transport`), read back here, under one retry
//! policy, one set of time limits and one error mapping. Profiled, the SDK's
//! orchestrator cost more CPU than everything else in one of these calls;
//! only table setup (create, TTL, indexes: `table.rs`) stays on the SDK.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_smithy_types::date_time::{DateTime, Format as DateFormat};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::service_config::ServiceConfigKey;
use serde_json::{Map, Value};

use crate::credentials::CachedCredentials;
use crate::error::{code, StoreError, StoreResult};
use crate::net::LostKind;
use crate::sigv4;
use crate::stats::Stats;
use crate::trace::{self, Ended, What};
use crate::transport::{Lost, Reply, Transport};

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const USER_AGENT: &str = concat!("connect-dynamodb-rs/", env!("CARGO_PKG_VERSION"));
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
    Scan,
    Query,
    BatchGetItem,
    BatchWriteItem,
    TransactWriteItems,
}

impl Target {
    /// The largest reply body DynamoDB sends for this call: an item is at
    /// most 400 KB (as JSON, binary in base64, well under 1 MB), a page of a
    /// query or scan 1 MB of items, a batch 16 MB. A larger reply is not
    /// DynamoDB talking, and is refused before it is held in memory.
    pub fn max_reply(self) -> u64 {
        const MB: u64 = 1024 * 1024;
        match self {
            Target::GetItem
            | Target::PutItem
            | Target::UpdateItem
            | Target::DeleteItem
            | Target::DescribeTable
            | Target::TransactWriteItems => MB,
            Target::Scan | Target::Query => 4 * MB,
            Target::BatchGetItem | Target::BatchWriteItem => 32 * MB,
        }
    }

    /// DynamoDB's name of the operation.
    pub fn name(self) -> &'static str {
        self.header().trim_start_matches("DynamoDB_20120810.")
    }

    fn header(self) -> &'static str {
        match self {
            Target::GetItem => "DynamoDB_20120810.GetItem",
            Target::PutItem => "DynamoDB_20120810.PutItem",
            Target::UpdateItem => "DynamoDB_20120810.UpdateItem",
            Target::DeleteItem => "DynamoDB_20120810.DeleteItem",
            Target::DescribeTable => "DynamoDB_20120810.DescribeTable",
            Target::Scan => "DynamoDB_20120810.Scan",
            Target::Query => "DynamoDB_20120810.Query",
            Target::BatchGetItem => "DynamoDB_20120810.BatchGetItem",
            Target::BatchWriteItem => "DynamoDB_20120810.BatchWriteItem",
            Target::TransactWriteItems => "DynamoDB_20120810.TransactWriteItems",
        }
    }
}

/// What DynamoDB answered. A failed condition is an answer the store
/// expects, not an error: its body holds the old item when one was asked for.
pub enum Outcome {
    Done(Map<String, Value>),
    ConditionFailed(Failed),
}

/// A failed condition.
pub struct Failed {
    /// The reply's body: `Item` holds the item as it was, when
    /// `ReturnValuesOnConditionCheckFailure` asked for it.
    pub body: Map<String, Value>,
    /// An earlier attempt of this call may have been applied (it timed out,
    /// or its connection failed, after the request left): the condition may
    /// have failed on this call's own write. A conditional write checks the
    /// item for its own mark (its version, its owner token) before it
    /// reports a conflict.
    pub maybe_ours: bool,
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

/// Capacity units in a reply's `ConsumedCapacity`: one object, or one per
/// table for a batch.
pub fn capacity_units(reply: &Map<String, Value>) -> Option<f64> {
    let units = |one: &Value| one.get("CapacityUnits").and_then(Value::as_f64);
    match reply.get("ConsumedCapacity")? {
        Value::Array(tables) => Some(tables.iter().filter_map(units).sum()),
        one => units(one),
    }
}

/// Where the store's calls go, for the transport: scheme, host and port.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The request path (and query) of the endpoint URL.
    path: String,
    /// The `host` header: the authority as the URL gives it.
    authority: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> StoreResult<Self> {
        let invalid = || StoreError::invalid_option("endpoint", "a valid http or https URL with a host");
        let uri: http::Uri = url.parse().map_err(|_| invalid())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid()),
        };
        let authority = uri.authority().ok_or_else(invalid)?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(invalid());
        }
        Ok(Endpoint {
            https,
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            authority: authority.as_str().to_string(),
        })
    }

    /// The endpoint as a URL again (the SDK's client is given it).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }
}

pub struct Wire {
    transport: Arc<dyn Transport>,
    endpoint: Endpoint,
    region: String,
    credentials: CachedCredentials,
    limits: Limits,
    stats: Arc<Stats>,
    /// DynamoDB's clock minus ours, learned from a refused signature: a
    /// machine whose clock drifts keeps working, as it does with the SDK.
    clock_skew_ms: AtomicI64,
    signing_keys: sigv4::KeyCache,
}

/// One attempt's failure, whether another attempt may succeed, and whether
/// this one may have been applied all the same.
struct Failure {
    error: StoreError,
    retryable: bool,
    maybe_applied: bool,
}

impl Failure {
    fn fatal(error: StoreError) -> Self {
        Failure {
            error,
            retryable: false,
            maybe_applied: false,
        }
    }

    fn transient(error: StoreError) -> Self {
        Failure {
            error,
            retryable: true,
            maybe_applied: false,
        }
    }
}

impl Wire {
    /// Sends to the endpoint the SDK would use for `config`, with its credentials.
    pub async fn new(
        config: &SdkConfig,
        transport: Arc<dyn Transport>,
        credentials: CachedCredentials,
        limits: Limits,
        stats: Arc<Stats>,
    ) -> StoreResult<Self> {
        let endpoint = Endpoint::parse(&resolve_endpoint(config).await?)?;
        let region = config.region().map(|region| region.to_string()).unwrap_or_default();
        Ok(Wire {
            transport,
            endpoint,
            region,
            credentials,
            limits,
            stats,
            clock_skew_ms: AtomicI64::new(0),
            signing_keys: sigv4::KeyCache::default(),
        })
    }

    /// A reply answered another item than the one asked for: see `Transport::distrust`.
    pub fn distrust(&self) -> StoreError {
        self.transport.distrust();
        StoreError::new(
            code::INVALID_RESPONSE,
            "DynamoDB's reply was for another item than the one asked for (a connection out of step); nothing was served",
        )
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sends one call, retrying throttling and transient faults with
    /// exponential backoff and full jitter, within the call's time limit.
    pub async fn call(&self, target: Target, body: Vec<u8>) -> StoreResult<Outcome> {
        let started = Instant::now();
        let mut retries = 0;
        let mut maybe_applied = false;
        let sequence = trace::next_sequence();
        let trace_end = |attempt, seen, ended: &dyn Fn() -> Ended| trace_end(sequence, target, attempt, seen, ended);
        loop {
            let attempt = retries + 1;
            let (limit, whole_call) = match self.attempt_limit(started) {
                Ok(limit) => limit,
                Err(error) => {
                    // The last attempt's end said another follows: it did, and ended before it was sent.
                    if retries > 0 {
                        self.trace_start(sequence, target, attempt, &body);
                        trace_end(attempt, Seen::default(), &|| ended_error(&error, None));
                    }
                    return Err(error);
                }
            };
            self.trace_start(sequence, target, attempt, &body);
            let (outcome, seen) = self.attempt(target, &body, limit, whole_call).await;
            let failure = match outcome {
                Ok(Outcome::ConditionFailed(failed)) => {
                    trace_end(attempt, seen, &|| ended_condition(&failed));
                    return Ok(Outcome::ConditionFailed(Failed {
                        maybe_ours: failed.maybe_ours || maybe_applied,
                        ..failed
                    }));
                }
                Ok(outcome) => {
                    trace_end(attempt, seen, &|| ended_outcome(&outcome));
                    return Ok(outcome);
                }
                Err(failure) => failure,
            };
            maybe_applied |= failure.maybe_applied;
            if !failure.retryable || retries >= self.limits.max_retries {
                trace_end(attempt, seen, &|| ended_error(&failure.error, None));
                return Err(failure.error);
            }
            retries += 1;
            Stats::count(&self.stats.retries);
            let delay = backoff(&self.limits, retries);
            if let Some(total) = self.limits.total {
                if started.elapsed() + delay >= total {
                    trace_end(attempt, seen, &|| ended_error(&failure.error, None));
                    tokio::time::sleep(total.saturating_sub(started.elapsed())).await;
                    return Err(timed_out("the call", total));
                }
            }
            let after = Some(delay.as_secs_f64() * 1000.0);
            trace_end(attempt, seen, &|| ended_error(&failure.error, after));
            tokio::time::sleep(delay).await;
        }
    }

    /// Tells a listener (trace.rs) that an attempt is on its way.
    fn trace_start(&self, sequence: u32, target: Target, attempt: u32, body: &[u8]) {
        if trace::tracing() {
            let (region, host) = (self.region.clone(), self.endpoint.host.clone());
            // The bodies are the store's own JSON (wire_json.rs), written without spaces.
            const CONSISTENT: &[u8] = b"\"ConsistentRead\":true";
            let consistent_read = body.windows(CONSISTENT.len()).any(|w| w == CONSISTENT);
            let start = What::Start {
                region,
                host,
                consistent_read,
            };
            trace::record(sequence, target.name(), attempt, start);
        }
    }

    /// Waits before the `retry`th repeat of a call DynamoDB only partly did
    /// (a batch's unprocessed items), with the same backoff as a throttle.
    pub async fn back_off(&self, retry: u32) {
        Stats::count(&self.stats.retries);
        tokio::time::sleep(backoff(&self.limits, retry)).await;
    }

    /// One attempt and no retry, within `limit`: the breaker's probe, whose
    /// interval is its backoff.
    pub async fn once(&self, target: Target, body: Vec<u8>, limit: Duration) -> StoreResult<Outcome> {
        self.attempt(target, &body, Some(limit), false)
            .await
            .0
            .map_err(|failure| failure.error)
    }

    /// The next attempt's limit: the attempt's own, or what is left of the
    /// call's when that is less (then running out ends the call).
    fn attempt_limit(&self, started: Instant) -> StoreResult<(Option<Duration>, bool)> {
        let left = self.limits.total.map(|total| total.saturating_sub(started.elapsed()));
        if let (Some(total), Some(Duration::ZERO)) = (self.limits.total, left) {
            return Err(timed_out("the call", total));
        }
        Ok(match (self.limits.attempt, left) {
            (Some(attempt), Some(left)) if left < attempt => (Some(left), true),
            (Some(attempt), _) => (Some(attempt), false),
            (None, left) => (left, left.is_some()),
        })
    }

    /// One attempt; with it, for a listener, the reply's status and request id.
    async fn attempt(
        &self,
        target: Target,
        body: &[u8],
        limit: Option<Duration>,
        whole_call: bool,
    ) -> (Result<Outcome, Failure>, Seen) {
        let credentials = match self.credentials.credentials().await {
            Ok(credentials) => credentials,
            Err(err) => return (Err(Failure::fatal(err)), Seen::default()),
        };
        let request = self.request(&credentials, target, body);
        let reply = match self.transport.send(request, limit, target.max_reply()).await {
            Ok(reply) => reply,
            Err(lost) => return (Err(self.lost(lost, limit, whole_call)), Seen::default()),
        };
        let seen = Seen {
            status: Some(reply.status),
            request_id: if trace::tracing() {
                reply.request_id.clone()
            } else {
                None
            },
        };
        (self.judge(&reply), seen)
    }

    /// What a reply means, with the clock corrected when DynamoDB said it was off.
    fn judge(&self, reply: &Reply) -> Result<Outcome, Failure> {
        let mut outcome = read_reply(reply);
        // The request went out twice within this attempt (its first
        // connection closed before answering): the first may have landed.
        if let (Ok(Outcome::ConditionFailed(failed)), true) = (&mut outcome, reply.resent) {
            failed.maybe_ours = true;
        }
        if let Err(failure) = &mut outcome {
            let known = self.clock_skew_ms.load(Ordering::Relaxed);
            if let Some(skew) = new_clock_skew(&failure.error.code, reply.date.as_deref(), SystemTime::now(), known) {
                self.clock_skew_ms.store(skew, Ordering::Relaxed);
                failure.retryable = true;
            }
        }
        outcome
    }

    /// A request without a reply: a timeout of the call is final, of an
    /// attempt worth another; one that may have reached DynamoDB may also
    /// have been applied.
    fn lost(&self, lost: Lost, limit: Option<Duration>, whole_call: bool) -> Failure {
        let reach =
            |code: &str| Failure::transient(StoreError::new(code, format!("could not reach DynamoDB: {}", lost.why)));
        let mut failure = match lost.kind {
            LostKind::Timeout if lost.why.is_empty() => match (whole_call, self.limits.total, limit) {
                (true, Some(total), _) => Failure::fatal(timed_out("the call", total)),
                (_, _, Some(limit)) => Failure::transient(timed_out("an attempt", limit)),
                _ => Failure::transient(StoreError::new(code::TIMEOUT, "DynamoDB did not answer in time")),
            },
            LostKind::Timeout => reach(code::TIMEOUT),
            LostKind::Network => reach(code::NETWORK),
            LostKind::Invalid => Failure::transient(StoreError::new(
                code::INVALID_RESPONSE,
                format!("DynamoDB's reply could not be read: {}", lost.why),
            )),
            LostKind::Internal => Failure::fatal(StoreError::new(code::INTERNAL, lost.why.clone())),
        };
        failure.maybe_applied = lost.sent;
        failure
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

    /// The bytes of one signed HTTP/1.1 request.
    fn request(&self, credentials: &Credentials, target: Target, body: &[u8]) -> Vec<u8> {
        let endpoint = &self.endpoint;
        let signature = sigv4::sign(
            &sigv4::Request {
                path: &endpoint.path,
                host: &endpoint.authority,
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
        );
        let mut headers = vec![
            ("host", endpoint.authority.as_str()),
            ("user-agent", USER_AGENT),
            ("content-type", CONTENT_TYPE),
            ("x-amz-target", target.header()),
            ("x-amz-date", signature.amz_date.as_str()),
        ];
        if let Some(token) = credentials.session_token() {
            headers.push(("x-amz-security-token", token));
        }
        headers.push(("authorization", signature.authorization.as_str()));
        crate::net::http::request(&endpoint.path, &headers, body)
    }
}

/// What an attempt saw of its reply, for a listener.
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    request_id: Option<String>,
}

/// Tells a listener (trace.rs) how an attempt ended.
fn trace_end(sequence: u32, target: Target, attempt: u32, seen: Seen, ended: &dyn Fn() -> Ended) {
    if trace::tracing() {
        let ended = Ended {
            status: seen.status,
            request_id: seen.request_id,
            ..ended()
        };
        trace::record(sequence, target.name(), attempt, What::End(ended));
    }
}

/// A reply's consumed capacity, as DynamoDB's JSON.
fn capacity_json(reply: &Map<String, Value>) -> Option<String> {
    reply.get("ConsumedCapacity").map(Value::to_string)
}

fn ended_outcome(outcome: &Outcome) -> Ended {
    Ended {
        consumed_capacity: match outcome {
            Outcome::Done(reply) => capacity_json(reply),
            Outcome::ConditionFailed(failed) => capacity_json(&failed.body),
        },
        ..Ended::default()
    }
}

fn ended_condition(failed: &Failed) -> Ended {
    Ended {
        error_type: Some(CONDITION_FAILED.to_string()),
        consumed_capacity: capacity_json(&failed.body),
        ..Ended::default()
    }
}

fn ended_error(error: &StoreError, retry_after_ms: Option<f64>) -> Ended {
    Ended {
        error_type: Some(error.code.clone()),
        error_message: Some(error.message.clone()),
        retry_after_ms,
        ..Ended::default()
    }
}

/// The answer to one attempt: the reply, a failed condition, or DynamoDB's
/// error, retryable when it is throttling or a fault on its side.
fn read_reply(reply: &Reply) -> Result<Outcome, Failure> {
    let status = reply.status;
    let body = match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Object(body)) => Some(body),
        _ => None,
    };
    if (200..300).contains(&status) {
        return body.map(Outcome::Done).ok_or_else(|| {
            Failure::fatal(StoreError::new(
                code::INVALID_RESPONSE,
                "DynamoDB answered with a body that is not a JSON object",
            ))
        });
    }
    let empty = Map::new();
    let fields = body.as_ref().unwrap_or(&empty);
    let server_fault = (500..600).contains(&status);
    // An error type that names nothing (empty, or only separators) is no error type.
    let error_type = reply
        .error_type
        .as_deref()
        .and_then(named_exception)
        .or_else(|| fields.get("__type").and_then(Value::as_str).and_then(named_exception));
    let Some(name) = error_type else {
        let error = StoreError::new(
            code::INVALID_RESPONSE,
            format!("DynamoDB answered HTTP {status} without an error type"),
        );
        return Err(Failure {
            error,
            retryable: server_fault,
            maybe_applied: server_fault,
        });
    };
    if name == CONDITION_FAILED {
        return Ok(Outcome::ConditionFailed(Failed {
            body: body.unwrap_or_default(),
            maybe_ours: false,
        }));
    }
    let message = ["message", "Message"]
        .iter()
        .find_map(|field| fields.get(*field).and_then(Value::as_str))
        .unwrap_or("DynamoDB returned an error");
    // A throttled request was refused whole; a fault on DynamoDB's side may
    // come after the write was done.
    Err(Failure {
        retryable: server_fault || is_retryable(name),
        maybe_applied: server_fault,
        error: StoreError::new(name, message),
    })
}

/// When DynamoDB refused a signature as too old or too new and its `Date`
/// says our clock is off by more than what is already corrected: the new
/// offset (ms). Then the call is retried once signed with the corrected time.
fn new_clock_skew(code: &str, date: Option<&str>, now: SystemTime, known_ms: i64) -> Option<i64> {
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
    let server = SystemTime::try_from(DateTime::from_str(date?, DateFormat::HttpDate).ok()?).ok()?;
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
    name.split(':').next().unwrap_or(name).trim()
}

/// The exception an error type names, if it names one.
fn named_exception(error_type: &str) -> Option<&str> {
    Some(exception_name(error_type)).filter(|name| !name.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Result<Outcome, Failure> {
        read_reply(&Reply {
            status,
            body: body.as_bytes().to_vec(),
            ..Reply::default()
        })
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
            Ok(Outcome::ConditionFailed(failed)) => assert!(failed.body.contains_key("Item") && !failed.maybe_ours),
            _ => panic!("expected ConditionFailed"),
        }
    }

    #[test]
    fn a_refused_signature_with_a_distant_server_date_corrects_the_clock() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // 1_700_000_600 s: ten minutes after `now`.
        let headers = Some("Tue, 14 Nov 2023 22:23:20 GMT");
        assert_eq!(
            new_clock_skew("InvalidSignatureException", headers, now, 0),
            Some(600_000)
        );
        // Already corrected, or a different error, or no date: nothing to learn, no retry.
        assert_eq!(new_clock_skew("InvalidSignatureException", headers, now, 590_000), None);
        assert_eq!(new_clock_skew("ValidationException", headers, now, 0), None);
        assert_eq!(new_clock_skew("InvalidSignatureException", None, now, 0), None);
        let behind = now + Duration::from_secs(1_200);
        assert_eq!(new_clock_skew("RequestExpired", headers, behind, 0), Some(-600_000));
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
    fn an_error_type_that_names_nothing_is_none() {
        for header in ["", "#", ":::#", " "] {
            let failure = match read_reply(&Reply {
                status: 400,
                error_type: Some(header.into()),
                body: br#"{"message":"m"}"#.to_vec(),
                ..Reply::default()
            }) {
                Err(failure) => failure,
                Ok(_) => panic!("expected a failure"),
            };
            assert_eq!(failure.error.code, code::INVALID_RESPONSE, "{header:?}");
        }
    }

    #[test]
    fn an_error_type_header_wins_over_the_body() {
        let failure = match read_reply(&Reply {
            status: 400,
            error_type: Some("x#ThrottlingException".into()),
            body: br#"{"__type":"x#ValidationException"}"#.to_vec(),
            ..Reply::default()
        }) {
            Err(failure) => failure,
            Ok(_) => panic!("expected a failure"),
        };
        assert_eq!(failure.error.code, "ThrottlingException");
        assert!(failure.retryable);
    }

    #[test]
    fn endpoints_are_read_from_their_url() {
        let local = Endpoint::parse("http://localhost:8123").unwrap();
        assert_eq!(
            (
                local.https,
                local.host.as_str(),
                local.port,
                local.path.as_str(),
                local.authority.as_str()
            ),
            (false, "localhost", 8123, "/", "localhost:8123")
        );
        let aws = Endpoint::parse("https://dynamodb.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(
            (aws.https, aws.port, aws.authority.as_str()),
            (true, 443, "dynamodb.eu-west-1.amazonaws.com")
        );
        let v6 = Endpoint::parse("http://[::1]:9000/base").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.path.as_str()), ("::1", 9000, "/base"));
        for bad in ["ftp://x", "localhost:8000", "http://user:pw@x", "http://"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
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
