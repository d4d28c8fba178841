'use strict'

// npm run build: the release addon for this machine (or `--target <triple>`),
// with napi's loader (native.js) and types. For Linux with glibc (on x64 and
// arm64 hosts) it links against glibc 2.17 (scripts/toolchain.js), so the
// binary loads on every glibc distribution since 2014 (Amazon Linux 2, Ubuntu
// 18.04, RHEL 7) and the tests exercise the binary that ships.
// CONNECT_DYNAMODB_RS_HOST_TOOLCHAIN=1 links against this machine's glibc
// instead. Extra arguments go to `napi build` (e.g. `--profile fast`).

const fs = require('node:fs')
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
  const js = args.indexOf('--js')
  if (result.status === 0 && js >= 0) strictSafe(path.join(root, args[js + 1]))
  process.exit(result.status === null ? 1 : result.status)
}

/**
 * napi's loader ends by copying each export onto `module.exports`, which is the
 * addon itself. In a bundle whose file loader turns the addon into its path (a
 * string) that assignment throws in strict code (an ES module bundle), before
 * lib/binding.js can load the path: so it runs only on an object.
 */
function strictSafe(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  const copies = lines.filter((line) => /^module\.exports\.(\w+) = nativeBinding\.\1$/.test(line))
  if (!copies.length) return
  const kept = lines.filter((line) => !copies.includes(line))
  const guard = [
    "if (typeof nativeBinding === 'object' && nativeBinding !== null) {",
    ...copies.map((line) => `  ${line}`),
    '}',
  ]
  const at = kept.lastIndexOf('module.exports = nativeBinding')
  kept.splice(at + 1, 0, ...guard)
  fs.writeFileSync(file, kept.join('\n'))
}

main()
