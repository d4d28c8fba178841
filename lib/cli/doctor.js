'use strict'

// doctor: an existing table checked against the store's options, each
// finding with what to do about it: the key schema, TTL, the user index,
// the billing mode, the permissions the configured features need (each
// probed harmlessly), and a sample of the items (sessions the store cannot
// read, expired sessions TTL has not removed yet, items in the other layout).

const {
  ADMIN,
  openStore,
  number,
  describeTable,
  checkKeySchema,
  Budget,
  Progress,
  scanTable,
  kib,
} = require('./common')

async function doctor(flags, out) {
  const store = openStore(flags)
  try {
    const admin = store[ADMIN]()
    const checks = []
    const check = (name, ok, finding, fix) => checks.push({ check: name, ok, finding, fix: ok ? undefined : fix })
    const table = await describeTable(store)
    check(
      'table',
      table.TableStatus === 'ACTIVE',
      `${table.TableName} is ${table.TableStatus}`,
      'wait until it is ACTIVE',
    )
    const keyProblems = checkKeySchema(table, store)
    check(
      'key schema',
      keyProblems.length === 0,
      keyProblems.join('; ') || `hash key "${store.hashKey}" (S)`,
      'use a table whose only key is a string hash key, named with --hash-key',
    )

    const ttlAttribute = admin.format === 'connect-dynamodb-session' ? 'ttl' : 'expires'
    const ttl = await admin.ttlSetting()
    const ttlOn = ['ENABLED', 'ENABLING'].includes(ttl.status)
    check(
      'TTL',
      ttlOn && ttl.attribute === ttlAttribute,
      ttlOn ? `${ttl.status} on "${ttl.attribute}"` : `${ttl.status}: expired sessions are never deleted`,
      `aws dynamodb update-time-to-live --table-name ${store.table} --time-to-live-specification Enabled=true,AttributeName=${ttlAttribute}`,
    )

    const billing = (table.BillingModeSummary && table.BillingModeSummary.BillingMode) || 'PROVISIONED'
    if (flags['billing-mode']) {
      check(
        'billing mode',
        billing === flags['billing-mode'],
        billing,
        `the table is ${billing}; change it in the console or with update-table --billing-mode ${flags['billing-mode']}`,
      )
    } else {
      const capacity = table.ProvisionedThroughput || {}
      check(
        'billing mode',
        true,
        billing === 'PROVISIONED'
          ? `PROVISIONED, ${capacity.ReadCapacityUnits} RCU / ${capacity.WriteCapacityUnits} WCU`
          : billing,
      )
    }

    if (flags['user-path']) {
      const name = flags['user-index'] || `${flags['range-key'] || 'user'}-${store.hashKey}-index`
      const index = (table.GlobalSecondaryIndexes || []).find((i) => i.IndexName === name)
      check(
        'user index',
        Boolean(index) && index.IndexStatus === 'ACTIVE',
        index ? `${name} is ${index.IndexStatus}` : `${name} is missing`,
        'run: npx connect-dynamodb-rs init (with the same flags) to add it, or call store.ensureUserIndex()',
      )
    }

    const probes = await admin.probePermissions()
    const denied = probes.filter((p) => p.outcome !== 'allowed')
    check(
      'permissions',
      denied.length === 0,
      denied.length === 0
        ? `${probes.map((p) => p.action.replace('dynamodb:', '')).join(', ')} allowed`
        : denied.map((p) => `${p.action} ${p.outcome}${p.message ? ` (${p.message})` : ''}`).join('; '),
      `allow ${denied.map((p) => p.action).join(', ')} on the table (docs/security.md, IAM policy)`,
    )

    const sample = await sampleItems(admin, flags, out)
    const damaged = sample.kinds.damaged || 0
    check(
      'readable sessions',
      damaged === 0,
      damaged === 0
        ? `${sample.items} items sampled, none damaged`
        : `${damaged} of ${sample.items} sampled items cannot be read: ${sample.damaged.map((d) => `${d.key} (${d.detail})`).join('; ')}`,
      'reap or delete them; a session that cannot be read is treated as missing',
    )
    const expired = sample.kinds.expired || 0
    // With TTL on, expired items wait for it (up to a few days); without it they stay for good.
    check(
      'expired sessions',
      expired === 0 || ttlOn,
      expired === 0
        ? 'none in the sample'
        : `${expired} of ${sample.items} sampled items have expired but are still stored${ttlOn ? ' (TTL deletes them within days)' : ''}`,
      'turn TTL on (above), or run: npx connect-dynamodb-rs reap',
    )
    const other = sample.kinds['other-format'] || 0
    check(
      'item layout',
      other === 0,
      other === 0 ? `all sessions in the ${admin.format} layout` : `${other} sampled sessions are in the other layout`,
      'run: npx connect-dynamodb-rs migrate --from connect-dynamodb-session',
    )

    const problems = checks.filter((c) => !c.ok).length
    out.result({ table: store.table, problems, checks, sample }, () => [
      ...checks.map(
        (c) => `${c.ok ? 'ok  ' : 'FIX '} ${c.check.padEnd(17)} ${c.finding}${c.ok ? '' : `\n      -> ${c.fix}`}`,
      ),
      '',
      problems === 0 ? 'No problems found.' : `${problems} problem${problems === 1 ? '' : 's'} found.`,
    ])
    return problems === 0 ? 0 : 1
  } finally {
    await store.close()
  }
}

/** Up to --sample items (default 1,000), read within --max-rcu. */
async function sampleItems(admin, flags, out) {
  const limit = number(flags, 'sample', { min: 1 }) || 1000
  const budget = new Budget(number(flags, 'max-rcu', { min: 0.1 }) || Infinity)
  const progress = new Progress('sampling', { total: limit, enabled: out.progress })
  const sample = { items: 0, kinds: {}, damaged: [], largest: 0 }
  await scanTable(admin, {
    budget,
    progress,
    limit: Math.min(limit, 100),
    stopped: () => sample.items >= limit,
    onPage: (items) => {
      for (const item of items.slice(0, limit - sample.items)) {
        sample.items += 1
        sample.kinds[item.kind] = (sample.kinds[item.kind] || 0) + 1
        if (item.kind === 'damaged' && sample.damaged.length < 5)
          sample.damaged.push({ key: item.key, detail: item.detail })
        sample.largest = Math.max(sample.largest, item.bytes)
      }
    },
  })
  progress.finish()
  sample.largestSize = kib(sample.largest)
  return sample
}

module.exports = { doctor }
