'use strict'

// The README is a front page and the rest lives in docs/: every relative link
// between them (README -> docs/x.md#anchor, docs -> docs, CONTRIBUTING.md)
// must lead to a file that exists and, with an #anchor, to a heading in it.
// Anchors follow GitHub's rules: the heading's text lowercased, punctuation
// other than - and _ dropped, spaces turned into -, and -1, -2, … added to
// repeats.

const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

/** The markdown files whose links are checked, relative to the repository. */
function pages() {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
  return ['README.md', 'CONTRIBUTING.md', ...docs.sort()]
}

/** The text outside fenced code blocks and inline code, where links and headings are. */
function prose(markdown) {
  const lines = []
  let fence = null
  for (const line of markdown.split('\n')) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence) {
      if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length) fence = null
      lines.push('')
    } else if (marker) {
      fence = marker[1]
      lines.push('')
    } else lines.push(line)
  }
  return lines.join('\n')
}

/** GitHub's anchor for a heading's text. */
function slug(heading) {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a markdown text's headings make, repeats numbered as GitHub numbers them. */
function anchors(markdown) {
  const seen = new Map()
  const found = new Set()
  for (const line of prose(markdown).split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const base = slug(heading[1])
    const count = seen.get(base) || 0
    seen.set(base, count + 1)
    found.add(count === 0 ? base : `${base}-${count}`)
  }
  return found
}

/** The targets of a markdown text's inline links and images. */
function links(markdown) {
  const text = prose(markdown).replace(/`+[^`]*`+/g, '')
  return [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1])
}

/**
 * The links of `files` (paths relative to `base`) that lead nowhere, as "file: target (why)".
 * `read(file)` gives a file's text, `exists(file)` whether a file or folder is there.
 */
function brokenLinks(files, { read, exists }) {
  const broken = []
  for (const file of files) {
    for (const target of links(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:: not ours to check
      const hash = target.indexOf('#')
      const linked = decodeURI(hash < 0 ? target : target.slice(0, hash))
      const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1))
      const to = linked ? path.posix.normalize(path.posix.join(path.posix.dirname(file), linked)) : file
      if (to.startsWith('..') || !exists(to)) {
        broken.push(`${file}: ${target} (no file ${to})`)
      } else if (anchor !== null) {
        if (!to.endsWith('.md')) broken.push(`${file}: ${target} (an anchor into ${to}, which is not markdown)`)
        else if (!anchors(read(to)).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${to})`)
      }
    }
  }
  return broken
}

const onDisk = {
  read: (file) => fs.readFileSync(path.join(root, file), 'utf8'),
  exists: (file) => fs.existsSync(path.join(root, file)),
}

test('GitHub anchors are made as GitHub makes them', () => {
  expect(slug('Differences from connect-dynamodb 3.0.5')).toBe('differences-from-connect-dynamodb-305')
  expect(slug('What the store itself costs (`npm run bench:own`)')).toBe('what-the-store-itself-costs-npm-run-benchown')
  expect(slug('Let DynamoDB delete expired sessions (TTL)')).toBe('let-dynamodb-delete-expired-sessions-ttl')
  expect(slug('The engine (what every call runs on)')).toBe('the-engine-what-every-call-runs-on')
  expect(slug('Install, platforms and runtimes')).toBe('install-platforms-and-runtimes')
  expect([...anchors('# A\n\n## B\n\n```sh\n# not a heading\n```\n\n## B\n')]).toEqual(['a', 'b', 'b-1'])
})

test('a broken link, a missing heading and a link out of the repository are all found', () => {
  const files = {
    'README.md': '[ok](docs/a.md#two) [file](docs/nope.md) [anchor](docs/a.md#three) `[code](docs/nope.md)`',
    'docs/a.md': '# One\n\n## Two\n\n[self](#one) [up](../README.md) [gone](#four) [out](../../x.md)\n',
  }
  const broken = brokenLinks(Object.keys(files), { read: (f) => files[f], exists: (f) => f in files })
  expect(broken).toEqual([
    'README.md: docs/nope.md (no file docs/nope.md)',
    'README.md: docs/a.md#three (no heading #three in docs/a.md)',
    'docs/a.md: #four (no heading #four in docs/a.md)',
    'docs/a.md: ../../x.md (no file ../x.md)',
  ])
})

test('every relative link and #anchor in README.md, CONTRIBUTING.md and docs/ resolves', () => {
  const files = pages()
  expect(files).toEqual(expect.arrayContaining(['docs/options.md', 'docs/architecture.md']))
  expect(brokenLinks(files, onDisk)).toEqual([])
})

test('the README is a front page that links every page of docs/', () => {
  const readme = onDisk.read('README.md')
  expect(readme.split('\n').length).toBeLessThanOrEqual(250)
  const linked = new Set(links(readme).map((target) => target.split('#')[0]))
  for (const page of pages().filter((file) => file.startsWith('docs/'))) {
    expect({ page, linked: linked.has(page) }).toEqual({ page, linked: true })
  }
  expect(linked.has('CONTRIBUTING.md')).toBe(true)
})
