//! The stored form of a session's JSON, the `sess` attribute.
//!
//! connect-dynamodb writes it as a String, and so does this store by default.
//! With `compress` (large sessions) or `encryption` (every session) it is a
//! Binary envelope instead:
//!
//! ```text
//! flags (1 byte: 0x01 deflated, 0x02 encrypted)
//! [encrypted only] key id length (1 byte), key id, nonce (12 bytes)
//! payload: the JSON, deflated if 0x01, then AES-256-GCM sealed if 0x02
//! ```
//!
//! The GCM associated data is the flags byte, the key id and the item's table
//! key, so a ciphertext moved to another item does not open. Without
//! `encryption` reads accept every form, so turning `compress` on or off
//! never strands a session. With it only sealed sessions are served: anyone
//! who can write the table could otherwise plant a plain one
//! (`encryption.acceptUnsealed` admits them while older sessions expire).
//!
//! Compression happens before sealing, so the sealed size follows the
//! content's compressibility: a reader of the table learns lengths, never
//! content (see docs/security.md).

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{code, StoreError, StoreResult};
use crate::options::{Encryption, PayloadOptions};

/// The envelope's flags byte.
const COMPRESSED: u8 = 0b0000_0001;
const ENCRYPTED: u8 = 0b0000_0010;
const KNOWN_FLAGS: u8 = COMPRESSED | ENCRYPTED;
const NONCE_LEN: usize = 12;

/// Fast levels give nearly the ratio of slow ones on JSON (see bench/).
const DEFLATE_LEVEL: u8 = 3;
/// The largest session JSON the store writes or inflates. It bounds what a
/// corrupt or hostile item can make a read allocate.
pub const MAX_SESSION_BYTES: usize = 64 * 1024 * 1024;

/// A session's JSON as read, and whether it was sealed (authenticated).
#[derive(Debug, PartialEq)]
pub struct Opened {
    pub json: String,
    pub sealed: bool,
}

/// The `sess` attribute for a session's JSON, stored under `table_key`.
/// How many bytes `json` takes deflated as `compress` stores it (for estimates).
pub fn deflated_size(json: &[u8]) -> usize {
    miniz_oxide::deflate::compress_to_vec(json, DEFLATE_LEVEL).len() + 1
}

pub fn encode(options: &PayloadOptions, table_key: &str, json: String) -> StoreResult<AttributeValue> {
    if json.len() > MAX_SESSION_BYTES {
        return Err(StoreError::new(
            code::SESSION_TOO_LARGE,
            format!(
                "the session is {} bytes of JSON; the store handles at most {MAX_SESSION_BYTES}",
                json.len()
            ),
        ));
    }
    let deflated = match options.compress_min_bytes {
        Some(min) if json.len() >= min => deflate_if_smaller(json.as_bytes()),
        _ => None,
    };
    match (&options.encryption, deflated) {
        (Some(encryption), Some(deflated)) => seal(encryption, table_key, COMPRESSED | ENCRYPTED, deflated),
        (Some(encryption), None) => seal(encryption, table_key, ENCRYPTED, json.into_bytes()),
        (None, Some(deflated)) => Ok(envelope(&[COMPRESSED], deflated)),
        (None, None) => Ok(AttributeValue::S(json)),
    }
}

/// None when deflate would not make the item smaller.
fn deflate_if_smaller(json: &[u8]) -> Option<Vec<u8>> {
    let deflated = miniz_oxide::deflate::compress_to_vec(json, DEFLATE_LEVEL);
    (deflated.len() + 1 < json.len()).then_some(deflated)
}

fn envelope(header: &[u8], payload: Vec<u8>) -> AttributeValue {
    let mut bytes = Vec::with_capacity(header.len() + payload.len());
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&payload);
    AttributeValue::B(Blob::new(bytes))
}

/// Flags, key id length and key id: the header's start, and the start of the
/// associated data (which ends with the table key instead of the nonce).
fn sealed_prefix(flags: u8, key_id: &str, then: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 + key_id.len() + then.len());
    bytes.push(flags);
    bytes.push(key_id.len() as u8);
    bytes.extend_from_slice(key_id.as_bytes());
    bytes.extend_from_slice(then);
    bytes
}

fn associated_data(flags: u8, key_id: &str, table_key: &str) -> Vec<u8> {
    sealed_prefix(flags, key_id, table_key.as_bytes())
}

