'use strict'

const session = require('express-session')
const {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  DescribeTableCommand,
  CreateTableCommand,
} = require('@aws-sdk/client-dynamodb')
const connectDynamoDB = require('..')

const DynamoDBStore = connectDynamoDB(session)

const endpoint = () => process.env.DYNAMODB_TEST_ENDPOINT
const connection = () => ({ endpoint: endpoint(), region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test' })

let tables = 0
/** A table name no other test uses. */
const uniqueTable = (label = 't') => `${label}-${process.pid}-${Date.now().toString(36)}-${tables++}`

const newStore = (options = {}) => new DynamoDBStore({ table: uniqueTable(), AWSConfigJSON: connection(), ...options })

/** A real JS SDK client, to look at the table from outside the store. */
const rawClient = () =>
  new DynamoDBClient({
    endpoint: endpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  })

async function rawItem(client, table, key, hashKey = 'id') {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: table, Key: { [hashKey]: { S: key } }, ConsistentRead: true }),
  )
  return Item
}

const putRaw = (client, table, item) => client.send(new PutItemCommand({ TableName: table, Item: item }))
const describe_ = (client, table) => client.send(new DescribeTableCommand({ TableName: table })).then((r) => r.Table)

/**
 * A table made without TTL. DynamoDB Local deletes TTL-expired items within about a second,
 * so a test that needs an expired item to stay put uses one of these.
 */
const createTableWithoutTtl = (client, table) =>
  client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  )

/** A session as express-session serializes it, alive for `maxAge` ms. */
function cookieSession(data = {}, maxAge = 60_000) {
  return {
    cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString(), httpOnly: true, path: '/' },
    ...data,
  }
}

/**
 * Calls `method` with a callback; resolves `{ args, calls, sync }` once the
 * callback has fired, then waits a little to catch a second call.
 */
function viaCallback(invoke) {
  return new Promise((resolve) => {
    let calls = 0
    let first
    let returned = false
    invoke((...args) => {
      calls += 1
      if (calls === 1) {
        first = { args, sync: !returned }
        setTimeout(() => resolve({ ...first, calls }), 50)
      }
    })
    returned = true
  })
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** The carriers this build has: 'sockets' (the core's own) where it can own them, and 'node' (Node's). */
const CARRIERS = require('../lib/binding').loadBinding().NativeStore.ownSockets() ? ['sockets', 'node'] : ['node']

/** A store on the carrier `carrier` ('sockets' or 'node'); with no `table`, on a new table of DynamoDB Local. */
function storeOn(carrier, options) {
  const transport = carrier === 'node' ? 'node' : 'native'
  return options.table ? new DynamoDBStore({ transport, ...options }) : newStore({ transport, ...options })
}

module.exports = {
  session,
  connectDynamoDB,
  DynamoDBStore,
  endpoint,
  connection,
  uniqueTable,
  newStore,
  rawClient,
  rawItem,
  putRaw,
  describeTable: describe_,
  createTableWithoutTtl,
  cookieSession,
  viaCallback,
  nowSeconds,
  CARRIERS,
  storeOn,
}
