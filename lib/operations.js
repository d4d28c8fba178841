'use strict'

// The store's calls on the engine are declared once, in the core
// (`operations!` in src/lib.rs, listed by NativeStore.operationTable()): each
// with its method's name, the kinds of its arguments and the kind of its
// answer. The store's methods are made here from that table: each checks its
// arguments by kind, starts its call, and shapes the answer by kind. Checks
// here are only those the trip into the core would lose (a type N-API would
// refuse without a code, a lone surrogate it would replace); the rest of the
// rules are the core's.

const { storeError, invalidArgument } = require('./errors')
const { LONE_SURROGATE, foundSession, touched, withIds, listedSession } = require('./session')
const { withDates } = require('./compat')

/** Each argument kind: its check, which returns what the core gets. A kind ending in `?` may be left out. */
const ARGUMENTS = {
  sid(sid) {
    if (typeof sid !== 'string') throw invalidArgument('sid must be a non-empty string')
    if (LONE_SURROGATE.test(sid)) throw invalidArgument('sid must be well-formed Unicode (it has a lone surrogate)')
    return sid
  },
  user(user) {
    if (typeof user === 'string' && LONE_SURROGATE.test(user)) {
      throw invalidArgument('user must be well-formed Unicode (it has a lone surrogate)')
    }
    if (typeof user === 'string' || typeof user === 'number') return user
    throw storeError('ERR_INVALID_USER', 'user must be a non-empty string or a finite number')
  },
  /** A lock token as lock() resolved it. */
  token(token) {
    if (typeof token === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(token)) return token
    throw invalidArgument('token must be the string lock() resolved')
  },
  /** Any JSON value (lock's verificationValue), as its JSON text. */
  json(value) {
    const json = value === undefined ? undefined : JSON.stringify(value)
    if (typeof json !== 'string') throw invalidArgument('verificationValue must be a JSON value')
    return json
  },
  // The command line's arguments, passed as they are.
  text: (value) => value,
  count: (value) => value,
  flag: (value) => value,
  keys: (value) => value,
}

/** Each answer kind: what the method resolves from the core's answer (a session read's end, version and exactness too). */
const ANSWERS = {
  nothing: () => undefined,
  value: (value) => value,
  session: foundSession,
  expiry: touched,
  sessions: withIds,
  userSessions: (sessions) => sessions.map(listedSession),
  /** DescribeTable's JSON, with its times as Dates as the JS SDK hands them out. */
  table: (json) => withDates(JSON.parse(json)),
}

/** The methods written by hand, for their arguments are a whole session: lib/store.js. */
const HANDWRITTEN = new Set(['set', 'touch'])

const optional = (kind) => kind.endsWith('?')
const checkOf = (kind) => ARGUMENTS[kind.replace(/\?$/, '')]

/** One method's arguments as given (a callback last, or in the place of optional ones): [checks to run, callback]. */
function split(op, given) {
  const args = [...given]
  let callback
  if (typeof args[op.args.length] === 'function') callback = args[op.args.length]
  else {
    const last = args.length - 1
    if (last >= 0 && last < op.args.length && typeof args[last] === 'function' && op.args.slice(last).every(optional))
      callback = args.pop()
  }
  return [args.slice(0, op.args.length), callback]
}

/** The core's arguments for `op`, each checked by its kind (an optional one left out stays undefined). */
function checked(op, args) {
  return op.args.map((kind, at) => (optional(kind) && args[at] == null ? undefined : checkOf(kind)(args[at])))
}

/**
 * Adds a method to `prototype` for each of the table's store calls (the command line's `admin`
 * calls aside, and the hand-written ones); each runs `start(op, args, callback)`, the store's way
 * to run one call with its answer shaped.
 */
function installOperations(prototype, table, start) {
  for (const op of table) {
    if (op.admin || HANDWRITTEN.has(op.method)) continue
    const method = {
      [op.method](...given) {
        const [args, callback] = split(op, given)
        return start.call(this, op, args, callback)
      },
    }[op.method]
    Object.defineProperty(prototype, op.method, { value: method, writable: true, configurable: true })
  }
}

/** The command line's calls of one store, by name: `start(op, args)`. */
function adminOperations(table, start) {
  return Object.fromEntries(table.filter((op) => op.admin).map((op) => [op.method, (...args) => start(op, args)]))
}

/** Whether every kind in the table is known here (a test holds the two sides to each other). */
function unknownKinds(table) {
  const args = table.flatMap((op) => op.args.filter((kind) => !checkOf(kind) && !HANDWRITTEN.has(op.method)))
  const answers = table.map((op) => op.answer).filter((kind) => !ANSWERS[kind])
  return [...new Set([...args, ...answers])]
}

module.exports = { ARGUMENTS, ANSWERS, HANDWRITTEN, installOperations, adminOperations, checked, unknownKinds }
