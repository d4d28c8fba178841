import type { IncomingMessage } from 'node:http'
import { SessionData, Store } from 'express-session'

/**
 * connect-dynamodb's factory: pass express-session (or `{ session }`,
 * `{ Store }`, connect 2.x, express 3.x) and get the store class.
 */
declare function connectDynamoDB(connect: connectDynamoDB.StoreSource): typeof connectDynamoDB.DynamoDBStore

declare namespace connectDynamoDB {
  /** With `versioning`, the session property that carries the version read to the next save ("__sessionVersion"). */
  const VERSION_PROPERTY: '__sessionVersion'

  /** Anything that carries a session Store class. */
  type StoreSource = { Store: Function } | { session: { Store: Function } }

  /** A top-level session value copied to its own attribute of this type. */
  interface SpecialKey {
    name: string
    type: 'S' | 'N' | 'B' | 'BOOL'
  }

  /** The parts of an AWS SDK v2 config this store honours. */
  interface AWSConfig {
    region?: string
    /** e.g. "http://localhost:8000" for DynamoDB Local. */
    endpoint?: string
    accessKeyId?: string
    secretAccessKey?: string
    sessionToken?: string
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
    maxRetries?: number
    httpOptions?: { timeout?: number; connectTimeout?: number }
  }

  /** An AWS SDK v3 `DynamoDBClient` (or a v2 `AWS.DynamoDB`). */
  interface DynamoDBClientLike {
    config: object
    send?(command: any, ...rest: any[]): Promise<any>
  }

