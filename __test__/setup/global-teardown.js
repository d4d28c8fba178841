'use strict'

module.exports = async function globalTeardown() {
  await globalThis.__DYNAMODB_LOCAL__.stop()
}
