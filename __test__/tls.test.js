'use strict'

// HTTPS to DynamoDB through a CA the machine does not trust: an HTTPS front on
// loopback, with a certificate from a CA made here, in front of DynamoDB
// Local. The store trusts it when NODE_EXTRA_CA_CERTS or AWS_CA_BUNDLE names
// it (on both paths: the hand-built one and the SDK's), and fails fast with
// ERR_NETWORK naming the TLS failure when nothing does.
const { execFile, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { endpoint, uniqueTable } = require('./helpers')
const { makeCertificates } = require('./fixtures/certificates')
const { dynamoDBFront } = require('./fixtures/dynamodb-front')

const root = path.join(__dirname, '..')
let dir
let front
let frontUrl

/** A child process with its own environment: set/get/touch/destroy, plus calls on the SDK path. */
function runChild(env) {
  const script = `
    const session = require('express-session')
    const Store = require(${JSON.stringify(root)})(session)
    const store = new Store({ table: ${JSON.stringify(uniqueTable('tls'))}, timeout: 5000, circuitBreaker: false,
      AWSConfigJSON: { endpoint: ${JSON.stringify(frontUrl)}, region: 'us-east-1', accessKeyId: 't', secretAccessKey: 't' } })
    const sess = { cookie: { maxAge: 60000, expires: new Date(Date.now() + 60000).toISOString() }, n: 1 }
    const started = Date.now()
    ;(async () => {
      try {
        await store.initialize()
        await store.set('a', sess)
        const got = await store.get('a')
        const touched = await store.touch('a', sess)
        const count = await store.length()
        await store.destroy('a')
        const after = await store.get('a')
        // A reply far larger than one TLS record (and than rustls's plaintext buffer).
        await store.set('big', { ...sess, pad: require('node:crypto').randomBytes(150000).toString('base64') })
        const big = await store.get('big')
        console.log(JSON.stringify({ ok: true, n: got && got.n, touched: touched !== null, count, after, big: big && big.pad.length }))
      } catch (err) {
        console.log(JSON.stringify({ ok: false, code: err.code, message: err.message, ms: Date.now() - started }))
      } finally {
        await store.close()
      }
    })()`
  const childEnv = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', ...env }
  for (const name of ['NODE_EXTRA_CA_CERTS', 'AWS_CA_BUNDLE']) if (!(name in env)) delete childEnv[name]
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { env: childEnv, timeout: 30_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop()
      try {
        resolve(JSON.parse(line))
      } catch {
        reject(new Error(`child failed: ${err && err.message}\n${stdout}\n${stderr}`))
      }
    }),
  )
}

