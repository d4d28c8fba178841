//! The stored form of a session's JSON, the `sess` attribute.
//!
//! connect-dynamodb writes it as a String, and so does this store by default.
//! With `compress`, a large session is written as a Binary envelope instead:
//! one flags byte, then the payload (raw deflate). Reads accept both forms, so
//! turning compression on or off never strands a live session.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{code, StoreError, StoreResult};

/// The envelope's flags byte.
const COMPRESSED: u8 = 0b0000_0001;
const KNOWN_FLAGS: u8 = COMPRESSED;

/// Fast levels give nearly the ratio of slow ones on JSON (see bench/).
const DEFLATE_LEVEL: u8 = 3;
/// The largest session JSON the store writes or inflates. It bounds what a
/// corrupt or hostile item can make a read allocate.
pub const MAX_SESSION_BYTES: usize = 64 * 1024 * 1024;
/// Below one write unit compression cannot save anything.
pub const DEFAULT_MIN_BYTES: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayloadOptions {
    /// Sessions of at least this many bytes are compressed; None: never.
    pub compress_min_bytes: Option<usize>,
}

/// The `sess` attribute for a session's JSON.
pub fn encode(options: &PayloadOptions, json: String) -> StoreResult<AttributeValue> {
    if json.len() > MAX_SESSION_BYTES {
        return Err(StoreError::new(
            code::SESSION_TOO_LARGE,
            format!("the session is {} bytes of JSON; the store handles at most {MAX_SESSION_BYTES}", json.len()),
        ));
    }
    match options.compress_min_bytes {
        Some(min) if json.len() >= min => Ok(compressed_or_plain(json)),
        _ => Ok(AttributeValue::S(json)),
    }
}

/// Keeps the String form when deflate would not make the item smaller.
fn compressed_or_plain(json: String) -> AttributeValue {
    let deflated = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), DEFLATE_LEVEL);
    if deflated.len() + 1 >= json.len() {
        return AttributeValue::S(json);
    }
    let mut envelope = Vec::with_capacity(deflated.len() + 1);
    envelope.push(COMPRESSED);
    envelope.extend_from_slice(&deflated);
    AttributeValue::B(Blob::new(envelope))
}

/// The session JSON held in a `sess` attribute. Ok(None) when the attribute
/// holds no session (absent, empty, or of another type); an error when it is
/// an envelope this store cannot open.
pub fn decode(value: Option<AttributeValue>) -> StoreResult<Option<String>> {
    match value {
        Some(AttributeValue::S(json)) if !json.is_empty() => Ok(Some(json)),
        Some(AttributeValue::B(blob)) => open_envelope(blob.as_ref()).map(Some),
        _ => Ok(None),
    }
}

fn open_envelope(bytes: &[u8]) -> StoreResult<String> {
    let (&flags, body) = bytes.split_first().ok_or_else(|| corrupt("it is empty"))?;
    if flags & !KNOWN_FLAGS != 0 || flags == 0 {
        return Err(corrupt(&format!("unknown format 0x{flags:02x} (written by a newer version?)")));
    }
    let json = if flags & COMPRESSED != 0 {
        miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_SESSION_BYTES)
            .map_err(|e| corrupt(&format!("it does not inflate ({:?})", e.status)))?
    } else {
        body.to_vec()
    };
    String::from_utf8(json).map_err(|_| corrupt("it is not UTF-8"))
}

fn corrupt(why: &str) -> StoreError {
    StoreError::new(code::SESSION_CORRUPT, format!("the stored session cannot be read: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compressing(min: usize) -> PayloadOptions {
        PayloadOptions { compress_min_bytes: Some(min) }
    }

    fn session_json(bytes: usize) -> String {
        let mut json = String::from(r#"{"cookie":{"originalMaxAge":86400000},"cart":["#);
        let mut i = 0;
        while json.len() < bytes {
            json.push_str(&format!(r#"{{"sku":"SKU-{i:06}","qty":{},"title":"Item number {i}"}},"#, i % 7 + 1));
            i += 1;
        }
        json.push_str(r#"{}]}"#);
        json
    }

    #[test]
    fn plain_by_default_and_below_min_bytes() {
        let json = session_json(4096);
        assert_eq!(encode(&PayloadOptions::default(), json.clone()).unwrap(), AttributeValue::S(json.clone()));
        assert_eq!(encode(&compressing(json.len() + 1), json.clone()).unwrap(), AttributeValue::S(json));
    }

    #[test]
    fn compresses_large_sessions_and_reads_them_back() {
        let json = session_json(64 * 1024);
        let value = encode(&compressing(1024), json.clone()).unwrap();
        let AttributeValue::B(blob) = &value else { panic!("not compressed: {value:?}") };
        assert_eq!(blob.as_ref()[0], COMPRESSED);
        assert!(blob.as_ref().len() < json.len() / 4, "{} bytes", blob.as_ref().len());
        assert_eq!(decode(Some(value)).unwrap(), Some(json));
    }

    #[test]
    fn sessions_deflate_would_not_shrink_stay_strings() {
        for json in [r#"{"a":1}"#, r#"{"t":"x9Q"}"#] {
            assert_eq!(encode(&compressing(0), json.to_string()).unwrap(), AttributeValue::S(json.to_string()));
        }
    }

    #[test]
    fn reads_plain_strings_and_ignores_other_types() {
        assert_eq!(decode(Some(AttributeValue::S("{}".into()))).unwrap(), Some("{}".into()));
        assert_eq!(decode(Some(AttributeValue::S(String::new()))).unwrap(), None);
        assert_eq!(decode(Some(AttributeValue::Bool(true))).unwrap(), None);
        assert_eq!(decode(None).unwrap(), None);
    }

    #[test]
    fn damaged_envelopes_are_clear_errors() {
        let blob = |bytes: &[u8]| Some(AttributeValue::B(Blob::new(bytes.to_vec())));
        for bytes in [&[][..], &[0], &[0x80, 1, 2], &[COMPRESSED, 0xff, 0xff, 0xff], &[COMPRESSED]] {
            assert_eq!(decode(blob(bytes)).unwrap_err().code, code::SESSION_CORRUPT, "{bytes:?}");
        }
    }

    #[test]
    fn inflating_is_bounded() {
        let zeros = vec![b'0'; MAX_SESSION_BYTES + 1];
        let mut bomb = vec![COMPRESSED];
        bomb.extend(miniz_oxide::deflate::compress_to_vec(&zeros, 1));
        let err = decode(Some(AttributeValue::B(Blob::new(bomb)))).unwrap_err();
        assert_eq!(err.code, code::SESSION_CORRUPT);
        let too_big = encode(&compressing(0), "0".repeat(MAX_SESSION_BYTES + 1)).unwrap_err();
        assert_eq!(too_big.code, code::SESSION_TOO_LARGE);
    }
}
