'use strict'

// connect-dynamodb-rs: a DynamoDB session store for express-session, Connect
// and @fastify/session. The store class is lib/store.js; every DynamoDB call,
// expiry rule, retry and codec lives in the native core (src/). This file is
// what the package exports.

const { defineStore, ADMIN } = require('./lib/store')
const { VERSION_PROPERTY, rotateSession } = require('./lib/session')

const classes = new WeakMap()

/**
 * connect-dynamodb's factory: pass express-session (or `{ session }`,
 * `{ Store }`, connect 2.x, express 3.x) and get the store class.
 */
function connectDynamoDB(connect) {
  const Store = connect && (connect.Store || (connect.session && connect.session.Store))
  if (typeof Store !== 'function') {
    throw new TypeError(
      'connect-dynamodb-rs: pass express-session (or connect) to the factory: require("connect-dynamodb-rs")(session)',
    )
  }
  if (!classes.has(Store)) classes.set(Store, defineStore(Store))
  return classes.get(Store)
}

/** The store class over express-session's Store (or a bare EventEmitter without it). */
function defaultStoreClass() {
  let Store
  try {
    ;({ Store } = require('express-session'))
  } catch {
    Store = require('node:events').EventEmitter
  }
  return connectDynamoDB({ Store })
}

module.exports = connectDynamoDB
module.exports.default = connectDynamoDB
module.exports.VERSION_PROPERTY = VERSION_PROPERTY
module.exports.rotateSession = rotateSession
Object.defineProperty(module.exports, 'ADMIN', { value: ADMIN })
Object.defineProperty(module.exports, 'DynamoDBStore', { enumerable: true, get: defaultStoreClass })
