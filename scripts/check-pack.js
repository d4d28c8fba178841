'use strict'

// prepack: a tarball without the generated loader (native.js, native.d.ts) installs but cannot
// load; refuse to pack before `npm run build` has made them.

const fs = require('node:fs')
const path = require('node:path')

const root = process.argv[2] || path.join(__dirname, '..')
const missing = ['native.js', 'native.d.ts', 'LICENSE'].filter((file) => !fs.existsSync(path.join(root, file)))
if (missing.length > 0) {
  console.error(`npm pack: ${missing.join(', ')} missing; run "npm run build" first`)
  process.exit(1)
}
