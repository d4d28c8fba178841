'use strict'

const crypto = require('node:crypto')
const { newStore, rawClient, rawItem, putRaw, cookieSession } = require('./helpers')

const raw = rawClient()
afterAll(() => raw.destroy())

const key = () => crypto.randomBytes(32).toString('base64')
const secretSession = () => cookieSession({ refresh_token: 'rt-very-secret', user: 'ann' })

describe('encryption', () => {
  test('the payload at rest is AES-GCM ciphertext; the store reads it back', async () => {
    const store = newStore({ encryption: { keys: { k1: key() }, primaryKeyId: 'k1' } })
    await store.set('e1', secretSession())
    const item = await rawItem(raw, store.table, 'sess:e1')
    expect(item.sess.B).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(item.sess.B).toString('latin1')).not.toMatch(/rt-very-secret|ann|cookie/)
    expect(await store.get('e1')).toMatchObject({ refresh_token: 'rt-very-secret', user: 'ann' })
    await store.close()
  })

  test('key rotation: old items stay readable, new writes use the new primary key', async () => {
    const [k1, k2] = [key(), key()]
    const before = newStore({ encryption: { keys: { k1 }, primaryKeyId: 'k1' } })
    await before.set('e2', secretSession())
    const after = newStore({ table: before.table, encryption: { keys: { k1, k2 }, primaryKeyId: 'k2' } })
    expect(await after.get('e2')).toMatchObject({ user: 'ann' })
    await after.set('e3', secretSession())
    const header = Buffer.from((await rawItem(raw, after.table, 'sess:e3')).sess.B).subarray(1, 4)
    expect(header.toString('latin1')).toBe('\x02k2')
    await Promise.all([before.close(), after.close()])
  })

  test('a wrong or missing key is a clear ERR_DECRYPT, never garbage or a crash', async () => {
    const store = newStore({ encryption: { keys: { k1: key() }, primaryKeyId: 'k1' } })
    await store.set('e4', secretSession())
    const wrong = newStore({ table: store.table, encryption: { keys: { k1: key() }, primaryKeyId: 'k1' } })
    await expect(wrong.get('e4')).rejects.toMatchObject({
      code: 'ERR_DECRYPT',
      message: expect.stringMatching(/authenticate/),
    })
    const unknown = newStore({ table: store.table, encryption: { keys: { k9: key() }, primaryKeyId: 'k9' } })
    await expect(unknown.get('e4')).rejects.toMatchObject({
      code: 'ERR_DECRYPT',
      message: expect.stringMatching(/"k1"/),
    })
    const none = newStore({ table: store.table })
    await expect(none.get('e4')).rejects.toMatchObject({ code: 'ERR_DECRYPT' })
    await Promise.all([store.close(), wrong.close(), unknown.close(), none.close()])
  })

  test('a ciphertext copied to another session does not open there', async () => {
    const store = newStore({ encryption: { keys: { k1: key() }, primaryKeyId: 'k1' } })
    await store.set('victim', cookieSession({ user: 'admin' }))
    await store.set('attacker', cookieSession({ user: 'mallory' }))
    const stolen = await rawItem(raw, store.table, 'sess:victim')
    await putRaw(raw, store.table, { ...stolen, id: { S: 'sess:attacker' } })
    await expect(store.get('attacker')).rejects.toMatchObject({ code: 'ERR_DECRYPT' })
    await store.close()
  })

  test('a plain or only-deflated session planted in the table is refused, never served', async () => {
    const store = newStore({ encryption: { keys: { k1: key() }, primaryKeyId: 'k1' } })
    await store.initialize()
    const future = { N: String(Math.floor(Date.now() / 1000) + 3600) }
    await putRaw(raw, store.table, {
      id: { S: 'sess:forged' },
      expires: future,
      sess: { S: '{"cookie":{},"role":"admin"}' },
    })
    await expect(store.get('forged')).rejects.toMatchObject({
      code: 'ERR_SESSION_UNSEALED',
      message: expect.stringMatching(/acceptUnsealed/),
    })
    const deflating = newStore({ table: store.table, compress: { minBytes: 0 } })
    await deflating.set('deflated', cookieSession({ role: 'admin', pad: 'ab'.repeat(800) }))
    expect((await rawItem(raw, store.table, 'sess:deflated')).sess.B[0]).toBe(1)
    await expect(store.get('deflated')).rejects.toMatchObject({ code: 'ERR_SESSION_UNSEALED' })
    expect(store.getParsedSession({ Item: await rawItem(raw, store.table, 'sess:forged') })).toBeNull()
    await store.set('sealed', secretSession())
    expect((await store.all()).map((s) => s.id)).toEqual(['sealed'])
    await Promise.all([store.close(), deflating.close()])
  })

  test('encryption.acceptUnsealed serves older plain sessions while they expire, warns once, and seals each one it reads', async () => {
    const plain = newStore()
    await plain.set('old1', cookieSession({ user: 'ann' }))
    await plain.set('old2', cookieSession({ user: 'bob' }))
    const logs = []
    const keys = { k1: key() }
    const store = newStore({
      table: plain.table,
      log: (m) => logs.push(m),
      encryption: { keys, primaryKeyId: 'k1', acceptUnsealed: true },
    })
    expect(await store.get('old1')).toMatchObject({ user: 'ann' })
    expect(await store.get('old2')).toMatchObject({ user: 'bob' })
    expect(logs.filter((m) => m.startsWith('warn: ') && m.includes('acceptUnsealed'))).toHaveLength(1)
    // Read once, each is sealed in place: a session kept alive by touches alone leaves its plaintext too.
    for (const sid of ['old1', 'old2']) {
      const { sess } = await rawItem(raw, store.table, `sess:${sid}`)
      expect(Buffer.from(sess.B).toString('latin1')).not.toMatch(/ann|bob/)
    }
    const sealedOnly = newStore({ table: plain.table, encryption: { keys, primaryKeyId: 'k1' } })
    expect(await sealedOnly.get('old2')).toMatchObject({ user: 'bob' })
    await sealedOnly.close()
    expect(() => newStore({ encryption: { keys: { k1: key() }, primaryKeyId: 'k1', acceptUnsealed: 'yes' } })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining('"encryption.acceptUnsealed"'),
      }),
    )
    await Promise.all([plain.close(), store.close()])
  })

  test('a sealed session whose expires was removed is refused: its lifetime cannot be lifted', async () => {
    const store = newStore({ encryption: { keys: { k1: key() }, primaryKeyId: 'k1' } })
    await store.set('e5', secretSession())
    const { expires, ...immortal } = await rawItem(raw, store.table, 'sess:e5')
    expect(expires.N).toBeDefined()
    await putRaw(raw, store.table, immortal)
    await expect(store.get('e5')).rejects.toMatchObject({
      code: 'ERR_SESSION_CORRUPT',
      message: expect.stringMatching(/expires/),
    })
    await store.close()
  })

  test.each([
    [{ keys: { k1: 'short' }, primaryKeyId: 'k1' }, 'encryption.keys.k1'],
    [{ keys: { k1: Buffer.alloc(32, 1).toString('base64') }, primaryKeyId: 'k2' }, 'encryption.primaryKeyId'],
    [{ keys: [], primaryKeyId: 'k1' }, 'encryption.keys'],
    ['on', 'encryption'],
  ])('%j is refused, naming %s', (encryption, name) => {
    expect(() => newStore({ encryption })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(`"${name}"`) }),
    )
  })
})

