//! Store options: connect-dynamodb's names and defaults, validated up front so
//! that a wrong option is a clear error at construction, never a failure later.
//! Every option and its default is declared once, in `table.rs`.

mod table;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{code, StoreError, StoreResult};
pub use crate::layout::Layout;
use crate::schema::{CONTENT_ATTR, STORE_ATTRS, TTL_ATTR};
#[cfg(test)]
pub use table::ONE_DAY_MS;
pub use table::OPTIONS;
pub use table::{BREAKER_PROBE_INTERVAL_MS, CONNECT_TIMEOUT_MS, MAX_RETRIES, REGION, TIMEOUT_MS};

/// Refuses an attribute name the store writes itself, naming the clash.
fn not_store_owned(option: &str, name: &str) -> StoreResult<()> {
    if !STORE_ATTRS.contains(&name) {
        return Ok(());
    }
    Err(StoreError::new(
        code::INVALID_OPTION,
        format!(
            "option \"{option}\" may not be \"{name}\": the store writes that attribute itself (it owns {})",
            STORE_ATTRS.map(|a| format!("\"{a}\"")).join(", ")
        ),
    ))
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreOptions {
    pub table: String,
    pub hash_key: String,
    pub prefix: String,
    pub read_capacity_units: i64,
    pub write_capacity_units: i64,
    pub reap_interval_ms: f64,
    pub special_keys: Vec<SpecialKey>,
    pub skip_throw_missing_special_keys: bool,
    pub initialized: bool,
    pub connection: ConnectionOptions,
    pub users: UserOptions,
    pub costs: CostOptions,
    pub payload: PayloadOptions,
    /// None: the circuit breaker is off.
    pub breaker: Option<BreakerOptions>,
    /// `hashIds.secret`: the table key is an HMAC of the sid under it.
    pub hash_ids: Option<Vec<u8>>,
    /// Saves must name the version they read (optimistic concurrency).
    pub versioning: bool,
    pub lock: LockOptions,
    /// The item layout sessions are read and written in (`format`).
    pub layout: Layout,
    /// `absoluteTimeout`: a session ends this long after it was first saved,
    /// however often it is used (ms).
    pub absolute_timeout_ms: Option<f64>,
    /// Each session records the device it was created from: the user index
    /// is on, or the shim has a `sessionMetadata` hook (it says so).
    pub devices: bool,
    /// `migrateFrom`: also read sessions stored in this layout (under the
    /// bare sid), moving each to `layout` the first time it is read.
    pub migrate_from: Option<Layout>,
}

/// `lock(sid, verificationValue)`: how long a lock lasts unless released,
/// and which session property the verification value is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct LockOptions {
    pub max_lock_ms: f64,
    pub verification_property: String,
}

/// What the store may skip or choose to spend less.
#[derive(Debug, Clone, PartialEq)]
pub struct CostOptions {
    /// A touch (or an unchanged save) within this many ms of the last
    /// refresh of the stored expiry writes nothing. 0: always write.
    pub touch_after_ms: f64,
    /// An unchanged save becomes a touch.
    pub skip_unchanged_writes: bool,
    /// The lifetime of a session whose cookie has no expiry.
    pub ttl_ms: f64,
    pub consistent_read: bool,
    pub on_demand: bool,
    pub auto_create: bool,
}

/// The user index (off unless `userPath` is set): which session value names
/// the user, the attribute it is copied to, and the GSI over that attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct UserOptions {
    /// `userPath` split on dots; empty when the feature is off.
    pub path: Vec<String>,
    pub attribute: String,
    pub index: String,
    /// The fork's behaviour: sessions without a user are indexed under their key.
    pub index_anonymous: bool,
    pub max_sessions: Option<u32>,
}

