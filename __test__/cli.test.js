'use strict'

// The command line against DynamoDB Local: each command's report and JSON,
// its exit codes, migrate's interruption and resume, the read budget, and
// bad input answered with one line, never a stack trace.

const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const { execFile, spawn } = require('node:child_process')
const { promisify } = require('node:util')
const AWS = require('aws-sdk')
const connectDynamodbSession = require('connect-dynamodb-session')
const { CreateTableCommand, UpdateTimeToLiveCommand } = require('@aws-sdk/client-dynamodb')
const { session, newStore, rawClient, putRaw, endpoint, uniqueTable, cookieSession, nowSeconds } = require('./helpers')

const root = path.join(__dirname, '..')
const cli = path.join(root, 'cli.js')
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
}

/** Runs the CLI; resolves { code, stdout, stderr, json }. */
function run(args, extraEnv = {}) {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...env, ...extraEnv }, timeout: 120_000 },
      (err, stdout, stderr) => {
        let json
        try {
          json = JSON.parse(stdout)
        } catch {
          json = undefined
        }
        resolve({ code: err ? err.code : 0, stdout, stderr, json })
      },
    ),
  )
}
const at = (table, ...more) => ['--table', table, '--endpoint', endpoint(), ...more]
const noStackTrace = (text) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/)

const raw = rawClient()
afterAll(() => raw.destroy())

describe('init', () => {
  test('creates the table as the store would (TTL, user index) and waits for it; a second run finds it', async () => {
    const table = uniqueTable('cli-init')
    const first = await run([
      'init',
      ...at(table, '--user-path', 'passport.user', '--billing-mode', 'PAY_PER_REQUEST', '--json'),
    ])
    expect(first.code).toBe(0)
    expect(first.json).toEqual({
      table,
      created: true,
      status: 'ACTIVE',
      billingMode: 'PAY_PER_REQUEST',
      ttl: { status: 'ENABLED', attribute: 'expires' },
      userIndex: 'ACTIVE',
    })
    const second = await run(['init', ...at(table)])
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/^Found table .+: ACTIVE, PAY_PER_REQUEST\nTTL: ENABLED on "expires"/)
  })

  test('--print writes the same table as CloudFormation, Terraform or CDK, creating nothing', async () => {
    const table = uniqueTable('cli-print')
    const cfn = await run(['init', ...at(table, '--user-path', 'user', '--print', 'cloudformation')])
    expect(cfn.code).toBe(0)
    expect(cfn.stdout).toContain(`TableName: ${table}`)
    expect(cfn.stdout).toContain('AttributeName: expires')
    expect(cfn.stdout).toContain('IndexName: user-id-index')
    const tf = await run(['init', ...at(table, '--billing-mode', 'PAY_PER_REQUEST', '--print', 'terraform')])
    expect(tf.stdout).toMatch(
      /resource "aws_dynamodb_table" "[\w]+" \{[\s\S]*billing_mode = "PAY_PER_REQUEST"[\s\S]*attribute_name = "expires"/,
    )
    expect(tf.stdout).not.toContain('read_capacity')
    const cdk = await run(['init', ...at(table, '--format', 'connect-dynamodb-session', '--print', 'cdk')])
    expect(cdk.stdout).toContain("timeToLiveAttribute: 'ttl'")
    const doctor = await run(['doctor', ...at(table)])
    expect(doctor.code).toBe(1)
    expect(doctor.stderr).toContain(`table "${table}" does not exist`)
  })
})

/** A table with one of everything doctor, stats and reap look at. */
async function seeded({ ttl = true } = {}) {
  const table = uniqueTable('cli-seed')
  expect((await run(['init', ...at(table, '--user-path', 'user')])).code).toBe(0)
  if (!ttl)
    await raw.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'expires', Enabled: false },
      }),
    )
  const store = newStore({ table, userPath: 'user' })
  for (let i = 0; i < 12; i++)
    await store.set(`live-${i}`, cookieSession({ user: i % 3 ? 'ann' : 'bob', pad: 'x'.repeat(i * 150) }))
  await store.set('doomed', cookieSession({ user: 'ann' }))
  await store.destroy('doomed')
  await store.close()
  const past = String(nowSeconds() - 3600)
  await putRaw(raw, table, {
    id: { S: 'sess:expired-1' },
    expires: { N: past },
    type: { S: 'connect-session' },
    sess: { S: '{"cookie":{}}' },
  })
  await putRaw(raw, table, { id: { S: 'sess:stub' }, expires: { N: String(nowSeconds() + 3600) } })
  await putRaw(raw, table, {
    id: { S: 'sess:garbled' },
    expires: { N: String(nowSeconds() + 3600) },
    sess: { B: Buffer.from([0x7f, 1, 2]) },
  })
  await putRaw(raw, table, {
    id: { S: 'old-layout-sid' },
    expires: { N: String(Date.now() + 3_600_000) },
    content: { S: '{"cookie":{},"n":1}' },
  })
  return table
}

