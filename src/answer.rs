//! What a call of the engine resolves with, and the objects it hands to
//! JavaScript: one type for every store call's answer, so the host finishes
//! every call the same way.

use std::collections::HashMap;

use napi::bindgen_prelude::ToNapiValue;
use napi::{sys, Result};
use napi_derive::napi;

use crate::store::admin::{Probe, ScanPage};
use crate::store::users::UserSession;
use crate::store::Found;

/// One live session as `all()` returns it.
#[napi(object)]
pub struct StoredSession {
    pub sid: String,
    pub sess: String,
}

/// One live session of a user as `listSessionsForUser()` returns it.
#[napi(object)]
pub struct UserSessionInfo {
    pub sid: String,
    /// Epoch seconds.
    pub expires: i64,
    /// Epoch ms: the first save, and the last save or touch the store wrote.
    pub created_at: Option<f64>,
    pub last_seen_at: Option<f64>,
    /// The device it was created from (user agent, client address, the app's fields).
    pub device: Option<HashMap<String, String>>,
}

/// The table's TTL setting.
#[napi(object)]
pub struct TtlInfo {
    pub status: String,
    pub attribute: Option<String>,
}

/// What a call of the engine resolves with.
pub enum Answer {
    Nothing,
    /// A session read: `done` gets its JSON as the value, and its end (epoch
    /// ms), version and whether the end is to the ms as three more arguments,
    /// so no object is built.
    Session(Option<Found>),
    Number(Option<f64>),
    Bool(bool),
    Text(String),
    Texts(Vec<String>),
    Sessions(Vec<StoredSession>),
    UserSessions(Vec<UserSessionInfo>),
    ScanPage(ScanPage),
    Probes(Vec<Probe>),
    Ttl(TtlInfo),
}

impl From<()> for Answer {
    fn from((): ()) -> Self {
        Answer::Nothing
    }
}

impl From<Option<Found>> for Answer {
    fn from(found: Option<Found>) -> Self {
        Answer::Session(found)
    }
}

impl From<Option<f64>> for Answer {
    fn from(number: Option<f64>) -> Self {
        Answer::Number(number)
    }
}

/// A count.
impl From<u32> for Answer {
    fn from(count: u32) -> Self {
        Answer::Number(Some(f64::from(count)))
    }
}

impl From<bool> for Answer {
    fn from(flag: bool) -> Self {
        Answer::Bool(flag)
    }
}

impl From<String> for Answer {
    fn from(text: String) -> Self {
        Answer::Text(text)
    }
}

impl From<Vec<String>> for Answer {
    fn from(texts: Vec<String>) -> Self {
        Answer::Texts(texts)
    }
}

/// Live sessions as (sid, JSON).
impl From<Vec<(String, String)>> for Answer {
    fn from(sessions: Vec<(String, String)>) -> Self {
        Answer::Sessions(
            sessions
                .into_iter()
                .map(|(sid, sess)| StoredSession { sid, sess })
                .collect(),
        )
    }
}

/// A user's live sessions, each with its sid.
impl From<Vec<(String, UserSession)>> for Answer {
    fn from(sessions: Vec<(String, UserSession)>) -> Self {
        Answer::UserSessions(
            sessions
                .into_iter()
                .map(|(sid, session)| UserSessionInfo {
                    sid,
                    expires: session.expires,
                    created_at: session.created_ms,
                    last_seen_at: session.seen_ms,
                    device: (!session.device.is_empty()).then(|| session.device.into_iter().collect()),
                })
                .collect(),
        )
    }
}

impl From<ScanPage> for Answer {
    fn from(page: ScanPage) -> Self {
        Answer::ScanPage(page)
    }
}

impl From<Vec<Probe>> for Answer {
    fn from(probes: Vec<Probe>) -> Self {
        Answer::Probes(probes)
    }
}

/// The table's TTL status and attribute.
impl From<(String, Option<String>)> for Answer {
    fn from((status, attribute): (String, Option<String>)) -> Self {
        Answer::Ttl(TtlInfo { status, attribute })
    }
}

impl Answer {
    /// The value `done` gets, and of a session read its end (epoch ms, and
    /// whether to the ms) and version.
    pub fn into_parts(self) -> (Answer, Option<f64>, Option<f64>, bool) {
        match self {
            Answer::Session(Some(found)) => {
                let (end, exact) = found.end.map_or((None, false), |end| (Some(end.ms), end.exact));
                (Answer::Text(found.sess), end, found.version, exact)
            }
            Answer::Session(None) => (Answer::Nothing, None, None, false),
            other => (other, None, None, false),
        }
    }
}

impl ToNapiValue for Answer {
    unsafe fn to_napi_value(env: sys::napi_env, answer: Self) -> Result<sys::napi_value> {
        match answer {
            Answer::Nothing => <()>::to_napi_value(env, ()),
            Answer::Session(_) => <()>::to_napi_value(env, ()),
            Answer::Number(number) => Option::<f64>::to_napi_value(env, number),
            Answer::Bool(flag) => bool::to_napi_value(env, flag),
            Answer::Text(text) => String::to_napi_value(env, text),
            Answer::Texts(texts) => Vec::<String>::to_napi_value(env, texts),
            Answer::Sessions(sessions) => Vec::<StoredSession>::to_napi_value(env, sessions),
            Answer::UserSessions(sessions) => Vec::<UserSessionInfo>::to_napi_value(env, sessions),
            Answer::ScanPage(page) => ScanPage::to_napi_value(env, page),
            Answer::Probes(probes) => Vec::<Probe>::to_napi_value(env, probes),
            Answer::Ttl(ttl) => TtlInfo::to_napi_value(env, ttl),
        }
    }
}
