#!/usr/bin/env node
'use strict'

// The operator's command line: `npx connect-dynamodb-rs <command> [flags]`.
// Each command takes the store's connection and layout options as flags,
// reads the standard AWS environment, prints a report (or JSON with --json),
// and exits non-zero on failure. The commands live in lib/cli/.

const { parseArgs } = require('node:util')
const { CliError, number } = require('./lib/cli/common')

const COMMANDS = {
  init: ['lib/cli/init', 'init', 'create the table the way the store would (or --print cloudformation|terraform|cdk)'],
  doctor: ['lib/cli/doctor', 'doctor', 'check an existing table against the options, and say what to fix'],
  stats: ['lib/cli/stats', 'stats', 'summarize the sessions: counts, sizes, users, capacity per 1,000 requests'],
  migrate: [
    'lib/cli/migrate',
    'migrate',
    "move connect-dynamodb-session's sessions into this layout (--from connect-dynamodb-session)",
  ],
  reap: ['lib/cli/reap', 'reap', 'delete expired sessions and old tombstones once'],
}

const FLAGS = {
  table: { type: 'string', default: 'sessions' },
  prefix: { type: 'string' },
  'hash-key': { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  profile: { type: 'string' },
  format: { type: 'string' },
  'user-path': { type: 'string' },
  'user-index': { type: 'string' },
  'range-key': { type: 'string' },
  'billing-mode': { type: 'string' },
  'read-capacity': { type: 'string' },
  'write-capacity': { type: 'string' },
  'max-rcu': { type: 'string' },
  'max-wcu': { type: 'string' },
  'page-size': { type: 'string' },
  sample: { type: 'string' },
  'touch-after': { type: 'string' },
  'request-interval': { type: 'string' },
  from: { type: 'string' },
  state: { type: 'string' },
  print: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  progress: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

const USAGE = `Usage: npx connect-dynamodb-rs <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, [, , about]]) => `  ${name.padEnd(8)} ${about}`)
  .join('\n')}

The store's options:  --table (sessions) --prefix --hash-key --format --user-path --user-index --range-key
Connection:           --region --endpoint --profile (and the standard AWS environment)
Table (init):         --billing-mode PROVISIONED|PAY_PER_REQUEST --read-capacity --write-capacity --print cloudformation|terraform|cdk
Scans:                --max-rcu --max-wcu --page-size --sample (doctor) --dry-run (migrate, reap) --state (migrate)
Estimates (stats):    --touch-after ms (60000) --request-interval seconds (10)
Output:               --json (a report for scripts) --progress (a progress bar also when stderr is not a terminal)
`

/** What a command writes: a report for people, or JSON for scripts. */
function output(json, progress) {
  return {
    progress,
    text: (text) => process.stdout.write(`${text}\n`),
    result: (result, human) =>
      process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${human(result).join('\n')}\n`),
  }
}

async function main(argv) {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true })
  } catch (err) {
    throw new CliError(`${err.message.replace(/\. To specify.*$/s, '')}\n\n${USAGE}`, 2)
  }
  const [name, ...rest] = parsed.positionals
  if (parsed.values.help || !name) {
    process.stdout.write(USAGE)
    return name || parsed.values.help ? 0 : 2
  }
  if (!COMMANDS[name]) throw new CliError(`unknown command "${name}"\n\n${USAGE}`, 2)
  if (rest.length) throw new CliError(`unexpected argument "${rest[0]}"\n\n${USAGE}`, 2)
  const [file, exported] = COMMANDS[name]
  const command = require(`./${file}`)[exported]
  const flags = parsed.values
  for (const numeric of [
    'max-rcu',
    'max-wcu',
    'page-size',
    'sample',
    'touch-after',
    'request-interval',
    'read-capacity',
    'write-capacity',
  ]) {
    number(flags, numeric)
  }
  const code = await command(
    flags,
    output(Boolean(flags.json), Boolean(flags.progress) || Boolean(process.stderr.isTTY && !flags.json)),
  )
  return code || 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    const code = err && err.code && !(err instanceof CliError) ? ` (${err.code})` : ''
    // One line: what the store said first (a credentials chain lists every attempt after it).
    const message = String(err && err.message ? err.message : err)
    const line = err instanceof CliError ? message : message.split('\n')[0].replace(/ Attempted:$/, '')
    process.stderr.write(`connect-dynamodb-rs: ${line}${code}\n`)
    process.exitCode = err instanceof CliError ? err.exitCode : 1
  },
)
