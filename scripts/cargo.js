'use strict'

// `node scripts/cargo.js <command> [args]`: cargo <command> --release --target <host> [args],
// in the target directory the napi build uses (npm run test:rust, npm run lint). napi sets
// NAPI_TYPE_DEF_TMP_FOLDER for its build, and the crate's build script reruns (rebuilding the
// crate) whenever that variable changes; so cargo is given the folder of the last napi build,
// and neither rebuilds the crate after the other.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const host = /^host: (.+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]

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
const folder = lastTypeDefFolder()
if (folder && !env.NAPI_TYPE_DEF_TMP_FOLDER) env.NAPI_TYPE_DEF_TMP_FOLDER = folder
const [command = 'test', ...args] = process.argv.slice(2)
const { status } = spawnSync('cargo', [command, '--release', '--target', host, ...args], { cwd: root, env, stdio: 'inherit' })
process.exit(status === null ? 1 : status)