let ca
beforeAll(async () => {
  const made = makeCertificates()
  dir = made.dir
  ca = made.ca
  front = await dynamoDBFront(endpoint(), () => null, { tls: made })
  frontUrl = front.endpoint
})
afterAll(() => {
  if (front) front.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

test.each(['NODE_EXTRA_CA_CERTS', 'AWS_CA_BUNDLE'])(
  'a CA named in %s is trusted on both paths',
  async (variable) => {
    const result = await runChild({ [variable]: ca })
    expect(result).toEqual({ ok: true, n: 1, touched: true, count: 1, after: null, big: 200000 })
  },
  40_000,
)

test('an unknown CA is a fast ERR_NETWORK that names the TLS failure', async () => {
  const result = await runChild({})
  expect(result.ok).toBe(false)
  expect(result.code).toBe('ERR_NETWORK')
  expect(result.message).toMatch(/certificate|tls|issuer/i)
  expect(result.ms).toBeLessThan(4000)
}, 40_000)

// Node's CA switches, on this Node (npm run test:node runs this file on 22 and 24 too): whatever
// Node's https trusts, the store trusts, on both carriers, and nothing more.
describe("Node's CA switches", () => {
  const major = Number(process.versions.node.split('.')[0])
  const switches = [[], ['--use-openssl-ca'], ['--use-bundled-ca'], ...(major >= 22 ? [['--use-system-ca']] : [])]
  let server
  let other
  const hashed = path.join(os.tmpdir(), `cdrs-hashed-${process.pid}`)
  const unhashed = path.join(os.tmpdir(), `cdrs-unhashed-${process.pid}`)
  beforeAll(async () => {
    const { rawServer, reply, itemBody } = require('./fixtures/raw-server')
    server = await rawServer(({ socket }) => socket.write(reply(itemBody('sess:x', { n: 1 }))), {
      tls: { key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) },
    })
    // A CA that signed nothing here.
    other = makeCertificates()
    // Certificate directories as OpenSSL reads them (by hash name), and one with the CA under another name.
    const hash = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', ca]).toString().trim()
    fs.mkdirSync(hashed)
    fs.copyFileSync(ca, path.join(hashed, `${hash}.0`))
    fs.mkdirSync(unhashed)
    fs.copyFileSync(ca, path.join(unhashed, 'our-ca.pem'))
  })
  afterAll(async () => {
    if (server) await server.close()
    if (other) fs.rmSync(other.dir, { recursive: true, force: true })
    for (const made of [hashed, unhashed]) fs.rmSync(made, { recursive: true, force: true })
  })

  /** In a child with only these flags and CA variables: what Node's https says, and what the store says on each carrier. */
  function probe(flags, env) {
    const url = `https://localhost:${server.port}`
    const script = `
      const https = require('node:https')
      const Store = require(${JSON.stringify(root)})(require('express-session'))
      const attempt = (transport) => {
        const store = new Store({ table: 'fake', initialized: true, maxRetries: 0, circuitBreaker: false, transport, AWSConfigJSON: { endpoint: '${url}', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } })
        return store.get('x').then(() => 'trusted', (err) => (err.code === 'ERR_NETWORK' ? 'refused' : err.code)).finally(() => store.close())
      }
      https.get('${url}', (res) => { res.resume(); done('trusted') }).on('error', () => done('refused'))
      async function done(node) {
        console.log(JSON.stringify({ node, native: process.platform === 'win32' ? node : await attempt('native'), sockets: await attempt('node') }))
      }`
    // Only what the case sets: no CA variable of the machine's leaks in.
    const childEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true', ...env }
    return new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        [...flags, '-e', script],
        { env: childEnv, cwd: root, timeout: 30_000 },
        (err, stdout, stderr) => {
          try {
            resolve(JSON.parse(stdout.trim().split('\n').pop()))
          } catch {
            reject(new Error(`child failed: ${err && err.message}\n${stdout}\n${stderr}`))
          }
        },
      ),
    )
  }

  test.each(switches.map((flags) => [flags.join(' ') || 'no switch', flags]))(
    '%s: the store trusts exactly what https trusts, on both carriers',
    async (_, flags) => {
      for (const env of [
        { SSL_CERT_FILE: ca },
        { SSL_CERT_FILE: other.ca },
        { NODE_EXTRA_CA_CERTS: ca },
        { SSL_CERT_FILE: other.ca, AWS_CA_BUNDLE: ca },
        { SSL_CERT_DIR: hashed },
        { SSL_CERT_DIR: unhashed },
      ]) {
        const seen = await probe(flags, env)
        const expected = env.AWS_CA_BUNDLE ? 'trusted' : seen.node
        expect({ env, ...seen }).toEqual({ env, node: seen.node, native: expected, sockets: expected })
      }
      // The switch that reads the file named in SSL_CERT_FILE trusts it, and a directory's hash-named files.
      if (flags[0] === '--use-openssl-ca' || flags[0] === '--use-system-ca')
        expect((await probe(flags, { SSL_CERT_FILE: ca })).node).toBe('trusted')
      if (flags[0] === '--use-openssl-ca') expect((await probe(flags, { SSL_CERT_DIR: hashed })).node).toBe('trusted')
    },
    60_000,
  )
})

