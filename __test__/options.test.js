'use strict'

// Every option is declared once, in the core's table (src/options/table.rs):
// its names, what it takes, its default. README's options table and the
// TypeScript declarations are held to it here, and so are the aliases.

const fs = require('node:fs')
const path = require('node:path')
const { NativeStore } = require('../lib/binding').loadBinding()
const { DynamoDBStore, uniqueTable, connection } = require('./helpers')

const root = path.join(__dirname, '..')
const table = NativeStore.optionTable()

/** README's options table: option name -> its default cell. */
function readmeOptions() {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Options'), readme.indexOf('## The table'))
  const rows = section.split('\n').filter((line) => /^\| `[A-Za-z]+` \|/.test(line))
  return new Map(rows.map((row) => row.split(' | ')).map(([name, cell]) => [name.slice(3, -1), cell]))
}

test("README's options table lists exactly the core's options, each with its default", () => {
  const readme = readmeOptions()
  const listed = table.filter((option) => !['region', 'endpoint'].includes(option.name))
  expect([...readme.keys()].sort()).toEqual(listed.map((option) => option.name).sort())
  for (const option of listed) {
    const cell = readme.get(option.name)
    expect({ option: option.name, starts: cell.startsWith(option.default) }).toEqual({
      option: option.name,
      starts: true,
    })
  }
})

test('README names every alias, and index.d.ts declares every name', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const types = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8')
  for (const option of table) {
    for (const name of [option.name, ...option.aliases]) {
      expect({ name, declared: new RegExp(`\\b${name}\\?:`).test(types) }).toEqual({ name, declared: true })
      if (option.aliases.includes(name))
        expect({ name, inReadme: readme.includes(`\`${name}\``) }).toEqual({ name, inReadme: true })
    }
  }
})

test('an alias and its name given different values is ERR_INVALID_OPTION naming both; the same value is fine', () => {
  const base = { AWSConfigJSON: connection() }
  for (const [alias, name, a, b] of [
    ['tableName', 'table', 'one-table', 'two-table'],
    ['readCapacity', 'readCapacityUnits', 1, 2],
    ['cleanupInterval', 'reapInterval', 1000, 2000],
  ]) {
    expect(() => new DynamoDBStore({ ...base, [name]: a, [alias]: b })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(new RegExp(`"${name}".*"${alias}"`)),
      }),
    )
    expect(() => new DynamoDBStore({ ...base, [name]: a, [alias]: a })).not.toThrow()
  }
  const store = new DynamoDBStore({ ...base, tableName: uniqueTable('alias') })
  expect(store.table).toMatch(/^alias-/)
  expect(() => new DynamoDBStore({ AWSConfigJSON: { region: 'eu-west-1' }, region: 'us-east-1' })).toThrow(
    /"region" and "AWSConfigJSON.region"/,
  )
})

test('maxRetries follows one rule wherever it is set', () => {
  for (const options of [
    { maxRetries: 11 },
    { AWSConfigJSON: { maxRetries: 11 } },
    { AWSConfigJSON: { maxRetries: 1.5 } },
  ]) {
    expect(() => new DynamoDBStore(options)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/maxRetries.*0 to 10/) }),
    )
  }
  expect(() => new DynamoDBStore({ AWSConfigJSON: { maxRetries: 10 } })).not.toThrow()
})
