'use strict'

// The package as a user gets it: the main package and this platform's binary
// package packed the way a release packs them, installed into a fresh app with
// no repository around, and an express app keeping its sessions in DynamoDB
// Local through them.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { endpoint, uniqueTable } = require('./helpers')
const { NativeStore } = require('../lib/binding').loadBinding()

const root = path.join(__dirname, '..')
const run = (file, args, cwd, extraEnv = {}) =>
  new Promise((resolve, reject) =>
    execFile(file, args, { cwd, timeout: 120_000, env: { ...process.env, ...extraEnv } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(stdout),
    ),
  )

/** This machine's platform package directory and binary (npm/<platform>, as napi names it). */
function platformPackage() {
  const prefix = `connect-dynamodb-rs.${process.platform}-${process.arch}`
  const binary = fs.readdirSync(root).find((file) => file.startsWith(prefix) && file.endsWith('.node'))
  const platform = binary.slice('connect-dynamodb-rs.'.length, -'.node'.length)
  return { binary, dir: path.join(root, 'npm', platform) }
}

let work
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-install-'))
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

test('the packed packages install into a fresh app, load, and keep an express session in DynamoDB Local', async () => {
  expect(NativeStore).toBeDefined()
  const packs = path.join(work, 'packs')
  fs.mkdirSync(packs)
  const [main] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', packs], root))
  // A release copies each binary into its platform package (napi artifacts); here, into a copy of it.
  const { binary, dir } = platformPackage()
  const platformCopy = path.join(work, 'platform')
  fs.cpSync(dir, platformCopy, { recursive: true })
  fs.copyFileSync(path.join(root, binary), path.join(platformCopy, binary))
  const [platform] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', packs], platformCopy))
  expect(platform.files.map((f) => f.path).sort()).toEqual(['README.md', binary, 'package.json'].sort())

  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true }))
  const tarballs = [main, platform].map((pack) => path.join(packs, pack.filename))
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      ...tarballs,
      'express@5',
      'express-session@1',
      'supertest@7',
    ],
    app,
  )
  fs.writeFileSync(
    path.join(app, 'app.js'),
    `const express = require('express')
const session = require('express-session')
const request = require('supertest')
const DynamoDBStore = require('connect-dynamodb-rs')(session)
const store = new DynamoDBStore({ table: process.argv[2], AWSConfigJSON: { endpoint: process.argv[3], region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } })
const app = express()
app.use(session({ store, secret: 'install', resave: false, saveUninitialized: false }))
app.get('/', (req, res) => res.json({ visits: (req.session.visits = (req.session.visits || 0) + 1), from: require.resolve('connect-dynamodb-rs') }))
const agent = request.agent(app)
agent.get('/').then(() => agent.get('/')).then((res) => { console.log(JSON.stringify(res.body)); return store.close() })
`,
  )
  const out = JSON.parse(
    await run(process.execPath, ['app.js', uniqueTable('install'), endpoint()], app, {
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
  )
  expect(out.visits).toBe(2)
  expect(out.from.startsWith(path.join(app, 'node_modules', 'connect-dynamodb-rs'))).toBe(true)
}, 180_000)
