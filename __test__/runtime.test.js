'use strict'

// Where a store's requests travel is chosen in JavaScript, before anything
// native touches the event loop (lib/runtime.js); Bun and Deno themselves
// run the runtime suite (npm run test:runtimes).

const { execFile } = require('node:child_process')
const path = require('node:path')
const { newStore } = require('./helpers')
const { runtime } = require('../lib/runtime')

const root = path.join(__dirname, '..')

test('on Node.js on Linux, auto is the core own sockets; node is Node sockets; the choice is reported', async () => {
  expect(runtime()).toBe('node')
  const stores = [
    newStore(),
    newStore({ transport: 'auto' }),
    newStore({ transport: 'native' }),
    newStore({ transport: 'node' }),
  ]
  expect(stores.map((store) => store.transport)).toEqual(['native', 'native', 'native', 'node'])
  await Promise.all(stores.map((store) => store.close()))
})

test('transport takes one of three names, with ERR_INVALID_OPTION for anything else', () => {
  for (const bad of ['uv', 'NATIVE', 1, null]) {
    expect(() => newStore({ transport: bad })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/"transport"/) }),
    )
  }
})

test('CONNECT_DYNAMODB_RS_TRANSPORT overrides the option, for operators', async () => {
  const script = `
    const Store = require(${JSON.stringify(root)})(require('express-session'))
    const options = { table: 'fake', initialized: true, AWSConfigJSON: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' } }
    console.log([new Store(options).transport, new Store({ ...options, transport: 'native' }).transport].join(' '))
    process.exit(0)`
  const out = await new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['-e', script],
      { env: { ...process.env, CONNECT_DYNAMODB_RS_TRANSPORT: 'node' } },
      (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
    ),
  )
  expect(out).toBe('node node')
})

test('a CONNECT_DYNAMODB_RS_TRANSPORT the store does not know is ERR_INVALID_OPTION naming the variable, not ignored', () => {
  const { chooseCarrier } = require('../lib/runtime')
  const saved = process.env.CONNECT_DYNAMODB_RS_TRANSPORT
  try {
    for (const typo of ['NODE', 'uv']) {
      process.env.CONNECT_DYNAMODB_RS_TRANSPORT = typo
      expect(() => chooseCarrier(undefined, true)).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_OPTION',
          message: expect.stringMatching(/^CONNECT_DYNAMODB_RS_TRANSPORT must be/),
        }),
      )
    }
    // Where the core's sockets cannot run, "native" from the variable names the variable too.
    process.env.CONNECT_DYNAMODB_RS_TRANSPORT = 'native'
    expect(() => chooseCarrier('auto', false)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/^CONNECT_DYNAMODB_RS_TRANSPORT: "native" needs/) }),
    )
    process.env.CONNECT_DYNAMODB_RS_TRANSPORT = ''
    expect(chooseCarrier('node', true)).toBe('node')
  } finally {
    if (saved === undefined) delete process.env.CONNECT_DYNAMODB_RS_TRANSPORT
    else process.env.CONNECT_DYNAMODB_RS_TRANSPORT = saved
  }
})
