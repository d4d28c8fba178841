'use strict'

// The package as npm would publish it: every file the entry points need, nothing else.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')

const root = path.join(__dirname, '..')
const run = (file, args) =>
  new Promise((resolve) =>
    execFile(file, args, { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    ),
  )

test('the tarball holds the entry points, their loader, types and license, and no tests, bench or sources', async () => {
  const { code, stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'])
  expect(code).toBe(0)
  const [pack] = JSON.parse(stdout)
  const files = pack.files.map((f) => f.path).sort()
  for (const needed of [
    'LICENSE',
    'README.md',
    'index.d.ts',
    'index.js',
    'index.mjs',
    'lib/binding.js',
    'lib/client.js',
    'lib/errors.js',
    'native.d.ts',
    'native.js',
    'package.json',
  ]) {
    expect(files).toContain(needed)
  }
  expect(
    files.filter((f) => /^(__test__|bench|src|support|examples|target|npm|scripts)\//.test(f) || f.endsWith('.node')),
  ).toEqual([])
  // Every module the entry points require from the package is in it (native.js, napi's loader,
  // tries local binaries first and falls back to the platform packages).
  for (const file of files.filter((f) => (f.endsWith('.js') || f.endsWith('.mjs')) && f !== 'native.js')) {
    const text = fs.readFileSync(path.join(root, file), 'utf8')
    for (const [, spec] of text.matchAll(/(?:require\(|from )'(\.{1,2}\/[^']+)'/g)) {
      const target = path.relative(root, path.resolve(root, path.dirname(file), spec))
      expect(files.some((f) => f === target || f === `${target}.js` || f === `${target}.json`)).toBe(true)
    }
  }
  // The platform binary ships in its own package (npm/<platform>), not in the main one.
  expect(pack.unpackedSize).toBeLessThan(400_000)
})

test('every subpath the package exports loads by its name, from an app beside it, with its types', async () => {
  const { exports } = require('../package.json')
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'cdrs-exports-'))
  try {
    fs.mkdirSync(path.join(app, 'node_modules'))
    fs.symlinkSync(root, path.join(app, 'node_modules', 'connect-dynamodb-rs'), 'dir')
    const subpaths = Object.keys(exports).filter((key) => key !== './package.json')
    expect(subpaths).toEqual(expect.arrayContaining(['.', './otel', './koa', './hono']))
    const names = subpaths.map((key) => `connect-dynamodb-rs${key.slice(1)}`)
    const script = `for (const name of ${JSON.stringify(names)}) console.log(name, Object.keys(require(name)).sort().join(','))`
    const { code, stdout, stderr } = await new Promise((resolve) =>
      execFile(process.execPath, ['-e', script], { cwd: app, timeout: 60_000 }, (err, out, errOut) =>
        resolve({ code: err ? err.code : 0, stdout: out, stderr: errOut }),
      ),
    )
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toMatch(/^connect-dynamodb-rs\/otel ConnectDynamoDBRsInstrumentation$/m)
    expect(stdout).toMatch(/^connect-dynamodb-rs\/koa DynamoDBKoaStore,expressCookie$/m)
    expect(stdout).toMatch(/^connect-dynamodb-rs\/hono DynamoDBHonoStore,DynamoDBSessionStorage$/m)
    for (const key of subpaths) {
      const target = exports[key]
      expect(fs.existsSync(path.join(root, target.types))).toBe(true)
    }
  } finally {
    fs.rmSync(app, { recursive: true, force: true })
  }
})

test('npm pack refuses to run before a build made the loader', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'pack-'))
  const { code, stderr } = await run(process.execPath, [path.join(root, 'scripts', 'check-pack.js'), empty])
  expect(code).toBe(1)
  expect(stderr).toMatch(/native\.js, native\.d\.ts, LICENSE missing; run "npm run build" first/)
  expect((await run(process.execPath, [path.join(root, 'scripts', 'check-pack.js')])).code).toBe(0)
})

// A linux-gnu build made here (npm run build links against glibc 2.17), unless made on purpose
// against this machine's glibc (CONNECT_DYNAMODB_RS_HOST_TOOLCHAIN=1).
const gnuBinary = fs.readdirSync(root).find((file) => file === `connect-dynamodb-rs.linux-${process.arch}-gnu.node`)
const floorApplies = Boolean(gnuBinary) && process.env.CONNECT_DYNAMODB_RS_HOST_TOOLCHAIN !== '1'

;(floorApplies ? test : test.skip)('the linux-gnu binary needs no glibc newer than 2.17 (docs/runtimes.md)', () => {
  const { glibcVersions, compare, FLOOR } = require('../scripts/glibc-floor')
  const versions = glibcVersions(path.join(root, gnuBinary))
  const newest = versions[versions.length - 1]
  expect(versions.length).toBeGreaterThan(0)
  expect({ newest, withinFloor: compare(newest, FLOOR) <= 0 }).toEqual({ newest, withinFloor: true })
})