fn aes_key(bytes: &[u8; 32]) -> StoreResult<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| StoreError::new(code::INTERNAL, "could not load an AES-256 key"))
}

/// A fresh random nonce for every write: with 96-bit random nonces a key
/// stays safe for far more writes than a session table sees.
fn seal(encryption: &Encryption, table_key: &str, flags: u8, mut payload: Vec<u8>) -> StoreResult<AttributeValue> {
    let key_id = encryption.primary.as_str();
    let key = encryption
        .keys
        .get(key_id)
        .ok_or_else(|| StoreError::new(code::INTERNAL, "the primary key is missing"))?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| StoreError::new(code::INTERNAL, "no randomness for a nonce"))?;
    aes_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data(flags, key_id, table_key)),
            &mut payload,
        )
        .map_err(|_| StoreError::new(code::INTERNAL, "encryption failed"))?;
    Ok(envelope(&sealed_prefix(flags, key_id, &nonce), payload))
}

/// The session JSON held in a `sess` attribute of the item at `table_key`.
/// Ok(None) when the attribute holds no session (absent, empty, or of
/// another type); an error when it is an envelope this store cannot open,
/// or, with encryption, a session that is not sealed.
pub fn decode(options: &PayloadOptions, table_key: &str, value: Option<AttributeValue>) -> StoreResult<Option<Opened>> {
    let opened = match value {
        Some(AttributeValue::S(json)) if !json.is_empty() => Opened { json, sealed: false },
        Some(AttributeValue::B(blob)) => open_envelope(options, table_key, blob.into_inner())?,
        _ => return Ok(None),
    };
    match &options.encryption {
        Some(encryption) if !opened.sealed && !encryption.accept_unsealed => Err(StoreError::new(
            code::SESSION_UNSEALED,
            "the stored session is not encrypted, and with encryption on only encrypted sessions are served \
             (encryption.acceptUnsealed admits older ones while they expire)",
        )),
        _ => Ok(Some(opened)),
    }
}

fn open_envelope(options: &PayloadOptions, table_key: &str, mut bytes: Vec<u8>) -> StoreResult<Opened> {
    let flags = *bytes.first().ok_or_else(|| corrupt("it is empty"))?;
    if flags & !KNOWN_FLAGS != 0 || flags == 0 {
        return Err(corrupt(&format!(
            "unknown format 0x{flags:02x} (written by a newer version?)"
        )));
    }
    let payload = if flags & ENCRYPTED != 0 {
        open_sealed(options, table_key, flags, &mut bytes)?
    } else {
        &bytes[1..]
    };
    let json = if flags & COMPRESSED != 0 {
        miniz_oxide::inflate::decompress_to_vec_with_limit(payload, MAX_SESSION_BYTES)
            .map_err(|e| corrupt(&format!("it does not inflate ({:?})", e.status)))?
    } else {
        payload.to_vec()
    };
    let json = String::from_utf8(json).map_err(|_| corrupt("it is not UTF-8"))?;
    Ok(Opened {
        json,
        sealed: flags & ENCRYPTED != 0,
    })
}

/// Authenticates and decrypts in place; returns the plaintext part of `bytes`.
fn open_sealed<'a>(options: &PayloadOptions, table_key: &str, flags: u8, bytes: &'a mut [u8]) -> StoreResult<&'a [u8]> {
    let id_len = *bytes.get(1).ok_or_else(|| corrupt("the header is cut short"))? as usize;
    let body_at = 2 + id_len + NONCE_LEN;
    if bytes.len() < body_at + AES_256_GCM.tag_len() {
        return Err(corrupt("the header is cut short"));
    }
    let key_id = std::str::from_utf8(&bytes[2..2 + id_len])
        .map_err(|_| corrupt("its key id is not UTF-8"))?
        .to_string();
    let Some(encryption) = &options.encryption else {
        return Err(decrypt_error(format!(
            "it is encrypted (key id \"{key_id}\") and no encryption keys are configured"
        )));
    };
    let key = encryption.keys.get(&key_id).ok_or_else(|| {
        decrypt_error(format!(
            "it was encrypted with key id \"{key_id}\", which is not in encryption.keys"
        ))
    })?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[2 + id_len..body_at]);
    let aad = associated_data(flags, &key_id, table_key);
    let opened = aes_key(key)?
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut bytes[body_at..])
        .map_err(|_| {
            decrypt_error(format!(
                "it does not authenticate with key \"{key_id}\" (a wrong key, a damaged item, or one copied from another session)"
            ))
        })?;
    Ok(opened)
}

