//! DynamoDB's JSON, written and read by hand for the calls the store sends on
//! every request: request bodies built straight into bytes, and items read
//! back into the SDK's `AttributeValue`, so the rest of the store keeps one
//! item type whichever path a call took.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{code, StoreError, StoreResult};
use crate::item::Item;

/// A request body: `{"TableName":…` (or `{` for a batch) then one field per call.
pub struct Body(Vec<u8>);

impl Body {
    pub fn new(table: &str, capacity: usize) -> Self {
        let mut body = Body(Vec::with_capacity(capacity + 256));
        body.0.extend_from_slice(b"{\"TableName\":");
        push_str(&mut body.0, table);
        body
    }

    /// A body naming no table: the batch calls name it in `RequestItems`.
    pub fn untitled() -> Self {
        Body(b"{".to_vec())
    }

    fn field(&mut self, name: &str) {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    /// A field holding JSON as DynamoDB sent it (`LastEvaluatedKey`,
    /// `UnprocessedItems`), sent back unchanged.
    pub fn json(mut self, name: &str, value: &Value) -> Self {
        self.field(name);
        // Serializing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, value);
        self
    }

    /// A field whose value is JSON already built (a transaction's actions).
    pub fn raw(mut self, name: &str, json: &[u8]) -> Self {
        self.field(name);
        self.0.extend_from_slice(json);
        self
    }

    /// `"RequestItems":{"<table>":<requests>}` of a batch, `requests` already JSON.
    pub fn request_items(mut self, table: &str, requests: &[u8]) -> Self {
        self.field("RequestItems");
        self.0.push(b'{');
        push_str(&mut self.0, table);
        self.0.push(b':');
        self.0.extend_from_slice(requests);
        self.0.push(b'}');
        self
    }

    pub fn number(mut self, name: &str, value: i64) -> Self {
        self.field(name);
        self.0.extend_from_slice(value.to_string().as_bytes());
        self
    }

    pub fn string(mut self, name: &str, value: &str) -> Self {
        self.field(name);
        push_str(&mut self.0, value);
        self
    }

    pub fn boolean(mut self, name: &str, value: bool) -> Self {
        self.field(name);
        self.0.extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// `"Key":{"<hash_key>":{"S":"<key>"}}`
    pub fn key(mut self, hash_key: &str, key: &str) -> Self {
        self.field("Key");
        self.0.push(b'{');
        push_str(&mut self.0, hash_key);
        self.0.extend_from_slice(b":{\"S\":");
        push_str(&mut self.0, key);
        self.0.extend_from_slice(b"}}");
        self
    }

    pub fn item(mut self, item: &Item) -> StoreResult<Self> {
        self.field("Item");
        push_map(&mut self.0, item.iter())?;
        Ok(self)
    }

    pub fn names(mut self, names: &[(&str, &str)]) -> Self {
        self.field("ExpressionAttributeNames");
        self.0.push(b'{');
        for (i, (placeholder, name)) in names.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            push_str(&mut self.0, placeholder);
            self.0.push(b':');
            push_str(&mut self.0, name);
        }
        self.0.push(b'}');
        self
    }

    pub fn values(mut self, values: &[(&str, &AttributeValue)]) -> StoreResult<Self> {
        self.field("ExpressionAttributeValues");
        push_map(&mut self.0, values.iter().map(|(name, value)| (*name, *value)))?;
        Ok(self)
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.0.push(b'}');
        self.0
    }
}

/// An item (or a key) as DynamoDB JSON, for the bodies written in pieces.
pub fn push_item(buf: &mut Vec<u8>, item: &Item) -> StoreResult<()> {
    push_map(buf, item.iter())
}

/// A JSON string literal, escaped as JSON requires.
fn push_str(buf: &mut Vec<u8>, value: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, value);
}

fn push_map<'a, K: AsRef<str> + 'a>(
    buf: &mut Vec<u8>,
    entries: impl Iterator<Item = (K, &'a AttributeValue)>,
) -> StoreResult<()> {
    buf.push(b'{');
    for (i, (name, value)) in entries.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_str(buf, name.as_ref());
        buf.push(b':');
        push_value(buf, value)?;
    }
    buf.push(b'}');
    Ok(())
}

