//! Every option the store takes, in one table: its name, the names other
//! packages give it, what it takes, and its default. Each default is declared
//! here once: the parsers (`options/mod.rs`) and the connection (`client.rs`)
//! use these constants, the shim reads the table (`NativeStore.optionTable()`)
//! for the names it handles itself, and `scripts/docs.js` writes the options
//! table of docs/options.md from it (a test holds the page to it).

/// One option.
pub struct Spec {
    pub name: &'static str,
    /// connect-dynamodb-session's names for the same option.
    pub aliases: &'static [&'static str],
    /// What it takes, in the words an `ERR_INVALID_OPTION` uses.
    pub takes: &'static str,
    pub default: DefaultValue,
    /// Read by the JavaScript shim (a function or the SDK client), not the core.
    pub shim: bool,
    /// What it does, in markdown, as docs/options.md shows it (links are
    /// relative to docs/). Empty for the options documented as aliases.
    pub meaning: &'static str,
}

/// An option's default.
pub enum DefaultValue {
    /// Not set: the feature is off, or the value comes from elsewhere.
    Unset,
    Bool(bool),
    Number(f64),
    Text(&'static str),
    /// Depends on `format`: connect-dynamodb's layout, then connect-dynamodb-session's.
    ByFormat(&'static DefaultValue, &'static DefaultValue),
    /// Made from other options, as described.
    Derived(&'static str),
    /// An empty list.
    Empty,
}

impl DefaultValue {
    /// As the options table (docs/options.md) shows it.
    pub fn describe(&self) -> String {
        match self {
            DefaultValue::Unset => "—".to_string(),
            DefaultValue::Bool(value) => format!("`{value}`"),
            DefaultValue::Number(value) => format!("`{value}`"),
            DefaultValue::Text(value) => format!("`\"{value}\"`"),
            DefaultValue::ByFormat(native, other) => format!(
                "{} (with `format: \"connect-dynamodb-session\"`: {})",
                native.describe(),
                other.describe()
            ),
            DefaultValue::Derived(how) => format!("`{how}`"),
            DefaultValue::Empty => "`[]`".to_string(),
        }
    }
}

pub const TABLE: &str = "sessions";
pub const HASH_KEY: &str = "id";
pub const PREFIX: &str = "sess:";
/// connect-dynamodb-session keys items by the bare session id.
pub const SESSION_LAYOUT_PREFIX: &str = "";
pub const CAPACITY_UNITS: i64 = 5;
/// Used when neither the options nor the environment name a region.
pub const REGION: &str = "us-east-1";
pub const RANGE_KEY: &str = "user";
pub const ONE_DAY_MS: f64 = 86_400_000.0;
/// connect-dynamodb-session's lifetime of a session without a cookie expiry.
pub const FOURTEEN_DAYS_MS: f64 = 14.0 * ONE_DAY_MS;
/// A session store sits on every request: fail within about two seconds
/// rather than hang, retrying throttling and transient faults on the way.
pub const MAX_RETRIES: u32 = 3;
/// The most retries a call may be given, wherever the option is set.
pub const MAX_RETRIES_LIMIT: u32 = 10;
pub const TIMEOUT_MS: u64 = 2_000;
/// `AWSConfigJSON.httpOptions.connectTimeout`.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;
pub const BREAKER_FAILURES: u32 = 5;
pub const BREAKER_PROBE_INTERVAL_MS: u64 = 250;
pub const MAX_LOCK_TIME_S: f64 = 10.0;
pub const LOCK_VERIFICATION_PROPERTY: &str = "refresh_token";
/// `compress: true` deflates sessions of this many bytes and more: below one
/// write unit compression cannot save anything.
pub const COMPRESS_MIN_BYTES: usize = 1024;
pub const FORMAT: &str = "connect-dynamodb";

const fn core(name: &'static str, takes: &'static str, default: DefaultValue, meaning: &'static str) -> Spec {
    Spec {
        name,
        aliases: &[],
        takes,
        default,
        shim: false,
        meaning,
    }
}

const fn shim(
    name: &'static str,
    aliases: &'static [&'static str],
    takes: &'static str,
    meaning: &'static str,
) -> Spec {
    Spec {
        name,
        aliases,
        takes,
        default: DefaultValue::Unset,
        shim: true,
        meaning,
    }
}

const fn aliased(mut spec: Spec, aliases: &'static [&'static str]) -> Spec {
    spec.aliases = aliases;
    spec
}

