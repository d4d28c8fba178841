'use strict'

// On a platform without a prebuilt binary, require() fails with one clear error: the platform
// seen, the prebuilt ones, and how to build from source.

const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { platformName, loadBinding } = require('../lib/binding')

const runAs = (platform, arch) =>
  new Promise((resolve) => {
    // The loader reads process.platform/arch; a preload pretends to be another machine.
    const fake = `Object.defineProperty(process, 'platform', { value: '${platform}' }); Object.defineProperty(process, 'arch', { value: '${arch}' })`
    const probe = `try { require(${JSON.stringify(path.join(__dirname, '..'))}) ; console.log('{}') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: Boolean(e.cause) })) }`
    execFile(process.execPath, ['-e', `${fake}; ${probe}`], { timeout: 20_000 }, (err, stdout) =>
      resolve(err ? { error: err.message } : JSON.parse(stdout)),
    )
  })

test('a platform without a binary gets ERR_NATIVE_BINDING naming it, the prebuilt ones and how to build', async () => {
  const result = await runAs('aix', 'ppc64')
  expect(result).toMatchObject({ code: 'ERR_NATIVE_BINDING', cause: true })
  expect(result.message).toContain('no native binary for aix-ppc64')
  expect(result.message).toContain('linux-x64-gnu')
  expect(result.message).toContain('npm run build')
})

test('target triples are named as the platform packages are', () => {
  expect(platformName('x86_64-unknown-linux-gnu')).toBe('linux-x64-gnu')
  expect(platformName('aarch64-unknown-linux-musl')).toBe('linux-arm64-musl')
  expect(platformName('aarch64-apple-darwin')).toBe('darwin-arm64')
  expect(platformName('x86_64-pc-windows-msvc')).toBe('win32-x64-msvc')
})

test('a loader failure keeps its cause and its first line', () => {
  const cause = new Error('Cannot find native binding.\nmore lines')
  let err
  try {
    loadBinding(() => {
      throw cause
    })
  } catch (e) {
    err = e
  }
  expect(err).toMatchObject({ code: 'ERR_NATIVE_BINDING', cause })
  expect(err.message).toContain('The loader said: Cannot find native binding.')
  expect(err.message).not.toContain('more lines')
})

/** What loadBinding throws when the loader fails with `cause`. */
function failure(cause) {
  try {
    loadBinding(() => {
      throw cause
    })
  } catch (err) {
    return err
  }
  throw new Error('loadBinding did not fail')
}

test('a binary that is here but did not load says why, and the fix', () => {
  const tried = (last) =>
    new Error('Cannot find native binding.', {
      cause: [new Error("Cannot find module 'connect-dynamodb-rs-linux-x64-gnu'"), new Error(last)],
    })
  const deno = failure(
    tried('Requires ffi access to "/x/connect-dynamodb-rs.linux-x64-gnu.node", run again with the --allow-ffi flag'),
  )
  expect(deno).toMatchObject({ code: 'ERR_NATIVE_BINDING' })
  expect(deno.message).toMatch(/Deno needs permission to load a native addon: run with --allow-ffi \(or -A\)/)
  const glibc = failure(tried("/lib64/libc.so.6: version `GLIBC_2.17' not found (required by x.node)"))
  expect(glibc.message).toMatch(/glibc is older than the binary needs/)
})

test("a bundler's file loader hands over the copy's path, and the copy is loaded", () => {
  // The host's own binary: a tree that also holds a cross-built one (CI builds linux-arm64 too) must not pick that.
  const host = `.${process.platform}-${process.arch}-`
  const file = fs.readdirSync(path.join(__dirname, '..')).find((name) => name.includes(host) && name.endsWith('.node'))
  const relative = path.relative(path.join(__dirname, '..', 'lib'), path.join(__dirname, '..', file))
  expect(typeof loadBinding(() => relative).NativeStore).toBe('function')
  expect(() => loadBinding(() => ({}))).toThrow(
    expect.objectContaining({ code: 'ERR_NATIVE_BINDING', message: expect.stringMatching(/not its native binary/) }),
  )
})

test('Deno without --allow-ffi is told to allow it, even without --allow-sys', async () => {
  const { execFile } = require('node:child_process')
  const deno = path.join(__dirname, '..', 'node_modules', '.bin', 'deno')
  const script = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'cdrs-deno-')), 'load.cjs')
  fs.writeFileSync(
    script,
    `try { require(${JSON.stringify(path.join(__dirname, '..'))}); console.log('loaded') } catch (err) { console.log(err.code + ' ' + err.message) }`,
  )
  const said = await new Promise((resolve) =>
    execFile(deno, ['run', '--allow-read', '--allow-env', script], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve(stdout.trim() || `${err && err.message} ${stderr}`),
    ),
  )
  fs.rmSync(path.dirname(script), { recursive: true, force: true })
  expect(said).toMatch(/^ERR_NATIVE_BINDING .*run with --allow-ffi/)
}, 90_000)
