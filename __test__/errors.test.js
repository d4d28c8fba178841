'use strict'

const { execFile } = require('node:child_process')
const path = require('node:path')
const { newStore, connection, rawClient, rawItem, cookieSession, DynamoDBStore, uniqueTable } = require('./helpers')

const raw = rawClient()
afterAll(() => raw.destroy())

describe('sessions that cannot be stored', () => {
  const store = newStore({
    specialKeys: [
      { name: 'user', type: 'S' },
      { name: 'age', type: 'N' },
    ],
  })
  beforeAll(() => store.initialize())
  afterAll(() => store.close())

  const circular = () => {
    const sess = cookieSession({ user: 'u', age: 1 })
    sess.self = sess
    return sess
  }

  test.each([
    ['circular', circular, 'ERR_SESSION_NOT_SERIALIZABLE'],
    ['BigInt', () => cookieSession({ user: 'u', age: 1, big: 10n }), 'ERR_SESSION_NOT_SERIALIZABLE'],
    [
      'throwing toJSON',
      () => ({
        ...cookieSession({ user: 'u', age: 1 }),
        toJSON() {
          throw new Error('no')
        },
      }),
      'ERR_SESSION_NOT_SERIALIZABLE',
    ],
    ['over 400 KB', () => cookieSession({ user: 'u', age: 1, blob: 'x'.repeat(410_000) }), 'ERR_SESSION_TOO_LARGE'],
    ['missing special key', () => cookieSession({ age: 1 }), 'ERR_MISSING_SPECIAL_KEY'],
    ['mistyped special key', () => cookieSession({ user: 'u', age: 'old' }), 'ERR_INVALID_SPECIAL_KEY'],
    ['not an object', () => 'a string', 'ERR_INVALID_ARGUMENT'],
  ])('%s: rejected with a code, nothing written', async (_, make, code) => {
    const sid = `bad-${code}`
    await expect(store.set(sid, make())).rejects.toMatchObject({ code })
    expect(await rawItem(raw, store.table, `sess:${sid}`)).toBeUndefined()
  })

  test('a 390 KB session is still stored', async () => {
    await store.set('big-ok', cookieSession({ user: 'u', age: 1, blob: 'x'.repeat(390_000) }))
    expect((await store.get('big-ok')).blob).toHaveLength(390_000)
  })

  test('special keys are written as top-level attributes', async () => {
    await store.set('special', cookieSession({ user: 'ann', age: 41 }))
    const item = await rawItem(raw, store.table, 'sess:special')
    expect(item.user).toEqual({ S: 'ann' })
    expect(item.age).toEqual({ N: '41' })
  })

  test('skipThrowMissingSpecialKeys: true stores without the missing key', async () => {
    const lenient = newStore({
      table: store.table,
      specialKeys: [{ name: 'user', type: 'S' }],
      skipThrowMissingSpecialKeys: true,
    })
    await lenient.set('lenient', cookieSession({ n: 1 }))
    const item = await rawItem(raw, store.table, 'sess:lenient')
    expect(item.user).toBeUndefined()
    expect(JSON.parse(item.sess.S).n).toBe(1)
    await lenient.close()
  })
})

describe('bad arguments', () => {
  const store = newStore()
  afterAll(() => store.close())

  test.each([[undefined], [null], [''], [42], [{}]])('sid %p is a TypeError with ERR_INVALID_ARGUMENT', async (sid) => {
    for (const op of [
      () => store.get(sid),
      () => store.set(sid, cookieSession()),
      () => store.touch(sid, cookieSession()),
      () => store.destroy(sid),
    ]) {
      const err = await op().catch((e) => e)
      expect(err).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARGUMENT' })
    }
  })

  test('a sid or user with a lone surrogate is refused: it would share an item with another', async () => {
    for (const sid of ['a\uD800', '\uDC00b', 'x\uDBFFy']) {
      for (const op of [
        () => store.get(sid),
        () => store.set(sid, cookieSession()),
        () => store.touch(sid, cookieSession()),
        () => store.destroy(sid),
      ]) {
        await expect(op()).rejects.toMatchObject({
          code: 'ERR_INVALID_ARGUMENT',
          message: expect.stringContaining('surrogate'),
        })
      }
    }
    const users = newStore({ userPath: 'user' })
    await expect(users.listSessionsForUser('u\uD800')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await users.close()
    // A well-formed pair is fine, and distinct from U+FFFD.
    await store.set('emoji-\uD83D\uDE00', cookieSession({ n: 1 }))
    expect((await store.get('emoji-\uD83D\uDE00')).n).toBe(1)
    expect(await store.get('emoji-\uFFFD')).toBeNull()
  })

  test('a sid too long for a DynamoDB key', async () => {
    await expect(store.get('x'.repeat(3000))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })
})

describe('DynamoDB failures reach the caller', () => {
  test('a missing table with initialized: true is ResourceNotFoundException', async () => {
    const store = newStore({ initialized: true })
    const err = await store.get('a').catch((e) => e)
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ name: 'ResourceNotFoundException', code: 'ResourceNotFoundException' })
    await store.close()
  })

  test('an unreachable endpoint fails with ERR_NETWORK, through the callback too', async () => {
    const store = new DynamoDBStore({
      AWSConfigJSON: { ...connection(), endpoint: 'http://127.0.0.1:1', maxRetries: 0 },
    })
    await expect(store.initialize()).rejects.toMatchObject({ code: 'ERR_NETWORK' })
    const err = await new Promise((resolve) => store.get('a', resolve))
    expect(err.code).toBe('ERR_NETWORK')
    await store.close()
  })

  test('with a callback, a failure does not also reject the returned promise', async () => {
    const store = newStore({ initialized: true })
    let cbErr
    const returned = store.get('a', (err) => {
      cbErr = err
    })
    await expect(returned).resolves.toBeUndefined()
    await new Promise((r) => setImmediate(r))
    expect(cbErr.code).toBe('ResourceNotFoundException')
    await store.close()
  })

  test('callback-only use never crashes the process and calls back once per failure', async () => {
    const fixture = path.join(__dirname, 'fixtures', 'callback-only.js')
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, [fixture], { env: process.env, timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? err.code : 0, stdout, stderr }),
      )
    })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({
      missingSpecialKey: ['ERR_MISSING_SPECIAL_KEY'],
      circular: ['ERR_SESSION_NOT_SERIALIZABLE'],
      bigint: ['ERR_SESSION_NOT_SERIALIZABLE'],
      throwingGetter: ['ERR_SESSION_NOT_SERIALIZABLE'],
      badSid: ['ERR_INVALID_ARGUMENT'],
      unreachableGet: ['ERR_NETWORK'],
      unreachableReap: ['ERR_NETWORK'],
    })
  })
})

