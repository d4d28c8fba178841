'use strict'

// node bench/lambda-init.js: what a fresh process pays before its first
// session read, the figure AWS Lambda bills as Init Duration (loading the
// code and making the store) and the first invocation's wait on top of it (the
// first `get`, its connection and signing key included). Each store in a new
// process per run, runs alternating, against DynamoDB Local; medians and
// ranges of the rounds. QUICK=1: three rounds.

const path = require('node:path')
const { execFile } = require('node:child_process')
const { startDynamoDBLocal } = require('../support/dynamodb-local')
const { QUIET } = require('./stores')

const ROUNDS = process.env.QUICK === '1' ? 3 : 15
const root = path.join(__dirname, '..')

const SCRIPTS = {
  rs: `
    const session = require('express-session')
    const Store = require(${JSON.stringify(root)})(session)
    const store = new Store({ table: process.env.TABLE, initialized: true, AWSConfigJSON: JSON.parse(process.env.CONNECTION) })`,
  cd: `
    const session = require('express-session')
    const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
    const Store = require('connect-dynamodb')(session)
    const c = JSON.parse(process.env.CONNECTION)
    const client = new DynamoDBClient({ endpoint: c.endpoint, region: c.region, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } })
    const store = new Store({ table: process.env.TABLE, client, initialized: true })`,
}

/** One fresh process: ms from its start to the store made, and to its first get answered. */
function once(kind, env) {
  const script = `${SCRIPTS[kind]}
    const init = performance.now()
    store.get('absent', (err) => {
      if (err) throw err
      console.log(JSON.stringify({ init, first: performance.now() }))
      process.exit(0)
    })`
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['-e', script],
      { cwd: root, env: { ...process.env, ...QUIET, ...env } },
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout))),
    ),
  )
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const spread = (xs) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`

async function main() {
  Object.assign(process.env, QUIET)
  const local = await startDynamoDBLocal()
  try {
    const table = 'lambda-init'
    const connection = { endpoint: local.endpoint, region: 'us-east-1', accessKeyId: 'bench', secretAccessKey: 'bench' }
    const { DynamoDBClient, CreateTableCommand } = require('@aws-sdk/client-dynamodb')
    const client = new DynamoDBClient({
      endpoint: local.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    })
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    client.destroy()
    const env = { TABLE: table, CONNECTION: JSON.stringify(connection), AWS_EC2_METADATA_DISABLED: 'true' }
    const runs = { rs: [], cd: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 ? ['cd', 'rs'] : ['rs', 'cd']) runs[kind].push(await once(kind, env))
    }
    console.log(`Fresh process to the first session read, ms (median, range of ${ROUNDS}); Node ${process.version}`)
    console.log('| store | init (require + new Store) | first get answered | first get alone |')
    console.log('| --- | ---: | ---: | ---: |')
    for (const kind of ['rs', 'cd']) {
      const init = runs[kind].map((r) => r.init)
      const first = runs[kind].map((r) => r.first)
      const get = runs[kind].map((r) => r.first - r.init)
      console.log(
        `| ${kind} | ${Math.round(median(init))} (${spread(init)}) | ${Math.round(median(first))} (${spread(first)}) | ${Math.round(median(get))} (${spread(get)}) |`,
      )
    }
  } finally {
    await local.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
