'use strict'

// init: create the table the way the store would (key, billing mode,
// capacity, TTL on the expiry attribute, the user index with --user-path),
// and wait until it is ACTIVE; or, with --print, the same table as
// CloudFormation, Terraform or CDK code, creating nothing.

const { ADMIN, CliError, openStore, describeTable, waiting } = require('./common')

async function init(flags, out) {
  const store = openStore(flags)
  try {
    const spec = tableSpec(store, flags)
    if (flags.print) {
      out.text(render(flags.print, spec))
      return 0
    }
    let existed = true
    try {
      await describeTable(store)
    } catch (err) {
      if (!(err instanceof CliError)) throw err
      existed = false
    }
    if (!existed) await waiting(`creating table ${spec.table}`, out.progress, store.createSessionsTable())
    if (spec.userIndex) await waiting(`user index ${spec.userIndex}`, out.progress, store.ensureUserIndex())
    const table = await describeTable(store)
    const ttl = await store[ADMIN]().ttlSetting()
    out.result(
      {
        table: spec.table,
        created: !existed,
        status: table.TableStatus,
        billingMode: (table.BillingModeSummary && table.BillingModeSummary.BillingMode) || 'PROVISIONED',
        ttl: { status: ttl.status, attribute: ttl.attribute || null },
        userIndex: spec.userIndex
          ? ((table.GlobalSecondaryIndexes || []).find((i) => i.IndexName === spec.userIndex) || {}).IndexStatus || null
          : null,
      },
      (r) =>
        [
          `${r.created ? 'Created' : 'Found'} table ${r.table}: ${r.status}, ${r.billingMode}`,
          `TTL: ${r.ttl.status}${r.ttl.attribute ? ` on "${r.ttl.attribute}"` : ''}`,
          r.userIndex ? `user index ${spec.userIndex}: ${r.userIndex}` : null,
          r.created ? null : 'The table existed and was left as it is; `doctor` checks it against these options.',
        ].filter(Boolean),
    )
    return 0
  } finally {
    await store.close()
  }
}

/** The table the store would create for these options. */
function tableSpec(store, flags) {
  const format = store[ADMIN]().format
  const onDemand = flags['billing-mode'] === 'PAY_PER_REQUEST'
  const userPath = flags['user-path']
  return {
    table: store.table,
    hashKey: store.hashKey,
    ttlAttribute: format === 'connect-dynamodb-session' ? 'ttl' : 'expires',
    onDemand,
    read: Number(flags['read-capacity'] || 5),
    write: Number(flags['write-capacity'] || 5),
    userAttribute: userPath ? flags['range-key'] || 'user' : null,
    userIndex: userPath ? flags['user-index'] || `${flags['range-key'] || 'user'}-${store.hashKey}-index` : null,
  }
}

/** The table as infrastructure code. */
function render(kind, spec) {
  const renderers = { cloudformation, terraform, cdk }
  if (!renderers[kind]) throw new CliError(`--print takes cloudformation, terraform or cdk, not "${kind}"`, 2)
  return renderers[kind](spec)
}

function cloudformation(s) {
  const throughput = (indent) =>
    s.onDemand
      ? []
      : [
          `${indent}ProvisionedThroughput:`,
          `${indent}  ReadCapacityUnits: ${s.read}`,
          `${indent}  WriteCapacityUnits: ${s.write}`,
        ]
  const lines = [
    'Resources:',
    '  SessionsTable:',
    '    Type: AWS::DynamoDB::Table',
    '    Properties:',
    `      TableName: ${s.table}`,
    `      BillingMode: ${s.onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED'}`,
    ...throughput('      '),
    '      AttributeDefinitions:',
    `        - { AttributeName: ${s.hashKey}, AttributeType: S }`,
    ...(s.userIndex ? [`        - { AttributeName: ${s.userAttribute}, AttributeType: S }`] : []),
    '      KeySchema:',
    `        - { AttributeName: ${s.hashKey}, KeyType: HASH }`,
    '      TimeToLiveSpecification:',
    `        AttributeName: ${s.ttlAttribute}`,
    '        Enabled: true',
  ]
  if (s.userIndex) {
    lines.push(
      '      GlobalSecondaryIndexes:',
      `        - IndexName: ${s.userIndex}`,
      '          KeySchema:',
      `            - { AttributeName: ${s.userAttribute}, KeyType: HASH }`,
      `            - { AttributeName: ${s.hashKey}, KeyType: RANGE }`,
      '          Projection: { ProjectionType: KEYS_ONLY }',
      ...throughput('          '),
    )
  }
  return lines.join('\n')
}

function terraform(s) {
  const name = s.table.replace(/[^A-Za-z0-9_]/g, '_')
  const lines = [
    `resource "aws_dynamodb_table" "${name}" {`,
    `  name         = "${s.table}"`,
    `  billing_mode = "${s.onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED'}"`,
    ...(s.onDemand ? [] : [`  read_capacity  = ${s.read}`, `  write_capacity = ${s.write}`]),
    `  hash_key     = "${s.hashKey}"`,
    '',
    '  attribute {',
    `    name = "${s.hashKey}"`,
    '    type = "S"',
    '  }',
  ]
  if (s.userIndex) {
    lines.push(
      '',
      '  attribute {',
      `    name = "${s.userAttribute}"`,
      '    type = "S"',
      '  }',
      '',
      '  global_secondary_index {',
      `    name            = "${s.userIndex}"`,
      `    hash_key        = "${s.userAttribute}"`,
      `    range_key       = "${s.hashKey}"`,
      '    projection_type = "KEYS_ONLY"',
      ...(s.onDemand ? [] : [`    read_capacity   = ${s.read}`, `    write_capacity  = ${s.write}`]),
      '  }',
    )
  }
  lines.push('', '  ttl {', `    attribute_name = "${s.ttlAttribute}"`, '    enabled        = true', '  }', '}')
  return lines.join('\n')
}

function cdk(s) {
  const billing = s.onDemand ? 'dynamodb.BillingMode.PAY_PER_REQUEST' : 'dynamodb.BillingMode.PROVISIONED'
  const capacity = s.onDemand ? '' : `\n  readCapacity: ${s.read},\n  writeCapacity: ${s.write},`
  const lines = [
    "import * as dynamodb from 'aws-cdk-lib/aws-dynamodb'",
    '',
    '// inside your Stack',
    "const sessions = new dynamodb.Table(this, 'SessionsTable', {",
    `  tableName: '${s.table}',`,
    `  partitionKey: { name: '${s.hashKey}', type: dynamodb.AttributeType.STRING },`,
    `  billingMode: ${billing},${capacity}`,
    `  timeToLiveAttribute: '${s.ttlAttribute}',`,
    '})',
  ]
  if (s.userIndex) {
    lines.push(
      'sessions.addGlobalSecondaryIndex({',
      `  indexName: '${s.userIndex}',`,
      `  partitionKey: { name: '${s.userAttribute}', type: dynamodb.AttributeType.STRING },`,
      `  sortKey: { name: '${s.hashKey}', type: dynamodb.AttributeType.STRING },`,
      `  projectionType: dynamodb.ProjectionType.KEYS_ONLY,${s.onDemand ? '' : `\n  readCapacity: ${s.read},\n  writeCapacity: ${s.write},`}`,
      '})',
    )
  }
  return lines.join('\n')
}

module.exports = { init, tableSpec, render }
