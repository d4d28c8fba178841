'use strict'

// stats: one paged scan of the table within a read budget (--max-rcu),
// summarizing its sessions: live, expired and destroyed ones (and the
// store's own items), session sizes as a histogram with the largest few,
// sessions per user where there is a user attribute, and what those
// sessions cost per 1,000 requests under the store's options, with and
// without touchAfter and compression.

const { openSessionTable, number, Budget, Progress, scanTable, kib } = require('./common')

/** Upper bounds of the size histogram's buckets (bytes of the stored item). */
const BUCKETS = [256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 409600]

async function stats(flags, out) {
  const { store, admin, table } = await openSessionTable(flags)
  try {
    const budget = new Budget(number(flags, 'max-rcu', { min: 0.1 }) || Infinity)
    const progress = new Progress('scanning', { total: table.ItemCount, enabled: out.progress })
    const summary = {
      items: 0,
      kinds: {},
      live: { count: 0, bytes: 0, json: 0, deflated: 0 },
      histogram: BUCKETS.map(() => 0),
      largest: [],
      users: new Map(),
    }
    await scanTable(admin, {
      budget,
      progress,
      measure: true,
      onPage: (items) => {
        for (const item of items) add(summary, item)
      },
    })
    progress.finish()
    const result = report(summary, flags, budget, table)
    out.result(result, () => human(result))
    return 0
  } finally {
    await store.close()
  }
}

function add(summary, item) {
  summary.items += 1
  summary.kinds[item.kind] = (summary.kinds[item.kind] || 0) + 1
  if (item.kind !== 'live') return
  const live = summary.live
  live.count += 1
  live.bytes += item.bytes
  live.json += item.jsonBytes || 0
  live.deflated += item.deflatedBytes || 0
  summary.histogram[
    Math.max(
      BUCKETS.findIndex((bound) => item.bytes < bound),
      0,
    )
  ] += 1
  summary.largest.push({ key: item.key, bytes: item.bytes })
  summary.largest.sort((a, b) => b.bytes - a.bytes).splice(5)
  if (item.user) summary.users.set(item.user, (summary.users.get(item.user) || 0) + 1)
}

/**
 * Capacity per 1,000 requests for sessions of the average live size: each request reads its
 * session (a strongly consistent read: 1 RCU per 4 KB) and refreshes its expiry (a touch is
 * billed on the whole item: 1 WCU per KB); with touchAfter, a session requested every
 * --request-interval seconds is written once per touchAfter instead.
 */
function estimate(avgBytes, deflatedShare, flags) {
  const interval = number(flags, 'request-interval', { min: 0.001 }) || 10
  const touchAfter = (number(flags, 'touch-after') ?? 60_000) / 1000
  const read = (bytes) => Math.ceil(bytes / 4096) * 1000
  const write = (bytes, perRequest) => Math.ceil(bytes / 1024) * 1000 * perRequest
  const written = touchAfter > interval ? interval / touchAfter : 1
  const packed = Math.max(avgBytes * deflatedShare, 1)
  return {
    assumptions: { requestEverySeconds: interval, touchAfterSeconds: touchAfter },
    plain: { rcu: read(avgBytes), wcu: write(avgBytes, 1) },
    touchAfter: { rcu: read(avgBytes), wcu: round(write(avgBytes, written)) },
    touchAfterAndCompress: { rcu: read(packed), wcu: round(write(packed, written)) },
  }
}

function report(summary, flags, budget, table) {
  const live = summary.live
  const average = live.count ? Math.round(live.bytes / live.count) : 0
  const share = live.json ? live.deflated / live.json : 1
  const topUsers = [...summary.users.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10)
  return {
    table: table.TableName,
    items: summary.items,
    live: live.count,
    expired: summary.kinds.expired || 0,
    destroyed: summary.kinds.destroyed || 0,
    other: Object.fromEntries(
      Object.entries(summary.kinds).filter(([kind]) => !['live', 'expired', 'destroyed'].includes(kind)),
    ),
    sizes: {
      averageBytes: average,
      histogram: BUCKETS.map((bound, i) => ({ under: bound, sessions: summary.histogram[i] })),
      largest: summary.largest,
      deflatedShare: round(share),
    },
    users: summary.users.size
      ? { count: summary.users.size, top: topUsers.map(([user, sessions]) => ({ user, sessions })) }
      : null,
    perThousandRequests: estimate(average, share, flags),
    read: { units: round(budget.spent), unitsPerSecond: round(budget.rate()) },
  }
}

function human(r) {
  const lines = [
    `Table ${r.table}: ${r.items} items; ${r.live} live sessions, ${r.expired} expired, ${r.destroyed} destroyed (tombstones)` +
      (Object.keys(r.other).length
        ? `; ${Object.entries(r.other)
            .map(([kind, n]) => `${n} ${kind}`)
            .join(', ')}`
        : ''),
    '',
    `Session sizes (stored item; average ${kib(r.sizes.averageBytes)}):`,
  ]
  const most = Math.max(...r.sizes.histogram.map((b) => b.sessions), 1)
  for (const bucket of r.sizes.histogram) {
    const bar = '█'.repeat(Math.round((bucket.sessions / most) * 40))
    lines.push(`  < ${kib(bucket.under).padStart(7)} ${bar} ${bucket.sessions}`)
  }
  if (r.sizes.largest.length)
    lines.push('Largest:', ...r.sizes.largest.map((l) => `  ${kib(l.bytes).padStart(8)}  ${l.key}`))
  if (r.users)
    lines.push(
      '',
      `Users: ${r.users.count}; most sessions:`,
      ...r.users.top.map((u) => `  ${String(u.sessions).padStart(5)}  ${u.user}`),
    )
  const e = r.perThousandRequests
  lines.push(
    '',
    `Capacity per 1,000 requests (a request every ${e.assumptions.requestEverySeconds} s per session; touchAfter ${e.assumptions.touchAfterSeconds} s; compressed to ${Math.round(r.sizes.deflatedShare * 100)}%):`,
    `  defaults:                ${e.plain.rcu} RCU, ${e.plain.wcu} WCU`,
    `  touchAfter:              ${e.touchAfter.rcu} RCU, ${e.touchAfter.wcu} WCU`,
    `  touchAfter + compress:   ${e.touchAfterAndCompress.rcu} RCU, ${e.touchAfterAndCompress.wcu} WCU`,
    '',
    `Read ${r.read.units} RCU for this scan (${r.read.unitsPerSecond} RCU/s).`,
  )
  return lines
}

function round(n, digits = 2) {
  return Number(n.toFixed(digits))
}

module.exports = { stats, estimate }
