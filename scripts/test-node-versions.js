'use strict'

// npm run test:node: the whole jest suite again on every Node major the package
// supports besides the one running it (engines in package.json), with Node
// binaries from npm (scripts/node-binary.js). The addon is N-API, so the same
// build serves them all. NODE_VERSIONS=22,24 picks the majors.

const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { nodeBinary } = require('./node-binary')

const root = path.join(__dirname, '..')
const majors = (process.env.NODE_VERSIONS || '22,24')
  .split(',')
  .filter((major) => major !== process.versions.node.split('.')[0])
const pkg = `node-linux-${process.arch}`

let failed = false
for (const major of majors) {
  const node = nodeBinary(pkg, major)
  const started = Date.now()
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
  console.log(`\n== jest on Node ${version}`)
  const { status } = spawnSync(node, [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--silent'], {
    cwd: root,
    stdio: 'inherit',
  })
  console.log(
    `== Node ${version}: ${status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  )
  failed ||= status !== 0
}
process.exitCode = failed ? 1 : 0
