//! Reading and deleting many sessions: BatchGetItem in chunks of 100 and
//! BatchWriteItem in chunks of 25, retrying what DynamoDB leaves unprocessed
//! with jittered exponential backoff.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::codec::{self, Item};
use crate::error::{code, StoreError, StoreResult};
use crate::layout::Layout;

/// DynamoDB's limit of requests in one BatchWriteItem.
pub const BATCH_SIZE: usize = 25;
/// DynamoDB's limit of keys in one BatchGetItem.
pub const GET_BATCH_SIZE: usize = 100;
const MAX_ATTEMPTS: u32 = 10;

/// Deletes the items with these keys; returns how many were deleted.
pub async fn delete_keys(client: &Client, table: &str, hash_key: &str, keys: Vec<String>) -> StoreResult<u32> {
    write_keys(client, table, keys, |key| delete_request(hash_key, key)).await
}

/// Destroys the sessions with these keys the way `destroy` does, leaving
/// tombstones; returns how many.
pub async fn tombstone_keys(
    client: &Client,
    table: &str,
    layout: Layout,
    hash_key: &str,
    keys: Vec<String>,
) -> StoreResult<u32> {
    let now_ms = codec::now_ms();
    write_keys(client, table, keys, |key| {
        let put = PutRequest::builder()
            .set_item(Some(codec::tombstone(layout, hash_key, key.to_string(), now_ms)))
            .build()
            .map_err(|e| StoreError::new(code::INTERNAL, e.to_string()))?;
        Ok(WriteRequest::builder().put_request(put).build())
    })
    .await
}

async fn write_keys(
    client: &Client,
    table: &str,
    keys: Vec<String>,
    request_for: impl Fn(&str) -> StoreResult<WriteRequest>,
) -> StoreResult<u32> {
    let mut deleted = 0;
    for chunk in keys.chunks(BATCH_SIZE) {
        let requests = chunk
            .iter()
            .map(|key| request_for(key))
            .collect::<StoreResult<Vec<_>>>()?;
        until_processed(requests, "deletes", |pending| async move {
            let output = client.batch_write_item().request_items(table, pending).send().await?;
            let unprocessed = output.unprocessed_items.and_then(|mut left| left.remove(table));
            Ok(((), unprocessed.filter(|left| !left.is_empty())))
        })
        .await?;
        deleted += chunk.len() as u32;
    }
    Ok(deleted)
}

/// Reads the items with these keys, strongly consistent, with only the
/// attributes named in `attributes`. Missing items are simply absent.
pub async fn get_keys(
    client: &Client,
    table: &str,
    hash_key: &str,
    keys: Vec<String>,
    attributes: &[&str],
) -> StoreResult<Vec<Item>> {
    let mut items = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(GET_BATCH_SIZE) {
        let mut request = KeysAndAttributes::builder().consistent_read(true);
        for key in chunk {
            request = request.keys(Item::from([(hash_key.to_string(), AttributeValue::S(key.clone()))]));
        }
        let placeholders: Vec<String> = (0..attributes.len()).map(|i| format!("#a{i}")).collect();
        for (placeholder, name) in placeholders.iter().zip(attributes) {
            request = request.expression_attribute_names(placeholder, *name);
        }
        let request = request
            .projection_expression(placeholders.join(", "))
            .build()
            .map_err(|e| StoreError::new(code::INTERNAL, e.to_string()))?;
        let pages = until_processed(request, "reads", |pending| async move {
            let output = client.batch_get_item().request_items(table, pending).send().await?;
            let found = output
                .responses
                .and_then(|mut found| found.remove(table))
                .unwrap_or_default();
            let unprocessed = output.unprocessed_keys.and_then(|mut left| left.remove(table));
            Ok((found, unprocessed.filter(|left| !left.keys().is_empty())))
        })
        .await?;
        items.extend(pages.into_iter().flatten());
    }
    Ok(items)
}

fn delete_request(hash_key: &str, key: &str) -> StoreResult<WriteRequest> {
    let delete = DeleteRequest::builder()
        .key(hash_key, AttributeValue::S(key.to_string()))
        .build()
        .map_err(|e| StoreError::new(code::INTERNAL, e.to_string()))?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

/// Sends `pending` until DynamoDB leaves nothing unprocessed, backing off
/// between attempts; `send` returns its result and what is left.
async fn until_processed<P, R, F, Fut>(mut pending: P, what: &str, mut send: F) -> StoreResult<Vec<R>>
where
    F: FnMut(P) -> Fut,
    Fut: Future<Output = StoreResult<(R, Option<P>)>>,
{
    let mut results = Vec::new();
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let (result, left) = send(pending).await?;
        results.push(result);
        match left {
            None => return Ok(results),
            Some(left) => pending = left,
        }
    }
    Err(StoreError::new(
        code::UNPROCESSED_ITEMS,
        format!("DynamoDB left {what} unprocessed after {MAX_ATTEMPTS} attempts"),
    ))
}

/// Full jitter: a random wait up to 50 ms × 2^attempt, capped at 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(50)
        .saturating_mul(1 << attempt.min(16))
        .min(Duration::from_secs(5));
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
