'use strict'

// `node scripts/cargo.js <command> [args]`: cargo <command> --release --target <host> [args],
// in the target directory and with the linker the napi build uses (npm run test:rust, npm run
// lint), so that neither rebuilds what the other built: napi sets NAPI_TYPE_DEF_TMP_FOLDER for
// its build, and the crate's build script reruns whenever that variable changes, so cargo is
// given the folder of the last napi build; and scripts/build.js links against glibc 2.17 with
// its own linker (scripts/toolchain.js), which cargo here uses too.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { supported, glibcFloorEnv, hostTriple } = require('./toolchain')

const root = path.join(__dirname, '..')
const host = hostTriple()

/** The type-def folder napi wrote last (its file for this crate is the newest), if any. */
function lastTypeDefFolder() {
  const parent = path.join(root, 'target', 'napi-rs')
  let newest = null
  for (const name of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
    const file = path.join(parent, name, 'connect-dynamodb-rs')
    if (!name.startsWith('connect-dynamodb-rs-') || !fs.existsSync(file)) continue
    const mtime = fs.statSync(file).mtimeMs
    if (!newest || mtime > newest.mtime) newest = { dir: path.join(parent, name), mtime }
  }
  return newest && newest.dir
}

const env = { ...process.env }
if (supported(host) && env.CONNECT_DYNAMODB_RS_HOST_TOOLCHAIN !== '1') Object.assign(env, glibcFloorEnv(host, host))
const folder = lastTypeDefFolder()
if (folder && !env.NAPI_TYPE_DEF_TMP_FOLDER) env.NAPI_TYPE_DEF_TMP_FOLDER = folder
const [command = 'test', ...args] = process.argv.slice(2)
const { status } = spawnSync('cargo', [command, '--release', '--target', host, ...args], {
  cwd: root,
  env,
  stdio: 'inherit',
})
process.exit(status === null ? 1 : status)
