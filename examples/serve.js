'use strict'

// Runs an example app with its sessions in DynamoDB. With
// AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) set, or DEMO_AWS=1 for real
// DynamoDB through the AWS default chain, it uses that; otherwise it starts
// DynamoDB Local itself (Java 17+) and stops it on exit.

const { startDynamoDBLocal } = require('../support/dynamodb-local')

async function serve({ name, table, createStore, createApp }) {
  process.env.AWS_EC2_METADATA_DISABLED = process.env.AWS_EC2_METADATA_DISABLED || 'true'
  const configured =
    process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL || process.env.DEMO_AWS === '1'
  const local = configured ? null : await startDynamoDBLocal()
  const store = createStore({
    table: process.env.DEMO_TABLE || table,
    AWSConfigJSON: local
      ? { endpoint: local.endpoint, region: 'us-east-1', accessKeyId: 'demo', secretAccessKey: 'demo' }
      : undefined,
  })
  // A Koa or Hono store (connect-dynamodb-rs/koa, /hono) keeps the store in `store`.
  const tables = store.store || store
  await tables.initialize()
  const port = Number(process.env.PORT || 3000)
  const server = await new Promise((resolve, reject) => {
    const listening = createApp(store).listen(port, (err) => (err ? reject(err) : resolve(listening)))
  }).catch((err) => {
    throw new Error(
      err.code === 'EADDRINUSE'
        ? `port ${port} is already in use: start it with another one, e.g. PORT=3001 npm run demo`
        : `cannot listen on port ${port}: ${err.message}`,
    )
  })
  const where = local ? `DynamoDB Local at ${local.endpoint}` : 'the configured DynamoDB'
  console.log(`${name} running at http://localhost:${server.address().port} (sessions in ${where}). Ctrl-C stops it.`)
  const stop = async () => {
    server.close()
    await store.close()
    if (local) await local.stop()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

/**
 * Runs `main` when the file is started directly, reporting failure plainly.
 * (A DynamoDB Local it started stops with the process, see support/dynamodb-local.js.)
 */
function runIfMain(module, main) {
  if (require.main !== module) return
  main().catch((err) => {
    console.error(err.message)
    process.exit(1)
  })
}

module.exports = { serve, runIfMain }
