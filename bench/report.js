'use strict'

// Turns the rounds into medians, a Markdown table with ratios and targets,
// and an SVG chart.

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Median over rounds of every number, keeping the shape of one round. */
function summarize(rounds) {
  const merge = (values) =>
    typeof values[0] === 'number'
      ? median(values)
      : Object.fromEntries(Object.keys(values[0]).map((k) => [k, merge(values.map((v) => v[k]))]))
  return merge(rounds)
}

const fmt = (n, digits = 2) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(digits))
const ratio = (a, b) => `${(a / b).toFixed(2)}×`
const sizeName = (bytes) => (bytes >= 1024 ? `${bytes / 1024} KB` : `${bytes} B`)

/** Min and max over rounds of every number, in the shape of one round: `{ min, max }` leaves. */
function spreadOf(rounds) {
  const merge = (values) =>
    typeof values[0] === 'number'
      ? { min: Math.min(...values), max: Math.max(...values) }
      : Object.fromEntries(Object.keys(values[0]).map((k) => [k, merge(values.map((v) => v[k]))]))
  return merge(rounds)
}

/** The operations of the sequential scenario ("get 1024", …), without its bookkeeping. */
const opKeys = (sequential) => Object.keys(sequential).filter((k) => k.includes(' '))

/** The engine's targets, each as [label, measured ratio, limit, higher-is-better]. */
function targets(s) {
  const { rs, cd, js } = s
  const small = (k) => !k.endsWith(' 65536')
  const worst = (other, op) =>
    Math.max(
      ...opKeys(rs.sequential)
        .filter((k) => k.startsWith(`${op} `) && small(k))
        .map((k) => rs.sequential[k].cpuUs / other.sequential[k].cpuUs),
    )
  const rows = []
  for (const op of ['get', 'set', 'touch', 'destroy']) {
    rows.push([`CPU per ${op}, 200 B and 1 KB (worst), vs cd`, worst(cd, op), 0.12, false])
    rows.push([`CPU per ${op}, 200 B and 1 KB (worst), vs js`, worst(js, op), 0.35, false])
  }
  const big = (op, json) => {
    const key = `${op} 65536`
    if (!rs.sequential[key] || !rs.sequential.json) return []
    const net = (x) => x.sequential[key].cpuUs - x.sequential.json[65536][json]
    return [
      [
        `CPU per ${op}, 64 KB, net of ${json === 'parseUs' ? 'JSON.parse' : 'JSON.stringify'}, vs cd`,
        net(rs) / net(cd),
        0.2,
        false,
      ],
    ]
  }
  rows.push(...big('get', 'parseUs'), ...big('set', 'stringifyUs'))
  rows.push(['64 in flight: p99 vs cd', rs.concurrent.p99 / cd.concurrent.p99, 0.7, false])
  rows.push(['64 in flight: throughput vs cd', rs.concurrent.opsPerSec / cd.concurrent.opsPerSec, 4, true])
  rows.push(['express requests/s vs cd', rs.express.rps / cd.express.rps, 3, true])
  rows.push(['express server CPU per request vs cd', rs.express.cpuUs / cd.express.cpuUs, 0.2, false])
  return rows
}

function markdown(s, meta) {
  const { rs, cd, js, spread } = s
  const lines = []
  const range = (kind, pick) => {
    const r = pick(spread[kind])
    return `${fmt(r.min, 0)}–${fmt(r.max, 0)}`
  }
  lines.push(
    `Machine: ${meta.machine}. ${meta.quick ? 'QUICK run (smoke check only). ' : ''}Medians of ${meta.config.rounds} round(s), each store starting a round in turn; every store warmed until its CPU per call settled (${meta.config.warm.min}–${meta.config.warm.max} calls) in each process. rs = connect-dynamodb-rs, cd = connect-dynamodb 3.0.5, js = the hand-written JS store (bench/js-store.js); × = rs / other.`,
    '',
  )
  lines.push(
    '**Sequential** (one call at a time; CPU is the whole process, per call; rs range = min–max of the rounds)',
    '',
  )
  lines.push(
    '| op | session | p50 ms rs | cd | js | p99 ms rs | cd | js | CPU µs rs | rs range | cd | js | × cd | × js |',
  )
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const key of opKeys(rs.sequential)) {
    const [op, size] = key.split(' ')
    const [a, b, c] = [rs, cd, js].map((x) => x.sequential[key])
    lines.push(
      `| ${op} | ${sizeName(Number(size))} | ${fmt(a.p50)} | ${fmt(b.p50)} | ${fmt(c.p50)} | ${fmt(a.p99)} | ${fmt(b.p99)} | ${fmt(c.p99)} | ${fmt(a.cpuUs, 0)} | ${range('rs', (x) => x.sequential[key].cpuUs)} | ${fmt(b.cpuUs, 0)} | ${fmt(c.cpuUs, 0)} | ${ratio(a.cpuUs, b.cpuUs)} | ${ratio(a.cpuUs, c.cpuUs)} |`,
    )
  }
  const table = (title, metrics, pick) => {
    lines.push('', title, '')
    lines.push('| metric | rs | cd | js | × cd | × js |', '| --- | ---: | ---: | ---: | ---: | ---: |')
    for (const [m, label] of metrics) {
      const [a, b, c] = [rs, cd, js].map((x) => pick(x)[m])
      lines.push(`| ${label} | ${fmt(a)} | ${fmt(b)} | ${fmt(c)} | ${ratio(a, b)} | ${ratio(a, c)} |`)
    }
  }
  const c = meta.config.concurrent
  table(
    `**Concurrent** (${c.inFlight} in flight; 80% get, 15% touch, 5% set over ${c.sessions} sessions of 1 KB)`,
    [
      ['opsPerSec', 'ops/s'],
      ['p50', 'p50 ms'],
      ['p99', 'p99 ms'],
      ['cpuUs', 'CPU µs per op'],
    ],
    (x) => x.concurrent,
  )
  const e = meta.config.express
  table(
    `**Express end to end** (express-session, resave: false; autocannon, ${e.connections} connections, ${e.seconds} s after ${e.warmSeconds} s of warm-up, one logged-in session: get + touch per request)`,
    [
      ['rps', 'requests/s'],
      ['p50', 'p50 ms'],
      ['p99', 'p99 ms'],
      ['cpuUs', 'server CPU µs per request'],
    ],
    (x) => x.express,
  )
  if (s.memory) {
    const m = s.memory.express
    lines.push(
      '',
      `Its floor, the same app on express-session's MemoryStore (no I/O): ${fmt(m.rps)} requests/s, ${fmt(m.cpuUs)} µs server CPU per request (${ratio(m.cpuUs, cd.express.cpuUs)} of cd's, ${ratio(m.cpuUs, rs.express.cpuUs)} of rs's).`,
    )
  }
  table('**Cold start** (process start to first completed get, table exists)', [['ms', 'ms']], (x) => x.cold)
  lines.push('', '**Targets**', '', '| target | measured | limit | met |', '| --- | ---: | ---: | :---: |')
  for (const [label, r, limit, higher] of targets(s)) {
    const met = higher ? r >= limit : r <= limit
    lines.push(`| ${label} | ${r.toFixed(2)}× | ${higher ? '≥' : '≤'} ${limit}× | ${met ? 'yes' : 'no'} |`)
  }
  lines.push('', scaleMarkdown(s.scale))
  const cpu1k = rs.sequential['get 1024'].cpuUs
  const cpu64k = rs.sequential['get 65536'].cpuUs
  lines.push('', `CPU of a 64 KB get vs a 1 KB get (rs): ${(cpu64k / cpu1k).toFixed(2)}×.`)
  const json = rs.sequential.json && rs.sequential.json[65536]
  if (json)
    lines.push(
      '',
      `The JSON every store must do for a 64 KB session (express-session hands over objects): JSON.parse ${fmt(json.parseUs, 0)} µs, JSON.stringify ${fmt(json.stringifyUs, 0)} µs (rs's process).`,
    )
  lines.push('')
  return lines.join('\n')
}

