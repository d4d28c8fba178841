//! Deleting many sessions: BatchWriteItem in chunks of 25, retrying what
//! DynamoDB leaves unprocessed with jittered exponential backoff.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::error::{code, StoreError, StoreResult};

/// DynamoDB's limit of requests in one BatchWriteItem.
pub const BATCH_SIZE: usize = 25;
const MAX_ATTEMPTS: u32 = 10;

/// Deletes the items with these keys; returns how many were deleted.
pub async fn delete_keys(client: &Client, table: &str, hash_key: &str, keys: Vec<String>) -> StoreResult<u32> {
    let mut deleted = 0;
    for chunk in keys.chunks(BATCH_SIZE) {
        let requests = chunk
            .iter()
            .map(|key| delete_request(hash_key, key))
            .collect::<StoreResult<Vec<_>>>()?;
        write_all(client, table, requests).await?;
        deleted += chunk.len() as u32;
    }
    Ok(deleted)
}

fn delete_request(hash_key: &str, key: &str) -> StoreResult<WriteRequest> {
    let delete = DeleteRequest::builder()
        .key(hash_key, AttributeValue::S(key.to_string()))
        .build()
        .map_err(|e| StoreError::new(code::INTERNAL, e.to_string()))?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

async fn write_all(client: &Client, table: &str, mut pending: Vec<WriteRequest>) -> StoreResult<()> {
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let output = client
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await?;
        pending = output
            .unprocessed_items
            .and_then(|mut unprocessed| unprocessed.remove(table))
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
    }
    Err(StoreError::new(
        code::UNPROCESSED_ITEMS,
        format!(
            "DynamoDB left {} deletes unprocessed after {MAX_ATTEMPTS} attempts",
            pending.len()
        ),
    ))
}

/// Full jitter: a random wait up to 50 ms × 2^attempt, capped at 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(50).saturating_mul(1 << attempt.min(16)).min(Duration::from_secs(5));
    cap.mul_f64(random_fraction())
}

/// A fraction in [0, 1) from std's randomly keyed hasher; enough for jitter.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..40 {
            let cap = Duration::from_millis(50 * (1u64 << attempt.min(16))).min(Duration::from_secs(5));
            assert!(backoff(attempt) <= cap);
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let waits: std::collections::HashSet<_> = (0..20).map(|_| backoff(6)).collect();
        assert!(waits.len() > 1);
    }
}
