'use strict'

// A loopback HTTP proxy in front of DynamoDB Local that injects real faults:
// DynamoDB's throttling error, added latency, connections dropped in the
// middle of a response, and an outage (every connection reset). Tests and
// bench/faults.js drive it; it counts what it saw per DynamoDB operation.

const http = require('node:http')
const { freePort } = require('./dynamodb-local')

const THROTTLED = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'The level of configured provisioned throughput for the table was exceeded.',
})

/**
 * @param {string} target DynamoDB Local's endpoint.
 * Faults: `proxy.fault = { kind: 'throttle' | 'drop' | 'down' | 'latency' | 'blackhole', times?, rate?, ms?, only? }`;
 * `times` limits it to the next N requests (`only`: an operation name such as 'GetItem'),
 * `rate` to that share of them (0..1). 'blackhole' never answers (a network partition).
 */
async function startFaultProxy(target) {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true })
  const proxy = { fault: null, requests: {}, faulted: 0 }
  const sockets = new Set()

  const takeFault = (operation) => {
    const fault = proxy.fault
    if (!fault || (fault.only && fault.only !== operation)) return null
    if (fault.rate !== undefined && Math.random() >= fault.rate) return null
    if (fault.times !== undefined) {
      if (fault.times <= 0) return null
      fault.times -= 1
    }
    proxy.faulted += 1
    return fault
  }

  const server = http.createServer((req, res) => {
    const operation =
      String(req.headers['x-amz-target'] || '')
        .split('.')
        .pop() || 'unknown'
    proxy.requests[operation] = (proxy.requests[operation] || 0) + 1
    const fault = takeFault(operation)
    if (fault && fault.kind === 'down') return req.socket.destroy()
    if (fault && fault.kind === 'blackhole') return req.resume()
    if (fault && fault.kind === 'throttle') {
      req.resume()
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'fault-proxy' })
      return res.end(THROTTLED)
    }
    const forward = () => {
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          if (fault && fault.kind === 'drop') {
            // Send the status line and part of the body, then cut the connection.
            res.writeHead(answer.statusCode, { ...answer.headers, 'content-length': '100000' })
            res.write('{"Item":')
            answer.resume()
            return setTimeout(() => req.socket.destroy(), 5)
          }
          res.writeHead(answer.statusCode, answer.headers)
          answer.pipe(res)
        },
      )
      out.on('error', () => req.socket.destroy())
      req.pipe(out)
    }
    if (fault && fault.kind === 'latency') setTimeout(forward, fault.ms).unref()
    else forward()
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  // A client's reset mid-request is expected here.
  server.on('clientError', (_err, socket) => socket.destroy())

  const port = await freePort()
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${port}`,
    count: (operation) => proxy.requests[operation] || 0,
    reset() {
      proxy.fault = null
      proxy.requests = {}
      proxy.faulted = 0
    },
    async stop() {
      for (const socket of sockets) socket.destroy()
      agent.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  })
}

module.exports = { startFaultProxy }
