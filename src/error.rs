//! The store's errors. Each has a stable `code`: `ERR_*` for the store's own
//! conditions, or DynamoDB's exception name (e.g. `ResourceNotFoundException`).
//!
//! A call on the engine ends through `done`, which hands the shim the code
//! and the message apart (`host.rs`). A synchronous N-API function (the
//! constructor) can only throw an `Error` with a message, so there the code
//! travels in it as `[CODE] text`, and the shim lifts it into `err.code`
//! (`lib/errors.js`).

use std::fmt;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq)]
pub struct StoreError {
    pub code: String,
    pub message: String,
}

pub mod code {
    pub const INVALID_OPTION: &str = "ERR_INVALID_OPTION";
    pub const INVALID_ARGUMENT: &str = "ERR_INVALID_ARGUMENT";
    pub const AWS_CONFIG_PATH: &str = "ERR_AWS_CONFIG_PATH";
    pub const SESSION_TOO_LARGE: &str = "ERR_SESSION_TOO_LARGE";
    pub const MISSING_SPECIAL_KEY: &str = "ERR_MISSING_SPECIAL_KEY";
    pub const INVALID_SPECIAL_KEY: &str = "ERR_INVALID_SPECIAL_KEY";
    pub const CREDENTIALS: &str = "ERR_CREDENTIALS";
    pub const NETWORK: &str = "ERR_NETWORK";
    pub const TIMEOUT: &str = "ERR_TIMEOUT";
    pub const INVALID_RESPONSE: &str = "ERR_INVALID_RESPONSE";
    pub const TABLE_NOT_ACTIVE: &str = "ERR_TABLE_NOT_ACTIVE";
    pub const UNPROCESSED_ITEMS: &str = "ERR_UNPROCESSED_ITEMS";
    pub const STORE_CLOSED: &str = "ERR_STORE_CLOSED";
    pub const INVALID_USER: &str = "ERR_INVALID_USER";
    pub const USER_INDEX_MISSING: &str = "ERR_USER_INDEX_MISSING";
    pub const STORE_UNAVAILABLE: &str = "ERR_STORE_UNAVAILABLE";
    pub const HASHED_IDS: &str = "ERR_HASHED_IDS";
    pub const DECRYPT: &str = "ERR_DECRYPT";
    pub const SESSION_CORRUPT: &str = "ERR_SESSION_CORRUPT";
    pub const SESSION_UNSEALED: &str = "ERR_SESSION_UNSEALED";
    pub const LOCK_AMBIGUOUS: &str = "ERR_LOCK_AMBIGUOUS";
    pub const SESSION_CONFLICT: &str = "ERR_SESSION_CONFLICT";
    pub const SESSION_LOCKED: &str = "ERR_SESSION_LOCKED";
    pub const SESSION_NOT_FOUND: &str = "ERR_SESSION_NOT_FOUND";
    pub const SESSION_EXISTS: &str = "ERR_SESSION_EXISTS";
    pub const INTERNAL: &str = "ERR_INTERNAL";
}

impl StoreError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        StoreError {
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn invalid_option(name: &str, expected: &str) -> Self {
        Self::new(code::INVALID_OPTION, format!("option \"{name}\" must be {expected}"))
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_ARGUMENT, message)
    }

    /// True when this is DynamoDB's exception of that name.
    pub fn is(&self, service_code: &str) -> bool {
        self.code == service_code
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

impl std::error::Error for StoreError {}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    fn from(err: SdkError<E, R>) -> Self {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or(code::INVALID_RESPONSE);
                let message = inner.message().unwrap_or("DynamoDB returned an error");
                StoreError::new(code, message)
            }
            SdkError::TimeoutError(_) => StoreError::new(
                code::TIMEOUT,
                format!("DynamoDB did not answer in time: {}", DisplayErrorContext(&err)),
            ),
            SdkError::DispatchFailure(failure) => {
                let code = if is_credentials_failure(&err) {
                    code::CREDENTIALS
                } else if failure.is_timeout() {
                    code::TIMEOUT
                } else {
                    code::NETWORK
                };
                StoreError::new(code, format!("could not reach DynamoDB: {}", DisplayErrorContext(&err)))
            }
            SdkError::ResponseError(_) => StoreError::new(
                code::INVALID_RESPONSE,
                format!("unreadable response from DynamoDB: {}", DisplayErrorContext(&err)),
            ),
            _ => {
                let code = if is_credentials_failure(&err) {
                    code::CREDENTIALS
                } else {
                    code::INTERNAL
                };
                StoreError::new(code, DisplayErrorContext(&err).to_string())
            }
        }
    }
}

/// The SDK reports a failed credentials lookup as a construction or dispatch
/// failure; its context names the identity resolver.
fn is_credentials_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let text = DisplayErrorContext(err).to_string();
    text.contains("credentials") || text.contains("identity")
}

impl From<StoreError> for napi::Error {
    fn from(err: StoreError) -> Self {
        napi::Error::from_reason(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_the_code_for_the_shim() {
        let err = StoreError::new(code::SESSION_TOO_LARGE, "too big");
        assert_eq!(err.to_string(), "[ERR_SESSION_TOO_LARGE] too big");
    }

    #[test]
    fn invalid_option_names_the_option() {
        let err = StoreError::invalid_option("table", "a non-empty string");
        assert_eq!(err.code, code::INVALID_OPTION);
        assert!(err.message.contains("\"table\""));
    }
}