impl UserOptions {
    pub fn enabled(&self) -> bool {
        !self.path.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpecialKey {
    pub name: String,
    pub kind: AttrKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrKind {
    S,
    N,
    B,
    Bool,
}

/// Connection settings given explicitly; anything absent comes from the AWS
/// default chain (environment, profiles, SSO, container and instance roles).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionOptions {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub credentials: Option<StaticCredentials>,
    pub max_retries: Option<u32>,
    /// One attempt's limit (AWSConfigJSON.httpOptions.timeout).
    pub timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    /// The whole call's limit, retries included (`timeout`); 0: none.
    pub operation_timeout_ms: Option<u64>,
}

#[derive(Clone, PartialEq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayloadOptions {
    /// Sessions of at least this many bytes are compressed; None: never.
    pub compress_min_bytes: Option<usize>,
    pub encryption: Option<Encryption>,
}

/// AES-256 keys by id; new writes use `primary`, reads take any of them.
#[derive(Clone, PartialEq)]
pub struct Encryption {
    pub keys: HashMap<String, [u8; 32]>,
    pub primary: String,
    /// Also serve sessions written before encryption was on (a migration setting).
    pub accept_unsealed: bool,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("primary", &self.primary)
            .field("accept_unsealed", &self.accept_unsealed)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerOptions {
    pub failures: u32,
    pub probe_interval: Duration,
}

impl StoreOptions {
    /// Validates `options`. `read_file` loads `AWSConfigPath` (injected so the
    /// rules stay testable without touching the disk).
    pub fn parse(
        options: &Map<String, Value>,
        read_file: impl Fn(&str) -> std::io::Result<String>,
    ) -> StoreResult<Self> {
        let o = Reader::new(options, "");
        let hash_key = o.string("hashKey")?.unwrap_or(table::HASH_KEY).to_string();
        if hash_key.is_empty() || hash_key.len() > 255 {
            return Err(StoreError::invalid_option("hashKey", "a string of 1 to 255 bytes"));
        }
        not_store_owned("hashKey", &hash_key)?;
        let special_keys = parse_special_keys(options.get("specialKeys"), &hash_key)?;
        let users = parse_users(&o, &hash_key, &special_keys)?;
        let versioning = o.boolean("versioning")?;
        let layout = parse_layout(&o, "format")?.unwrap_or(Layout::ConnectDynamoDB);
        let options = StoreOptions {
            table: parse_table(o.string("table")?)?,
            prefix: match layout {
                Layout::ConnectDynamoDB => o.string("prefix")?.unwrap_or(table::PREFIX).to_string(),
                Layout::ConnectDynamoDBSession => {
                    o.string("prefix")?.unwrap_or(table::SESSION_LAYOUT_PREFIX).to_string()
                }
            },
            read_capacity_units: o.capacity("readCapacityUnits")?,
            write_capacity_units: o.capacity("writeCapacityUnits")?,
            reap_interval_ms: o.non_negative("reapInterval")?.unwrap_or(0.0),
            special_keys,
            skip_throw_missing_special_keys: o.boolean("skipThrowMissingSpecialKeys")?,
            initialized: o.boolean("initialized")?,
            hash_key,
            connection: parse_resilience(&o, parse_connection(options, read_file)?)?,
            breaker: parse_breaker(&o)?,
            hash_ids: parse_hash_ids(options.get("hashIds"))?,
            versioning,
            lock: parse_lock(&o)?,
            users,
            costs: parse_costs(&o, layout)?,
            payload: PayloadOptions {
                compress_min_bytes: parse_compress(&o)?,
                encryption: parse_encryption(options.get("encryption"))?,
            },
            layout,
            migrate_from: parse_layout(&o, "migrateFrom")?,
            absolute_timeout_ms: parse_absolute_timeout(&o)?,
            devices: false,
        };
        let options = StoreOptions {
            devices: options.users.enabled(),
            ..options
        };
        check_layouts(&options)?;
        Ok(options)
    }
}

/// `absoluteTimeout`: ms > 0, or off.
fn parse_absolute_timeout(o: &Reader) -> StoreResult<Option<f64>> {
    match o.get("absoluteTimeout") {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|ms| ms >= 1.0 && ms.is_finite()) => Ok(n.as_f64()),
        Some(_) => Err(StoreError::invalid_option(
            "absoluteTimeout",
            "a number of ms >= 1 (how long a session may live after it was first saved)",
        )),
    }
}

fn parse_layout(o: &Reader, name: &str) -> StoreResult<Option<Layout>> {
    o.string(name)?
        .map(|value| {
            Layout::parse(value)
                .ok_or_else(|| StoreError::invalid_option(name, "\"connect-dynamodb\" or \"connect-dynamodb-session\""))
        })
        .transpose()
}

/// connect-dynamodb-session reads `content` as a String under the bare sid,
/// and knows nothing of the user index: the features that would write
/// anything else are refused with it, naming the conflict.
fn check_layouts(options: &StoreOptions) -> StoreResult<()> {
    let conflict = |option: &str, why: &str| {
        Err(StoreError::new(
            code::INVALID_OPTION,
            format!("option \"{option}\" cannot be used with {why}"),
        ))
    };
    if options.layout == Layout::ConnectDynamoDBSession {
        let why = "format \"connect-dynamodb-session\"";
        if !options.prefix.is_empty() {
            return conflict("prefix", &format!("{why} (its keys are the bare session id)"));
        }
        if options.payload.compress_min_bytes.is_some() {
            return conflict(
                "compress",
                &format!("{why} (that package reads \"content\" as a String)"),
            );
        }
        if options.payload.encryption.is_some() {
            return conflict(
                "encryption",
                &format!("{why} (that package reads \"content\" as a String)"),
            );
        }
        if options.hash_ids.is_some() {
            return conflict(
                "hashIds",
                &format!("{why} (that package looks sessions up by their id)"),
            );
        }
        if options.users.enabled() {
            return conflict(
                "userPath",
                &format!("{why} (its cleanup would delete the user registry)"),
            );
        }
        if let Some(key) = options
            .special_keys
            .iter()
            .find(|key| [CONTENT_ATTR, TTL_ATTR].contains(&key.name.as_str()))
        {
            return conflict(
                "specialKeys",
                &format!("{why}: \"{}\" is an attribute of that layout", key.name),
            );
        }
    }
    match options.migrate_from {
        None => Ok(()),
        Some(Layout::ConnectDynamoDB) => Err(StoreError::invalid_option(
            "migrateFrom",
            "\"connect-dynamodb-session\"",
        )),
        Some(_) if options.layout != Layout::ConnectDynamoDB => conflict(
            "migrateFrom",
            "format \"connect-dynamodb-session\" (it migrates to the connect-dynamodb layout)",
        ),
        Some(_) if options.prefix.is_empty() => conflict(
            "migrateFrom",
            "an empty prefix (the old and the new key of a session would be the same item)",
        ),
        Some(_) if options.hash_ids.is_some() => {
            conflict("migrateFrom", "hashIds (the old items are keyed by the sid)")
        }
        Some(_) => Ok(()),
    }
}

/// `maxRetries` and `timeout` at the top level win over AWSConfigJSON's.
fn parse_resilience(o: &Reader, mut connection: ConnectionOptions) -> StoreResult<ConnectionOptions> {
    if let Some(retries) = o.retries("maxRetries")? {
        connection.max_retries = Some(retries);
    }
    connection.operation_timeout_ms = o.non_negative("timeout")?.map(|ms| ms as u64);
    Ok(connection)
}

/// `circuitBreaker`: true (the default), false, or `{ failures, probeInterval }`.
fn parse_breaker(o: &Reader) -> StoreResult<Option<BreakerOptions>> {
    let defaults = BreakerOptions {
        failures: table::BREAKER_FAILURES,
        probe_interval: std::time::Duration::from_millis(table::BREAKER_PROBE_INTERVAL_MS),
    };
    match o.get("circuitBreaker") {
        None | Some(Value::Bool(true)) => Ok(Some(defaults)),
        Some(Value::Bool(false)) => Ok(None),
        Some(Value::Object(settings)) => {
            let settings = Reader::new(settings, "circuitBreaker");
            if let Some(unknown) = settings
                .map
                .keys()
                .find(|k| !["failures", "probeInterval"].contains(&k.as_str()))
            {
                return Err(StoreError::invalid_option(
                    &settings.name(unknown),
                    "absent (circuitBreaker takes failures and probeInterval)",
                ));
            }
            let failures = match settings.non_negative("failures")? {
                None => defaults.failures,
                Some(n) if n >= 1.0 && n.fract() == 0.0 => n.min(u32::MAX as f64) as u32,
                Some(_) => return Err(StoreError::invalid_option("circuitBreaker.failures", "an integer >= 1")),
            };
            let probe_interval = match settings.non_negative("probeInterval")? {
                None => defaults.probe_interval,
                Some(ms) if ms >= 10.0 => std::time::Duration::from_millis(ms as u64),
                Some(_) => {
                    return Err(StoreError::invalid_option(
                        "circuitBreaker.probeInterval",
                        "a number of ms >= 10",
                    ))
                }
            };
            Ok(Some(BreakerOptions {
                failures,
                probe_interval,
            }))
        }
        Some(_) => Err(StoreError::invalid_option(
            "circuitBreaker",
            "a boolean or { failures, probeInterval }",
        )),
    }
}

fn parse_lock(o: &Reader) -> StoreResult<LockOptions> {
    let max_lock_ms = match o.non_negative("maxLockTime")? {
        None => table::MAX_LOCK_TIME_S * 1000.0,
        Some(s) if s > 0.0 && s <= 3600.0 => s * 1000.0,
        Some(_) => {
            return Err(StoreError::invalid_option(
                "maxLockTime",
                "a number of seconds > 0 and <= 3600",
            ))
        }
    };
    let verification_property = match o.string("lockVerificationProperty")? {
        None => table::LOCK_VERIFICATION_PROPERTY.to_string(),
        Some(name) if !name.is_empty() => name.to_string(),
        Some(_) => {
            return Err(StoreError::invalid_option(
                "lockVerificationProperty",
                "a non-empty string",
            ))
        }
    };
    Ok(LockOptions {
        max_lock_ms,
        verification_property,
    })
}

/// `hashIds: { secret }`, a string of at least 16 bytes.
fn parse_hash_ids(value: Option<&Value>) -> StoreResult<Option<Vec<u8>>> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Object(settings)) if settings.len() == 1 => match settings.get("secret") {
            Some(Value::String(secret)) if secret.len() >= 16 => Ok(Some(secret.as_bytes().to_vec())),
            _ => Err(StoreError::invalid_option(
                "hashIds.secret",
                "a string of at least 16 bytes",
            )),
        },
        Some(_) => Err(StoreError::invalid_option("hashIds", "{ secret }")),
    }
}

