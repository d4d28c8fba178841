'use strict'

// Explicit test credentials and region: never let the AWS chain probe
// instance metadata (a stall of about a second per lookup).
process.env.AWS_EC2_METADATA_DISABLED = 'true'
process.env.AWS_REGION = 'us-east-1'
process.env.AWS_ACCESS_KEY_ID = 'test'
process.env.AWS_SECRET_ACCESS_KEY = 'test'

// A green run stays quiet: the AWS SDKs' notices about Node versions and v2's end of support
// say nothing about this code.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'

// The store's own warnings (a test table without TTL, a breaker opening on purpose) go to
// console.warn when a store has no `log` hook. Tests that care pass a hook and assert on it;
// the rest are kept here rather than printed. Anything else still prints.
const warn = console.warn
globalThis.storeWarnings = []
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].startsWith('connect-dynamodb-rs: ')) globalThis.storeWarnings.push(args[0])
  else warn(...args)
}
