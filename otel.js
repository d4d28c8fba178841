'use strict'

// OpenTelemetry for connect-dynamodb-rs: spans and metrics made from the
// store's diagnostics channels (lib/diagnostics.js), so nothing is patched
// and the order things were required in does not matter.
//
//   const { ConnectDynamoDBRsInstrumentation } = require('connect-dynamodb-rs/otel')
//   registerInstrumentations({ instrumentations: [new ConnectDynamoDBRsInstrumentation()] })
//
// Each DynamoDB call the store makes is one CLIENT span named and attributed
// as @opentelemetry/instrumentation-aws-sdk names and attributes the same
// call (`DynamoDB.GetItem`, rpc.*, db.*, aws.*), the child of the span that
// was active when the app called the store; its retries are events on it.
// With `storeSpans: true` each store call is an INTERNAL span too, between
// the two. Metrics: db.client.operation.duration, and counters of store
// calls, retries, consumed capacity, skipped writes and the breaker.
// docs/observability.md says what each span, attribute and metric means.
// `@opentelemetry/api` is an optional peer dependency: this file needs it,
// the store does not.

const dc = require('node:diagnostics_channel')
const { version } = require('./package.json')

let api
try {
  api = require('@opentelemetry/api')
} catch (cause) {
  const err = new Error(
    'connect-dynamodb-rs/otel needs @opentelemetry/api (an optional peer dependency): npm install @opentelemetry/api',
    { cause },
  )
  err.code = 'ERR_MISSING_OPENTELEMETRY_API'
  throw err
}
const { trace, context, metrics, SpanKind, SpanStatusCode, ValueType } = api

const NAME = 'connect-dynamodb-rs'
const STORE = 'connect-dynamodb-rs:store'
const REQUEST = 'connect-dynamodb-rs:request'
const BREAKER = 'connect-dynamodb-rs:breaker'

/** Where this instrumentation keeps its state on a channel's context objects. */
const PARENT = Symbol('connect-dynamodb-rs otel parent')
const SPAN = Symbol('connect-dynamodb-rs otel span')
const REQUESTS = Symbol('connect-dynamodb-rs otel requests')

