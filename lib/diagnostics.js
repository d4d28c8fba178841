'use strict'

// What the store tells anyone who listens, on Node's diagnostics_channel
// (public API, documented in docs/observability.md):
//
// - `connect-dynamodb-rs:store`, a TracingChannel: one traced operation per
//   store call (`get`, `set`, `destroyOtherSessionsForUser`, …), its context
//   `{ operation, table }`, then `result` (a summary: whether a session was
//   found, how many) or `error`.
// - `connect-dynamodb-rs:request`, a TracingChannel: one traced operation per
//   DynamoDB HTTP attempt the core makes for a store call: `{ operation,
//   table, region, endpoint, consistentRead, sequence, attempt, startTime,
//   storeOperation }` at `start` (`sequence`: which DynamoDB call of the store
//   call, shared by its attempts; `storeOperation`: the store channel's
//   context of that call), and at its end `endTime`, `statusCode`,
//   `requestId`, `consumedCapacity`, `retryAfterMs` (another attempt follows
//   after it), `conditionFailed`, or `errorType` and `error`. The core records them
//   only for calls started while this channel has a subscriber, and hands them
//   over at the end of the turn they happened in, each with its own time.
// - `connect-dynamodb-rs:breaker`, a channel: `{ table, state: 'open' |
//   'closed' }` when the circuit breaker opens or closes.
//
// No message names a session or a user: no session id (with `hashIds`, no
// hash either), no user, no session content, no lock token.

const dc = require('node:diagnostics_channel')

/** A TracingChannel, where the runtime has them (Node 19.9+, Bun, Deno); else null. */
function tracingChannel(name) {
  return typeof dc.tracingChannel === 'function' ? dc.tracingChannel(name) : null
}

const store = tracingChannel('connect-dynamodb-rs:store')
const request = tracingChannel('connect-dynamodb-rs:request')
const breaker = dc.channel('connect-dynamodb-rs:breaker')

/** Whether anyone listens on a TracingChannel (its own flag where it has one, else its parts'). */
function listened(channel) {
  if (!channel) return false
  if (typeof channel.hasSubscribers === 'boolean') return channel.hasSubscribers
  return ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].some((part) => channel[part].hasSubscribers)
}

/** What a store call's `result` tells: never a session, a user or a token; a count or a flag. */
function summary(value) {
  if (value == null) return value === null ? null : undefined
  if (typeof value === 'number' || typeof value === 'boolean') return value
  if (Array.isArray(value)) return value.length
  return true
}

/**
 * Runs one store call traced on the store channel. `run(callback)` starts it and gives its
 * outcome to `callback(err, value)`; with the app's `cb` the call is traced as a callback call
 * (the app's callback runs inside asyncStart/asyncEnd, in the async context an APM agent bound),
 * else as a promise. The channel sees only the summary of the value; the app gets the value.
 */
function traceStoreCall(context, cb, run) {
  let value
  if (typeof cb === 'function') {
    return store.traceCallback(
      (traced) =>
        run((err, result) => {
          value = result
          traced(err, err ? undefined : summary(result))
        }),
      0,
      context,
      undefined,
      (err) => (err ? cb(err) : cb(null, value)),
    )
  }
  const traced = store.tracePromise(
    () =>
      new Promise((resolve, reject) =>
        run((err, result) => {
          if (err) return reject(err)
          value = result
          resolve(summary(result))
        }),
      ),
    context,
  )
  return traced.then(() => value)
}

/**
 * The request channel's side of a store: keeps the context of each traced call by its engine
 * id, and publishes the attempts the core reports (`trace(events)`) as traced operations.
 */
class RequestTracer {
  /**
   * Engine call id -> the store call's context, and its attempts between their start and end
   * (`${sequence}:${attempt}` -> the attempt's context): all of it goes when the call ends.
   */
  #calls = new Map()
  #table

  constructor(table) {
    this.#table = table
  }

  /** Whether attempts should be recorded for a call starting now. */
  get listening() {
    return listened(request)
  }

  /** A traced call started as engine call `id`, for the store call of `context`. */
  begin(id, context) {
    this.#calls.set(id, { context, attempts: new Map() })
  }

  /** Engine call `id` ended: its attempts have all been reported. */
  finish(id) {
    this.#calls.delete(id)
  }

  /** The core's events of one turn, in order. */
  publish(events) {
    for (const event of events) {
      const call = this.#calls.get(event.call)
      if (!call) continue
      const key = `${event.sequence}:${event.attempt}`
      if (event.kind === 'start') {
        const context = {
          operation: event.operation,
          table: this.#table,
          region: event.region,
          endpoint: event.host,
          consistentRead: event.consistentRead,
          sequence: event.sequence,
          attempt: event.attempt,
          startTime: event.time,
          storeOperation: call.context,
        }
        call.attempts.set(key, context)
        request.start.publish(context)
        request.end.publish(context)
        continue
      }
      const context = call.attempts.get(key)
      if (!context) continue
      call.attempts.delete(key)
      context.endTime = event.time
      if (event.statusCode != null) context.statusCode = event.statusCode
      if (event.requestId != null) context.requestId = event.requestId
      if (event.consumedCapacity != null) context.consumedCapacity = parseCapacity(event.consumedCapacity)
      if (event.retryAfterMs != null) context.retryAfterMs = event.retryAfterMs
      // A failed condition is an answer the store asked for (a save over a destroyed session, a
      // touch of a missing one), not an error.
      if (event.errorType === 'ConditionalCheckFailedException') context.conditionFailed = true
      else if (event.errorType != null) {
        context.errorType = event.errorType
        const error = new Error(event.errorMessage || event.errorType)
        error.code = event.errorType
        if (!event.errorType.startsWith('ERR_')) error.name = event.errorType
        context.error = error
        request.error.publish(context)
      }
      request.asyncStart.publish(context)
      request.asyncEnd.publish(context)
    }
  }
}

function parseCapacity(json) {
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

module.exports = { store, request, breaker, listened, traceStoreCall, RequestTracer }