fn push_list<'a>(buf: &mut Vec<u8>, tag: &str, items: impl Iterator<Item = &'a str>) {
    buf.extend_from_slice(b"{\"");
    buf.extend_from_slice(tag.as_bytes());
    buf.extend_from_slice(b"\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_str(buf, item);
    }
    buf.extend_from_slice(b"]}");
}

fn push_tagged(buf: &mut Vec<u8>, tag: &str, value: &str) {
    buf.extend_from_slice(b"{\"");
    buf.extend_from_slice(tag.as_bytes());
    buf.extend_from_slice(b"\":");
    push_str(buf, value);
    buf.push(b'}');
}

fn push_value(buf: &mut Vec<u8>, value: &AttributeValue) -> StoreResult<()> {
    match value {
        AttributeValue::S(s) => push_tagged(buf, "S", s),
        AttributeValue::N(n) => push_tagged(buf, "N", n),
        AttributeValue::B(b) => push_tagged(buf, "B", &BASE64.encode(b.as_ref())),
        AttributeValue::Bool(b) => buf.extend_from_slice(if *b { b"{\"BOOL\":true}" } else { b"{\"BOOL\":false}" }),
        AttributeValue::Null(_) => buf.extend_from_slice(b"{\"NULL\":true}"),
        AttributeValue::Ss(list) => push_list(buf, "SS", list.iter().map(String::as_str)),
        AttributeValue::Ns(list) => push_list(buf, "NS", list.iter().map(String::as_str)),
        AttributeValue::Bs(list) => {
            let encoded: Vec<String> = list.iter().map(|b| BASE64.encode(b.as_ref())).collect();
            push_list(buf, "BS", encoded.iter().map(String::as_str));
        }
        AttributeValue::M(map) => {
            buf.extend_from_slice(b"{\"M\":");
            push_map(buf, map.iter())?;
            buf.push(b'}');
        }
        AttributeValue::L(list) => {
            buf.extend_from_slice(b"{\"L\":[");
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                push_value(buf, item)?;
            }
            buf.extend_from_slice(b"]}");
        }
        _ => {
            return Err(StoreError::new(
                code::INTERNAL,
                "an attribute of a kind this store does not write",
            ))
        }
    }
    Ok(())
}

/// An item as DynamoDB returns it (`{"name":{"S":"…"},…}`).
pub fn read_item(value: Value) -> StoreResult<Item> {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(name, value)| Ok((name, read_value(value)?)))
            .collect(),
        _ => Err(malformed("an item that is not an object")),
    }
}

fn read_value(value: Value) -> StoreResult<AttributeValue> {
    let Value::Object(map) = value else {
        return Err(malformed("an attribute value that is not an object"));
    };
    let Some((tag, inner)) = single_entry(map) else {
        return Err(malformed("an attribute value without exactly one type"));
    };
    Ok(match (tag.as_str(), inner) {
        ("S", Value::String(s)) => AttributeValue::S(s),
        ("N", Value::String(n)) => AttributeValue::N(n),
        ("B", Value::String(b)) => AttributeValue::B(Blob::new(decode_base64(&b)?)),
        ("BOOL", Value::Bool(b)) => AttributeValue::Bool(b),
        ("NULL", Value::Bool(b)) => AttributeValue::Null(b),
        ("SS", Value::Array(list)) => AttributeValue::Ss(strings(list)?),
        ("NS", Value::Array(list)) => AttributeValue::Ns(strings(list)?),
        ("BS", Value::Array(list)) => AttributeValue::Bs(
            strings(list)?
                .iter()
                .map(|b| decode_base64(b).map(Blob::new))
                .collect::<StoreResult<_>>()?,
        ),
        ("M", value @ Value::Object(_)) => AttributeValue::M(read_item(value)?),
        ("L", Value::Array(list)) => AttributeValue::L(list.into_iter().map(read_value).collect::<StoreResult<_>>()?),
        (tag, _) => {
            return Err(malformed(&format!(
                "an attribute value of type \"{tag}\" with the wrong shape"
            )))
        }
    })
}

fn single_entry(map: Map<String, Value>) -> Option<(String, Value)> {
    if map.len() != 1 {
        return None;
    }
    map.into_iter().next()
}

fn strings(list: Vec<Value>) -> StoreResult<Vec<String>> {
    list.into_iter()
        .map(|value| match value {
            Value::String(s) => Ok(s),
            _ => Err(malformed("a set member that is not a string")),
        })
        .collect()
}

