//! A DynamoDB item as the store holds it, and the few helpers every layer
//! above uses on one: numbers in and out, the time now, and DynamoDB's own
//! count of an item's bytes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's item limit, attribute names included.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The time now, in epoch ms (0 on a clock set before 1970).
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

pub fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// A number attribute's value; None when it is missing or not a number.
pub fn read_number(value: Option<&AttributeValue>) -> Option<f64> {
    match value {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

pub fn extend(item: &mut Item, attributes: impl IntoIterator<Item = (&'static str, AttributeValue)>) {
    item.extend(attributes.into_iter().map(|(name, value)| (name.to_string(), value)));
}

/// DynamoDB's size of an item: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        // One byte per two significant digits, plus one.
        AttributeValue::N(n) => n.chars().filter(char::is_ascii_digit).count().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_sizes_follow_dynamodb() {
        assert_eq!(value_size(&AttributeValue::N("1700000061".into())), 6);
        assert_eq!(value_size(&AttributeValue::S("héllo".into())), 6);
    }
}
