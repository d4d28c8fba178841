'use strict'

// What every command shares: the store made from the flags (the same options
// the store takes), a capacity budget for rate limits, a progress bar, the
// table's description, and errors that end a command with one clear line.

const connectDynamoDB = require('../../index')

// Over express-session's Store when it is installed, else a plain EventEmitter: the tools need neither.
const { DynamoDBStore } = connectDynamoDB

/** A failure the command reports as one line and exit code 1 (2 for a usage error). */
class CliError extends Error {
  constructor(message, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

/** The store options the connection and layout flags give. */
function storeOptions(flags, extra = {}) {
  if (flags.profile) process.env.AWS_PROFILE = flags.profile
  process.env.AWS_EC2_METADATA_DISABLED = process.env.AWS_EC2_METADATA_DISABLED || 'true'
  const options = {
    table: flags.table,
    circuitBreaker: false,
    timeout: 10_000,
    ...extra,
  }
  const set = (name, value) => {
    if (value !== undefined) options[name] = value
  }
  set('prefix', flags.prefix)
  set('hashKey', flags['hash-key'])
  set('format', flags.format)
  set('userPath', flags['user-path'])
  set('userIndex', flags['user-index'])
  set('rangeKey', flags['range-key'])
  set('billingMode', flags['billing-mode'])
  set('readCapacityUnits', number(flags, 'read-capacity'))
  set('writeCapacityUnits', number(flags, 'write-capacity'))
  if (flags.region || flags.endpoint) options.AWSConfigJSON = { region: flags.region, endpoint: flags.endpoint }
  return options
}

/** A store for the flags; a bad flag value is the store's own ERR_INVALID_OPTION, as a usage error. */
function openStore(flags, extra) {
  try {
    return new DynamoDBStore(storeOptions(flags, extra))
  } catch (err) {
    throw new CliError(err.message, 2)
  }
}

/** A numeric flag, or undefined; anything else is a usage error. */
function number(flags, name, { min = 0 } = {}) {
  if (flags[name] === undefined) return undefined
  const value = Number(flags[name])
  if (!Number.isFinite(value) || value < min)
    throw new CliError(`--${name} must be a number >= ${min}, not "${flags[name]}"`, 2)
  return value
}

/** DescribeTable's `Table`, or a clear error when the table is missing or unreachable. */
async function describeTable(store) {
  try {
    return (await store.describeSessionsTable()).Table
  } catch (err) {
    if (err.code === 'ResourceNotFoundException') {
      throw new CliError(
        `table "${store.table}" does not exist (create it with: npx connect-dynamodb-rs init --table ${store.table})`,
      )
    }
    throw err
  }
}

/** A store for the flags and its table, refused unless the table's key is the store's. */
async function openSessionTable(flags) {
  const store = openStore(flags)
  try {
    const table = await describeTable(store)
    const problems = checkKeySchema(table, store)
    if (problems.length)
      throw new CliError(`table "${store.table}" is not a session table of these options: ${problems.join('; ')}`)
    return { store, admin: store[ADMIN](), table }
  } catch (err) {
    await store.close()
    throw err
  }
}

/** The table's key must be the store's: a single string hash key named as the store names it. */
function checkKeySchema(table, store) {
  const hash = table.KeySchema.find((key) => key.KeyType === 'HASH')
  const range = table.KeySchema.find((key) => key.KeyType === 'RANGE')
  const type = (table.AttributeDefinitions.find((a) => a.AttributeName === hash.AttributeName) || {}).AttributeType
  const problems = []
  if (hash.AttributeName !== store.hashKey)
    problems.push(`its hash key is "${hash.AttributeName}", the store's is "${store.hashKey}" (--hash-key)`)
  if (type !== 'S') problems.push(`its hash key is of type ${type}, the store writes strings (S)`)
  if (range) problems.push(`it has a range key "${range.AttributeName}", the store's items have only a hash key`)
  return problems
}

/**
 * Spending capacity no faster than `perSecond` units: after each call, `spend(units)` waits as
 * long as the units spent so far need at that rate. Infinity spends freely.
 */
class Budget {
  constructor(perSecond) {
    this.perSecond = perSecond
    this.spent = 0
    this.started = Date.now()
  }

  async spend(units) {
    this.spent += units
    if (!Number.isFinite(this.perSecond)) return
    const due = this.started + (this.spent / this.perSecond) * 1000
    const wait = due - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }

  /** The rate so far, in units per second. */
  rate() {
    const seconds = (Date.now() - this.started) / 1000
    return seconds > 0 ? this.spent / seconds : 0
  }
}

/** A one-line progress bar on stderr (when it is a terminal, or with --progress): done, rate, time left. */
class Progress {
  constructor(label, { total, enabled, stream = process.stderr }) {
    this.label = label
    this.total = total
    this.enabled = enabled
    this.stream = stream
    this.done = 0
    this.started = Date.now()
    this.drawn = 0
  }

  tick(n = 1, note = '') {
    this.done += n
    this.note = note
    if (this.enabled && Date.now() - this.drawn >= 100) this.draw()
  }

  draw(final = false) {
    this.drawn = Date.now()
    const seconds = Math.max((this.drawn - this.started) / 1000, 0.001)
    const rate = this.done / seconds
    const width = 24
    let bar = ''
    let left = ''
    if (this.total > 0) {
      const share = Math.min(this.done / this.total, 1)
      bar = `[${'#'.repeat(Math.round(share * width)).padEnd(width, '.')}] `
      const remaining = rate > 0 ? Math.max(this.total - this.done, 0) / rate : 0
      left = final ? `, ${clock(seconds)}` : `, ${clock(remaining)} left`
    } else if (!final) {
      left = `, ${clock(seconds)}`
    }
    const line = `${this.label} ${bar}${this.done}${this.total > 0 ? `/${this.total}` : ''} items, ${Math.round(rate)}/s${left}${this.note ? `, ${this.note}` : ''}`
    this.stream.write(this.stream.isTTY ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`)
  }

  finish() {
    if (this.enabled) this.draw(true)
  }
}

/** A wait for something to happen (a table or index to become ACTIVE), shown like a progress bar. */
async function waiting(label, enabled, promise) {
  const started = Date.now()
  const timer = enabled
    ? setInterval(
        () =>
          process.stderr.write(
            `${process.stderr.isTTY ? '\r' : ''}${label}: ${clock((Date.now() - started) / 1000)}${process.stderr.isTTY ? '\x1b[K' : '\n'}`,
          ),
        500,
      )
    : null
  try {
    return await promise
  } finally {
    if (timer) {
      clearInterval(timer)
      process.stderr.write(
        `${process.stderr.isTTY ? '\r' : ''}${label}: done in ${clock((Date.now() - started) / 1000)}${process.stderr.isTTY ? '\x1b[K\n' : '\n'}`,
      )
    }
  }
}

function clock(seconds) {
  const s = Math.round(seconds)
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** Every page of the table, with the capacity budget and progress applied; `onPage(items)` per page. */
async function scanTable(
  admin,
  { budget, progress, limit = 100, start, measure = false, onPage, stopped = () => false },
) {
  let next = start
  do {
    const page = await admin.scanPage(next, limit, measure)
    await onPage(page.items, page.next)
    progress.tick(page.items.length)
    await budget.spend(page.readUnits)
    next = page.next
  } while (next && !stopped())
  return next
}

function kib(bytes) {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(bytes >= 10240 ? 0 : 1)} KB` : `${bytes} B`
}

const { ADMIN } = connectDynamoDB

module.exports = {
  ADMIN,
  CliError,
  openStore,
  openSessionTable,
  storeOptions,
  number,
  describeTable,
  checkKeySchema,
  Budget,
  Progress,
  waiting,
  scanTable,
  kib,
}
