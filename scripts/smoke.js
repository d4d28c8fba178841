'use strict'

// The smoke suite (__test__/platform/smoke.js) against a DynamoDB Local, run by
// a given Node: `node scripts/smoke.js [--node <node binary>] [--emulator <qemu>]`.
// It starts its own DynamoDB Local unless DYNAMODB_TEST_ENDPOINT names one, and
// stops it however it ends. `--serve <port>` only keeps a DynamoDB Local up on
// that port (for a container that cannot run Java itself) until it is killed.

const path = require('node:path')
const { spawn } = require('node:child_process')
const { startDynamoDBLocal } = require('../support/dynamodb-local')

const root = path.join(__dirname, '..')

function flag(name) {
  const at = process.argv.indexOf(name)
  return at > 0 ? process.argv[at + 1] : undefined
}

/** Runs the suite with `node` (under `emulator` if given); resolves its exit code. */
function runSuite(endpoint, node = process.execPath, emulator) {
  // The file runs its tests in this process (`--test` would start another, which an emulator cannot).
  const args = ['--test-reporter=spec', path.join('__test__', 'platform', 'smoke.js')]
  const [command, argv] = emulator ? [emulator, [node, ...args]] : [node, args]
  const env = { ...process.env, DYNAMODB_TEST_ENDPOINT: endpoint, AWS_EC2_METADATA_DISABLED: 'true' }
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd: root, env, stdio: 'inherit' })
    child.on('exit', (code, signal) => resolve(code === null ? `signal ${signal}` : code))
    child.on('error', (err) => resolve(err.message))
  })
}

/** The suite against the DynamoDB Local named in the environment, or one started for it. */
async function smoke({ node, emulator } = {}) {
  if (process.env.DYNAMODB_TEST_ENDPOINT) return runSuite(process.env.DYNAMODB_TEST_ENDPOINT, node, emulator)
  const local = await startDynamoDBLocal()
  try {
    return await runSuite(local.endpoint, node, emulator)
  } finally {
    await local.stop()
  }
}

async function main() {
  const serve = flag('--serve')
  if (serve) {
    const local = await startDynamoDBLocal({ port: Number(serve) })
    console.log(`DynamoDB Local at ${local.endpoint}; stops with this process`)
    setInterval(() => {}, 1 << 30)
    return
  }
  const code = await smoke({ node: flag('--node'), emulator: flag('--emulator') })
  if (code !== 0) {
    console.error(`smoke suite failed (${code})`)
    process.exitCode = 1
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err.message)
    process.exitCode = 1
  })
}

module.exports = { smoke }