describe('doctor', () => {
  test('a healthy table: every check passes, exit 0', async () => {
    const table = uniqueTable('cli-healthy')
    await run(['init', ...at(table)])
    const result = await run(['doctor', ...at(table, '--json')])
    expect(result.code).toBe(0)
    expect(result.json.problems).toBe(0)
    expect(result.json.checks.map((c) => c.check)).toEqual([
      'table',
      'key schema',
      'TTL',
      'billing mode',
      'permissions',
      'readable sessions',
      'expired sessions',
      'item layout',
    ])
  })

  test('TTL off, damaged and expired items, sessions in the other layout: each found, with a fix; exit 1', async () => {
    const table = await seeded({ ttl: false })
    const result = await run(['doctor', ...at(table, '--user-path', 'user', '--json')])
    expect(result.code).toBe(1)
    const byName = Object.fromEntries(result.json.checks.map((c) => [c.check, c]))
    expect(byName.TTL).toMatchObject({ ok: false, fix: expect.stringContaining('update-time-to-live') })
    expect(byName['readable sessions']).toMatchObject({
      ok: false,
      finding: expect.stringMatching(/2 of \d+ sampled items cannot be read: .*sess:stub/),
    })
    expect(byName['expired sessions']).toMatchObject({ ok: false })
    expect(byName['item layout']).toMatchObject({
      ok: false,
      fix: expect.stringContaining('migrate --from connect-dynamodb-session'),
    })
    expect(byName['user index']).toMatchObject({ ok: true })
    const human = await run(['doctor', ...at(table, '--user-path', 'user')])
    expect(human.stdout).toMatch(/^FIX {2}TTL/m)
    expect(human.stdout).toMatch(/problems found\.\n$/)
  })

  test('a table with another key schema is named as such', async () => {
    const table = uniqueTable('cli-keys')
    await raw.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    const doctor = await run(['doctor', ...at(table, '--json')])
    expect(doctor.code).toBe(1)
    expect(doctor.json.checks.find((c) => c.check === 'key schema').finding).toMatch(/hash key is "pk".*range key "sk"/)
    const stats = await run(['stats', ...at(table)])
    expect(stats.code).toBe(1)
    expect(stats.stderr).toMatch(
      /^connect-dynamodb-rs: table ".+" is not a session table of these options: its hash key is "pk"/,
    )
    noStackTrace(stats.stderr)
  })
})

describe('stats', () => {
  test('counts, sizes, users and the capacity estimate, as a report and as JSON', async () => {
    const table = await seeded()
    const result = await run(['stats', ...at(table, '--user-path', 'user', '--json')])
    expect(result.code).toBe(0)
    const r = result.json
    expect(r.live).toBe(12)
    expect(r.expired).toBe(1)
    expect(r.destroyed).toBe(1)
    expect(r.other).toMatchObject({ damaged: 2, 'other-format': 1 })
    expect(r.sizes.histogram.reduce((n, b) => n + b.sessions, 0)).toBe(12)
    expect(r.sizes.largest[0].key).toBe('sess:live-11')
    expect(r.users.top).toEqual([
      { user: 'ann', sessions: 8 },
      { user: 'bob', sessions: 4 },
    ])
    const e = r.perThousandRequests
    expect(e.touchAfter.wcu).toBeLessThan(e.plain.wcu)
    expect(e.touchAfterAndCompress.wcu).toBeLessThanOrEqual(e.touchAfter.wcu)
    const human = await run(['stats', ...at(table, '--user-path', 'user')])
    expect(human.stdout).toMatch(/12 live sessions, 1 expired, 1 destroyed/)
    expect(human.stdout).toContain('█')
    expect(human.stdout).toMatch(/touchAfter \+ compress: +\d+ RCU, [\d.]+ WCU/)
  })

  test('--max-rcu holds: the scan reads no faster than the budget', async () => {
    const table = uniqueTable('cli-budget')
    await run(['init', ...at(table)])
    const store = newStore({ table })
    const big = cookieSession({ pad: 'y'.repeat(3000) })
    await Promise.all(Array.from({ length: 60 }, (_, i) => store.set(`b-${i}`, big)))
    await store.close()
    const started = Date.now()
    const result = await run(['stats', ...at(table, '--max-rcu', '40', '--json')])
    const seconds = (Date.now() - started) / 1000
    expect(result.code).toBe(0)
    expect(result.json.read.units).toBeGreaterThan(20)
    // The budget's floor on time: what was read, at the rate allowed (less one page read up front).
    expect(seconds).toBeGreaterThanOrEqual((result.json.read.units - 40) / 40)
    expect(result.json.read.unitsPerSecond).toBeLessThanOrEqual(40 * 1.25)
  })
})