/// `encryption: { keys: { <id>: <32 bytes, base64 or hex> }, primaryKeyId }`.
fn parse_encryption(value: Option<&Value>) -> StoreResult<Option<Encryption>> {
    let settings = match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Object(settings)) => settings,
        Some(_) => return Err(StoreError::invalid_option("encryption", "{ keys, primaryKeyId }")),
    };
    if let Some(unknown) = settings
        .keys()
        .find(|k| !["keys", "primaryKeyId", "acceptUnsealed"].contains(&k.as_str()))
    {
        return Err(StoreError::invalid_option(
            &format!("encryption.{unknown}"),
            "absent (encryption takes keys, primaryKeyId and acceptUnsealed)",
        ));
    }
    let Some(Value::Object(given)) = settings.get("keys") else {
        return Err(StoreError::invalid_option(
            "encryption.keys",
            "an object of key id -> 32-byte key (base64 or hex)",
        ));
    };
    let mut keys = std::collections::HashMap::new();
    for (id, key) in given {
        if id.is_empty() || id.len() > 255 {
            return Err(StoreError::invalid_option(
                "encryption.keys",
                "keyed by ids of 1 to 255 bytes",
            ));
        }
        let bytes = key.as_str().and_then(decode_key).ok_or_else(|| {
            StoreError::invalid_option(
                &format!("encryption.keys.{id}"),
                "32 random bytes, as base64 (44 chars) or hex (64 chars)",
            )
        })?;
        keys.insert(id.clone(), bytes);
    }
    let primary = match settings.get("primaryKeyId") {
        Some(Value::String(id)) if keys.contains_key(id) => id.clone(),
        _ => {
            return Err(StoreError::invalid_option(
                "encryption.primaryKeyId",
                "the id of one of encryption.keys",
            ))
        }
    };
    let accept_unsealed = match settings.get("acceptUnsealed") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(accept)) => *accept,
        Some(_) => return Err(StoreError::invalid_option("encryption.acceptUnsealed", "a boolean")),
    };
    Ok(Some(Encryption {
        keys,
        primary,
        accept_unsealed,
    }))
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()?
    };
    bytes.try_into().ok()
}