/** The operations that read (their consumed capacity is read capacity). */
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'DescribeTable'])
/** The store calls that write unless the store skips them (touchAfter, unchanged saves). */
const SKIPPABLE = new Set(['set', 'touch'])
/** The semantic conventions' buckets for db.client.operation.duration, in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

class ConnectDynamoDBRsInstrumentation {
  instrumentationName = NAME
  instrumentationVersion = version
  #config
  #tracer
  #meter
  #instruments
  #enabled = false
  #handlers
  #errorTypes = new ErrorTypes()

  /**
   * `config`: `enabled` (default true), `storeSpans` (an INTERNAL span per store call; default
   * false, it doubles the spans of a request), `requestHook(span, context)` and
   * `responseHook(span, context)` (called with each CLIENT span and the request channel's
   * context, after its start and before its end).
   */
  constructor(config = {}) {
    this.#config = { enabled: true, storeSpans: false, ...config }
    this.setTracerProvider(trace.getTracerProvider())
    this.setMeterProvider(metrics.getMeterProvider())
    if (this.#config.enabled) this.enable()
  }

  setTracerProvider(provider) {
    this.#tracer = provider.getTracer(NAME, version)
  }

  setMeterProvider(provider) {
    this.#meter = provider.getMeter(NAME, version)
    this.#instruments = instruments(this.#meter)
  }

  getConfig() {
    return this.#config
  }

  setConfig(config = {}) {
    this.#config = { enabled: true, storeSpans: false, ...config }
  }

  enable() {
    if (this.#enabled) return
    this.#enabled = true
    this.#config.enabled = true
    this.#handlers = {
      store: {
        start: guarded((message) => this.#storeStart(message)),
        asyncEnd: guarded((message) => this.#storeEnd(message)),
        error: () => {},
      },
      request: {
        start: guarded((message) => this.#requestStart(message)),
        asyncEnd: guarded((message) => this.#requestEnd(message)),
      },
      breaker: guarded((message) => this.#breaker(message)),
    }
    if (typeof dc.tracingChannel === 'function') {
      dc.tracingChannel(STORE).subscribe(this.#handlers.store)
      dc.tracingChannel(REQUEST).subscribe(this.#handlers.request)
    }
    dc.subscribe(BREAKER, this.#handlers.breaker)
  }

  disable() {
    if (!this.#enabled) return
    this.#enabled = false
    this.#config.enabled = false
    if (typeof dc.tracingChannel === 'function') {
      dc.tracingChannel(STORE).unsubscribe(this.#handlers.store)
      dc.tracingChannel(REQUEST).unsubscribe(this.#handlers.request)
    }
    dc.unsubscribe(BREAKER, this.#handlers.breaker)
  }

  /** A store call starts, in the app's context: its DynamoDB calls are children of what is active now. */
  #storeStart(message) {
    let parent = context.active()
    if (this.#config.storeSpans) {
      const span = this.#tracer.startSpan(
        `DynamoDBStore.${message.operation}`,
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'db.system.name': 'dynamodb',
            'db.namespace': message.table,
            'connect_dynamodb_rs.operation': message.operation,
          },
        },
        parent,
      )
      message[SPAN] = span
      parent = trace.setSpan(parent, span)
    }
    message[PARENT] = parent
    message[REQUESTS] = 0
  }

  #storeEnd(message) {
    // A DynamoDB call whose last attempt was never reported (none should be) ends with the store call.
    for (const [sequence, { span }] of calls(message)) {
      calls(message).delete(sequence)
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the store call ended before this DynamoDB call did' })
      span.end()
    }
    const attributes = {
      'db.system.name': 'dynamodb',
      'db.namespace': message.table,
      'connect_dynamodb_rs.operation': message.operation,
    }
    if (message.error) attributes['error.type'] = this.#errorTypes.of(errorType(message.error))
    this.#instruments.calls.add(1, attributes)
    if (!message.error && SKIPPABLE.has(message.operation) && message[REQUESTS] === 0) {
      this.#instruments.skipped.add(1, {
        'db.namespace': message.table,
        'connect_dynamodb_rs.operation': message.operation,
      })
    }
    const span = message[SPAN]
    if (!span) return
    if (message.error) failed(span, message.error)
    span.end()
  }

  /** An attempt starts: the first of a DynamoDB call starts its span. */
  #requestStart(message) {
    const store = message.storeOperation
    if (message.attempt > 1) return
    store[REQUESTS] = (store[REQUESTS] || 0) + 1
    // The store call's start was seen unless this instrumentation was enabled during the call.
    const parent = store[PARENT] || context.active()
    const attributes = {
      'rpc.system': 'aws-api',
      'rpc.method': message.operation,
      'rpc.service': 'DynamoDB',
      'cloud.region': message.region,
      'db.system.name': 'dynamodb',
      'db.namespace': message.table,
      'db.operation.name': message.operation,
      'aws.dynamodb.table_names': [message.table],
      'server.address': message.endpoint,
    }
    if (message.consistentRead && ['GetItem', 'Scan', 'Query'].includes(message.operation))
      attributes['aws.dynamodb.consistent_read'] = true
    attributes['connect_dynamodb_rs.operation'] = store.operation
    const span = this.#tracer.startSpan(
      `DynamoDB.${message.operation}`,
      { kind: SpanKind.CLIENT, attributes, startTime: message.startTime },
      parent,
    )
    message[SPAN] = span
    calls(store).set(message.sequence, { span, startTime: message.startTime })
    hook(this.#config.requestHook, span, message)
  }

  /** An attempt ended: a retry is an event on its call's span; the last attempt ends the span. */
  #requestEnd(message) {
    const store = message.storeOperation
    const call = calls(store).get(message.sequence)
    if (!call) return
    const { span } = call
    const retried = message.retryAfterMs != null
    if (retried) {
      const attributes = { 'connect_dynamodb_rs.attempt': message.attempt }
      if (message.statusCode != null) attributes['http.response.status_code'] = message.statusCode
      if (message.errorType) attributes['error.type'] = message.errorType
      attributes['connect_dynamodb_rs.retry_after_ms'] = message.retryAfterMs
      span.addEvent('connect_dynamodb_rs.retry', attributes, message.endTime)
      this.#instruments.retries.add(1, {
        'db.system.name': 'dynamodb',
        'db.namespace': message.table,
        'db.operation.name': message.operation,
        'error.type': this.#errorTypes.of(message.errorType),
      })
      return
    }
    calls(store).delete(message.sequence)
    if (message.requestId) span.setAttribute('aws.request.id', message.requestId)
    if (message.statusCode != null) span.setAttribute('http.response.status_code', message.statusCode)
    if (message.attempt > 1) span.setAttribute('connect_dynamodb_rs.attempts', message.attempt)
    const capacity = message.consumedCapacity
    if (capacity) {
      // DynamoDB's JSON, as the server sent it: only objects count, and only finite units.
      const list = (Array.isArray(capacity) ? capacity : [capacity]).filter(
        (x) => x !== null && typeof x === 'object' && !Array.isArray(x),
      )
      if (list.length > 0)
        span.setAttribute(
          'aws.dynamodb.consumed_capacity',
          list.map((x) => JSON.stringify(x)),
        )
      const units = list.reduce((sum, x) => sum + capacityUnits(x.CapacityUnits), 0)
      if (units > 0) {
        this.#instruments.capacity.add(units, {
          'db.namespace': message.table,
          'db.operation.name': message.operation,
          'connect_dynamodb_rs.capacity.kind': READS.has(message.operation) ? 'read' : 'write',
        })
      }
    }
    if (message.conditionFailed) span.setAttribute('connect_dynamodb_rs.condition_failed', true)
    if (message.error) failed(span, message.error, message.endTime)
    hook(this.#config.responseHook, span, message)
    span.end(message.endTime)
    const duration = {
      'db.system.name': 'dynamodb',
      'db.namespace': message.table,
      'db.operation.name': message.operation,
      'server.address': message.endpoint,
    }
    if (message.error) duration['error.type'] = this.#errorTypes.of(message.errorType)
    this.#instruments.duration.record(Math.max(0, (message.endTime - call.startTime) / 1000), duration)
  }

  #breaker(message) {
    if (message.state === 'open') this.#instruments.breakerOpens.add(1, { 'db.namespace': message.table })
  }
}

