'use strict'

const { execFile } = require('node:child_process')
const path = require('node:path')

test('index.d.ts: typed usage compiles, and the misuses marked @ts-expect-error are rejected', async () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const project = path.join(__dirname, 'types', 'tsconfig.json')
  const result = await new Promise((resolve) =>
    execFile(process.execPath, [tsc, '-p', project], { timeout: 60_000 }, (err, stdout) =>
      resolve({ code: err ? err.code : 0, stdout }),
    ),
  )
  expect(result.stdout).toBe('')
  expect(result.code).toBe(0)
})