test("without SSL_CERT_FILE or SSL_CERT_DIR, --use-openssl-ca reads the directory this Node's OpenSSL was built with", () => {
  const { openSSLDir } = require('../lib/trust')
  if (process.config.variables.node_shared_openssl) return expect(fs.existsSync(openSSLDir())).toBe(true)
  // Node's own builds carry it as a string in the binary.
  const binary = fs.readFileSync(process.execPath, 'latin1')
  const built = /OPENSSLDIR: "([^"]*)"/.exec(binary)
  expect(built && built[1]).toBe(openSSLDir())
})

test("Bun: with AWS_CA_BUNDLE, the store still trusts the system store Bun's https trusts", async () => {
  const { rawServer, reply, itemBody } = require('./fixtures/raw-server')
  const other = makeCertificates()
  const hash = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', ca]).toString().trim()
  const system = fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-system-'))
  fs.copyFileSync(ca, path.join(system, `${hash}.0`))
  const server = await rawServer(({ socket }) => socket.write(reply(itemBody('sess:x', { n: 1 }))), {
    tls: { key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) },
  })
  try {
    const url = `https://localhost:${server.port}`
    const script = path.join(system, 'probe.cjs')
    fs.writeFileSync(
      script,
      `const https = require('node:https')
      const Store = require(${JSON.stringify(root)})(require(${JSON.stringify(require.resolve('express-session'))}))
      const store = new Store({ table: 'fake', initialized: true, maxRetries: 0, circuitBreaker: false, AWSConfigJSON: { endpoint: '${url}', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } })
      https.get('${url}', (res) => { res.resume(); done('trusted') }).on('error', () => done('refused'))
      async function done(runtime) {
        const ours = await store.get('x').then(() => 'trusted', (err) => (err.code === 'ERR_NETWORK' ? 'refused' : err.code))
        await store.close()
        console.log(JSON.stringify({ runtime, store: ours }))
      }`,
    )
    const bun = path.join(root, 'node_modules', '.bin', 'bun')
    // The CA is in the system store (SSL_CERT_DIR), and AWS_CA_BUNDLE names another.
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_EC2_METADATA_DISABLED: 'true',
      SSL_CERT_DIR: system,
      AWS_CA_BUNDLE: other.ca,
    }
    const seen = await new Promise((resolve, reject) =>
      execFile(bun, [script], { env, timeout: 30_000 }, (err, stdout, stderr) => {
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()))
        } catch {
          reject(new Error(`bun failed: ${err && err.message}\n${stdout}\n${stderr}`))
        }
      }),
    )
    expect(seen).toEqual({ runtime: 'trusted', store: 'trusted' })
  } finally {
    await server.close()
    fs.rmSync(system, { recursive: true, force: true })
    fs.rmSync(other.dir, { recursive: true, force: true })
  }
}, 40_000)

test('table setup (the SDK) trusts exactly what the session calls trust: a CA only in SSL_CERT_FILE, which Node ignores without --use-openssl-ca, is refused by both', async () => {
  const script = `
    const Store = require(${JSON.stringify(root)})(require('express-session'))
    const store = new Store({ table: ${JSON.stringify(uniqueTable('trust'))}, timeout: 5000, maxRetries: 0, circuitBreaker: false,
      AWSConfigJSON: { endpoint: ${JSON.stringify(frontUrl)}, region: 'us-east-1', accessKeyId: 't', secretAccessKey: 't' } })
    const outcome = (promise) => promise.then(() => 'trusted', (err) => err.code)
    ;(async () => {
      const setup = await outcome(store.initialize())
      const get = await outcome(new Store({ table: 'any', initialized: true, maxRetries: 0, circuitBreaker: false,
        AWSConfigJSON: { endpoint: ${JSON.stringify(frontUrl)}, region: 'us-east-1', accessKeyId: 't', secretAccessKey: 't' } }).get('a'))
      console.log(JSON.stringify({ setup, get }))
      process.exit(0)
    })()`
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true', SSL_CERT_FILE: ca }
  const seen = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()))
      } catch {
        reject(new Error(`child failed: ${err && err.message}\n${stdout}\n${stderr}`))
      }
    }),
  )
  expect(seen).toEqual({ setup: 'ERR_NETWORK', get: 'ERR_NETWORK' })
}, 40_000)
