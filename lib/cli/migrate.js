'use strict'

// migrate --from connect-dynamodb-session: every session still stored in
// connect-dynamodb-session's layout (the bare sid, `content`, `expires` in
// ms) rewritten in this store's layout, one item at a time: the new item
// first, the old one deleted only if unchanged, so no session is ever
// missing. Deploy the store with `migrateFrom: 'connect-dynamodb-session'`
// first, so that the app reads both layouts while this runs. Within
// --max-rcu / --max-wcu; resumable (the scan's position is kept in a state
// file after every page, and an interrupted run picks up there); --dry-run
// reports what would move and writes nothing.

const fs = require('node:fs')
const path = require('node:path')
const { CliError, openSessionTable, number, Budget, Progress, scanTable } = require('./common')

async function migrate(flags, out) {
  if (flags.from !== 'connect-dynamodb-session') {
    throw new CliError(
      "migrate needs --from connect-dynamodb-session (it moves that package's sessions into this store's layout)",
      2,
    )
  }
  if (flags.format === 'connect-dynamodb-session')
    throw new CliError('migrate moves sessions into the connect-dynamodb layout: leave out --format', 2)
  const { store, admin, table } = await openSessionTable(flags)
  const stateFile = path.resolve(flags.state || `.connect-dynamodb-rs-migrate-${flags.table || 'sessions'}.json`)
  let interrupted = false
  const onSignal = () => {
    interrupted = true
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const dryRun = Boolean(flags['dry-run'])
    const state = dryRun ? fresh(store) : resume(stateFile, store)
    const reads = new Budget(number(flags, 'max-rcu', { min: 0.1 }) || Infinity)
    const writes = new Budget(number(flags, 'max-wcu', { min: 0.1 }) || Infinity)
    const progress = new Progress(dryRun ? 'checking' : 'migrating', { total: table.ItemCount, enabled: out.progress })
    progress.done = state.scanned
    const next = await scanTable(admin, {
      budget: reads,
      progress,
      start: state.next,
      limit: number(flags, 'page-size', { min: 1 }) || 100,
      stopped: () => interrupted,
      onPage: async (items, next) => {
        for (const item of items) {
          state.scanned += 1
          if (item.kind !== 'other-format') continue
          if (dryRun) {
            state.wouldMove += 1
            continue
          }
          const before = admin.stats().consumedCapacity
          const moved = await admin.moveToLayout(item.key, '')
          const after = admin.stats().consumedCapacity
          state[moved ? 'moved' : 'skipped'] += 1
          await writes.spend(after.writeUnits - before.writeUnits)
          await reads.spend(after.readUnits - before.readUnits)
        }
        state.next = next
        if (!dryRun) save(stateFile, state)
      },
    })
    progress.finish()
    const done = !next
    if (!dryRun && done) fs.rmSync(stateFile, { force: true })
    const result = {
      table: store.table,
      dryRun,
      done,
      scanned: state.scanned,
      moved: state.moved,
      skipped: state.skipped,
      wouldMove: dryRun ? state.wouldMove : undefined,
      stateFile: done ? undefined : stateFile,
    }
    out.result(result, (r) =>
      [
        r.dryRun
          ? `Dry run: ${r.wouldMove} of ${r.scanned} items are sessions in connect-dynamodb-session's layout and would move; nothing was written.`
          : `${r.done ? 'Done' : 'Interrupted'}: ${r.moved} sessions moved, ${r.skipped} left (expired, or changed meanwhile: run again), ${r.scanned} items scanned${state.resumed ? ' (since the first, interrupted run)' : ''}.`,
        r.done ? null : `Run the same command again to resume (position kept in ${r.stateFile}).`,
      ].filter(Boolean),
    )
    return done ? 0 : 130
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await store.close()
  }
}

function fresh(store) {
  return { table: store.table, next: undefined, scanned: 0, moved: 0, skipped: 0, wouldMove: 0 }
}

/** The state an interrupted run of this table left, or a fresh one. */
function resume(file, store) {
  if (!fs.existsSync(file)) return fresh(store)
  let state
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    throw new CliError(`the state file ${file} is damaged: delete it to start over`)
  }
  if (state.table !== store.table)
    throw new CliError(`the state file ${file} belongs to table "${state.table}": pass --state for another file`)
  return { ...state, resumed: true }
}

function save(file, state) {
  const temporary = `${file}.tmp`
  fs.writeFileSync(temporary, JSON.stringify(state))
  fs.renameSync(temporary, file)
}

module.exports = { migrate }
