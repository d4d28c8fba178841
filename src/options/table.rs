//! Every option the store takes, in one table: its name, the names other
//! packages give it, what it takes, and its default. Each default is declared
//! here once: the parsers (`options/mod.rs`) and the connection (`client.rs`)
//! use these constants, the shim reads the table (`NativeStore.optionTable()`)
//! for the names it handles itself, and a test holds README's table to it.

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
    /// As README's options table shows it.
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

const fn core(name: &'static str, takes: &'static str, default: DefaultValue) -> Spec {
    Spec {
        name,
        aliases: &[],
        takes,
        default,
        shim: false,
    }
}

const fn shim(name: &'static str, aliases: &'static [&'static str], takes: &'static str) -> Spec {
    Spec {
        name,
        aliases,
        takes,
        default: DefaultValue::Unset,
        shim: true,
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
    ),
    aliased(
        core("table", "a DynamoDB table name", DefaultValue::Text(TABLE)),
        &["tableName"],
    ),
    core("hashKey", "a string of 1 to 255 bytes", DefaultValue::Text(HASH_KEY)),
    core(
        "prefix",
        "a string",
        DefaultValue::ByFormat(&DefaultValue::Text(PREFIX), &DefaultValue::Text(SESSION_LAYOUT_PREFIX)),
    ),
    aliased(
        core(
            "readCapacityUnits",
            "a positive integer",
            DefaultValue::Number(CAPACITY_UNITS as f64),
        ),
        &["readCapacity"],
    ),
    aliased(
        core(
            "writeCapacityUnits",
            "a positive integer",
            DefaultValue::Number(CAPACITY_UNITS as f64),
        ),
        &["writeCapacity"],
    ),
    aliased(
        core("reapInterval", "a number of ms >= 0", DefaultValue::Number(0.0)),
        &["cleanupInterval"],
    ),
    core("specialKeys", "an array of { name, type }", DefaultValue::Empty),
    core("skipThrowMissingSpecialKeys", "a boolean", DefaultValue::Bool(false)),
    core("initialized", "a boolean", DefaultValue::Bool(false)),
    core("AWSConfigJSON", "an object", DefaultValue::Unset),
    core("AWSConfigPath", "a string", DefaultValue::Unset),
    core("AWSRegion", "a string", DefaultValue::Text(REGION)),
    core("region", "a string", DefaultValue::Unset),
    core(
        "endpoint",
        "a URL starting with http:// or https://",
        DefaultValue::Unset,
    ),
    core("userPath", "a dot path such as \"passport.user\"", DefaultValue::Unset),
    core("rangeKey", "an attribute name", DefaultValue::Text(RANGE_KEY)),
    core(
        "userIndex",
        "an index name",
        DefaultValue::Derived("<rangeKey>-<hashKey>-index"),
    ),
    core("indexAnonymousSessions", "a boolean", DefaultValue::Bool(false)),
    core("maxSessionsPerUser", "a positive integer", DefaultValue::Unset),
    core("touchAfter", "a number of ms >= 0", DefaultValue::Number(0.0)),
    core("skipUnchangedWrites", "a boolean", DefaultValue::Bool(true)),
    core(
        "ttl",
        "a number of ms > 0, or a function of the session",
        DefaultValue::ByFormat(
            &DefaultValue::Number(ONE_DAY_MS),
            &DefaultValue::Number(FOURTEEN_DAYS_MS),
        ),
    ),
    core("consistentRead", "a boolean", DefaultValue::Bool(true)),
    core(
        "billingMode",
        "\"PROVISIONED\" or \"PAY_PER_REQUEST\"",
        DefaultValue::Text("PROVISIONED"),
    ),
    core("autoCreate", "a boolean", DefaultValue::Bool(true)),
    shim("err", &[], "a function (message, error)"),
    shim("log", &[], "a function (message)"),
    core("compress", "a boolean or { minBytes }", DefaultValue::Bool(false)),
    core(
        "maxRetries",
        "an integer from 0 to 10",
        DefaultValue::Number(MAX_RETRIES as f64),
    ),
    core(
        "timeout",
        "a number of ms >= 0",
        DefaultValue::Number(TIMEOUT_MS as f64),
    ),
    core(
        "circuitBreaker",
        "a boolean or { failures, probeInterval }",
        DefaultValue::Bool(true),
    ),
    core(
        "encryption",
        "{ keys, primaryKeyId, acceptUnsealed }",
        DefaultValue::Unset,
    ),
    core("hashIds", "{ secret }", DefaultValue::Unset),
    core("versioning", "a boolean", DefaultValue::Bool(false)),
    core(
        "maxLockTime",
        "a number of seconds > 0 and <= 3600",
        DefaultValue::Number(MAX_LOCK_TIME_S),
    ),
    core(
        "lockVerificationProperty",
        "a non-empty string",
        DefaultValue::Text(LOCK_VERIFICATION_PROPERTY),
    ),
    core(
        "format",
        "\"connect-dynamodb\" or \"connect-dynamodb-session\"",
        DefaultValue::Text(FORMAT),
    ),
    core("migrateFrom", "\"connect-dynamodb-session\"", DefaultValue::Unset),
    core(
        "absoluteTimeout",
        "a number of ms >= 1 (how long a session may live after it was first saved)",
        DefaultValue::Unset,
    ),
    shim(
        "sessionMetadata",
        &[],
        "a function (session, req) returning an object of device fields",
    ),
    // Read by the shim before the core exists (lib/runtime.js): which sockets carry the requests.
    Spec {
        name: "transport",
        aliases: &[],
        takes: "\"auto\", \"native\" or \"node\"",
        default: DefaultValue::Text("auto"),
        shim: true,
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
    fn defaults_are_described_as_readme_shows_them() {
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
