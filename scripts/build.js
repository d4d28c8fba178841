'use strict'

// npm run build: the release addon for this machine (or `--target <triple>`),
// with napi's loader (native.js) and types. For Linux with glibc (on x64 and
// arm64 hosts) it links against glibc 2.17 (scripts/toolchain.js), so the
// binary loads on every glibc distribution since 2014 (Amazon Linux 2, Ubuntu
// 18.04, RHEL 7) and the tests exercise the binary that ships.
// CONNECT_DYNAMODB_RS_HOST_TOOLCHAIN=1 links against this machine's glibc
// instead. Extra arguments go to `napi build` (e.g. `--profile fast`).

const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { supported, glibcFloorEnv, hostTriple } = require('./toolchain')

const root = path.join(__dirname, '..')

function main() {
  const args = process.argv.slice(2)
  const at = args.indexOf('--target')
  const host = hostTriple()
  const target = at >= 0 ? args[at + 1] : host
  const napi = ['build', '--platform', ...(args.includes('--profile') ? [] : ['--release'])]
  if (at < 0) napi.push('--target', target)
  let env = process.env
  if (supported(target) && process.env.CONNECT_DYNAMODB_RS_HOST_TOOLCHAIN !== '1') {
    env = { ...env, ...glibcFloorEnv(target, host) }
  }
  const result = spawnSync('napi', [...napi, ...args], {
    cwd: root,
    env,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  })
  process.exit(result.status === null ? 1 : result.status)
}

main()