/// `compress`: true (sessions of 1 KB and more), false, or `{ minBytes }`.
fn parse_compress(o: &Reader) -> StoreResult<Option<usize>> {
    match o.get("compress") {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(table::COMPRESS_MIN_BYTES)),
        Some(Value::Object(settings)) => {
            let settings = Reader::new(settings, "compress");
            if let Some(unknown) = settings.map.keys().find(|k| k.as_str() != "minBytes") {
                return Err(StoreError::invalid_option(
                    &settings.name(unknown),
                    "absent (compress takes only minBytes)",
                ));
            }
            Ok(Some(
                settings
                    .non_negative("minBytes")?
                    .map_or(table::COMPRESS_MIN_BYTES, |n| n as usize),
            ))
        }
        Some(_) => Err(StoreError::invalid_option("compress", "a boolean or { minBytes }")),
    }
}

fn parse_costs(o: &Reader, layout: Layout) -> StoreResult<CostOptions> {
    let on_demand = match o.string("billingMode")? {
        None | Some("PROVISIONED") => false,
        Some("PAY_PER_REQUEST") => true,
        Some(_) => {
            return Err(StoreError::invalid_option(
                "billingMode",
                "\"PROVISIONED\" or \"PAY_PER_REQUEST\"",
            ))
        }
    };
    let ttl_ms = match o.non_negative("ttl")? {
        None if layout == Layout::ConnectDynamoDBSession => table::FOURTEEN_DAYS_MS,
        None => table::ONE_DAY_MS,
        Some(ms) if ms > 0.0 => ms,
        Some(_) => {
            return Err(StoreError::invalid_option(
                "ttl",
                "a number of ms > 0, or a function of the session",
            ))
        }
    };
    Ok(CostOptions {
        touch_after_ms: o.non_negative("touchAfter")?.unwrap_or(0.0),
        skip_unchanged_writes: o.boolean_or("skipUnchangedWrites", true)?,
        ttl_ms,
        consistent_read: o.boolean_or("consistentRead", true)?,
        on_demand,
        auto_create: o.boolean_or("autoCreate", true)?,
    })
}

fn parse_users(o: &Reader, hash_key: &str, special_keys: &[SpecialKey]) -> StoreResult<UserOptions> {
    let path = match o.string("userPath")? {
        None => Vec::new(),
        Some(path) => {
            let segments: Vec<String> = path.split('.').map(str::to_string).collect();
            if segments.iter().any(String::is_empty) {
                return Err(StoreError::invalid_option(
                    "userPath",
                    "a dot path such as \"passport.user\"",
                ));
            }
            segments
        }
    };
    let attribute = o.string("rangeKey")?.unwrap_or(table::RANGE_KEY).to_string();
    if attribute.is_empty() || attribute.len() > 255 || attribute == hash_key {
        return Err(StoreError::invalid_option(
            "rangeKey",
            "an attribute name of 1 to 255 bytes other than the hash key",
        ));
    }
    not_store_owned("rangeKey", &attribute)?;
    if !path.is_empty() && special_keys.iter().any(|key| key.name == attribute) {
        return Err(StoreError::invalid_option(
            "rangeKey",
            "different from every special key's name",
        ));
    }
    let index = match o.string("userIndex")? {
        Some(name) => name.to_string(),
        None => format!("{attribute}-{hash_key}-index"),
    };
    if !is_table_name(&index) {
        return Err(StoreError::invalid_option(
            "userIndex",
            "an index name (3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.')",
        ));
    }
    let max_sessions = match o.get("maxSessionsPerUser").map(Value::as_u64) {
        None | Some(Some(0)) => None,
        Some(Some(n)) if n <= u32::MAX as u64 => Some(n as u32),
        Some(_) => return Err(StoreError::invalid_option("maxSessionsPerUser", "a positive integer")),
    };
    if max_sessions.is_some() && path.is_empty() {
        return Err(StoreError::invalid_option(
            "maxSessionsPerUser",
            "used together with userPath",
        ));
    }
    Ok(UserOptions {
        path,
        attribute,
        index,
        index_anonymous: o.boolean("indexAnonymousSessions")?,
        max_sessions,
    })
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn parse_table(name: Option<&str>) -> StoreResult<String> {
    let name = name.unwrap_or(table::TABLE);
    if !is_table_name(name) {
        return Err(StoreError::invalid_option(
            "table",
            "a DynamoDB table name (3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.')",
        ));
    }
    Ok(name.to_string())
}

fn parse_special_keys(value: Option<&Value>, hash_key: &str) -> StoreResult<Vec<SpecialKey>> {
    let expected = "an array of { name, type } with type \"S\", \"N\", \"B\" or \"BOOL\"";
    let entries = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(StoreError::invalid_option("specialKeys", expected)),
    };
    entries
        .iter()
        .map(|entry| {
            let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
            let kind = match entry.get("type").and_then(Value::as_str) {
                Some("S") => AttrKind::S,
                Some("N") => AttrKind::N,
                Some("B") => AttrKind::B,
                Some("BOOL") => AttrKind::Bool,
                _ => return Err(StoreError::invalid_option("specialKeys", expected)),
            };
            if name.is_empty() || name == hash_key {
                return Err(StoreError::invalid_option(
                    "specialKeys",
                    "entries whose name is non-empty and not the hash key",
                ));
            }
            not_store_owned("specialKeys", name)?;
            Ok(SpecialKey {
                name: name.to_string(),
                kind,
            })
        })
        .collect()
}