fn decrypt_error(why: String) -> StoreError {
    StoreError::new(code::DECRYPT, format!("the stored session cannot be decrypted: {why}"))
}

fn corrupt(why: &str) -> StoreError {
    StoreError::new(
        code::SESSION_CORRUPT,
        format!("the stored session cannot be read: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The JSON `decode` serves.
    fn read(options: &PayloadOptions, key: &str, value: Option<AttributeValue>) -> StoreResult<Option<String>> {
        decode(options, key, value).map(|opened| opened.map(|o| o.json))
    }

    fn compressing(min: usize) -> PayloadOptions {
        PayloadOptions {
            compress_min_bytes: Some(min),
            encryption: None,
        }
    }

    fn session_json(bytes: usize) -> String {
        let mut json = String::from(r#"{"cookie":{"originalMaxAge":86400000},"cart":["#);
        let mut i = 0;
        while json.len() < bytes {
            json.push_str(&format!(
                r#"{{"sku":"SKU-{i:06}","qty":{},"title":"Item number {i}"}},"#,
                i % 7 + 1
            ));
            i += 1;
        }
        json.push_str(r#"{}]}"#);
        json
    }

    #[test]
    fn plain_by_default_and_below_min_bytes() {
        let json = session_json(4096);
        assert_eq!(
            encode(&PayloadOptions::default(), "k", json.clone()).unwrap(),
            AttributeValue::S(json.clone())
        );
        assert_eq!(
            encode(&compressing(json.len() + 1), "k", json.clone()).unwrap(),
            AttributeValue::S(json)
        );
    }

    #[test]
    fn compresses_large_sessions_and_reads_them_back() {
        let json = session_json(64 * 1024);
        let value = encode(&compressing(1024), "k", json.clone()).unwrap();
        let AttributeValue::B(blob) = &value else {
            panic!("not compressed: {value:?}")
        };
        assert_eq!(blob.as_ref()[0], COMPRESSED);
        assert!(blob.as_ref().len() < json.len() / 4, "{} bytes", blob.as_ref().len());
        assert_eq!(read(&PayloadOptions::default(), "k", Some(value)).unwrap(), Some(json));
    }

    #[test]
    fn sessions_deflate_would_not_shrink_stay_strings() {
        for json in [r#"{"a":1}"#, r#"{"t":"x9Q"}"#] {
            assert_eq!(
                encode(&compressing(0), "k", json.to_string()).unwrap(),
                AttributeValue::S(json.to_string())
            );
        }
    }

    #[test]
    fn reads_plain_strings_and_ignores_other_types() {
        assert_eq!(
            read(&PayloadOptions::default(), "k", Some(AttributeValue::S("{}".into()))).unwrap(),
            Some("{}".into())
        );
        assert_eq!(
            read(&PayloadOptions::default(), "k", Some(AttributeValue::S(String::new()))).unwrap(),
            None
        );
        assert_eq!(
            read(&PayloadOptions::default(), "k", Some(AttributeValue::Bool(true))).unwrap(),
            None
        );
        assert_eq!(read(&PayloadOptions::default(), "k", None).unwrap(), None);
    }

    #[test]
    fn damaged_envelopes_are_clear_errors() {
        let blob = |bytes: &[u8]| Some(AttributeValue::B(Blob::new(bytes.to_vec())));
        for bytes in [
            &[][..],
            &[0],
            &[0x80, 1, 2],
            &[COMPRESSED, 0xff, 0xff, 0xff],
            &[COMPRESSED],
        ] {
            assert_eq!(
                read(&PayloadOptions::default(), "k", blob(bytes)).unwrap_err().code,
                code::SESSION_CORRUPT,
                "{bytes:?}"
            );
        }
    }

    fn encrypting(primary: &str) -> PayloadOptions {
        let keys = HashMap::from([("k1".to_string(), [1u8; 32]), ("k2".to_string(), [2u8; 32])]);
        PayloadOptions {
            compress_min_bytes: Some(1024),
            encryption: Some(Encryption {
                keys,
                primary: primary.into(),
                accept_unsealed: false,
            }),
        }
    }

    #[test]
    fn encrypted_sessions_round_trip_small_and_compressed() {
        let o = encrypting("k1");
        for json in [r#"{"n":1}"#.to_string(), session_json(8 * 1024)] {
            let value = encode(&o, "sess:a", json.clone()).unwrap();
            let AttributeValue::B(blob) = &value else {
                panic!("not sealed")
            };
            assert_ne!(blob.as_ref()[0] & ENCRYPTED, 0);
            assert!(!String::from_utf8_lossy(blob.as_ref()).contains("cookie"));
            assert_eq!(read(&o, "sess:a", Some(value)).unwrap(), Some(json));
        }
    }

    #[test]
    fn with_encryption_only_sealed_sessions_are_served() {
        let mut o = encrypting("k1");
        let plain = || Some(AttributeValue::S(r#"{"role":"admin"}"#.into()));
        let deflated = encode(&compressing(0), "sess:a", session_json(4096)).unwrap();
        assert_eq!(read(&o, "sess:a", plain()).unwrap_err().code, code::SESSION_UNSEALED);
        assert_eq!(
            read(&o, "sess:a", Some(deflated.clone())).unwrap_err().code,
            code::SESSION_UNSEALED
        );
        let sealed = encode(&o, "sess:a", "{}".into()).unwrap();
        assert_eq!(
            decode(&o, "sess:a", Some(sealed)).unwrap(),
            Some(Opened {
                json: "{}".into(),
                sealed: true
            })
        );
        o.encryption.as_mut().unwrap().accept_unsealed = true;
        assert_eq!(
            decode(&o, "sess:a", plain()).unwrap(),
            Some(Opened {
                json: r#"{"role":"admin"}"#.into(),
                sealed: false
            })
        );
        assert_eq!(read(&o, "sess:a", Some(deflated)).unwrap(), Some(session_json(4096)));
    }

    #[test]
    fn each_write_gets_a_fresh_nonce() {
        let o = encrypting("k1");
        assert_ne!(
            encode(&o, "sess:a", "{}".into()).unwrap(),
            encode(&o, "sess:a", "{}".into()).unwrap()
        );
    }

    #[test]
    fn rotation_reads_old_keys_and_writes_the_primary() {
        let old = encode(&encrypting("k1"), "sess:a", r#"{"v":1}"#.into()).unwrap();
        let rotated = encrypting("k2");
        assert_eq!(
            read(&rotated, "sess:a", Some(old)).unwrap().as_deref(),
            Some(r#"{"v":1}"#)
        );
        let AttributeValue::B(new) = encode(&rotated, "sess:a", "{}".into()).unwrap() else {
            panic!()
        };
        assert_eq!(&new.as_ref()[1..4], b"\x02k2");
    }

    #[test]
    fn a_ciphertext_does_not_open_under_another_key_or_item() {
        let o = encrypting("k1");
        let sealed = encode(&o, "sess:a", r#"{"admin":true}"#.into()).unwrap();
        assert_eq!(
            read(&o, "sess:b", Some(sealed.clone())).unwrap_err().code,
            code::DECRYPT
        );
        let mut only_k2 = encrypting("k2");
        only_k2.encryption.as_mut().unwrap().keys.remove("k1");
        let err = read(&only_k2, "sess:a", Some(sealed.clone())).unwrap_err();
        assert!(err.code == code::DECRYPT && err.message.contains("\"k1\""), "{err:?}");
        assert_eq!(
            read(&PayloadOptions::default(), "sess:a", Some(sealed.clone()))
                .unwrap_err()
                .code,
            code::DECRYPT
        );
        let AttributeValue::B(blob) = sealed else { panic!() };
        let mut tampered = blob.into_inner();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let err = read(&o, "sess:a", Some(AttributeValue::B(Blob::new(tampered)))).unwrap_err();
        assert_eq!(err.code, code::DECRYPT);
    }

    #[test]
    fn inflating_is_bounded() {
        let zeros = vec![b'0'; MAX_SESSION_BYTES + 1];
        let mut bomb = vec![COMPRESSED];
        bomb.extend(miniz_oxide::deflate::compress_to_vec(&zeros, 1));
        let err = read(
            &PayloadOptions::default(),
            "k",
            Some(AttributeValue::B(Blob::new(bomb))),
        )
        .unwrap_err();
        assert_eq!(err.code, code::SESSION_CORRUPT);
        let too_big = encode(&compressing(0), "k", "0".repeat(MAX_SESSION_BYTES + 1)).unwrap_err();
        assert_eq!(too_big.code, code::SESSION_TOO_LARGE);
    }
}
