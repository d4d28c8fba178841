'use strict'

// Every store method takes an optional Node-style callback and returns a
// promise: this is how one operation's outcome reaches both.

const { liftError } = require('./errors')

/**
 * Runs one store operation: its result goes to `callback` (exactly once, on a
 * later tick) and to the returned promise. With a callback, errors go only to
 * the callback, so an ignored promise never becomes an unhandled rejection.
 */
function settle(callback, operation) {
  let promise
  try {
    promise = operation()
  } catch (err) {
    promise = Promise.reject(err)
  }
  if (typeof callback !== 'function') return promise.then(undefined, rejectLifted)
  return promise.then(
    (value) => {
      process.nextTick(callback, null, value)
      return value
    },
    (err) => {
      process.nextTick(callback, liftError(err))
    },
  )
}

function rejectLifted(err) {
  throw liftError(err)
}

module.exports = { settle }