/// `AWSConfigJSON` wins over the file at `AWSConfigPath`, which wins over
/// `AWSRegion`, key by key.
fn parse_connection(
    options: &Map<String, Value>,
    read_file: impl Fn(&str) -> std::io::Result<String>,
) -> StoreResult<ConnectionOptions> {
    let o = Reader::new(options, "");
    let from_file = match o.string("AWSConfigPath")? {
        Some(path) => Some(read_aws_config_file(path, read_file)?),
        None => None,
    };
    let mut json = match options.get("AWSConfigJSON") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return Err(StoreError::invalid_option("AWSConfigJSON", "an object")),
    };
    // connect-dynamodb-session's `region` and `endpoint` are AWSConfigJSON's.
    for key in ["region", "endpoint"] {
        let Some(value) = o.get(key) else { continue };
        let json = json.get_or_insert_with(Map::new);
        match json.get(key).filter(|given| !given.is_null()) {
            Some(given) if given != value => return Err(same_thing_twice(key, &format!("AWSConfigJSON.{key}"))),
            _ => json.insert(key.to_string(), value.clone()),
        };
    }
    let from_json = json.map(|map| aws_config_map(&map, "AWSConfigJSON")).transpose()?;
    let region_option = o.string("AWSRegion")?.map(str::to_string);
    let mut merged = ConnectionOptions::default();
    for layer in [from_file, from_json].into_iter().flatten() {
        merged = ConnectionOptions {
            region: layer.region.or(merged.region),
            endpoint: layer.endpoint.or(merged.endpoint),
            credentials: layer.credentials.or(merged.credentials),
            max_retries: layer.max_retries.or(merged.max_retries),
            timeout_ms: layer.timeout_ms.or(merged.timeout_ms),
            connect_timeout_ms: layer.connect_timeout_ms.or(merged.connect_timeout_ms),
            operation_timeout_ms: None,
        };
    }
    merged.region = merged.region.or(region_option);
    Ok(merged)
}

fn read_aws_config_file(
    path: &str,
    read_file: impl Fn(&str) -> std::io::Result<String>,
) -> StoreResult<ConnectionOptions> {
    let fail = |why: String| {
        StoreError::new(
            code::AWS_CONFIG_PATH,
            format!("cannot use AWSConfigPath \"{path}\": {why}"),
        )
    };
    let text = read_file(path).map_err(|e| fail(e.to_string()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => aws_config_map(&map, "AWSConfigPath"),
        Ok(_) => Err(fail("the file does not hold a JSON object".into())),
        Err(e) => Err(fail(format!("the file is not valid JSON ({e})"))),
    }
}

/// The parts of an AWS SDK v2 config object that map cleanly onto this store.
fn aws_config_map(map: &Map<String, Value>, owner: &str) -> StoreResult<ConnectionOptions> {
    let o = Reader::new(map, owner);
    let endpoint = o.string("endpoint")?.map(str::to_string);
    if let Some(url) = &endpoint {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StoreError::invalid_option(
                &o.name("endpoint"),
                "a URL starting with http:// or https://",
            ));
        }
        let authority = url
            .split_once("://")
            .map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
        if authority.contains('@') {
            return Err(StoreError::invalid_option(
                &o.name("endpoint"),
                "a URL without user:password@ (it would be sent in the Host header)",
            ));
        }
    }
    let nested = match map.get("credentials") {
        None | Some(Value::Null) => None,
        Some(Value::Object(creds)) => Some(creds),
        Some(_) => return Err(StoreError::invalid_option(&o.name("credentials"), "an object")),
    };
    let credentials = match nested {
        Some(creds) => static_credentials(&Reader::new(creds, &o.name("credentials")))?,
        None => static_credentials(&o)?,
    };
    let http = match map.get("httpOptions") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(http)) => http.clone(),
        Some(_) => return Err(StoreError::invalid_option(&o.name("httpOptions"), "an object")),
    };
    let http = Reader::new(&http, &o.name("httpOptions"));
    Ok(ConnectionOptions {
        region: o.string("region")?.map(str::to_string),
        endpoint,
        credentials,
        max_retries: o.retries("maxRetries")?,
        timeout_ms: http.non_negative("timeout")?.map(|n| n as u64),
        connect_timeout_ms: http.non_negative("connectTimeout")?.map(|n| n as u64),
        operation_timeout_ms: None,
    })
}