/** CPU per get against the number of stored sessions, for each store. */
function scaleMarkdown(scale) {
  const [small, large] = Object.keys(scale.rs)
  const row = (kind, name) => {
    const a = scale[kind][small]
    const b = scale[kind][large]
    return `| ${name} | ${fmt(a.cpuUs, 0)} | ${fmt(b.cpuUs, 0)} | ${ratio(b.cpuUs, a.cpuUs)} | ${fmt(a.p50)} | ${fmt(b.p50)} |`
  }
  return [
    `**Scale** (sequential gets of 1 KB sessions with ${small} and then ${large} sessions stored)`,
    '',
    `| store | CPU µs @${small} | @${large} | growth | p50 ms @${small} | @${large} |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row('rs', 'connect-dynamodb-rs'),
    row('cd', 'connect-dynamodb 3.0.5'),
    ...(scale.js ? [row('js', 'hand-written JS store')] : []),
    '',
  ].join('\n')
}

/** Bars of rs relative to cd (cd = 1) for the headline metrics; lower is better except where marked. */
function svgChart(s) {
  const { rs, cd } = s
  const rows = [
    ['CPU per get (1 KB)', rs.sequential['get 1024'].cpuUs / cd.sequential['get 1024'].cpuUs],
    ['CPU per set (1 KB)', rs.sequential['set 1024'].cpuUs / cd.sequential['set 1024'].cpuUs],
    ['CPU per touch (1 KB)', rs.sequential['touch 1024'].cpuUs / cd.sequential['touch 1024'].cpuUs],
    ['p50 get (1 KB)', rs.sequential['get 1024'].p50 / cd.sequential['get 1024'].p50],
    ['p50 set (1 KB)', rs.sequential['set 1024'].p50 / cd.sequential['set 1024'].p50],
    ['CPU per express request', rs.express.cpuUs / cd.express.cpuUs],
    ['cold start', rs.cold.ms / cd.cold.ms],
    ['concurrent ops/s (higher is better)', rs.concurrent.opsPerSec / cd.concurrent.opsPerSec],
    ['express requests/s (higher is better)', rs.express.rps / cd.express.rps],
  ]
  const max = Math.max(1.2, ...rows.map(([, r]) => r))
  const width = 760
  const left = 260
  const barW = width - left - 70
  const rowH = 30
  const height = rows.length * rowH + 70
  const x = (r) => left + (r / max) * barW
  const esc = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const bars = rows
    .map(([label, r], i) => {
      const y = 40 + i * rowH
      const good = label.includes('higher') ? r >= 1 : r <= 1
      return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(label)}</text>
<rect x="${left}" y="${y + 3}" width="${(x(r) - left).toFixed(1)}" height="18" fill="${good ? '#2f7d4f' : '#b5482f'}"/>
<text x="${(x(r) + 6).toFixed(1)}" y="${y + 16}">${r.toFixed(2)}×</text>`
    })
    .join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-weight="bold">connect-dynamodb-rs relative to connect-dynamodb 3.0.5 (= 1×, dashed)</text>
${bars}
<line x1="${x(1).toFixed(1)}" y1="34" x2="${x(1).toFixed(1)}" y2="${height - 20}" stroke="#333" stroke-dasharray="4 3"/>
</svg>
`
}

module.exports = { summarize, spreadOf, markdown, svgChart, targets, scaleMarkdown }
