'use strict'

// The native core reports errors as "[CODE] message" (an async N-API call can
// only reject with a message). This turns them into Errors with a stable
// `code`; DynamoDB's own exceptions also get it as `name`, as the JS SDK does.

const CODE_IN_MESSAGE = /^\[([A-Za-z0-9_.]+)\] /
const TYPE_ERRORS = new Set(['ERR_INVALID_OPTION', 'ERR_INVALID_ARGUMENT'])

function storeError(code, message) {
  const err = TYPE_ERRORS.has(code) ? new TypeError(message) : new Error(message)
  err.code = code
  if (!code.startsWith('ERR_')) err.name = code
  return err
}

function liftError(err) {
  // Duck-typed: errors from the addon may come from another realm (vm, jest).
  const match = err && typeof err.message === 'string' ? CODE_IN_MESSAGE.exec(err.message) : null
  if (!match) return err
  return storeError(match[1], err.message.slice(match[0].length))
}

const invalidArgument = (message) => storeError('ERR_INVALID_ARGUMENT', message)

module.exports = { storeError, liftError, invalidArgument }
