//! The circuit breaker. After `failures` calls in a row fail because DynamoDB
//! is unreachable, too slow or throttling (each after its retries), the store
//! stops sending: calls fail at once with ERR_STORE_UNAVAILABLE, and the shim
//! emits 'disconnect' (express-session then serves requests without sessions).
//! A background probe asks DynamoDB every `probe_interval`; when it answers,
//! the circuit closes and the shim emits 'connect'.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{code, StoreError, StoreResult};
use crate::logger::Logger;
use crate::options::BreakerOptions;

/// The probe of an open circuit: every `probe_interval`, one attempt of
/// `ask` given up within the interval (so a probe stuck on a dead connection
/// does not delay noticing DynamoDB is back), until DynamoDB answers (the
/// circuit closes) or the store is closed.
pub async fn probe<F, Fut>(breaker: Arc<Breaker>, ask: F, closed: Arc<AtomicBool>, logger: Logger)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = StoreResult<()>>,
{
    loop {
        tokio::time::sleep(breaker.probe_interval()).await;
        if closed.load(Ordering::Acquire) {
            return;
        }
        let answer = ask(breaker.probe_interval()).await;
        if answer.map_err(|err| is_outage(&err)).err() != Some(true) {
            breaker.close();
            logger.warn("DynamoDB answers again: the store resumes");
            logger.event("connect");
            return;
        }
    }
}

/// What a call's outcome did to the circuit.
#[derive(Debug, PartialEq)]
pub enum Transition {
    None,
    Opened,
}

#[derive(Default)]
pub struct Breaker {
    /// None: the breaker is off.
    options: Option<BreakerOptions>,
    failures_in_a_row: AtomicU32,
    open: AtomicBool,
}

impl Breaker {
    pub fn new(options: Option<BreakerOptions>) -> Self {
        Breaker {
            options,
            ..Breaker::default()
        }
    }

    pub fn probe_interval(&self) -> Duration {
        self.options.as_ref().map_or(
            Duration::from_millis(crate::options::BREAKER_PROBE_INTERVAL_MS),
            |options| options.probe_interval,
        )
    }

    /// Refuses a call while the circuit is open.
    pub fn check(&self) -> StoreResult<()> {
        if self.open.load(Ordering::Acquire) {
            return Err(StoreError::new(
                code::STORE_UNAVAILABLE,
                "DynamoDB is unreachable; the store is waiting for it to answer again",
            ));
        }
        Ok(())
    }

    pub fn record<T>(&self, result: &StoreResult<T>) -> Transition {
        let Some(options) = &self.options else {
            return Transition::None;
        };
        match result {
            Err(err) if is_outage(err) => {
                let failures = self.failures_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
                let opened = failures >= options.failures
                    && self
                        .open
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok();
                if opened {
                    Transition::Opened
                } else {
                    Transition::None
                }
            }
            // Any answer from DynamoDB, even a refusal, shows it is there.
            _ => {
                self.failures_in_a_row.store(0, Ordering::Release);
                Transition::None
            }
        }
    }

    /// Closes the circuit after a successful probe.
    pub fn close(&self) {
        self.failures_in_a_row.store(0, Ordering::Release);
        self.open.store(false, Ordering::Release);
    }
}

/// Failures that say DynamoDB cannot serve us now, as opposed to a refusal of
/// this particular request.
pub fn is_outage(err: &StoreError) -> bool {
    matches!(
        err.code.as_str(),
        code::TIMEOUT
            | code::NETWORK
            | code::INVALID_RESPONSE
            | "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "InternalServerError"
            | "ServiceUnavailable"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outage() -> StoreResult<()> {
        Err(StoreError::new(code::TIMEOUT, "slow"))
    }

    #[test]
    fn opens_after_the_configured_failures_in_a_row() {
        let breaker = Breaker::new(Some(BreakerOptions {
            failures: 3,
            probe_interval: Duration::from_millis(250),
        }));
        assert_eq!(breaker.record(&outage()), Transition::None);
        assert_eq!(breaker.record(&outage()), Transition::None);
        assert!(breaker.check().is_ok());
        assert_eq!(breaker.record(&outage()), Transition::Opened);
        assert_eq!(breaker.check().unwrap_err().code, code::STORE_UNAVAILABLE);
        // Only the call that opened it reports the transition.
        assert_eq!(breaker.record(&outage()), Transition::None);
        breaker.close();
        assert!(breaker.check().is_ok());
    }

    #[test]
    fn any_answer_resets_the_count() {
        let breaker = Breaker::new(Some(BreakerOptions {
            failures: 2,
            probe_interval: Duration::from_millis(250),
        }));
        breaker.record(&outage());
        breaker.record::<()>(&Err(StoreError::new("ValidationException", "bad")));
        assert_eq!(breaker.record(&outage()), Transition::None);
        breaker.record(&Ok(()));
        assert_eq!(breaker.record(&outage()), Transition::None);
        assert!(breaker.check().is_ok());
    }

    #[test]
    fn off_never_opens() {
        let breaker = Breaker::new(None);
        for _ in 0..100 {
            assert_eq!(breaker.record(&outage()), Transition::None);
        }
        assert!(breaker.check().is_ok());
    }
}
