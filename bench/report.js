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
    typeof values[0] === 'number' ? median(values) : Object.fromEntries(Object.keys(values[0]).map((k) => [k, merge(values.map((v) => v[k]))]))
  return merge(rounds)
}

const fmt = (n, digits = 2) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(digits))
const ratio = (a, b) => `${(a / b).toFixed(2)}×`
const sizeName = (bytes) => (bytes >= 1024 ? `${bytes / 1024} KB` : `${bytes} B`)

/** The targets, each as [label, ratio rs/cd, limit, higher-is-better]. */
function targets(s) {
  const { rs, cd } = s
  const ops = ['get', 'set', 'touch']
  const seqKeys = Object.keys(rs.sequential)
  const worst = (metric, filter) =>
    Math.max(...seqKeys.filter(filter).map((k) => rs.sequential[k][metric] / cd.sequential[k][metric]))
  const rows = ops.map((op) => [`CPU per ${op} (worst size)`, worst('cpuUs', (k) => k.startsWith(`${op} `)), 0.25, false])
  for (const op of [...ops, 'destroy']) {
    rows.push([`p50 ${op} (worst size)`, worst('p50', (k) => k.startsWith(`${op} `)), 0.7, false])
    rows.push([`p99 ${op} (worst size)`, worst('p99', (k) => k.startsWith(`${op} `)), 1.0, false])
  }
  rows.push(['concurrent throughput', rs.concurrent.opsPerSec / cd.concurrent.opsPerSec, 2, true])
  rows.push(['express requests/s', rs.express.rps / cd.express.rps, 2, true])
  rows.push(['cold start to first get', rs.cold.ms / cd.cold.ms, 0.2, false])
  return rows
}

function markdown(s, meta) {
  const { rs, cd } = s
  const lines = []
  lines.push(`Machine: ${meta.machine}. ${meta.quick ? 'QUICK run (smoke check only). ' : ''}Medians of ${meta.config.rounds} alternating round(s); rs = connect-dynamodb-rs, cd = connect-dynamodb 3.0.5; × = rs / cd.`, '')
  lines.push('**Sequential** (one call at a time; CPU is the whole process, per call)', '')
  lines.push('| op | session | p50 ms rs | cd | × | p99 ms rs | cd | × | CPU µs rs | cd | × | ELU rs | cd |')
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const key of Object.keys(rs.sequential)) {
    const [op, size] = key.split(' ')
    const a = rs.sequential[key]
    const b = cd.sequential[key]
    lines.push(
      `| ${op} | ${sizeName(Number(size))} | ${fmt(a.p50)} | ${fmt(b.p50)} | ${ratio(a.p50, b.p50)} | ${fmt(a.p99)} | ${fmt(b.p99)} | ${ratio(a.p99, b.p99)} | ${fmt(a.cpuUs, 0)} | ${fmt(b.cpuUs, 0)} | ${ratio(a.cpuUs, b.cpuUs)} | ${a.elu.toFixed(2)} | ${b.elu.toFixed(2)} |`,
    )
  }
  const c = meta.config.concurrent
  lines.push('', `**Concurrent** (${c.inFlight} in flight; 80% get, 15% touch, 5% set over ${c.sessions} sessions of 1 KB)`, '')
  lines.push('| metric | rs | cd | × |', '| --- | ---: | ---: | ---: |')
  lines.push(`| ops/s | ${fmt(rs.concurrent.opsPerSec)} | ${fmt(cd.concurrent.opsPerSec)} | ${ratio(rs.concurrent.opsPerSec, cd.concurrent.opsPerSec)} |`)
  for (const [m, label] of [['p50', 'p50 ms'], ['p99', 'p99 ms'], ['cpuUs', 'CPU µs per op']]) {
    lines.push(`| ${label} | ${fmt(rs.concurrent[m])} | ${fmt(cd.concurrent[m])} | ${ratio(rs.concurrent[m], cd.concurrent[m])} |`)
  }
  const e = meta.config.express
  lines.push('', `**Express end to end** (express-session, resave: false; autocannon, ${e.connections} connections, ${e.seconds} s, one logged-in session: get + touch per request)`, '')
  lines.push('| metric | rs | cd | × |', '| --- | ---: | ---: | ---: |')
  for (const [m, label] of [['rps', 'requests/s'], ['p50', 'p50 ms'], ['p99', 'p99 ms'], ['cpuUs', 'server CPU µs per request']]) {
    lines.push(`| ${label} | ${fmt(rs.express[m])} | ${fmt(cd.express[m])} | ${ratio(rs.express[m], cd.express[m])} |`)
  }
  lines.push('', '**Cold start** (process start to first completed get, table exists)', '')
  lines.push('| rs ms | cd ms | × |', '| ---: | ---: | ---: |', `| ${fmt(rs.cold.ms)} | ${fmt(cd.cold.ms)} | ${ratio(rs.cold.ms, cd.cold.ms)} |`)
  lines.push('', '**Targets**', '', '| target | rs / cd | limit | met |', '| --- | ---: | ---: | :---: |')
  for (const [label, r, limit, higher] of targets(s)) {
    const met = higher ? r >= limit : r <= limit
    lines.push(`| ${label} | ${r.toFixed(2)}× | ${higher ? '≥' : '≤'} ${limit}× | ${met ? 'yes' : 'no'} |`)
  }
  lines.push('', scaleMarkdown(s.scale))
  const cpu1k = rs.sequential['get 1024'].cpuUs
  const cpu64k = rs.sequential['get 65536'].cpuUs
  lines.push('', `CPU of a 64 KB get vs a 1 KB get (rs): ${(cpu64k / cpu1k).toFixed(2)}× (target: about 3× at most).`, '')
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

module.exports = { summarize, markdown, svgChart, targets, scaleMarkdown }
