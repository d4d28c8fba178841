'use strict'

// The package in a bundle, as CDK's NodejsFunction, SAM's esbuild build and
// serverless-esbuild make one: a small express app bundled by esbuild (1) with
// the addon copied beside the bundle as a file, and (2) with the package left
// out and installed beside the bundle; each bundle then runs from elsewhere and
// keeps a session in DynamoDB Local across two requests.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const esbuild = require('esbuild')
const { connection, uniqueTable } = require('./helpers')

const root = path.join(__dirname, '..')
let work
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-bundle-'))
  // The app imports the package by name, as an app does.
  fs.mkdirSync(path.join(work, 'src', 'node_modules'), { recursive: true })
  fs.symlinkSync(root, path.join(work, 'src', 'node_modules', 'connect-dynamodb-rs'), 'dir')
  fs.writeFileSync(
    path.join(work, 'src', 'app.js'),
    `const http = require('node:http')
const express = require('express')
const session = require('express-session')
const DynamoDBStore = require('connect-dynamodb-rs')(session)
const store = new DynamoDBStore(JSON.parse(process.env.STORE_OPTIONS))
const app = express()
app.use(session({ store, secret: 'bundled', resave: false, saveUninitialized: false }))
app.get('/count', (req, res) => res.json({ count: (req.session.count = (req.session.count || 0) + 1) }))
const server = app.listen(0, '127.0.0.1', async () => {
  const url = 'http://127.0.0.1:' + server.address().port + '/count'
  // express-session sends the headers before its save completes, and the body's end after it.
  const first = await fetch(url)
  const cookie = first.headers.get('set-cookie').split(';')[0]
  const firstBody = await first.json()
  const second = await fetch(url, { headers: { cookie } })
  console.log(JSON.stringify({ first: firstBody, second: await second.json(), transport: store.transport }))
  server.close()
  await store.close()
})
`,
  )
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

/** Bundles the app into `outdir` with these esbuild options; the bundle's path. */
async function bundle(outdir, options) {
  await esbuild.build({
    entryPoints: [path.join(work, 'src', 'app.js')],
    bundle: true,
    platform: 'node',
    outdir,
    logLevel: 'silent',
    nodePaths: [path.join(root, 'node_modules')],
    ...options,
  })
  return path.join(outdir, options.format === 'esm' ? 'app.mjs' : 'app.js')
}

/** Runs a bundle from a directory of its own; its JSON output. */
function run(file) {
  const env = {
    ...process.env,
    AWS_EC2_METADATA_DISABLED: 'true',
    STORE_OPTIONS: JSON.stringify({ table: uniqueTable('bundle'), AWSConfigJSON: connection() }),
  }
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [file], { cwd: os.tmpdir(), env, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout)),
    ),
  )
}

test('bundled with the addon copied beside the bundle (esbuild --loader:.node=file), the app keeps its session', async () => {
  const outdir = path.join(work, 'file')
  const file = await bundle(outdir, { loader: { '.node': 'file' } })
  // One copy per binary the package holds (an installed package holds its platform's; a tree with a
  // cross build holds more), and the host's among them.
  const copies = fs.readdirSync(outdir).filter((name) => name.endsWith('.node'))
  const held = fs.readdirSync(root).filter((name) => name.endsWith('.node'))
  expect(copies).toHaveLength(held.length)
  expect(copies.some((name) => name.includes(`.${process.platform}-${process.arch}-`))).toBe(true)
  expect(await run(file)).toMatchObject({ first: { count: 1 }, second: { count: 2 } })
})

test('bundled with the package left out (--external) and installed beside the bundle, the app keeps its session', async () => {
  const outdir = path.join(work, 'external')
  const file = await bundle(outdir, { external: ['connect-dynamodb-rs'] })
  expect(fs.readdirSync(outdir).some((name) => name.endsWith('.node'))).toBe(false)
  fs.mkdirSync(path.join(outdir, 'node_modules'))
  fs.symlinkSync(root, path.join(outdir, 'node_modules', 'connect-dynamodb-rs'), 'dir')
  expect(await run(file)).toMatchObject({ first: { count: 1 }, second: { count: 2 } })
})

// An ES module bundle (esbuild --format=esm), as CDK builds one when asked: its CommonJS code
// needs a `require`, which the banner makes; CDK's documented banner also makes `__dirname`.
const REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
const DIRNAME_BANNER =
  "import { fileURLToPath } from 'node:url'; import { dirname } from 'node:path'; const __dirname = dirname(fileURLToPath(import.meta.url));"

test.each([
  ['require and __dirname', `${REQUIRE_BANNER} ${DIRNAME_BANNER}`],
  ['require only', REQUIRE_BANNER],
])(
  'bundled as an ES module (banner: %s) with the addon copied beside it, the app keeps its session',
  async (_, banner) => {
    const outdir = path.join(work, `esm-${banner.length}`)
    const file = await bundle(outdir, {
      format: 'esm',
      outExtension: { '.js': '.mjs' },
      banner: { js: banner },
      loader: { '.node': 'file' },
    })
    expect(await run(file)).toMatchObject({ first: { count: 1 }, second: { count: 2 } })
  },
)