describe('hashIds', () => {
  const hashIds = { secret: 'a secret of at least sixteen bytes' }

  test('the table holds a keyed hash of the sid, never the sid itself', async () => {
    const store = newStore({ hashIds })
    await store.set('cookie-sid-1', secretSession())
    const expected = crypto.createHmac('sha256', hashIds.secret).update('cookie-sid-1').digest('base64url')
    expect(await rawItem(raw, store.table, 'sess:cookie-sid-1')).toBeUndefined()
    expect(await rawItem(raw, store.table, `sess:${expected}`)).toBeDefined()
    expect(await store.get('cookie-sid-1')).toMatchObject({ user: 'ann' })
    expect(await store.touch('cookie-sid-1', secretSession())).not.toBeNull()
    expect(await store.length()).toBe(1)
    await store.destroy('cookie-sid-1')
    expect(await store.get('cookie-sid-1')).toBeNull()
    await store.close()
  })

  test('all() and ids() cannot return sids, and say so', async () => {
    const store = newStore({ hashIds })
    await expect(store.ids()).rejects.toMatchObject({ code: 'ERR_HASHED_IDS' })
    await expect(store.all()).rejects.toMatchObject({ code: 'ERR_HASHED_IDS' })
    await store.close()
  })

  test('debug messages name sessions by their hash, never by the sid', async () => {
    const logs = []
    const store = newStore({ hashIds, log: (m) => logs.push(m) })
    const plainLogs = []
    const plain = newStore({ log: (m) => plainLogs.push(m) })
    for (const s of [store, plain]) {
      await s.set('cookie-sid-2', secretSession())
      await s.destroy('cookie-sid-2')
      // A save racing the destroy: the store drops it and says so at debug level.
      await s.set('cookie-sid-2', secretSession())
    }
    const hash = crypto.createHmac('sha256', hashIds.secret).update('cookie-sid-2').digest('base64url')
    expect(logs.some((m) => m.startsWith('debug: ') && m.includes(hash))).toBe(true)
    expect(logs.filter((m) => m.includes('cookie-sid-2'))).toEqual([])
    // Without hashIds the same message names the sid (of a destroyed session), as documented.
    expect(plainLogs.some((m) => m.startsWith('debug: ') && m.includes('cookie-sid-2'))).toBe(true)
    await Promise.all([store.close(), plain.close()])
  })

  test('a short secret is refused', () => {
    expect(() => newStore({ hashIds: { secret: 'short' } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
  })
})
