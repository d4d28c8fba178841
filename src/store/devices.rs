//! The device a session was created from, for a "Your devices" page: the
//! user agent and client address of the request that first saved it, and
//! any fields the app's `sessionMetadata` hook adds (a device name, say).
//!
//! They are one small top-level Map attribute, `device`, never inside
//! `sess`, written only by the first save (so a touch rewrites nothing more),
//! and bounded: at most `MAX_DEVICE_BYTES` of names and values, longer values
//! cut at a character boundary, never refused. Hostile headers (huge, binary)
//! therefore cost a session at most that much.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::error::{StoreError, StoreResult};

/// The most bytes of field names and values a session's device keeps.
pub const MAX_DEVICE_BYTES: usize = 1024;
/// The most bytes of one field's name.
const MAX_NAME_BYTES: usize = 64;
/// The most fields a device keeps.
const MAX_FIELDS: usize = 16;

/// A session's device fields, as bounded strings, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Device(Vec<(String, String)>);

impl Device {
    /// The shim's JSON object of fields: strings as they are, other values as
    /// their JSON text, empty ones left out, everything cut to the bounds
    /// (fields taken by name, so which are cut does not depend on their order).
    pub fn from_json(json: &str) -> StoreResult<Option<Device>> {
        let fields = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(fields)) => fields,
            _ => {
                return Err(StoreError::invalid_argument(
                    "session metadata must be a JSON object of device fields",
                ))
            }
        };
        let mut budget = MAX_DEVICE_BYTES;
        let mut kept = Vec::new();
        for (name, value) in fields {
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text,
                other => other.to_string(),
            };
            let name = cut(&name, MAX_NAME_BYTES.min(budget));
            if name.is_empty() || text.is_empty() || kept.len() == MAX_FIELDS {
                continue;
            }
            let text = cut(&text, budget - name.len());
            if text.is_empty() {
                break;
            }
            budget -= name.len() + text.len();
            kept.push((name.to_string(), text.to_string()));
        }
        Ok((!kept.is_empty()).then_some(Device(kept)))
    }

    pub fn attribute(&self) -> AttributeValue {
        AttributeValue::M(
            self.0
                .iter()
                .map(|(name, value)| (name.clone(), AttributeValue::S(value.clone())))
                .collect(),
        )
    }

    /// The fields of a stored `device` attribute (what the store wrote; anything else is skipped).
    pub fn fields(value: Option<&AttributeValue>) -> Vec<(String, String)> {
        let Some(AttributeValue::M(map)) = value else {
            return Vec::new();
        };
        let mut fields: Vec<(String, String)> = map
            .iter()
            .filter_map(|(name, value)| match value {
                AttributeValue::S(text) => Some((name.clone(), text.clone())),
                _ => None,
            })
            .collect();
        fields.sort();
        fields
    }
}

/// The longest prefix of `text` of at most `bytes` bytes that ends on a character boundary.
fn cut(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;

    #[test]
    fn fields_are_kept_by_name_and_other_values_become_text() {
        let device = Device::from_json(r#"{"userAgent":"UA/1","ip":"10.0.0.1","n":2,"skip":null,"empty":""}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            device.0,
            vec![
                ("ip".to_string(), "10.0.0.1".to_string()),
                ("n".to_string(), "2".to_string()),
                ("userAgent".to_string(), "UA/1".to_string())
            ]
        );
        assert_eq!(Device::from_json("{}").unwrap(), None);
        assert_eq!(Device::from_json("[1]").unwrap_err().code, code::INVALID_ARGUMENT);
    }

    #[test]
    fn hostile_values_are_cut_to_the_bound_on_a_character_boundary() {
        let huge = "é".repeat(5000);
        let json = serde_json::json!({ "userAgent": huge, "ip": "1.2.3.4", "x".repeat(500): "y" }).to_string();
        let device = Device::from_json(&json).unwrap().unwrap();
        let bytes: usize = device.0.iter().map(|(name, value)| name.len() + value.len()).sum();
        assert!(bytes <= MAX_DEVICE_BYTES, "{bytes}");
        let agent = device.0.iter().find(|(name, _)| name == "userAgent").unwrap();
        assert!(agent.1.len() > 900 && agent.1.chars().all(|c| c == 'é'));
        let many: serde_json::Map<String, Value> = (0..100).map(|i| (format!("f{i}"), Value::from("v"))).collect();
        let device = Device::from_json(&Value::Object(many).to_string()).unwrap().unwrap();
        assert_eq!(device.0.len(), MAX_FIELDS);
    }

    #[test]
    fn stored_fields_are_read_back_and_anything_else_is_skipped() {
        let stored = AttributeValue::M(
            [
                ("ip".to_string(), AttributeValue::S("1.2.3.4".into())),
                ("bad".to_string(), AttributeValue::N("1".into())),
            ]
            .into(),
        );
        assert_eq!(
            Device::fields(Some(&stored)),
            vec![("ip".to_string(), "1.2.3.4".to_string())]
        );
        assert!(Device::fields(Some(&AttributeValue::S("x".into()))).is_empty());
    }
}