  interface DynamoDBStoreOptions {
    /** A configured client whose region, endpoint and credentials the store adopts. */
    client?: DynamoDBClientLike
    /** Default "sessions". */
    table?: string
    /** Default "id". */
    hashKey?: string
    /** Default "sess:". */
    prefix?: string
    /** Default 5; only used when the store creates the table. */
    readCapacityUnits?: number | string
    /** Default 5; only used when the store creates the table. */
    writeCapacityUnits?: number | string
    /** ms between scans that delete expired sessions; default 0 (off). Prefer DynamoDB TTL on `expires`. */
    reapInterval?: number
    specialKeys?: SpecialKey[]
    /** Default false: a session missing a special key is refused with ERR_MISSING_SPECIAL_KEY. */
    skipThrowMissingSpecialKeys?: boolean
    /** Default false; true skips DescribeTable/CreateTable (the table must exist). */
    initialized?: boolean
    AWSConfigJSON?: AWSConfig
    /** Path of a JSON file holding an AWSConfig. */
    AWSConfigPath?: string
    /** Region when nothing else names one; default "us-east-1". */
    AWSRegion?: string
    /** Dot path of the user in the session, e.g. "passport.user"; turns the user index on. */
    userPath?: string
    /** The user attribute's name; default "user". */
    rangeKey?: string
    /** The user index's name; default "<rangeKey>-<hashKey>-index" ("user-id-index"). */
    userIndex?: string
    /** Default false; true indexes sessions without a user under their own key, as the single-session fork does. */
    indexAnonymousSessions?: boolean
    /** Default off: when a save gives a user more live sessions, the ones expiring soonest are destroyed. */
    maxSessionsPerUser?: number
    /** ms; default 0 (touch every time). A touch within this long of the last refresh writes nothing. */
    touchAfter?: number
    /** Default true: a save whose data (cookie aside) equals what this process last saw stored is sent as a touch. */
    skipUnchangedWrites?: boolean
    /** Lifetime (ms) of sessions whose cookie has no expiry; default one day. */
    ttl?: number | ((session: SessionData) => number)
    /** Default true. */
    consistentRead?: boolean
    /** For a table the store creates; default "PROVISIONED". */
    billingMode?: 'PROVISIONED' | 'PAY_PER_REQUEST'
    /** Default true; false never creates the table. */
    autoCreate?: boolean
    /** Retries of a throttled or failed call (jittered exponential backoff); default 3. */
    maxRetries?: number
    /** ms for a whole call, retries included; default 2000; 0: no limit. */
    timeout?: number
    /** Default true: after `failures` (5) outage errors in a row, emit 'disconnect', fail fast and probe every `probeInterval` ms (250) until DynamoDB answers, then emit 'connect'. */
    circuitBreaker?: boolean | { failures?: number; probeInterval?: number }
    /** AES-256-GCM of the session payload at rest; keys are 32 bytes, base64 or hex, by id. Only sealed sessions are served unless acceptUnsealed (a migration setting; warns once). */
    encryption?: { keys: Record<string, string>; primaryKeyId: string; acceptUnsealed?: boolean }
    /** Store an HMAC-SHA256 of each sid instead of the sid (all() and ids() then refuse). */
    hashIds?: { secret: string }
    /** Default false. true: every save writes the next `version` and fails with ERR_SESSION_CONFLICT if the session changed since it was read. */
    versioning?: boolean
    /** Seconds a lock() lasts unless unlock() ends it first; default 10. */
    maxLockTime?: number
    /** The session property lock() compares its verificationValue with; default "refresh_token". */
    lockVerificationProperty?: string
    /** Default false. true: store sessions of 1 KB and more deflated (Binary); connect-dynamodb cannot read those. */
    compress?: boolean | { minBytes?: number }
    /** The item layout. Default "connect-dynamodb"; "connect-dynamodb-session": that package's items (bare sid, `expires` in ms, `content`), plus `ttl` in seconds for DynamoDB TTL. */
    format?: 'connect-dynamodb' | 'connect-dynamodb-session'
    /** Also read sessions still stored in connect-dynamodb-session's layout, moving each to this store's layout when it is first read. */
    migrateFrom?: 'connect-dynamodb-session'
    /** ms: a session ends this long after it was first saved, however active it is (off by default). */
    absoluteTimeout?: number
    /** Device fields to record with a session's first save (with the request express-session attaches, when there is one); they show in listSessionsForUser(). */
    sessionMetadata?: (
      session: SessionData & Record<string, unknown>,
      req?: IncomingMessage,
    ) => Record<string, string | number | boolean | null | undefined>
    /** Hears every failed call (the caller still gets the error). */
    err?: (message: string, error: StoreError) => void
    /** Debug messages and warnings ("warn: ..."); without it, warnings go to console.warn. */
    log?: (message: string) => void
    /** Which sockets carry the requests: the core's own ('native', Node.js on Linux and macOS), Node's net/tls ('node'), or native where it runs ('auto', the default). */
    transport?: 'auto' | 'native' | 'node'
    /** connect-dynamodb-session's names for table, client, AWSConfigJSON.region/endpoint, capacities and reapInterval. */
    tableName?: string
    awsClient?: DynamoDBClientLike
    region?: string
    endpoint?: string
    readCapacity?: number
    writeCapacity?: number
    cleanupInterval?: number
  }

  interface StoreStats {
    /** Calls sent to DynamoDB. */
    operations: { get: number; set: number; touch: number; destroy: number }
    /** Touches and unchanged saves that sent nothing (touchAfter). */
    skippedWrites: number
    /** Unchanged saves sent as a touch. */
    downgradedSets: number
    /** Attempts that repeated a call after throttling or a transient fault. */
    retries: number
    /** As DynamoDB reported it (ReturnConsumedCapacity). */
    consumedCapacity: { readUnits: number; writeUnits: number }
  }

  interface UserSession {
    sid: string
    expires: Date
    /** When it was first saved, and last saved or touched by the store (where the store recorded them). */
    createdAt?: Date
    lastSeenAt?: Date
    /** The device it was created from: userAgent, ip, and the sessionMetadata hook's fields. */
    device?: Record<string, string>
  }

  /** For express-session: a new id for the request's session, keeping its data; the old id stops working at once. */
  function rotateSession(
    req: { session?: unknown; sessionID?: string; sessionStore?: unknown },
    callback?: Callback<void>,
  ): Promise<void>