/// Two names of one option given different values.
pub fn same_thing_twice(one: &str, other: &str) -> StoreError {
    StoreError::new(
        code::INVALID_OPTION,
        format!("options \"{one}\" and \"{other}\" set the same thing to different values"),
    )
}

/// Whether a credential string can go into a signed request: AWS keys and
/// tokens are visible ASCII; a newline or space would break (or forge) a header.
pub fn is_credential_text(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

fn static_credentials(o: &Reader) -> StoreResult<Option<StaticCredentials>> {
    let key = o.string("accessKeyId")?;
    let secret = o.string("secretAccessKey")?;
    let token = o.string("sessionToken")?;
    for (name, value) in [
        ("accessKeyId", key),
        ("secretAccessKey", secret),
        ("sessionToken", token),
    ] {
        if value.is_some_and(|v| !v.is_empty() && !is_credential_text(v)) {
            return Err(StoreError::invalid_option(
                &o.name(name),
                "visible ASCII characters only (no spaces or line breaks)",
            ));
        }
    }
    match (key, secret) {
        (None, None) if token.is_none() => Ok(None),
        (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => Ok(Some(StaticCredentials {
            access_key_id: key.to_string(),
            secret_access_key: secret.to_string(),
            session_token: token.map(str::to_string),
        })),
        _ => Err(StoreError::invalid_option(
            &o.name("accessKeyId"),
            "given together with a secretAccessKey (both non-empty strings)",
        )),
    }
}

/// Typed access to one level of an options object; error messages name the
/// option by its full dotted path.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    owner: String,
}

impl<'a> Reader<'a> {
    fn new(map: &'a Map<String, Value>, owner: &str) -> Self {
        Reader {
            map,
            owner: owner.to_string(),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.owner.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.owner)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> StoreResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(StoreError::invalid_option(&self.name(key), "a string")),
        }
    }

    fn boolean(&self, key: &str) -> StoreResult<bool> {
        self.boolean_or(key, false)
    }

    fn boolean_or(&self, key: &str, default: bool) -> StoreResult<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(StoreError::invalid_option(&self.name(key), "a boolean")),
        }
    }

    fn non_negative(&self, key: &str) -> StoreResult<Option<f64>> {
        match self.get(key).map(Value::as_f64) {
            None => Ok(None),
            Some(Some(n)) if n >= 0.0 && n.is_finite() => Ok(Some(n)),
            Some(_) => Err(StoreError::invalid_option(&self.name(key), "a number >= 0")),
        }
    }

    /// A count of retries: an integer from 0 to the limit, wherever it is set.
    fn retries(&self, key: &str) -> StoreResult<Option<u32>> {
        match self.non_negative(key)? {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && n <= f64::from(table::MAX_RETRIES_LIMIT) => Ok(Some(n as u32)),
            Some(_) => Err(StoreError::invalid_option(
                &self.name(key),
                &format!("an integer from 0 to {}", table::MAX_RETRIES_LIMIT),
            )),
        }
    }

    /// Capacity units: a positive integer, or its decimal string (connect-dynamodb
    /// passed these through parseInt).
    fn capacity(&self, key: &str) -> StoreResult<i64> {
        let units = match self.get(key) {
            None => return Ok(table::CAPACITY_UNITS),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        units
            .filter(|n| *n >= 1)
            .ok_or_else(|| StoreError::invalid_option(&self.name(key), "a positive integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> StoreResult<StoreOptions> {
        let map = value.as_object().cloned().unwrap_or_default();
        StoreOptions::parse(&map, |_| Err(std::io::Error::other("no file")))
    }

    fn option_error(value: Value) -> String {
        let err = parse(value).expect_err("should be rejected");
        assert_eq!(err.code, code::INVALID_OPTION);
        err.message
    }

    #[test]
    fn defaults_match_connect_dynamodb() {
        let o = parse(json!({})).unwrap();
        assert_eq!(o.table, "sessions");
        assert_eq!(o.hash_key, "id");
        assert_eq!(o.prefix, "sess:");
        assert_eq!((o.read_capacity_units, o.write_capacity_units), (5, 5));
        assert_eq!(o.reap_interval_ms, 0.0);
        assert!(!o.initialized && !o.skip_throw_missing_special_keys);
        assert!(o.special_keys.is_empty());
        assert_eq!(o.connection, ConnectionOptions::default());
        assert!(!o.users.enabled());
        assert_eq!(
            (o.users.attribute.as_str(), o.users.index.as_str()),
            ("user", "user-id-index")
        );
        assert_eq!(o.users.max_sessions, None);
        let c = o.costs;
        assert_eq!((c.touch_after_ms, c.ttl_ms), (0.0, ONE_DAY_MS));
        assert!(c.skip_unchanged_writes && c.consistent_read && c.auto_create && !c.on_demand);
    }

    #[test]
    fn versioning_and_lock_options() {
        let o = parse(json!({})).unwrap();
        assert!(!o.versioning);
        assert_eq!(
            o.lock,
            LockOptions {
                max_lock_ms: 10_000.0,
                verification_property: "refresh_token".into()
            }
        );
        let o = parse(json!({"versioning": true, "maxLockTime": 0.5, "lockVerificationProperty": "rt"})).unwrap();
        assert!(o.versioning);
        assert_eq!(
            o.lock,
            LockOptions {
                max_lock_ms: 500.0,
                verification_property: "rt".into()
            }
        );
        assert!(option_error(json!({"versioning": 1})).contains("versioning"));
        assert!(option_error(json!({"maxLockTime": 0})).contains("maxLockTime"));
        assert!(option_error(json!({"maxLockTime": 7200})).contains("maxLockTime"));
        assert!(option_error(json!({"lockVerificationProperty": ""})).contains("lockVerificationProperty"));
        let clash = json!({"versioning": true, "specialKeys": [{"name": "version", "type": "N"}]});
        assert!(option_error(clash).contains("\"version\""));
    }

    #[test]
    fn cost_options() {
        let o = parse(json!({"touchAfter": 60000, "ttl": 3600000, "consistentRead": false,
                             "billingMode": "PAY_PER_REQUEST", "autoCreate": false, "skipUnchangedWrites": false}))
        .unwrap();
        assert_eq!((o.costs.touch_after_ms, o.costs.ttl_ms), (60000.0, 3600000.0));
        assert!(
            o.costs.on_demand && !o.costs.consistent_read && !o.costs.auto_create && !o.costs.skip_unchanged_writes
        );
        assert!(option_error(json!({"billingMode": "ON_DEMAND"})).contains("billingMode"));
        assert!(option_error(json!({"ttl": 0})).contains("ttl"));
        assert!(option_error(json!({"touchAfter": -1})).contains("touchAfter"));
        assert!(option_error(json!({"consistentRead": "yes"})).contains("consistentRead"));
    }

    #[test]
    fn user_options() {
        let o =
            parse(json!({"userPath": "passport.user", "rangeKey": "holder", "hashKey": "pk", "maxSessionsPerUser": 2}))
                .unwrap();
        assert_eq!(o.users.path, vec!["passport", "user"]);
        assert_eq!(o.users.index, "holder-pk-index");
        assert_eq!(o.users.max_sessions, Some(2));
        assert!(option_error(json!({"userPath": "a..b"})).contains("userPath"));
        assert!(option_error(json!({"userPath": ""})).contains("userPath"));
        assert!(option_error(json!({"rangeKey": "sess"})).contains("rangeKey"));
        assert!(option_error(json!({"rangeKey": "id"})).contains("rangeKey"));
        assert!(option_error(json!({"rangeKey": "owner"})).contains("rangeKey"));
        assert!(option_error(json!({"userIndex": "a b"})).contains("userIndex"));
        assert!(option_error(json!({"maxSessionsPerUser": 2})).contains("userPath"));
        assert!(option_error(json!({"userPath": "u", "maxSessionsPerUser": 1.5})).contains("maxSessionsPerUser"));
        assert!(
            option_error(json!({"userPath": "u", "specialKeys": [{"name": "user", "type": "S"}]})).contains("rangeKey")
        );
    }

    #[test]
    fn names_the_store_writes_are_refused_everywhere() {
        for name in STORE_ATTRS {
            for options in [
                json!({ "hashKey": name }),
                json!({ "userPath": "u", "rangeKey": name }),
                json!({ "specialKeys": [{ "name": name, "type": "S" }] }),
            ] {
                let message = option_error(options.clone());
                assert!(
                    message.contains(&format!("may not be \"{name}\"")),
                    "{options}: {message}"
                );
            }
        }
        assert!(parse(json!({"hashKey": "pk", "specialKeys": [{"name": "role", "type": "S"}]})).is_ok());
    }

    #[test]
    fn credential_strings_must_be_visible_ascii() {
        for (name, value) in [
            ("accessKeyId", "AKIA\nX"),
            ("secretAccessKey", "s e"),
            ("sessionToken", "t\u{e9}"),
        ] {
            let mut config = json!({"accessKeyId": "AKIA", "secretAccessKey": "secret"});
            config[name] = json!(value);
            let message = option_error(json!({ "AWSConfigJSON": config }));
            assert!(message.contains(&format!("AWSConfigJSON.{name}")), "{message}");
        }
        let fine =
            json!({"AWSConfigJSON": {"accessKeyId": "AKIA", "secretAccessKey": "a+b/c=", "sessionToken": "T/+="}});
        assert!(parse(fine).is_ok());
    }

    #[test]
    fn null_means_default() {
        let o = parse(json!({"table": null, "prefix": null})).unwrap();
        assert_eq!((o.table.as_str(), o.prefix.as_str()), ("sessions", "sess:"));
    }

    #[test]
    fn empty_prefix_is_allowed() {
        assert_eq!(parse(json!({"prefix": ""})).unwrap().prefix, "");
    }

    #[test]
    fn capacity_accepts_numeric_strings_like_parse_int() {
        let o = parse(json!({"readCapacityUnits": "7", "writeCapacityUnits": 3})).unwrap();
        assert_eq!((o.read_capacity_units, o.write_capacity_units), (7, 3));
    }

    #[test]
    fn wrong_types_name_the_option() {
        assert!(option_error(json!({"table": 5})).contains("\"table\""));
        assert!(option_error(json!({"table": "x"})).contains("\"table\""));
        assert!(option_error(json!({"hashKey": ""})).contains("\"hashKey\""));
        assert!(option_error(json!({"prefix": {}})).contains("\"prefix\""));
        assert!(option_error(json!({"readCapacityUnits": 0})).contains("readCapacityUnits"));
        assert!(option_error(json!({"writeCapacityUnits": "many"})).contains("writeCapacityUnits"));
        assert!(option_error(json!({"reapInterval": -1})).contains("reapInterval"));
        assert!(option_error(json!({"initialized": "yes"})).contains("initialized"));
        assert!(option_error(json!({"skipThrowMissingSpecialKeys": 1})).contains("skipThrowMissingSpecialKeys"));
        assert!(option_error(json!({"AWSConfigJSON": "eu"})).contains("AWSConfigJSON"));
        assert!(option_error(json!({"AWSRegion": 1})).contains("AWSRegion"));
    }

    #[test]
    fn special_keys_are_checked() {
        let o = parse(json!({"specialKeys": [{"name": "user", "type": "S"}, {"name": "n", "type": "N"}]})).unwrap();
        assert_eq!(
            o.special_keys[0],
            SpecialKey {
                name: "user".into(),
                kind: AttrKind::S
            }
        );
        assert_eq!(o.special_keys[1].kind, AttrKind::N);
        assert!(option_error(json!({"specialKeys": [{"name": "x", "type": "SS"}]})).contains("specialKeys"));
        assert!(option_error(json!({"specialKeys": [{"name": "sess", "type": "S"}]})).contains("specialKeys"));
        assert!(option_error(json!({"specialKeys": {"name": "x"}})).contains("specialKeys"));
    }

    #[test]
    fn aws_config_json_maps_v2_fields() {
        let o = parse(json!({"AWSConfigJSON": {
            "region": "eu-west-1", "endpoint": "http://127.0.0.1:9", "accessKeyId": "a",
            "secretAccessKey": "b", "maxRetries": 2, "httpOptions": {"timeout": 1500}
        }}))
        .unwrap();
        let c = o.connection;
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(c.credentials.unwrap().secret_access_key, "b");
        assert_eq!((c.max_retries, c.timeout_ms), (Some(2), Some(1500)));
    }

    #[test]
    fn aws_config_json_nested_credentials_and_errors() {
        let o = parse(json!({"AWSConfigJSON": {"credentials": {"accessKeyId": "k", "secretAccessKey": "s", "sessionToken": "t"}}}))
            .unwrap();
        assert_eq!(o.connection.credentials.unwrap().session_token.as_deref(), Some("t"));
        assert!(option_error(json!({"AWSConfigJSON": {"accessKeyId": "only"}})).contains("AWSConfigJSON.accessKeyId"));
        assert!(
            option_error(json!({"AWSConfigJSON": {"endpoint": "localhost:8000"}})).contains("AWSConfigJSON.endpoint")
        );
        assert!(
            option_error(json!({"AWSConfigJSON": {"endpoint": "http://user:pass@localhost:8000"}}))
                .contains("user:password@")
        );
        assert!(parse(json!({"AWSConfigJSON": {"endpoint": "http://localhost:8000/path@x"}})).is_ok());
        assert!(option_error(json!({"AWSConfigJSON": {"region": 3}})).contains("AWSConfigJSON.region"));
    }

    #[test]
    fn region_precedence_json_then_file_then_aws_region() {
        let map = json!({"AWSConfigPath": "cfg.json", "AWSRegion": "ap-south-1",
                          "AWSConfigJSON": {"endpoint": "http://h:1"}});
        let o = StoreOptions::parse(map.as_object().unwrap(), |path| {
            assert_eq!(path, "cfg.json");
            Ok(r#"{"region": "eu-central-1", "endpoint": "http://file:2"}"#.to_string())
        })
        .unwrap();
        assert_eq!(o.connection.region.as_deref(), Some("eu-central-1"));
        assert_eq!(o.connection.endpoint.as_deref(), Some("http://h:1"));

        let only_region = parse(json!({"AWSRegion": "ap-south-1"})).unwrap();
        assert_eq!(only_region.connection.region.as_deref(), Some("ap-south-1"));
    }

    #[test]
    fn unreadable_config_path_is_its_own_error() {
        let err = parse(json!({"AWSConfigPath": "missing.json"})).unwrap_err();
        assert_eq!(err.code, code::AWS_CONFIG_PATH);
        let bad_json = StoreOptions::parse(json!({"AWSConfigPath": "x"}).as_object().unwrap(), |_| {
            Ok("not json".to_string())
        })
        .unwrap_err();
        assert_eq!(bad_json.code, code::AWS_CONFIG_PATH);
    }
}
