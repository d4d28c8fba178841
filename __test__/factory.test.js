'use strict'

const { EventEmitter } = require('node:events')
const { execFile } = require('node:child_process')
const path = require('node:path')
const { session, connectDynamoDB, connection, uniqueTable, cookieSession } = require('./helpers')

const run = (args) =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      args,
      { cwd: path.join(__dirname, '..'), env: process.env, timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)),
    ),
  )

describe('the factory', () => {
  test('takes express-session, { session } and { Store }, returning a subclass of that Store', () => {
    const fromSession = connectDynamoDB(session)
    expect(connectDynamoDB({ session })).toBe(fromSession)
    expect(connectDynamoDB({ Store: session.Store })).toBe(fromSession)
    const store = new fromSession({ AWSConfigJSON: connection() })
    expect(store).toBeInstanceOf(session.Store)
    expect(store).toBeInstanceOf(EventEmitter)
    for (const inherited of ['regenerate', 'load', 'createSession']) {
      expect(typeof store[inherited]).toBe('function')
    }
    return store.close()
  })

  test('takes a connect 2.x-style module (connect.session.Store)', () => {
    class ConnectStore extends EventEmitter {}
    const connect = { session: { Store: ConnectStore } }
    const Store = connectDynamoDB(connect)
    expect(new Store({ AWSConfigJSON: connection() })).toBeInstanceOf(ConnectStore)
  })

  test.each([[undefined], [null], [{}], [{ Store: 'no' }], [42]])('rejects %p with a TypeError', (arg) => {
    expect(() => connectDynamoDB(arg)).toThrow(TypeError)
  })

  test('exports DynamoDBStore by name, over express-session’s Store', () => {
    expect(connectDynamoDB.DynamoDBStore).toBe(connectDynamoDB(session))
    expect(connectDynamoDB.default).toBe(connectDynamoDB)
  })

  test('loads from ESM, default and named', async () => {
    const code = `
      import connectDynamoDB, { DynamoDBStore } from 'connect-dynamodb-rs'
      import session from 'express-session'
      console.log(connectDynamoDB(session) === DynamoDBStore, typeof DynamoDBStore.prototype.get)`
    expect((await run(['--input-type=module', '-e', code])).trim()).toBe('true function')
  })
})

test('a store made through { Store } from a bare EventEmitter works (as for @fastify/session)', async () => {
  const Store = connectDynamoDB({ Store: EventEmitter })
  const store = new Store({ table: uniqueTable(), AWSConfigJSON: connection() })
  await store.set('f', cookieSession({ n: 1 }))
  expect((await store.get('f')).n).toBe(1)
  await store.close()
})
