'use strict'

// Loads the native addon. On a platform this release has no binary for, the
// loader's own message lists every file it tried; an app developer needs to
// know which platform was seen, which ones are prebuilt, and how to build one.

const { napi } = require('../package.json')

/** `x86_64-unknown-linux-gnu` -> `linux-x64-gnu`, as the platform packages are named. */
function platformName(triple) {
  const [arch, , os, abi] = triple.split('-')
  const nodeArch = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[arch] || arch
  const nodeOs = { darwin: 'darwin', windows: 'win32', linux: 'linux', freebsd: 'freebsd' }[os] || os
  return [nodeOs, nodeArch, abi].filter(Boolean).join('-')
}

function hostName() {
  let libc = ''
  if (process.platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    libc = report && report.header && report.header.glibcVersionRuntime ? 'gnu' : 'musl'
  }
  return [process.platform, process.arch, libc].filter(Boolean).join('-')
}

function loadBinding(load = () => require('../native.js')) {
  try {
    return load()
  } catch (cause) {
    const prebuilt = napi.targets.map(platformName).join(', ')
    const err = new Error(
      `connect-dynamodb-rs has no native binary for ${hostName()} (Node ${process.version}). ` +
        `This release ships binaries for: ${prebuilt}. ` +
        'To build one here, install a Rust toolchain (rustup, Rust 1.94+) and run "npm run build" in the package directory. ' +
        `The loader said: ${cause && cause.message ? cause.message.split('\n')[0] : String(cause)}`,
      { cause },
    )
    err.code = 'ERR_NATIVE_BINDING'
    throw err
  }
}

module.exports = { loadBinding, platformName }
