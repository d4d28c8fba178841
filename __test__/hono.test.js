'use strict'

// connect-dynamodb-rs/hono with Hono's two session middlewares: the suite in
// __test__/platform/hono.cjs, here under Node.js (in a process of its own:
// hono-sessions needs require() of ES modules, which jest's module system
// does not do); npm run test:runtimes runs it under Bun and Deno too.

const path = require('node:path')
const { execFile } = require('node:child_process')

test('the Hono suite passes under Node.js: both middlewares, a Lambda handler, errors, races, costs', async () => {
  const suite = path.join(__dirname, 'platform', 'hono.cjs')
  const env = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' }
  const { code, stdout } = await new Promise((resolve) =>
    execFile(process.execPath, [suite], { env, timeout: 120_000 }, (err, stdout) =>
      resolve({ code: err ? err.code : 0, stdout }),
    ),
  )
  const lines = stdout.split('\n')
  const failed = lines.filter((line) => line.startsWith('FAIL') || line.startsWith('     '))
  expect(failed).toEqual([])
  expect(lines.filter((line) => line.startsWith('ok ')).length).toBeGreaterThanOrEqual(13)
  expect(stdout).toMatch(/hono on node: (\d+) of \1 passed/)
  expect(code).toBe(0)
}, 150_000)