describe('reap', () => {
  test('deletes expired sessions and old tombstones once; --dry-run only counts', async () => {
    const table = await seeded()
    await putRaw(raw, table, {
      id: { S: 'sess:old-tomb' },
      expires: { N: String(nowSeconds() - 10) },
      destroyed: { N: String(nowSeconds() - 400) },
    })
    const dry = await run(['reap', ...at(table, '--dry-run', '--json')])
    expect(dry.json).toMatchObject({ dryRun: true, deleted: 0, expired: 1, destroyed: 1 })
    const real = await run(['reap', ...at(table, '--json')])
    expect(real.code).toBe(0)
    expect(real.json).toMatchObject({ deleted: 2, expired: 1, destroyed: 1 })
    const after = await run(['stats', ...at(table, '--json')])
    expect(after.json.expired).toBe(0)
    expect(after.json.destroyed).toBe(1) // the fresh tombstone's guard still runs
    expect(after.json.live).toBe(12)
  })
})

describe('migrate --from connect-dynamodb-session', () => {
  const v2 = new AWS.DynamoDB({
    endpoint: endpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  })
  const TheirStore = connectDynamodbSession(session)

  /** A table written by the real connect-dynamodb-session, with `count` sessions. */
  async function theirTable(count) {
    const tableName = uniqueTable('cli-cds')
    expect((await run(['init', ...at(tableName, '--format', 'connect-dynamodb-session')])).code).toBe(0)
    const theirs = new TheirStore({ tableName, awsClient: v2, cleanupInterval: 0, touchAfter: 0 })
    const set = promisify(theirs.set.bind(theirs))
    for (let i = 0; i < count; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, count - i) }, (_, j) =>
          set(`s${i + j}`, cookieSession({ n: i + j }, 3_600_000)),
        ),
      )
    }
    return tableName
  }

  test('--dry-run reports what would move; a run moves every session, readable in the new layout, none logged out', async () => {
    const table = await theirTable(25)
    const dry = await run(['migrate', ...at(table, '--from', 'connect-dynamodb-session', '--dry-run', '--json')])
    expect(dry.json).toMatchObject({ dryRun: true, wouldMove: 25, scanned: 25 })
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-migrate-'))
    const state = path.join(stateDir, 'state.json')
    const moved = await run(['migrate', ...at(table, '--from', 'connect-dynamodb-session', '--state', state, '--json')])
    expect(moved.code).toBe(0)
    expect(moved.json).toMatchObject({ done: true, moved: 25 })
    expect(fs.existsSync(state)).toBe(false)
    const store = newStore({ table })
    for (let i = 0; i < 25; i++) expect((await store.get(`s${i}`)).n).toBe(i)
    await store.close()
    const stats = await run(['stats', ...at(table, '--json')])
    expect(stats.json).toMatchObject({ live: 25, other: {} })
  })

  test('an interrupted run keeps its place, and the next one finishes the job', async () => {
    const table = await theirTable(60)
    const state = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-migrate-')), 'state.json')
    const child = spawn(
      process.execPath,
      [
        cli,
        'migrate',
        ...at(
          table,
          '--from',
          'connect-dynamodb-session',
          '--state',
          state,
          '--page-size',
          '5',
          '--max-wcu',
          '15',
          '--progress',
        ),
      ],
      { env },
    )
    let stderr = ''
    let stdout = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    await new Promise((resolve) =>
      child.stderr.on('data', (chunk) => {
        stderr += chunk
        if (/migrating .*\b(1[0-9]|[2-9]\d)\/60 items/.test(stderr)) resolve()
      }),
    )
    child.kill('SIGINT')
    const code = await new Promise((resolve) => child.on('exit', resolve))
    expect(code).toBe(130)
    expect(stdout).toMatch(/^Interrupted: \d+ sessions moved/)
    const kept = JSON.parse(fs.readFileSync(state, 'utf8'))
    expect(kept.moved).toBeGreaterThan(0)
    expect(kept.moved).toBeLessThan(60)
    const rest = await run(['migrate', ...at(table, '--from', 'connect-dynamodb-session', '--state', state, '--json')])
    // The counts run on from where the interrupted run left them.
    expect(rest.json).toMatchObject({ done: true, moved: 60 })
    const stats = await run(['stats', ...at(table, '--json')])
    expect(stats.json.live).toBe(60)
  })
})

describe('bad input', () => {
  test('an unknown flag or command, or a bad value: one line of what is wrong, the usage, exit 2', async () => {
    for (const args of [
      ['stats', '--tabel', 'x'],
      ['frobnicate'],
      ['init', '--print', 'pulumi', '--table', 'x-y-z'],
      ['stats', '--max-rcu', 'lots'],
      ['migrate', '--from', 'redis'],
    ]) {
      const result = await run(args)
      expect({ args, code: result.code }).toEqual({ args, code: 2 })
      expect(result.stderr).toMatch(/^connect-dynamodb-rs: /)
      noStackTrace(result.stderr)
    }
    expect((await run(['--help'])).stdout).toMatch(/^Usage: npx connect-dynamodb-rs <command>/)
  })

  test('no credentials: one clear message, exit 1', async () => {
    const result = await run(['doctor', ...at(uniqueTable('cli-nocreds'))], {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: 'no-such-profile-here',
      AWS_CONFIG_FILE: path.join(os.tmpdir(), 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(os.tmpdir(), 'none'),
    })
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/credentials|profile/i)
    noStackTrace(result.stderr)
  })
})
