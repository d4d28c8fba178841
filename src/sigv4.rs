//! SigV4 for the one request shape the hot path sends: `POST /` with a JSON
//! body and three headers. The general signer (aws-sigv4) builds its
//! canonical request through generic header maps and many small strings;
//! here it is one formatted string, and the signing key (four HMACs) is
//! derived once a day per credentials. A test checks the result against
//! aws-sigv4 byte for byte.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::digest::{digest, SHA256};
use ring::hmac;

pub const SIGNED_WITH_TOKEN: &str = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target";
pub const SIGNED: &str = "content-type;host;x-amz-date;x-amz-target";

/// The headers a signed request carries besides content-type, host and target.
pub struct Signature {
    pub amz_date: String,
    pub authorization: String,
}

/// The day's signing key for one secret, kept until the day or the secret changes.
#[derive(Default)]
pub struct KeyCache(Mutex<Option<(String, String, hmac::Key)>>);

impl KeyCache {
    fn key(&self, secret: &str, day: &str, region: &str) -> hmac::Key {
        if let Ok(cached) = self.0.lock() {
            if let Some((d, s, key)) = cached.as_ref() {
                if d == day && s == secret {
                    return key.clone();
                }
            }
        }
        let key = signing_key(secret, day, region);
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((day.to_string(), secret.to_string(), key.clone()));
        }
        key
    }
}

fn mac(key: &[u8], data: &str) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
}

fn signing_key(secret: &str, day: &str, region: &str) -> hmac::Key {
    let k_date = mac(format!("AWS4{secret}").as_bytes(), day);
    let k_region = mac(k_date.as_ref(), region);
    let k_service = mac(k_region.as_ref(), "dynamodb");
    let k_signing = mac(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(DIGITS[(b >> 4) as usize] as char);
        text.push(DIGITS[(b & 15) as usize] as char);
    }
    text
}

/// `20261202T150800Z` for a time (UTC).
pub fn amz_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// What one `POST {path}` needs to be signed.
pub struct Request<'a> {
    pub path: &'a str,
    pub host: &'a str,
    pub region: &'a str,
    pub target: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
    pub time: SystemTime,
}

pub struct Secret<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

pub fn sign(request: &Request, secret: &Secret, keys: &KeyCache) -> Signature {
    let amz_date = amz_date(request.time);
    let day = &amz_date[..8];
    let token = secret
        .session_token
        .map(|t| format!("x-amz-security-token:{t}\n"))
        .unwrap_or_default();
    let signed = if secret.session_token.is_some() {
        SIGNED_WITH_TOKEN
    } else {
        SIGNED
    };
    let canonical = format!(
        "POST\n{}\n\ncontent-type:{}\nhost:{}\nx-amz-date:{amz_date}\n{token}x-amz-target:{}\n\n{signed}\n{}",
        request.path,
        request.content_type,
        request.host,
        request.target,
        hex(digest(&SHA256, request.body).as_ref()),
    );
    let scope = format!("{day}/{}/dynamodb/aws4_request", request.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest(&SHA256, canonical.as_bytes()).as_ref())
    );
    let key = keys.key(secret.secret_access_key, day, request.region);
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    Signature {
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            secret.access_key_id
        ),
        amz_date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{sign as sdk_sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use std::time::Duration;

    fn sdk_headers(token: Option<&str>, time: SystemTime, body: &[u8]) -> Vec<(String, String)> {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "t",
        );
        let identity = Identity::new(credentials, None);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("dynamodb")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("host", "dynamodb.eu-west-1.amazonaws.com"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ];
        let signable = SignableRequest::new(
            "POST",
            "https://dynamodb.eu-west-1.amazonaws.com/",
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sdk_sign(signable, &params).unwrap().into_parts();
        instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_aws_sigv4_with_and_without_a_session_token() {
        let time = UNIX_EPOCH + Duration::from_secs(1_764_688_080);
        let body = br#"{"TableName":"sessions","Key":{"id":{"S":"sess:abc"}}}"#;
        for token in [None, Some("FwoGZXIvYXdzEJr//+token=")] {
            let ours = sign(
                &Request {
                    path: "/",
                    host: "dynamodb.eu-west-1.amazonaws.com",
                    region: "eu-west-1",
                    target: "DynamoDB_20120810.GetItem",
                    content_type: "application/x-amz-json-1.0",
                    body,
                    time,
                },
                &Secret {
                    access_key_id: "AKIDEXAMPLE",
                    secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    session_token: token,
                },
                &KeyCache::default(),
            );
            let theirs = sdk_headers(token, time, body);
            let get = |name: &str| theirs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            assert_eq!(get("authorization").as_deref(), Some(ours.authorization.as_str()));
            assert_eq!(get("x-amz-date").as_deref(), Some(ours.amz_date.as_str()));
        }
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "20000229T000000Z"
        );
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_764_688_080)),
            "20251202T150800Z"
        );
    }
}
