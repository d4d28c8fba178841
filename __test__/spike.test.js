'use strict'

// The sans-IO spike that bench/spike.js measures (issue 13): the core builds
// get's signed request as bytes, Node's sockets carry them, the core reads the
// reply. The numbers mean something only if this path finds what get finds.

const { NativeStore } = require('../native.js')
const { RawHttp } = require('../bench/raw-http')
const { newStore, connection, endpoint, cookieSession } = require('./helpers')

const send = (raw, bytes) => new Promise((resolve, reject) => raw.send(bytes, (err, status, body) => (err ? reject(err) : resolve({ status, body }))))

describe('sans-IO get (spike)', () => {
  const store = newStore()
  const native = new NativeStore({ table: store.table, AWSConfigJSON: connection() })
  const url = new URL(endpoint())
  const raw = new RawHttp(url.hostname, Number(url.port))
  afterAll(() => {
    raw.close()
    return store.close()
  })

  test('has no request before the store is connected and its table is known', () => {
    expect(native.spikeGetRequest('s1')).toBeNull()
  })

  test('finds what get finds, from bytes sent on a Node socket', async () => {
    await store.set('s1', cookieSession({ user: 'ann', pad: 'é'.repeat(300) }))
    await native.get('warm-up')
    const bytes = native.spikeGetRequest('s1')
    const head = bytes.toString('latin1', 0, bytes.indexOf('\r\n\r\n'))
    expect(head).toMatch(/^POST \/ HTTP\/1\.1\r\n/)
    expect(head).toContain('x-amz-target: DynamoDB_20120810.GetItem')
    expect(head).toMatch(/authorization: AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/dynamodb\/aws4_request/)
    const { status, body } = await send(raw, bytes)
    expect(status).toBe(200)
    const found = native.spikeGetReply('s1', status, body)
    expect(JSON.parse(found.sess)).toEqual(JSON.parse(JSON.stringify(await store.get('s1'))))
    expect(found.expires).toBeGreaterThan(Date.now() / 1000)
  })

  test('a missing session is null; an error reply and a bad sid are errors with codes, not crashes', async () => {
    const { status, body } = await send(raw, native.spikeGetRequest('nobody'))
    expect(native.spikeGetReply('nobody', status, body)).toBeNull()
    const refused = Buffer.from('{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}')
    expect(() => native.spikeGetReply('s1', 400, refused)).toThrow(/ResourceNotFoundException/)
    expect(() => native.spikeGetReply('s1', 200, Buffer.from('not json'))).toThrow(/ERR_INVALID_RESPONSE/)
    expect(() => native.spikeGetRequest('~lock~s1')).toThrow(/ERR_INVALID_ARGUMENT/)
  })
})
