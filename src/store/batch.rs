//! Reading and writing many items: BatchGetItem in chunks of 100 and
//! BatchWriteItem in chunks of 25, sent on the wire and repeated for what
//! DynamoDB leaves unprocessed, with the wire's backoff.

use serde_json::{Map, Value};

use crate::codec;
use crate::error::{code, StoreError, StoreResult};
use crate::item::{now_ms, Item};
use crate::layout::Layout;
use crate::stats::Stats;
use crate::wire::{self, Target, Wire};
use crate::wire_json::{self, Body};

/// DynamoDB's limit of requests in one BatchWriteItem.
pub const BATCH_SIZE: usize = 25;
/// DynamoDB's limit of keys in one BatchGetItem.
pub const GET_BATCH_SIZE: usize = 100;
/// Sends of one chunk before what is still unprocessed is an error.
const MAX_ATTEMPTS: u32 = 10;

/// The table a batch goes to, and where its capacity is counted.
pub struct Batch<'a> {
    pub wire: &'a Wire,
    pub table: &'a str,
    pub hash_key: &'a str,
    pub stats: &'a Stats,
}

impl Batch<'_> {
    /// Deletes the items with these keys; returns how many were deleted.
    pub async fn delete_keys(&self, keys: Vec<String>) -> StoreResult<u32> {
        self.write_keys(keys, |buf, key| {
            buf.extend_from_slice(b"{\"DeleteRequest\":{\"Key\":");
            wire_json::push_item(buf, &self.key_item(key))?;
            buf.extend_from_slice(b"}}");
            Ok(())
        })
        .await
    }

    /// Destroys the sessions with these keys the way `destroy` does, leaving
    /// tombstones; returns how many.
    pub async fn tombstone_keys(&self, layout: Layout, keys: Vec<String>) -> StoreResult<u32> {
        let now_ms = now_ms();
        self.write_keys(keys, |buf, key| {
            buf.extend_from_slice(b"{\"PutRequest\":{\"Item\":");
            wire_json::push_item(buf, &codec::tombstone(layout, self.hash_key, key.to_string(), now_ms))?;
            buf.extend_from_slice(b"}}");
            Ok(())
        })
        .await
    }

    /// Reads the items with these keys, strongly consistent, with only the
    /// attributes named in `attributes`. Missing items are simply absent.
    /// Each item read back holds its key, which must be one asked for.
    pub async fn get_keys(&self, keys: Vec<String>, attributes: &[&str]) -> StoreResult<Vec<Item>> {
        let mut attributes = attributes.to_vec();
        if !attributes.contains(&self.hash_key) {
            attributes.push(self.hash_key);
        }
        let placeholders: Vec<String> = (0..attributes.len()).map(|i| format!("#a{i}")).collect();
        let names: Map<String, Value> = placeholders
            .iter()
            .zip(&attributes)
            .map(|(placeholder, name)| (placeholder.clone(), Value::from(*name)))
            .collect();
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(GET_BATCH_SIZE) {
            let mut request = b"{\"ConsistentRead\":true,\"Keys\":[".to_vec();
            for (i, key) in chunk.iter().enumerate() {
                if i > 0 {
                    request.push(b',');
                }
                wire_json::push_item(&mut request, &self.key_item(key))?;
            }
            request.extend_from_slice(b"],\"ProjectionExpression\":");
            request.extend_from_slice(Value::from(placeholders.join(", ")).to_string().as_bytes());
            request.extend_from_slice(b",\"ExpressionAttributeNames\":");
            request.extend_from_slice(Value::Object(names.clone()).to_string().as_bytes());
            request.push(b'}');
            for mut reply in self
                .until_processed(Target::BatchGetItem, request, "UnprocessedKeys")
                .await?
            {
                self.stats.read_units(wire::capacity_units(&reply));
                let found = match reply.get_mut("Responses").and_then(|r| r.get_mut(self.table)) {
                    Some(Value::Array(found)) => std::mem::take(found),
                    _ => Vec::new(),
                };
                for item in found {
                    let item = wire_json::read_item(item)?;
                    let asked = matches!(item.get(self.hash_key),
                        Some(aws_sdk_dynamodb::types::AttributeValue::S(key)) if chunk.contains(key));
                    if !asked {
                        return Err(self.wire.distrust());
                    }
                    items.push(item);
                }
            }
        }
        Ok(items)
    }

    fn key_item(&self, key: &str) -> Item {
        Item::from([(
            self.hash_key.to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S(key.to_string()),
        )])
    }

    async fn write_keys(
        &self,
        keys: Vec<String>,
        request_for: impl Fn(&mut Vec<u8>, &str) -> StoreResult<()>,
    ) -> StoreResult<u32> {
        let mut written = 0;
        for chunk in keys.chunks(BATCH_SIZE) {
            let mut requests = b"[".to_vec();
            for (i, key) in chunk.iter().enumerate() {
                if i > 0 {
                    requests.push(b',');
                }
                request_for(&mut requests, key)?;
            }
            requests.push(b']');
            for reply in self
                .until_processed(Target::BatchWriteItem, requests, "UnprocessedItems")
                .await?
            {
                self.stats.write_units(wire::capacity_units(&reply));
            }
            written += chunk.len() as u32;
        }
        Ok(written)
    }

    /// Sends one batch (`requests`: the JSON of this table's requests) until
    /// DynamoDB leaves nothing unprocessed; returns every reply.
    async fn until_processed(
        &self,
        target: Target,
        requests: Vec<u8>,
        unprocessed: &str,
    ) -> StoreResult<Vec<Map<String, Value>>> {
        let mut body = Body::untitled()
            .request_items(self.table, &requests)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let mut replies = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let mut reply = self.wire.call(target, body).await?.done()?;
            let left = reply
                .remove(unprocessed)
                .filter(|left| left.get(self.table).is_some_and(|mine| !is_empty(mine)));
            replies.push(reply);
            let Some(left) = left else {
                return Ok(replies);
            };
            if attempt == MAX_ATTEMPTS {
                break;
            }
            self.wire.back_off(attempt).await;
            body = Body::untitled()
                .json("RequestItems", &left)
                .string("ReturnConsumedCapacity", "TOTAL")
                .finish();
        }
        Err(StoreError::new(
            code::UNPROCESSED_ITEMS,
            format!("DynamoDB left part of a batch unprocessed after {MAX_ATTEMPTS} attempts"),
        ))
    }
}