  type ErrorCode =
    | 'ERR_INVALID_OPTION'
    | 'ERR_INVALID_ARGUMENT'
    | 'ERR_AWS_CONFIG_PATH'
    | 'ERR_SESSION_NOT_SERIALIZABLE'
    | 'ERR_SESSION_TOO_LARGE'
    | 'ERR_MISSING_SPECIAL_KEY'
    | 'ERR_INVALID_SPECIAL_KEY'
    | 'ERR_CREDENTIALS'
    | 'ERR_NETWORK'
    | 'ERR_TIMEOUT'
    | 'ERR_INVALID_RESPONSE'
    | 'ERR_TABLE_NOT_ACTIVE'
    | 'ERR_UNPROCESSED_ITEMS'
    | 'ERR_STORE_CLOSED'
    | 'ERR_INVALID_USER'
    | 'ERR_USER_INDEX_MISSING'
    | 'ERR_SESSION_CORRUPT'
    | 'ERR_STORE_UNAVAILABLE'
    | 'ERR_DECRYPT'
    | 'ERR_HASHED_IDS'
    | 'ERR_SESSION_CONFLICT'
    | 'ERR_SESSION_LOCKED'
    | 'ERR_SESSION_NOT_FOUND'
    | 'ERR_INTERNAL'

  /** The store's own errors carry an ERR_* code; DynamoDB's carry the exception name as code and name. */
  interface StoreError extends Error {
    code: ErrorCode | (string & {})
  }

  type Callback<T> = (err: StoreError | null, result?: T) => void

  /** A DynamoDB attribute value in the JS SDK's shape. */
  type AttributeValue = Record<string, unknown>

  /** DescribeTable's output, in the JS SDK's shape (times as Dates). */
  interface DescribeTableOutput {
    Table?: {
      TableName?: string
      TableStatus?: string
      KeySchema?: Array<{ AttributeName?: string; KeyType?: string }>
      AttributeDefinitions?: Array<{ AttributeName?: string; AttributeType?: string }>
      CreationDateTime?: Date
      ItemCount?: number
      [field: string]: unknown
    }
  }

  interface TouchResult {
    /** The new expiry, epoch seconds, as connect-dynamodb reports it. */
    expires: string
  }

  /**
   * A store call on the `connect-dynamodb-rs:store` diagnostics channel (a TracingChannel). No
   * message names a session, a user or a lock: `result` is a summary.
   */
  interface StoreMessage {
    /** The store method: 'get', 'set', 'touch', 'destroy', 'all', 'length', 'lock', 'rotate', … */
    operation: string
    table: string
    /** Whether a session was found (get), or touched (touch); a count (all, ids, length, clear, reap, …); a flag. */
    result?: boolean | number | null
    error?: Error & { code?: string }
  }

  /** One DynamoDB HTTP attempt on the `connect-dynamodb-rs:request` diagnostics channel (a TracingChannel). */
  interface RequestMessage {
    /** DynamoDB's operation: 'GetItem', 'PutItem', 'UpdateItem', … */
    operation: string
    table: string
    region: string
    /** The endpoint's host. */
    endpoint: string
    /** The request asks for a strongly consistent read. */
    consistentRead: boolean
    /** Which DynamoDB call of the store call (1, 2, …); its attempts share it. */
    sequence: number
    /** 1, then 2 for the first retry, … */
    attempt: number
    /** Epoch ms, when the request was sent and when its answer came. */
    startTime: number
    endTime?: number
    /** The store call it serves: that call's StoreMessage. */
    storeOperation?: StoreMessage
    statusCode?: number
    requestId?: string
    /** DynamoDB's ConsumedCapacity. */
    consumedCapacity?: { TableName?: string; CapacityUnits?: number; [field: string]: unknown }
    /** Another attempt follows, after this many ms. */
    retryAfterMs?: number
    /** DynamoDB refused a condition the store set: an answer, not an error. */
    conditionFailed?: boolean
    /** DynamoDB's exception, or the store's code when no answer came. */
    errorType?: string
    error?: Error & { code?: string }
  }

  /** The circuit breaker of a store, on the `connect-dynamodb-rs:breaker` diagnostics channel. */
  interface BreakerMessage {
    table: string
    state: 'open' | 'closed'
  }

  class DynamoDBStore extends Store {
    constructor(options?: DynamoDBStoreOptions)
    /** The client passed in, or a DynamoDBClient matching the options (when @aws-sdk/client-dynamodb is installed). */
    readonly client: DynamoDBClientLike | undefined
    readonly table: string
    readonly prefix: string
    readonly hashKey: string
    /** The sockets that carry this store's requests: the core's own, or Node's net/tls. */
    readonly transport: 'native' | 'node'

