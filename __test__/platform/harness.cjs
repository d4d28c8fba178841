'use strict'

// The platform suites' harness (runtimes.cjs, hono.cjs): named checks run in
// order, each reported `ok` or `FAIL` with the start of its stack, then a
// count; the process exits 1 when one failed. Nothing but the runtime.

const checks = []

/** Adds a check: `run` returns or throws (node:assert), maybe asynchronously. */
const check = (name, run) => checks.push({ name, run })

/** Runs every check, then `cleanup()`; prints `${label}: n of m passed` and exits. */
async function runChecks(label, cleanup = async () => {}) {
  let failed = 0
  for (const { name, run } of checks) {
    try {
      await run()
      console.log(`ok   ${name}`)
    } catch (err) {
      failed += 1
      console.log(
        `FAIL ${name}\n     ${String(err && err.stack ? err.stack : err)
          .split('\n')
          .slice(0, 3)
          .join('\n     ')}`,
      )
    }
  }
  await cleanup()
  console.log(`${label}: ${checks.length - failed} of ${checks.length} passed`)
  process.exit(failed ? 1 : 0)
}

module.exports = { check, runChecks }