/// An unprocessed entry with nothing in it: `[]`, or `{"Keys":[]}`.
fn is_empty(left: &Value) -> bool {
    match left {
        Value::Array(requests) => requests.is_empty(),
        Value::Object(keys) => keys.get("Keys").and_then(Value::as_array).is_none_or(Vec::is_empty),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use aws_config::SdkConfig;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;

    use crate::credentials::CachedCredentials;
    use crate::transport::{Exchange, Reply, Transport};
    use crate::wire::Limits;

    /// Answers each request with the next scripted body, and keeps the
    /// request bodies it was sent.
    #[derive(Default)]
    struct Scripted {
        replies: Mutex<Vec<Value>>,
        sent: Mutex<Vec<Value>>,
    }

    impl Transport for Arc<Scripted> {
        fn send(&self, request: Vec<u8>, _timeout: Option<Duration>, _max_reply: u64) -> Exchange {
            let at = request.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |at| at + 4);
            if let Ok(body) = serde_json::from_slice(&request[at..]) {
                self.sent.lock().unwrap().push(body);
            }
            let next = self.replies.lock().unwrap().remove(0);
            Box::pin(async move {
                Ok(Reply {
                    status: 200,
                    body: next.to_string().into_bytes(),
                    ..Reply::default()
                })
            })
        }
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    async fn wire(script: Arc<Scripted>, stats: Arc<Stats>) -> Wire {
        let config = SdkConfig::builder()
            .region(aws_types::region::Region::new("us-east-1"))
            .endpoint_url("http://localhost:1")
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let provider = SharedCredentialsProvider::new(Credentials::for_tests());
        let limits = Limits {
            max_retries: 0,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            connect: Duration::from_secs(1),
            attempt: None,
            total: None,
        };
        Wire::new(
            &config,
            Arc::new(script),
            CachedCredentials::new(Some(provider)),
            limits,
            stats,
        )
        .await
        .unwrap()
    }

    fn on_table_t<'a>(wire: &'a Wire, stats: &'a Stats) -> Batch<'a> {
        Batch {
            wire,
            table: "t",
            hash_key: "id",
            stats,
        }
    }

    #[test]
    fn unprocessed_writes_are_sent_again_until_none_are_left() {
        let left = json!({"t": [{"DeleteRequest": {"Key": {"id": {"S": "b"}}}}]});
        let script = Arc::new(Scripted {
            replies: Mutex::new(vec![
                json!({"UnprocessedItems": left, "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 1.0}]}),
                json!({"UnprocessedItems": {}, "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 1.0}]}),
            ]),
            ..Scripted::default()
        });
        let stats = Arc::new(Stats::default());
        let deleted = run(async {
            let wire = wire(script.clone(), stats.clone()).await;
            let batch = on_table_t(&wire, &stats);
            batch.delete_keys(vec!["a".into(), "b".into()]).await
        });
        assert_eq!(deleted.unwrap(), 2);
        let sent = script.sent.lock().unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0]["RequestItems"]["t"].as_array().unwrap().len(), 2);
        assert_eq!(sent[1]["RequestItems"], left);
        assert_eq!(stats.write_capacity_units(), 2.0);
        assert_eq!(Stats::load(&stats.retries), 1.0);
    }

    #[test]
    fn keys_left_unread_are_read_again_and_a_batch_that_never_finishes_fails() {
        let keys = json!({"t": {"Keys": [{"id": {"S": "b"}}], "ConsistentRead": true}});
        let found = |sid: &str| json!({"t": [{"id": {"S": sid}}]});
        let script = Arc::new(Scripted {
            replies: Mutex::new(vec![
                json!({"Responses": found("a"), "UnprocessedKeys": keys}),
                json!({"Responses": found("b"), "UnprocessedKeys": {}}),
            ]),
            ..Scripted::default()
        });
        let stats = Arc::new(Stats::default());
        let items = run(async {
            let wire = wire(script.clone(), stats.clone()).await;
            let batch = on_table_t(&wire, &stats);
            batch.get_keys(vec!["a".into(), "b".into()], &["id"]).await
        })
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(script.sent.lock().unwrap()[1]["RequestItems"], keys);

        let stuck = json!({"UnprocessedItems": {"t": [{"DeleteRequest": {"Key": {"id": {"S": "a"}}}}]}});
        let script = Arc::new(Scripted {
            replies: Mutex::new(vec![stuck; MAX_ATTEMPTS as usize]),
            ..Scripted::default()
        });
        let err = run(async {
            let wire = wire(script.clone(), stats.clone()).await;
            let batch = on_table_t(&wire, &stats);
            batch.delete_keys(vec!["a".into()]).await
        })
        .unwrap_err();
        assert_eq!(err.code, code::UNPROCESSED_ITEMS);
        assert_eq!(script.sent.lock().unwrap().len(), MAX_ATTEMPTS as usize);
    }

    #[test]
    fn nothing_left_is_empty_in_both_shapes() {
        assert!(is_empty(&json!([])));
        assert!(is_empty(&json!({"Keys": []})));
        assert!(!is_empty(&json!([{"DeleteRequest": {}}])));
        assert!(!is_empty(&json!({"Keys": [{"id": {"S": "a"}}]})));
    }
}