    get(sid: string, callback?: (err: any, session?: SessionData | null) => void): Promise<SessionData | null>
    set(sid: string, session: SessionData, callback?: (err?: any) => void): Promise<void>
    /** Resolves null when there is no live session to touch (none is created). */
    touch(
      sid: string,
      session: SessionData,
      callback?: (err: any, result?: TouchResult | null) => void,
    ): Promise<TouchResult | null>
    touch(sid: string, callback?: (err: any, result?: TouchResult | null) => void): Promise<TouchResult | null>
    destroy(sid: string, callback?: (err?: any) => void): Promise<void>
    all(
      callback?: (err: any, sessions?: Array<SessionData & { id: string }>) => void,
    ): Promise<Array<SessionData & { id: string }>>
    ids(callback?: Callback<string[]>): Promise<string[]>
    length(callback?: (err: any, length?: number) => void): Promise<number>
    /** Deletes every session of this prefix; resolves how many. */
    clear(callback?: (err?: any, deleted?: number) => void): Promise<number>
    /** Deletes expired sessions of this prefix; resolves how many. */
    reap(callback?: Callback<number>): Promise<number>
    initialize(callback?: Callback<void>): Promise<void>
    /** connect-dynamodb's helper: DescribeTable's output for the table (never creates it). */
    describeSessionsTable(callback?: Callback<DescribeTableOutput>): Promise<DescribeTableOutput>
    /** connect-dynamodb's helper: creates the table as initialize() would; an existing table is left as it is. */
    createSessionsTable(callback?: Callback<void>): Promise<void>
    /** connect-dynamodb's helper (synchronous): the session in a GetItem output, or null when missing, expired, damaged or empty. Never throws. */
    getParsedSession(
      output: { Item?: Record<string, AttributeValue> } | undefined | null,
      callback?: Callback<SessionData | null>,
    ): SessionData | null
    /** connect-dynamodb's helper (synchronous): the expiry (epoch seconds) a save of this session now would write. */
    getExpiresValue(session: Partial<SessionData> | undefined, callback?: Callback<number>): number
    /** What the store sent, skipped, and was billed since it was made. */
    stats(): StoreStats
    /** Adds the user index to an existing table and waits until it is ACTIVE. */
    ensureUserIndex(callback?: Callback<void>): Promise<void>
    /** The user's live sessions, soonest expiry first. */
    listSessionsForUser(user: string | number, callback?: Callback<UserSession[]>): Promise<UserSession[]>
    /** Resolves how many sessions were destroyed. */
    destroyOtherSessionsForUser(user: string | number, keepSid: string, callback?: Callback<number>): Promise<number>
    /** Resolves how many sessions were destroyed. */
    destroyAllSessionsForUser(user: string | number, callback?: Callback<number>): Promise<number>
    /** Ends one of the user's sessions; ERR_SESSION_NOT_FOUND unless it is a live session of that user. */
    destroySessionForUser(user: string | number, sid: string, callback?: Callback<void>): Promise<void>
    /** Moves a live session to a new id in one transaction, keeping its data; the old id becomes a tombstone. */
    rotate(oldSid: string, newSid: string, callback?: Callback<void>): Promise<void>
    /** Takes the session's lease lock if no one holds it and its lockVerificationProperty still equals verificationValue; else ERR_SESSION_LOCKED. Resolves the lease's token. */
    lock(sid: string, verificationValue: unknown, callback?: Callback<string>): Promise<string>
    /** Releases the lease the token names (without one: the one lease this store took on the session). True if released, false if none of ours was there. */
    unlock(sid: string, token?: string, callback?: Callback<boolean>): Promise<boolean>
    unlock(sid: string, callback: Callback<boolean>): Promise<boolean>
    /** Whether the lease the token names is still held (one consistent read; narrows the window, does not fence). */
    holdsLock(sid: string, token: string, callback?: Callback<boolean>): Promise<boolean>
    clearInterval(callback?: Callback<void>): Promise<void>
    close(callback?: Callback<void>): Promise<void>
  }
}

export = connectDynamoDB
