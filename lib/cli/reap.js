'use strict'

// reap: a one-off deletion of what the store no longer needs: expired
// sessions, tombstones whose guard has ended, and expired lock and user
// registry items, in batches of 25, within --max-rcu / --max-wcu.
// --dry-run counts them and deletes nothing.

const { openSessionTable, number, Budget, Progress, scanTable } = require('./common')

const BATCH = 25

async function reap(flags, out) {
  const { store, admin, table } = await openSessionTable(flags)
  try {
    const dryRun = Boolean(flags['dry-run'])
    const reads = new Budget(number(flags, 'max-rcu', { min: 0.1 }) || Infinity)
    const writes = new Budget(number(flags, 'max-wcu', { min: 0.1 }) || Infinity)
    const progress = new Progress(dryRun ? 'checking' : 'reaping', { total: table.ItemCount, enabled: out.progress })
    const now = Date.now() / 1000
    const counts = { scanned: 0, expired: 0, destroyed: 0, other: 0 }
    const doomed = []
    const flush = async () => {
      const keys = doomed.splice(0)
      if (dryRun || keys.length === 0) return
      const before = admin.stats().consumedCapacity.writeUnits
      await admin.deleteKeys(keys)
      await writes.spend(admin.stats().consumedCapacity.writeUnits - before)
    }
    await scanTable(admin, {
      budget: reads,
      progress,
      onPage: async (items) => {
        for (const item of items) {
          counts.scanned += 1
          const ended = item.expires != null && item.expires <= now
          if (item.kind === 'expired') counts.expired += 1
          else if (item.kind === 'destroyed' && ended) counts.destroyed += 1
          else if ((item.kind === 'lock' || item.kind === 'registry') && ended) counts.other += 1
          else continue
          doomed.push(item.key)
          if (doomed.length === BATCH) await flush()
        }
      },
    })
    await flush()
    progress.finish()
    const total = counts.expired + counts.destroyed + counts.other
    const result = {
      table: store.table,
      dryRun,
      scanned: counts.scanned,
      deleted: dryRun ? 0 : total,
      expired: counts.expired,
      destroyed: counts.destroyed,
      locksAndRegistry: counts.other,
    }
    out.result(result, (r) => [
      `${r.dryRun ? 'Dry run: would delete' : 'Deleted'} ${total} of ${r.scanned} items: ${r.expired} expired sessions, ${r.destroyed} old tombstones, ${r.locksAndRegistry} expired locks and user registry items.`,
    ])
    return 0
  } finally {
    await store.close()
  }
}

module.exports = { reap }
