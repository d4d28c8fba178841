'use strict'

// The options the shim reads itself — the SDK client and the JavaScript
// hooks, as the core's table of every option marks them — taken out of the
// options, whichever of their names was given; the core reads the rest.

const { NativeStore } = require('./binding').loadBinding()
const { storeError } = require('./errors')

/** The options the shim reads itself, from the core's table of every option. */
const SHIM_OPTIONS = NativeStore.optionTable().filter((option) => option.shim)

/** Splits the options into what the core reads, the client, the JS hooks and the carrier asked for. */
function normalizeOptions(options) {
  if (typeof options !== 'object') throw storeError('ERR_INVALID_OPTION', 'options must be an object')
  const native = { ...options }
  const shim = {}
  for (const { name, aliases } of SHIM_OPTIONS) {
    let first
    for (const given of [name, ...aliases]) {
      if (native[given] === undefined) continue
      if (first !== undefined && shim[name] !== native[given]) {
        throw storeError(
          'ERR_INVALID_OPTION',
          `options "${first}" and "${given}" set the same thing to different values`,
        )
      }
      first = given
      shim[name] = native[given]
      delete native[given]
    }
  }
  const hooks = {}
  for (const name of ['err', 'log', 'sessionMetadata']) {
    if (shim[name] == null) continue
    if (typeof shim[name] !== 'function') throw storeError('ERR_INVALID_OPTION', `option "${name}" must be a function`)
    hooks[name] = shim[name]
  }
  if (typeof native.ttl === 'function') {
    hooks.ttl = native.ttl
    delete native.ttl
  }
  return { native, client: shim.client == null ? undefined : shim.client, hooks, transport: shim.transport }
}

module.exports = { normalizeOptions }
