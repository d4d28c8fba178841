'use strict'

// The linker that makes a Linux binary need no glibc newer than 2.17: gcc
// with a glibc 2.17 sysroot, from napi-rs's prebuilt cross toolchains on npm,
// unpacked once under target/toolchain. The addon's glibc floor is decided at
// link time (the symbol versions of the libc it links against), so a build
// only swaps its linker (and, building for another CPU, its C compiler).

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')
/** host CPU -> target -> [npm package, version] of its prebuilt toolchain. */
const TOOLCHAINS = {
  x64: {
    'x86_64-unknown-linux-gnu': ['@napi-rs/cross-toolchain-x64-target-x86_64', '1.0.0'],
    'aarch64-unknown-linux-gnu': ['@napi-rs/cross-toolchain-x64-target-aarch64', '1.0.3'],
  },
  arm64: {
    'aarch64-unknown-linux-gnu': ['@napi-rs/cross-toolchain-arm64-target-aarch64', '1.0.3'],
    'x86_64-unknown-linux-gnu': ['@napi-rs/cross-toolchain-arm64-target-x86_64', '1.0.3'],
  },
}

/** Whether this host has a glibc 2.17 toolchain for `target`. */
function supported(target) {
  return process.platform === 'linux' && Boolean((TOOLCHAINS[process.arch] || {})[target])
}

/** The unpacked toolchain for `target` (downloaded and unpacked on first use). */
function toolchainDir(target) {
  const [pkg, version] = TOOLCHAINS[process.arch][target]
  const dir = path.join(root, 'target', 'toolchain', `${target}-${version}`)
  if (fs.existsSync(path.join(dir, 'bin', `${target}-gcc`))) return dir
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const out = execFileSync('npm', ['pack', `${pkg}@${version}`, '--silent', '--pack-destination', dir], {
    encoding: 'utf8',
  })
  const tarball = path.join(dir, out.trim().split('\n').pop())
  execFileSync('tar', ['xzf', tarball, '-C', dir, `package/${target}.tar.xz`])
  execFileSync('tar', ['xJf', path.join(dir, 'package', `${target}.tar.xz`), '-C', dir])
  fs.rmSync(path.join(dir, 'package'), { recursive: true })
  fs.rmSync(tarball)
  return dir
}

/**
 * The environment cargo needs to link `target` against glibc 2.17 on this host: the
 * toolchain's gcc as linker, and for another CPU its C compiler and archiver too.
 */
function glibcFloorEnv(target, host) {
  const bin = path.join(toolchainDir(target), 'bin')
  const tool = (name) => path.join(bin, `${target}-${name}`)
  const upper = target.toUpperCase().replace(/-/g, '_')
  const env = { [`CARGO_TARGET_${upper}_LINKER`]: tool('gcc') }
  if (target !== host) {
    const lower = target.replace(/-/g, '_')
    Object.assign(env, { [`CC_${lower}`]: tool('gcc'), [`CXX_${lower}`]: tool('g++'), [`AR_${lower}`]: tool('ar') })
    // This gcc predates __ARM_ARCH on aarch64, which ring's assembly asks for.
    if (target.startsWith('aarch64-')) env[`CFLAGS_${lower}`] = '-D__ARM_ARCH=8'
  }
  return env
}

/** The host's Rust target triple. */
function hostTriple() {
  return /^host: (.+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
}

module.exports = { supported, glibcFloorEnv, hostTriple }
