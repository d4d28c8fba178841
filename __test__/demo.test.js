'use strict'

// The quick start's `npm run demo`: started as a user would, with no endpoint
// configured, so it brings up its own DynamoDB Local. Also: no request can
// crash it, and whatever starts DynamoDB Local stops it on every way out.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const request = require('supertest')

const root = path.join(__dirname, '..')
const demoPath = path.join(root, 'examples', 'demo.js')

function demoEnv(extra = {}) {
  const env = { ...process.env, PORT: '0', DEMO_TABLE: `demo-${process.pid}-${Date.now()}`, ...extra }
  delete env.AWS_ENDPOINT_URL_DYNAMODB
  delete env.AWS_ENDPOINT_URL
  return env
}

/** Starts a node child; resolves its output once `ready` matches it, or once it exits. */
function run(args, env, ready = /http:\/\/localhost:\d+/) {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  let out = ''
  const started = new Promise((resolve) => {
    const look = (chunk) => {
      out += chunk
      const match = ready.exec(out)
      if (match) resolve({ match, out })
    }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    exited.then((code) => resolve({ code, out }))
  })
  return { child, exited, started, output: () => out }
}

const answers = (url) =>
  new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('error', () => resolve(false))
    req.setTimeout(1000, () => req.destroy())
  })

/** True once nothing answers at `url` any more (within `ms`). */
async function stopsAnswering(url, ms = 15_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!(await answers(url))) return true
    await new Promise((r) => setTimeout(r, 250))
  }
  return false
}

describe('npm run demo', () => {
  let demo
  let url
  beforeAll(async () => {
    demo = run([demoPath], demoEnv())
    const { match, out } = await demo.started
    if (!match) throw new Error(`demo did not start: ${out}`)
    url = match[0]
  }, 90_000)
  afterAll(async () => {
    demo.child.kill('SIGTERM')
    await demo.exited
  })

  test('serves a visit counter and login/logout with sessions in DynamoDB', async () => {
    const agent = request.agent(url)
    expect((await agent.get('/').expect(200)).text).toContain('<b>1</b> time in this session')
    expect((await agent.get('/').expect(200)).text).toContain('<b>2</b> times')
    await agent.post('/login').type('form').send({ user: 'ann' }).expect(302)
    const signedIn = (await agent.get('/').expect(200)).text
    expect(signedIn).toContain('Signed in as <b>ann</b>')
    expect(signedIn).toContain('<b>3</b> times')
    await agent.post('/logout').expect(302)
    expect((await agent.get('/').expect(200)).text).toContain('<b>1</b> time in this session')
  })

  test("shows the session item as stored and the store's stats", async () => {
    const agent = request.agent(url)
    await agent.get('/').expect(200)
    const { item, stats } = (await agent.get('/store.json').expect(200)).body
    expect(item.attributes.id).toMatch(/^sess:/)
    expect(JSON.parse(item.attributes.sess)).toMatchObject({ visits: 1 })
    expect(item.bytes).toBeGreaterThan(50)
    expect(Date.parse(item.expiresAt)).toBeGreaterThan(Date.now())
    expect(stats.operations.set).toBeGreaterThanOrEqual(1)
    // A reload within touchAfter changes the visit count, so it saves; the JSON view only touches, and that is skipped.
    await agent.get('/store.json').expect(200)
    expect((await agent.get('/store.json').expect(200)).body.stats.skippedWrites).toBeGreaterThanOrEqual(1)
  })

  test('no request crashes it: a login without a form body, a body that is not a form', async () => {
    await request(url).post('/login').expect(302)
    await request(url).post('/login').set('content-type', 'application/json').send('{"user":').expect(302)
    await request(url).post('/login').type('form').send('user[a]=1&user[b]=2').expect(302)
    expect((await request(url).get('/').expect(200)).text).toContain('connect-dynamodb-rs demo')
    expect(demo.child.exitCode).toBeNull()
  })
})

describe('DynamoDB Local stops with whatever started it', () => {
  const script = (ending) => `
    const { startDynamoDBLocal } = require(${JSON.stringify(path.join(root, 'support', 'dynamodb-local.js'))})
    startDynamoDBLocal().then((local) => {
      console.log('endpoint ' + local.endpoint)
      ${ending}
    })`

  test.each([
    ['an uncaught exception', "setTimeout(() => { throw new Error('boom') }, 50)"],
    ['process.exit()', 'setTimeout(() => process.exit(3), 50)'],
    ['SIGTERM', 'setInterval(() => {}, 1000)'],
  ])(
    'after %s, nothing answers on its port',
    async (how, ending) => {
      const child = run(['-e', script(ending)], process.env, /endpoint (http:\S+)/)
      const { match, out } = await child.started
      if (!match) throw new Error(`DynamoDB Local did not start: ${out}`)
      const endpoint = match[1]
      if (how === 'SIGTERM') child.child.kill('SIGTERM')
      const code = await child.exited
      expect(code).not.toBe(0)
      expect(await stopsAnswering(endpoint)).toBe(true)
    },
    90_000,
  )
})

describe('a demo that cannot start says why in one sentence', () => {
  test('without Java on the PATH', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-java-'))
    const demo = run([demoPath], demoEnv({ PATH: empty }))
    const code = await demo.exited
    expect(code).toBe(1)
    expect(demo.output()).toContain('needs Java 17 or newer')
    expect(demo.output()).not.toContain('Unhandled')
    expect(demo.output()).not.toMatch(/\n\s+at /)
  }, 30_000)

  test('with its port taken', async () => {
    const server = net.createServer()
    await new Promise((resolve) => server.listen(0, resolve))
    const { port } = server.address()
    try {
      const demo = run([demoPath], demoEnv({ PORT: String(port) }))
      const code = await demo.exited
      expect(code).toBe(1)
      expect(demo.output()).toContain(`port ${port} is already in use`)
      expect(demo.output()).toContain('PORT=')
      expect(demo.output()).not.toContain('TypeError')
    } finally {
      server.close()
    }
  }, 90_000)
})
