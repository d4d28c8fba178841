'use strict'

const { startDynamoDBLocal } = require('../../support/dynamodb-local')

// One DynamoDB Local for the whole run; workers find it through the env.
module.exports = async function globalSetup() {
  const local = await startDynamoDBLocal()
  globalThis.__DYNAMODB_LOCAL__ = local
  process.env.DYNAMODB_TEST_ENDPOINT = local.endpoint
}