/** The spans of a store call's DynamoDB calls in flight, by sequence, kept on the store call's message. */
const CALLS = Symbol('connect-dynamodb-rs otel calls')
const calls = (store) => (store[CALLS] ??= new Map())

function instruments(meter) {
  return {
    duration: meter.createHistogram('db.client.operation.duration', {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    calls: meter.createCounter('connect_dynamodb_rs.store.calls', {
      description: 'Store calls (get, set, touch, destroy, …), with error.type when one failed.',
      unit: '{call}',
      valueType: ValueType.INT,
    }),
    retries: meter.createCounter('connect_dynamodb_rs.retries', {
      description: 'Attempts of a DynamoDB call that were retried, by the error that caused the retry.',
      unit: '{retry}',
      valueType: ValueType.INT,
    }),
    capacity: meter.createCounter('connect_dynamodb_rs.consumed_capacity', {
      description: 'Capacity units DynamoDB reported consumed, read or write.',
      unit: '{capacity_unit}',
    }),
    skipped: meter.createCounter('connect_dynamodb_rs.skipped_writes', {
      description: 'Saves and touches that sent nothing (touchAfter, unchanged saves).',
      unit: '{call}',
      valueType: ValueType.INT,
    }),
    breakerOpens: meter.createCounter('connect_dynamodb_rs.breaker.opens', {
      description: "Times a store's circuit breaker opened (DynamoDB unreachable, calls failing fast).",
      unit: '{open}',
      valueType: ValueType.INT,
    }),
  }
}

/** An error's type as the semantic conventions want it: its code, else its name. */
function errorType(err) {
  return (err && (err.code || err.name)) || '_OTHER'
}

/** Error types as metric attributes: the first few dozen distinct plausible names, then `_OTHER` (a server picks them). */
class ErrorTypes {
  static LIMIT = 64
  #seen = new Set()

  of(type) {
    if (typeof type !== 'string' || !/^[A-Za-z][\w.:#-]{0,99}$/.test(type)) return '_OTHER'
    if (this.#seen.has(type)) return type
    if (this.#seen.size >= ErrorTypes.LIMIT) return '_OTHER'
    this.#seen.add(type)
    return type
  }
}

/** DynamoDB's CapacityUnits, when it is a finite, non-negative number. */
function capacityUnits(value) {
  const units = Number(value)
  return Number.isFinite(units) && units > 0 ? units : 0
}

/** What a span keeps of an error's message: a server may send a long one. */
const MAX_MESSAGE = 1024
const short = (text) => (String(text).length > MAX_MESSAGE ? `${String(text).slice(0, MAX_MESSAGE)}…` : String(text))

/** A span's status and exception for an error, its message kept short. */
function failed(span, error, time) {
  const message = short(error.message)
  span.recordException({ name: error.name, message, code: error.code, stack: error.stack && short(error.stack) }, time)
  span.setStatus({ code: SpanStatusCode.ERROR, message })
}

/**
 * A channel handler that never throws: diagnostics_channel re-throws a subscriber's error on
 * the next tick, where it would end the app. What fails here is lost to the trace, never to the app.
 */
function guarded(handler) {
  return (message) => {
    try {
      handler(message)
    } catch {
      // Nothing to do: the store's call goes on untouched.
    }
  }
}

function hook(fn, span, message) {
  if (typeof fn !== 'function') return
  try {
    fn(span, message)
  } catch {
    // A hook that throws changes nothing.
  }
}

module.exports = { ConnectDynamoDBRsInstrumentation }
