'use strict'

// The newest glibc a Linux binary needs, read from its ELF version needs
// (readelf -V works for any architecture): `node scripts/glibc-floor.js
// <file.node> [floor]` prints it and exits 1 when it is newer than the floor
// (default 2.17, what the gnu binaries promise; see docs/runtimes.md, Platforms).

const { execFileSync } = require('node:child_process')

const FLOOR = '2.17'

/** The GLIBC_x.y versions `file` needs, newest last. */
function glibcVersions(file) {
  const text = execFileSync('readelf', ['-V', '--wide', file], { encoding: 'utf8' })
  const versions = [...new Set([...text.matchAll(/Name: GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]))]
  return versions.sort(compare)
}

function compare(a, b) {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0)
  }
  return 0
}

function main() {
  const [file, floor = FLOOR] = process.argv.slice(2)
  const versions = glibcVersions(file)
  const newest = versions[versions.length - 1]
  console.log(`${file}: needs glibc ${newest} (floor ${floor})`)
  if (compare(newest, floor) > 0) {
    console.error(
      `needs GLIBC_${newest}, newer than the promised floor ${floor}: build with "npm run build" (it links against glibc ${floor})`,
    )
    process.exitCode = 1
  }
}

if (require.main === module) main()

module.exports = { glibcVersions, compare, FLOOR }
