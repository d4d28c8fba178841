'use strict'

// Loads the native addon, and says what to do when it cannot: the platform
// seen and the prebuilt ones (no binary here), or the reason a binary that is
// here did not load (Deno without --allow-ffi, a glibc too old, a bundler
// that left the file behind), each with its fix.
//
// A bundler's file loader (esbuild's --loader:.node=file, which CDK, SAM and
// serverless-esbuild use) copies the addon beside the bundle and turns its
// require into the copy's path: that path is loaded here.

const fs = require('node:fs')
const path = require('node:path')
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
    try {
      const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
      libc = report && report.header && report.header.glibcVersionRuntime ? 'gnu' : 'musl'
    } catch {
      // Deno asks for --allow-sys before it reports: the name goes without its libc.
    }
  }
  return [process.platform, process.arch, libc].filter(Boolean).join('-')
}

/** Every error in a loader failure: its causes, and the lists of what each candidate said. */
function reasons(err, seen = new Set()) {
  if (!err || seen.has(err)) return []
  seen.add(err)
  if (Array.isArray(err)) return err.flatMap((one) => reasons(one, seen))
  return [err, ...reasons(err.cause, seen)]
}

/** The reason a binary that is here did not load, and its fix; null when none was found. */
function whyNotLoaded(cause) {
  const messages = reasons(cause).map((err) => String((err && err.message) || err))
  const ffi = messages.find((m) => /allow-ffi/.test(m))
  if (ffi)
    return `Deno needs permission to load a native addon: run with --allow-ffi (or -A). Deno said: ${ffi.split('\n')[0]}`
  const glibc = messages.find((m) => /GLIBC_[\d.]+' not found/.test(m))
  if (glibc) return `this system's glibc is older than the binary needs (glibc 2.17 or newer): ${glibc.split('\n')[0]}`
  // "Cannot find …" and "Unsupported …" mean there is no binary here at all.
  const other = messages.find((m) => !/^(Cannot find (module|native binding)|Unsupported )/.test(m))
  return other ? `loading it failed: ${other.split('\n')[0]}` : null
}

function bindingError(message, cause) {
  const err = new Error(message, { cause })
  err.code = 'ERR_NATIVE_BINDING'
  return err
}

/**
 * Where a bundle's copy of the addon may be, for its path relative to the bundle: beside this
 * code (a CommonJS bundle), else, in an ES module bundle without `__dirname`, beside the
 * program, in Lambda's task root, or in the working directory.
 */
function copyCandidates(file) {
  if (path.isAbsolute(file)) return [file]
  const here = typeof __dirname === 'string' ? [__dirname] : []
  const bases = [
    ...here,
    process.argv[1] && path.dirname(path.resolve(process.argv[1])),
    process.env.LAMBDA_TASK_ROOT,
    process.cwd(),
  ].filter(Boolean)
  return [...new Set(bases.map((base) => path.join(base, file)))]
}

/**
 * The addon a bundler copied beside the bundle (`file` is the copy's path, relative to the
 * bundle). Loaded with process.dlopen, as Node loads any addon: a bundler that replaced
 * `require` (webpack) cannot load a file it did not bundle.
 */
function loadCopied(file) {
  const candidates = copyCandidates(file)
  const copy = candidates.find((candidate) => fs.existsSync(candidate)) || candidates[0]
  try {
    if (typeof process.dlopen !== 'function') return require(copy)
    const module = { exports: {} }
    process.dlopen(module, copy)
    return module.exports
  } catch (cause) {
    throw bindingError(
      `connect-dynamodb-rs could not load its native binary from the bundle (${copy}): ${cause.message.split('\n')[0]}. ` +
        'Ship the .node file beside the bundle (esbuild --loader:.node=file does), or leave the package out of the bundle ' +
        '(--external:connect-dynamodb-rs) and install it beside it.',
      cause,
    )
  }
}

function loadBinding(load = () => require('../native.js')) {
  let binding
  try {
    binding = load()
  } catch (cause) {
    const why = whyNotLoaded(cause)
    const prebuilt = napi.targets.map(platformName).join(', ')
    const message = why
      ? `connect-dynamodb-rs could not load its native binary for ${hostName()} (${process.version}): ${why}`
      : `connect-dynamodb-rs has no native binary for ${hostName()} (Node ${process.version}). ` +
        `This release ships binaries for: ${prebuilt}. ` +
        'To build one here, install a Rust toolchain (rustup, Rust 1.94+) and run "npm run build" in the package directory. ' +
        `The loader said: ${cause && cause.message ? cause.message.split('\n')[0] : String(cause)}`
    throw bindingError(message, cause)
  }
  if (typeof binding === 'string') binding = loadCopied(binding)
  if (!binding || typeof binding.NativeStore !== 'function') {
    throw bindingError(
      'connect-dynamodb-rs loaded something that is not its native binary (a bundler replaced it?). ' +
        'Bundle .node files as files (esbuild --loader:.node=file, webpack node-loader), or leave the package out of the bundle.',
    )
  }
  return binding
}

module.exports = { loadBinding, platformName }
