'use strict'

// npm run test:runtimes: the platform suites (__test__/platform/runtimes.cjs,
// and hono.cjs for connect-dynamodb-rs/hono) under Node.js, Bun and Deno (the npm packages `bun` and `deno`), against a
// DynamoDB Local and an HTTPS front before it whose CA only
// NODE_EXTRA_CA_CERTS names. Everything it starts stops however it ends.
// `--only bun` (or node, deno) runs one.

const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startDynamoDBLocal } = require('../support/dynamodb-local')
const { makeCertificates } = require('../__test__/fixtures/certificates')
const { dynamoDBFront } = require('../__test__/fixtures/dynamodb-front')

const root = path.join(__dirname, '..')
const bin = (name) => path.join(root, 'node_modules', '.bin', name)
const SUITES = ['runtimes.cjs', 'hono.cjs'].map((file) => path.join('__test__', 'platform', file))

/** Each runtime: how to run a suite, and the carrier `auto` must pick there. */
const RUNTIMES = {
  node: {
    command: process.execPath,
    args: (suite) => [suite],
    transport: process.platform === 'win32' ? 'node' : 'native',
  },
  bun: { command: bin('bun'), args: (suite) => [suite], transport: 'node' },
  deno: { command: bin('deno'), args: (suite) => ['run', '--allow-all', suite], transport: 'node' },
}

function run(name, suite, env) {
  const { command, args, transport } = RUNTIMES[name]
  return new Promise((resolve) => {
    const child = spawn(command, args(suite), {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env, EXPECT_TRANSPORT: transport },
    })
    child.on('exit', (code, signal) => resolve(code === null ? `signal ${signal}` : code))
    child.on('error', (err) => resolve(err.message))
  })
}

async function main() {
  const only = process.argv.includes('--only')
    ? [process.argv[process.argv.indexOf('--only') + 1]]
    : Object.keys(RUNTIMES)
  const local = await startDynamoDBLocal()
  const made = makeCertificates()
  let front
  try {
    front = await dynamoDBFront(local.endpoint, () => null, { tls: made })
    const env = {
      DYNAMODB_TEST_ENDPOINT: local.endpoint,
      HTTPS_TEST_ENDPOINT: front.endpoint,
      NODE_EXTRA_CA_CERTS: made.ca,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
    }
    const failed = []
    for (const name of only) {
      for (const suite of SUITES) {
        console.log(`\n== ${name}: ${path.basename(suite)}`)
        const code = await run(name, suite, env)
        if (code !== 0) failed.push(`${name}, ${path.basename(suite)} (${code})`)
      }
    }
    if (failed.length) {
      console.error(`\nthe runtime suite failed under ${failed.join(', ')}`)
      process.exitCode = 1
    }
  } finally {
    if (front) front.close()
    fs.rmSync(made.dir, { recursive: true, force: true })
    await local.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
