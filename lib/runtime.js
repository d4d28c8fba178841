'use strict'

// Where the store's bytes travel, decided here, in JavaScript, before any
// native code touches the event loop: the core's own sockets run only on
// Node's own libuv (Node.js on Linux and macOS); everywhere else (Bun, Deno,
// Windows, a runtime this does not know) they travel on Node's net/tls API,
// which every such runtime provides. Bun resolves libuv's functions but
// aborts the process when one is called, so nothing native is asked.

const { storeError } = require('./errors')

const CARRIERS = ['auto', 'native', 'node']

/** The JavaScript runtime: 'node', 'bun', 'deno' or 'other'. */
function runtime() {
  const versions = (typeof process === 'object' && process && process.versions) || {}
  if (versions.bun) return 'bun'
  if (versions.deno || typeof globalThis.Deno !== 'undefined') return 'deno'
  if (versions.node && process.release && process.release.name === 'node') return 'node'
  return 'other'
}

/** Whether the core's own sockets can run here (its build has them, on Node's libuv). */
function nativeCarrierRuns(ownSockets) {
  return ownSockets && runtime() === 'node' && (process.platform === 'linux' || process.platform === 'darwin')
}

/**
 * The carrier for option `transport` ('auto' when not given): 'native' (the core's own sockets) or
 * 'node' (Node's sockets). CONNECT_DYNAMODB_RS_TRANSPORT overrides it for operators.
 */
function chooseCarrier(option, ownSockets) {
  const override = process.env.CONNECT_DYNAMODB_RS_TRANSPORT
  // The variable, when set, is what was asked, and an error names it.
  const source = override ? 'CONNECT_DYNAMODB_RS_TRANSPORT' : 'option "transport"'
  const asked = override || (option === undefined ? 'auto' : option)
  if (!CARRIERS.includes(asked)) {
    throw storeError('ERR_INVALID_OPTION', `${source} must be "auto", "native" or "node", not ${JSON.stringify(asked)}`)
  }
  if (asked === 'node') return 'node'
  const runs = nativeCarrierRuns(ownSockets)
  if (asked === 'native' && !runs) {
    throw storeError(
      'ERR_INVALID_OPTION',
      `${source}: "native" needs Node.js on Linux or macOS (the core's own sockets run on Node's libuv), ` +
        `and this is ${runtime()} on ${process.platform}; use "auto" (the default) or "node"`,
    )
  }
  return runs ? 'native' : 'node'
}

module.exports = { runtime, chooseCarrier }