fn decode_base64(text: &str) -> StoreResult<Vec<u8>> {
    BASE64
        .decode(text)
        .map_err(|_| malformed("a binary attribute that is not base64"))
}

fn malformed(what: &str) -> StoreError {
    StoreError::new(code::INVALID_RESPONSE, format!("DynamoDB returned {what}"))
}

fn is_empty_map(value: &Value) -> bool {
    value.as_object().is_none_or(Map::is_empty)
}

/// The `Items` of a Scan or Query reply.
pub fn read_items(reply: &mut Map<String, Value>) -> StoreResult<Vec<Item>> {
    match reply.remove("Items") {
        Some(Value::Array(items)) => items.into_iter().map(read_item).collect(),
        _ => Ok(Vec::new()),
    }
}

/// The `LastEvaluatedKey` of a Scan or Query reply, when there is another page.
pub fn next_start(reply: &mut Map<String, Value>) -> Option<Value> {
    reply.remove("LastEvaluatedKey").filter(|key| !is_empty_map(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_item() -> Item {
        let mut inner = Item::new();
        inner.insert("n".into(), AttributeValue::N("1.5".into()));
        Item::from([
            ("id".to_string(), AttributeValue::S("sess:a\"b\\c\u{1}é😀".into())),
            ("expires".to_string(), AttributeValue::N("1700000000".into())),
            ("sess".to_string(), AttributeValue::B(Blob::new(vec![0u8, 255, 1, 2]))),
            ("flag".to_string(), AttributeValue::Bool(true)),
            ("nothing".to_string(), AttributeValue::Null(true)),
            ("tags".to_string(), AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("nums".to_string(), AttributeValue::Ns(vec!["1".into()])),
            ("blobs".to_string(), AttributeValue::Bs(vec![Blob::new(vec![9u8])])),
            ("map".to_string(), AttributeValue::M(inner)),
            (
                "list".to_string(),
                AttributeValue::L(vec![AttributeValue::S("x".into()), AttributeValue::Bool(false)]),
            ),
        ])
    }

    fn parse(bytes: &[u8]) -> Map<String, Value> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => map,
            other => panic!("not a JSON object: {other:?}"),
        }
    }

    #[test]
    fn an_item_survives_writing_and_reading_back() {
        let item = sample_item();
        let body = Body::new("t", 0).item(&item).map(Body::finish).expect("writable");
        let mut parsed = parse(&body);
        assert_eq!(parsed.remove("TableName"), Some(Value::String("t".into())));
        let back = read_item(parsed.remove("Item").expect("has Item")).expect("readable");
        assert_eq!(back, item);
    }

    #[test]
    fn a_body_is_valid_json_with_each_field() {
        let now = AttributeValue::N("5".into());
        let body = Body::new("my \"table\"", 0)
            .key("id", "p:é")
            .string("ConditionExpression", "attribute_exists(#s) AND #e > :now")
            .boolean("ConsistentRead", true)
            .names(&[("#s", "sess"), ("#e", "expires")])
            .values(&[(":now", &now)])
            .expect("writable")
            .finish();
        let parsed = parse(&body);
        assert_eq!(parsed["TableName"], "my \"table\"");
        assert_eq!(parsed["Key"]["id"]["S"], "p:é");
        assert_eq!(parsed["ConsistentRead"], true);
        assert_eq!(parsed["ExpressionAttributeNames"]["#e"], "expires");
        assert_eq!(parsed["ExpressionAttributeValues"][":now"]["N"], "5");
        assert_eq!(parsed["ConditionExpression"], "attribute_exists(#s) AND #e > :now");
    }

    #[test]
    fn malformed_attribute_values_are_errors_not_panics() {
        for bad in [
            r#"[]"#,
            r#"{"a":1}"#,
            r#"{"a":{}}"#,
            r#"{"a":{"S":"x","N":"1"}}"#,
            r#"{"a":{"S":1}}"#,
            r#"{"a":{"B":"%%%"}}"#,
            r#"{"a":{"SS":[1]}}"#,
            r#"{"a":{"Q":"x"}}"#,
            r#"{"a":{"M":[]}}"#,
        ] {
            let value: Value = serde_json::from_str(bad).expect("valid JSON");
            let err = read_item(value).expect_err(bad);
            assert_eq!(err.code, code::INVALID_RESPONSE, "{bad}");
        }
    }
}