pub const OPTIONS: &[Spec] = &[
    shim(
        "client",
        &["awsClient"],
        "a DynamoDBClient from @aws-sdk/client-dynamodb (or an AWS.DynamoDB)",
        "an AWS SDK v3 `DynamoDBClient` (or a v2 `AWS.DynamoDB`). The store adopts its region, endpoint and credentials, and asks its credentials provider again whenever the credentials near expiry.",
    ),
    aliased(
        core("table", "a DynamoDB table name", DefaultValue::Text(TABLE), "table name"),
        &["tableName"],
    ),
    core(
        "hashKey",
        "a string of 1 to 255 bytes",
        DefaultValue::Text(HASH_KEY),
        "the table's hash key attribute. It, `rangeKey` and special keys may not be a name the store writes itself (`sess`, `expires`, `expiresMs`, `type`, `destroyed`, `version`, `owner`, `lockedUntil`, `sids`, `content`, `ttl`): `ERR_INVALID_OPTION`",
    ),
    core(
        "prefix",
        "a string",
        DefaultValue::ByFormat(&DefaultValue::Text(PREFIX), &DefaultValue::Text(SESSION_LAYOUT_PREFIX)),
        "prepended to the session id to make the key",
    ),
    aliased(
        core(
            "readCapacityUnits",
            "a positive integer",
            DefaultValue::Number(CAPACITY_UNITS as f64),
            "used only when the store creates the table",
        ),
        &["readCapacity"],
    ),
    aliased(
        core(
            "writeCapacityUnits",
            "a positive integer",
            DefaultValue::Number(CAPACITY_UNITS as f64),
            "used only when the store creates the table",
        ),
        &["writeCapacity"],
    ),
    aliased(
        core(
            "reapInterval",
            "a number of ms >= 0",
            DefaultValue::Number(0.0),
            "ms between scans that delete expired sessions; `0` is off. The timer never keeps the process alive. Prefer [DynamoDB TTL](table.md#let-dynamodb-delete-expired-sessions-ttl).",
        ),
        &["cleanupInterval"],
    ),
    core(
        "specialKeys",
        "an array of { name, type }",
        DefaultValue::Empty,
        "`[{ name, type }]`, `type` one of `S`, `N`, `B`, `BOOL`: copies the top-level session value `name` to its own attribute",
    ),
    core(
        "skipThrowMissingSpecialKeys",
        "a boolean",
        DefaultValue::Bool(false),
        "`false`: a session missing a special key is refused with `ERR_MISSING_SPECIAL_KEY`; `true`: stored without it",
    ),
    core(
        "initialized",
        "a boolean",
        DefaultValue::Bool(false),
        "`true` skips DescribeTable/CreateTable entirely (the table must exist): for Lambda cold starts",
    ),
    core(
        "AWSConfigJSON",
        "an object",
        DefaultValue::Unset,
        "AWS SDK v2-style config: `region`, `endpoint`, `accessKeyId`, `secretAccessKey`, `sessionToken`, `credentials: {…}`, `maxRetries`, `httpOptions: { timeout, connectTimeout }`",
    ),
    core(
        "AWSConfigPath",
        "a string",
        DefaultValue::Unset,
        "path of a JSON file holding the same",
    ),
    core(
        "AWSRegion",
        "a string",
        DefaultValue::Text(REGION),
        "region, when neither the options nor the environment name one",
    ),
    core("region", "a string", DefaultValue::Unset, ""),
    core(
        "endpoint",
        "a URL starting with http:// or https://",
        DefaultValue::Unset,
        "",
    ),
    core(
        "userPath",
        "a dot path such as \"passport.user\"",
        DefaultValue::Unset,
        r#"off when unset. Dot path of the user in the session, e.g. `"passport.user"`: turns on the [user index](users-and-devices.md#one-session-per-user)"#,
    ),
    core(
        "rangeKey",
        "an attribute name",
        DefaultValue::Text(RANGE_KEY),
        "the attribute the user is copied to",
    ),
    core(
        "userIndex",
        "an index name",
        DefaultValue::Derived("<rangeKey>-<hashKey>-index"),
        "the index over it (`user-id-index` by default)",
    ),
    core(
        "indexAnonymousSessions",
        "a boolean",
        DefaultValue::Bool(false),
        "`true`: sessions without a user get their own key as user, as the single-session fork of connect-dynamodb does (the index is then no longer sparse)",
    ),
    core(
        "maxSessionsPerUser",
        "a positive integer",
        DefaultValue::Unset,
        "off when unset. With `userPath`: when a save gives a user more live sessions than this, the ones expiring soonest are destroyed",
    ),
    core(
        "touchAfter",
        "a number of ms >= 0",
        DefaultValue::Number(0.0),
        "ms. A touch (or an unchanged save) within this long of the session's last refresh writes nothing. See [Paying for less](costs.md#paying-for-less)",
    ),
    core(
        "skipUnchangedWrites",
        "a boolean",
        DefaultValue::Bool(true),
        "a save whose data (the cookie aside) equals what this process last saw stored is sent as a touch",
    ),
    core(
        "ttl",
        "a number of ms > 0, or a function of the session",
        DefaultValue::ByFormat(
            &DefaultValue::Number(ONE_DAY_MS),
            &DefaultValue::Number(FOURTEEN_DAYS_MS),
        ),
        "ms, or a function `(session) => ms`: the lifetime of sessions whose cookie has no expiry (one day; 14 days with `format: \"connect-dynamodb-session\"`)",
    ),
    core(
        "consistentRead",
        "a boolean",
        DefaultValue::Bool(true),
        "`false` reads eventually consistent (half the read capacity)",
    ),
    core(
        "billingMode",
        "\"PROVISIONED\" or \"PAY_PER_REQUEST\"",
        DefaultValue::Text("PROVISIONED"),
        r#"or `"PAY_PER_REQUEST"`, for a table (and user index) the store creates"#,
    ),
    core(
        "autoCreate",
        "a boolean",
        DefaultValue::Bool(true),
        "`false` never creates the table: a missing table is a `ResourceNotFoundException`",
    ),
    shim(
        "err",
        &[],
        "a function (message, error)",
        "`(message, error) => void`: hears every failed call (the caller still gets the error)",
    ),
    shim(
        "log",
        &[],
        "a function (message)",
        r#"`(message) => void`: debug messages and warnings (`"warn: …"`); without it, warnings go to `console.warn`"#,
    ),
    core(
        "compress",
        "a boolean or { minBytes }",
        DefaultValue::Bool(false),
        "`true` (sessions of 1 KB and more) or `{ minBytes }`: store large sessions deflated, as Binary. connect-dynamodb cannot read those; see [Compression](costs.md#compression)",
    ),
    core(
        "maxRetries",
        "an integer from 0 to 10",
        DefaultValue::Number(MAX_RETRIES as f64),
        "retries of a throttled or transiently failed call (jittered exponential backoff); see [When DynamoDB misbehaves](resilience.md#when-dynamodb-misbehaves)",
    ),
    core(
        "timeout",
        "a number of ms >= 0",
        DefaultValue::Number(TIMEOUT_MS as f64),
        "ms for a whole call, retries included (each attempt gets half); `0`: no limit",
    ),
    core(
        "circuitBreaker",
        "a boolean or { failures, probeInterval }",
        DefaultValue::Bool(true),
        "or `false`, or `{ failures: 5, probeInterval: 250 }`: after that many outage errors in a row, emit `'disconnect'`, fail fast, probe, emit `'connect'`",
    ),
    core(
        "encryption",
        "{ keys, primaryKeyId, acceptUnsealed }",
        DefaultValue::Unset,
        "off when unset. `{ keys: { <id>: <32 bytes, base64 or hex> }, primaryKeyId, acceptUnsealed }`: AES-256-GCM of the session at rest, and only sealed sessions are served; `acceptUnsealed: true` (a migration setting) also serves older plain ones; see [Security](security.md#security)",
    ),
    core(
        "hashIds",
        "{ secret }",
        DefaultValue::Unset,
        "off when unset. `{ secret }`: the table key is an HMAC-SHA256 of the sid, so the table holds no usable cookies",
    ),
    core(
        "versioning",
        "a boolean",
        DefaultValue::Bool(false),
        "`true`: every save writes the next `version` and fails with `ERR_SESSION_CONFLICT` if the session changed since it was read; see [Races between requests](concurrency.md#races-between-requests)",
    ),
    core(
        "maxLockTime",
        "a number of seconds > 0 and <= 3600",
        DefaultValue::Number(MAX_LOCK_TIME_S),
        "seconds a `lock()` lasts unless `unlock()` ends it first",
    ),
    core(
        "lockVerificationProperty",
        "a non-empty string",
        DefaultValue::Text(LOCK_VERIFICATION_PROPERTY),
        "the session property `lock(sid, verificationValue)` compares with",
    ),
    core(
        "format",
        "\"connect-dynamodb\" or \"connect-dynamodb-session\"",
        DefaultValue::Text(FORMAT),
        r#"or `"connect-dynamodb-session"`: read and write that package's items; see [Migrating from connect-dynamodb-session](migrating.md#migrating-from-connect-dynamodb-session)"#,
    ),
    core(
        "migrateFrom",
        "\"connect-dynamodb-session\"",
        DefaultValue::Unset,
        r#"off when unset. `"connect-dynamodb-session"`: also read sessions still stored in that layout, and move each to this store's layout the first time it is read"#,
    ),
    core(
        "absoluteTimeout",
        "a number of ms >= 1 (how long a session may live after it was first saved)",
        DefaultValue::Unset,
        "off when unset. In ms: a session ends this long after it was first saved, however active it is; see [Account security](users-and-devices.md#account-security)",
    ),
    shim(
        "sessionMetadata",
        &[],
        "a function (session, req) returning an object of device fields",
        "`(session, req) => ({ ... })`: device fields recorded with a session's first save, beside the user agent and address; see [Account security](users-and-devices.md#account-security)",
    ),
    // Read by the shim before the core exists (lib/runtime.js): which sockets carry the requests.
    Spec {
        name: "transport",
        aliases: &[],
        takes: "\"auto\", \"native\" or \"node\"",
        default: DefaultValue::Text("auto"),
        shim: true,
        meaning: r#"which sockets carry the requests: `"native"`, the core's own (Node.js on Linux and macOS only); `"node"`, Node's `net`/`tls` API (every runtime); `"auto"`, native where it runs, else node (Bun, Deno, Windows). `CONNECT_DYNAMODB_RS_TRANSPORT=native|node` overrides it; `store.transport` says which runs. See [Runtimes](runtimes.md#runtimes)"#,
    },
];

/// The option named `name` (or by one of its aliases).
#[cfg(test)]
pub fn spec(name: &str) -> Option<&'static Spec> {
    OPTIONS
        .iter()
        .find(|spec| spec.name == name || spec.aliases.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_across_names_and_aliases() {
        let mut names: Vec<&str> = OPTIONS
            .iter()
            .flat_map(|spec| std::iter::once(spec.name).chain(spec.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        assert_eq!(spec("tableName").map(|s| s.name), Some("table"));
        assert!(spec("nope").is_none());
    }

    #[test]
    fn defaults_are_described_as_the_options_table_shows_them() {
        assert_eq!(spec("table").unwrap().default.describe(), "`\"sessions\"`");
        assert_eq!(spec("readCapacityUnits").unwrap().default.describe(), "`5`");
        assert_eq!(spec("initialized").unwrap().default.describe(), "`false`");
        assert_eq!(
            spec("prefix").unwrap().default.describe(),
            "`\"sess:\"` (with `format: \"connect-dynamodb-session\"`: `\"\"`)"
        );
        assert_eq!(spec("encryption").unwrap().default.describe(), "—");
    }
}
