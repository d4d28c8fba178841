'use strict'

// Every option is declared once, in the core's table (src/options/table.rs):
// its names, what it takes, its default, what it means. The options table of
// docs/options.md is generated from it (scripts/docs.js), and the page and the
// TypeScript declarations are held to it here, and so are the aliases.

const fs = require('node:fs')
const path = require('node:path')
const { NativeStore } = require('../lib/binding').loadBinding()
const { DynamoDBStore, uniqueTable, connection } = require('./helpers')
const docs = require('../scripts/docs')

const root = path.join(__dirname, '..')
const table = NativeStore.optionTable()

const optionsPage = () => fs.readFileSync(path.join(root, 'docs', 'options.md'), 'utf8')

/** docs/options.md's options table: option name -> its default cell. */
function documentedOptions() {
  const page = optionsPage()
  const section = page.slice(page.indexOf(docs.START), page.indexOf(docs.END))
  const rows = section.split('\n').filter((line) => /^\| `[A-Za-z]+` \|/.test(line))
  return new Map(rows.map((row) => row.split(' | ')).map(([name, cell]) => [name.slice(3, -1), cell]))
}

test("docs/options.md's options table lists exactly the core's options, each with its default", () => {
  const documented = documentedOptions()
  const listed = table.filter((option) => !['region', 'endpoint'].includes(option.name))
  expect([...documented.keys()].sort()).toEqual(listed.map((option) => option.name).sort())
  for (const option of listed) {
    const cell = documented.get(option.name)
    expect({ option: option.name, starts: cell.startsWith(option.default) }).toEqual({
      option: option.name,
      starts: true,
    })
  }
})

test('docs/options.md names every alias, and index.d.ts declares every name', () => {
  const page = optionsPage()
  const types = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8')
  for (const option of table) {
    for (const name of [option.name, ...option.aliases]) {
      expect({ name, declared: new RegExp(`\\b${name}\\?:`).test(types) }).toEqual({ name, declared: true })
      if (option.aliases.includes(name))
        expect({ name, inDocs: page.includes(`\`${name}\``) }).toEqual({ name, inDocs: true })
    }
  }
})

test("docs/options.md is what scripts/docs.js makes of the core's table (npm run docs rewrites it)", () => {
  const page = optionsPage()
  expect(docs.renderPage(page, table)).toBe(page)
  // Every listed option has a meaning; the two documented as aliases have none of their own.
  for (const option of table) {
    expect({ name: option.name, meaning: option.meaning.length > 0 }).toEqual({
      name: option.name,
      meaning: !docs.SKIPPED.includes(option.name),
    })
  }
})

test('scripts/docs.js replaces only the text between its markers, and a stale page differs', () => {
  const page = optionsPage()
  const before = page.slice(0, page.indexOf(docs.START))
  const after = page.slice(page.indexOf(docs.END))
  const stale = `${before}${docs.START}\n| option | default | meaning |\n${after}`
  expect(stale).not.toBe(page)
  expect(docs.renderPage(stale, table)).toBe(page)
  expect(() => docs.renderPage('no markers', table)).toThrow(/options:start/)
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
