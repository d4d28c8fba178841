'use strict'

// get, set, touch and destroy are signed by the store itself (not the SDK):
// a server records what arrives, and SigV4 is recomputed here from the AWS
// documentation's recipe, independently of the store's code.

const http = require('node:http')
const crypto = require('node:crypto')
const { DynamoDBStore, uniqueTable, cookieSession } = require('./helpers')

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, sessionToken: 'session-token/+=' }

/** A server that records each request and answers with `answer(request)`: [status, body, headers]. */
async function fakeDynamoDB(answer) {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const request = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(request)
      const [status, body, headers = {}] = answer(request)
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    requests,
    endpoint: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => server.close(r)),
  }
}

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest()
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')

/** The signature AWS would expect for this request, and the scope it was signed for. */
function recompute(request, secret) {
  const auth = request.headers.authorization
  const [, scope, signedHeaders] =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(auth)
  const names = signedHeaders.split(';')
  const canonicalHeaders = names.map((name) => `${name}:${String(request.headers[name]).trim()}\n`).join('')
  const canonical = [request.method, request.url, '', canonicalHeaders, signedHeaders, sha256(request.body)].join('\n')
  const stringToSign = ['AWS4-HMAC-SHA256', request.headers['x-amz-date'], scope, sha256(canonical)].join('\n')
  const [date, region, service] = scope.split('/')
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request')
  return { signature: hmac(key, stringToSign).toString('hex'), scope, names }
}

const signatureOf = (request) => /Signature=([0-9a-f]{64})$/.exec(request.headers.authorization)[1]

const storeOn = (endpoint, options = {}) =>
  new DynamoDBStore({
    table: uniqueTable('signed'),
    initialized: true,
    AWSConfigJSON: { endpoint, region: 'eu-central-1', credentials },
    maxRetries: 0,
    ...options,
  })

test('each session call is a SigV4-signed DynamoDB JSON request that AWS would accept', async () => {
  const fake = await fakeDynamoDB(() => [200, {}])
  const store = storeOn(fake.endpoint)
  await store.get('a')
  await store.set('a', cookieSession({ n: 1 }))
  await store.touch('a', cookieSession({ n: 1 }))
  await store.destroy('a')
  await store.close()
  await fake.close()

  const targets = fake.requests.map((r) => r.headers['x-amz-target'])
  expect(targets).toEqual([
    'DynamoDB_20120810.GetItem',
    'DynamoDB_20120810.PutItem',
    'DynamoDB_20120810.UpdateItem',
    'DynamoDB_20120810.PutItem',
  ])
  for (const request of fake.requests) {
    const { signature, scope, names } = recompute(request, SECRET)
    expect(signatureOf(request)).toBe(signature)
    expect(recompute(request, `${SECRET}x`).signature).not.toBe(signature)
    expect(scope).toMatch(/^\d{8}\/eu-central-1\/dynamodb\/aws4_request$/)
    expect(names).toEqual(
      expect.arrayContaining(['host', 'x-amz-date', 'x-amz-target', 'content-type', 'x-amz-security-token']),
    )
    expect(request.headers['x-amz-security-token']).toBe(credentials.sessionToken)
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0')
    const body = JSON.parse(request.body)
    expect(body.TableName).toMatch(/^signed-/)
    expect(body.ReturnConsumedCapacity).toBe('TOTAL')
  }
  const [get, set] = fake.requests.map((r) => JSON.parse(r.body))
  expect(get.Key).toEqual({ id: { S: 'sess:a' } })
  expect(JSON.parse(set.Item.sess.S)).toMatchObject({ n: 1 })
})

test("a signature refused for a distant clock is signed again with DynamoDB's time, once", async () => {
  const tenMinutesAhead = new Date(Date.now() + 600_000)
  const fake = await fakeDynamoDB((_request) =>
    fake.requests.length === 1
      ? [
          400,
          { __type: 'com.amazon.coral.service#InvalidSignatureException', message: 'Signature expired' },
          { date: tenMinutesAhead.toUTCString() },
        ]
      : [200, {}],
  )
  const store = storeOn(fake.endpoint, { maxRetries: 1 })
  await expect(store.get('skewed')).resolves.toBeNull()
  await store.close()
  await fake.close()

  expect(fake.requests).toHaveLength(2)
  const signedAt = (request) =>
    Date.parse(
      request.headers['x-amz-date'].replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    )
  const shift = signedAt(fake.requests[1]) - signedAt(fake.requests[0])
  expect(shift).toBeGreaterThan(590_000)
  expect(shift).toBeLessThan(620_000)
  expect(signatureOf(fake.requests[1])).toBe(recompute(fake.requests[1], SECRET).signature)
})

test('a refused signature without a clock to blame is not retried', async () => {
  const fake = await fakeDynamoDB(() => [
    400,
    { __type: 'com.amazon.coral.service#InvalidSignatureException', message: 'bad signature' },
    { date: new Date().toUTCString() },
  ])
  const store = storeOn(fake.endpoint, { maxRetries: 3 })
  await expect(store.get('x')).rejects.toMatchObject({ code: 'InvalidSignatureException', message: 'bad signature' })
  await store.close()
  await fake.close()
  expect(fake.requests).toHaveLength(1)
})
