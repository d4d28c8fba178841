'use strict'

// The load generator, in its own process: autocannon against one server.
// argv: <url> <cookie> <durationSec> <connections>
const autocannon = require('autocannon')

const [url, cookie, duration, connections] = process.argv.slice(2)
autocannon(
  { url, duration: Number(duration), connections: Number(connections), headers: { cookie } },
  (err, result) => {
    if (err) {
      process.stderr.write(String(err))
      process.exit(1)
    }
    process.stdout.write(
      JSON.stringify({
        requests: result.requests.total,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx,
        durationSec: result.duration,
      }),
    )
  },
)
