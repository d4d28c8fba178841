'use strict'

// The normalizing layer for the `client` option: an AWS SDK v3 DynamoDBClient
// or a v2 AWS.DynamoDB is seen by the native core as two async providers, one
// for its region and endpoint, one for its (expiring) credentials. The native
// core asks the credentials provider again whenever they near expiry.

const { storeError } = require('./errors')

const resolve = (value) => (typeof value === 'function' ? value() : value)

function endpointUrl(endpoint) {
  if (!endpoint) return undefined
  if (typeof endpoint === 'string') return endpoint
  if (endpoint.href) return String(endpoint.href)
  if (endpoint.url) return String(endpoint.url)
  const port = endpoint.port ? `:${endpoint.port}` : ''
  const path = endpoint.path && endpoint.path !== '/' ? endpoint.path : ''
  return `${endpoint.protocol}//${endpoint.hostname}${port}${path}`
}

const epochMs = (date) => (date == null ? undefined : new Date(date).getTime())

const credentialsOf = (c, expiration) => ({
  accessKeyId: c.accessKeyId,
  secretAccessKey: c.secretAccessKey,
  sessionToken: c.sessionToken || undefined,
  expiration: epochMs(expiration),
})

function v3Bridge(config) {
  return {
    config: async () => ({
      region: await resolve(config.region),
      endpoint: config.endpoint ? endpointUrl(await resolve(config.endpoint)) : undefined,
    }),
    credentials: async () => {
      const creds = await resolve(config.credentials)
      return credentialsOf(creds, creds.expiration)
    },
  }
}

function v2Bridge(client) {
  const { config } = client
  return {
    config: async () => ({
      region: config.region,
      endpoint: config.endpoint ? endpointUrl(client.endpoint || config.endpoint) : undefined,
    }),
    credentials: () =>
      new Promise((done, fail) => {
        // The v2 SDK may call back on a later tick: a throw there would be
        // uncaught, so everything that can throw stays inside this try.
        config.getCredentials((err, creds) => {
          try {
            if (err) throw err
            const c = creds || config.credentials
            if (!c) throw new Error('the client has no credentials')
            done(credentialsOf(c, c.expireTime))
          } catch (failure) {
            fail(failure)
          }
        })
      }),
  }
}

/** The `client` option as the native core's providers. */
function clientBridge(client) {
  const config = client && client.config
  if (config && typeof config.getCredentials === 'function') return v2Bridge(client)
  if (config && typeof client.send === 'function' && config.credentials) return v3Bridge(config)
  throw storeError(
    'ERR_INVALID_OPTION',
    'option "client" must be a DynamoDBClient from @aws-sdk/client-dynamodb (or an AWS.DynamoDB)',
  )
}

/** A JS SDK client matching the store's own connection, when the SDK is installed. */
function defaultClient(connection) {
  let DynamoDBClient
  try {
    ;({ DynamoDBClient } = require('@aws-sdk/client-dynamodb'))
  } catch {
    return undefined
  }
  const { region, endpoint, accessKeyId, secretAccessKey, sessionToken } = connection
  const credentials = accessKeyId ? { accessKeyId, secretAccessKey, sessionToken } : undefined
  return new DynamoDBClient({ region, endpoint, credentials })
}

module.exports = { clientBridge, defaultClient }
