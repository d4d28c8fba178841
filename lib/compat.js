'use strict'

// What connect-dynamodb's helpers take and give in the JS SDK's shapes:
// items with Binary as Uint8Array, and DescribeTable's output with Dates.

/** An item in the JS SDK's shape (Binary as Uint8Array) as DynamoDB's JSON (Binary as base64). */
function wireItem(item) {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, wireValue(value)]))
}

function wireValue(value) {
  if (value === null || typeof value !== 'object') return value
  const base64 = (bytes) => Buffer.from(bytes).toString('base64')
  if (value.B !== undefined) return { B: typeof value.B === 'string' ? value.B : base64(value.B) }
  if (Array.isArray(value.BS)) return { BS: value.BS.map((b) => (typeof b === 'string' ? b : base64(b))) }
  if (Array.isArray(value.L)) return { L: value.L.map(wireValue) }
  if (value.M && typeof value.M === 'object') return { M: wireItem(value.M) }
  return value
}

/** DescribeTable's times arrive as epoch seconds; the JS SDK hands them out as Dates. */
function withDates(value, name = '') {
  if (typeof value === 'number' && /DateTime$/.test(name)) return new Date(value * 1000)
  if (Array.isArray(value)) return value.map((v) => withDates(v))
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, withDates(v, key)]))
}

module.exports = { wireItem, withDates }