describe('bad options', () => {
  const bad = [
    [{ table: 5 }, 'table'],
    [{ table: 'no spaces allowed' }, 'table'],
    [{ hashKey: '' }, 'hashKey'],
    [{ prefix: 1 }, 'prefix'],
    [{ readCapacityUnits: -1 }, 'readCapacityUnits'],
    [{ writeCapacityUnits: 'lots' }, 'writeCapacityUnits'],
    [{ reapInterval: 'often' }, 'reapInterval'],
    [{ initialized: 'yes' }, 'initialized'],
    [{ skipThrowMissingSpecialKeys: 'no' }, 'skipThrowMissingSpecialKeys'],
    [{ specialKeys: [{ name: 'x', type: 'SS' }] }, 'specialKeys'],
    [{ specialKeys: 'user' }, 'specialKeys'],
    [{ AWSConfigJSON: 'eu-west-1' }, 'AWSConfigJSON'],
    [{ AWSConfigJSON: { region: 1 } }, 'AWSConfigJSON.region'],
    [{ AWSConfigJSON: { endpoint: 'localhost:8000' } }, 'AWSConfigJSON.endpoint'],
    [{ AWSConfigJSON: { accessKeyId: 'only-half' } }, 'AWSConfigJSON.accessKeyId'],
    [{ AWSRegion: ['us-east-1'] }, 'AWSRegion'],
    [{ table: () => 'sessions' }, 'table'],
    [{ client: { send: 'not a client' } }, 'client'],
  ]

  test.each(bad)('%p is a synchronous TypeError naming %s', (options, name) => {
    let err
    try {
      new DynamoDBStore(options)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_OPTION' })
    expect(err.message).toContain(`"${name}"`)
  })

  // Each of these names an attribute the store writes itself: the session would be overwritten
  // (hashKey "sess"), every session would share one item (hashKey "type"), or two lock() calls
  // would both succeed (hashKey "owner").
  test.each([
    [{ hashKey: 'type' }, 'hashKey', 'type'],
    [{ hashKey: 'sess' }, 'hashKey', 'sess'],
    [{ hashKey: 'owner' }, 'hashKey', 'owner'],
    [{ hashKey: 'expires' }, 'hashKey', 'expires'],
    [{ userPath: 'u', rangeKey: 'lockedUntil' }, 'rangeKey', 'lockedUntil'],
    [{ userPath: 'u', rangeKey: 'destroyed' }, 'rangeKey', 'destroyed'],
    [{ specialKeys: [{ name: 'version', type: 'N' }] }, 'specialKeys', 'version'],
    [{ specialKeys: [{ name: 'sids', type: 'S' }] }, 'specialKeys', 'sids'],
  ])('%p is refused: %s may not reuse "%s", an attribute the store owns', (options, name, attribute) => {
    expect(() => new DynamoDBStore({ AWSConfigJSON: connection(), ...options })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining(`"${name}" may not be "${attribute}"`),
      }),
    )
  })

  test('credential strings with a line break or a space are refused before they reach the signer', () => {
    for (const bad of [
      { accessKeyId: 'AKIA\nX-Injected: 1', secretAccessKey: 's' },
      { accessKeyId: 'AKIA', secretAccessKey: 'a b' },
    ]) {
      expect(
        () =>
          new DynamoDBStore({
            table: uniqueTable(),
            AWSConfigJSON: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', ...bad },
          }),
      ).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_OPTION',
          message: expect.stringMatching(/AWSConfigJSON\.(accessKeyId|secretAccessKey)/),
        }),
      )
    }
  })

  test('options that are not an object', () => {
    expect(() => new DynamoDBStore('sessions')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }))
  })

  test('an unreadable AWSConfigPath is ERR_AWS_CONFIG_PATH', () => {
    expect(() => new DynamoDBStore({ AWSConfigPath: path.join(__dirname, 'no-such-file.json') })).toThrow(
      expect.objectContaining({ code: 'ERR_AWS_CONFIG_PATH' }),
    )
  })

  test('construction does no I/O, so an unreachable endpoint constructs fine', () => {
    expect(
      () =>
        new DynamoDBStore({ table: uniqueTable(), AWSConfigJSON: { ...connection(), endpoint: 'http://127.0.0.1:1' } }),
    ).not.toThrow()
  })
})
