'use strict'

// The demo in a real browser (headless Chromium driven by playwright-core):
// the page shows the stored item and stats() after it loads, and login and
// logout work by clicking. CI installs Debian's chromium; a developer
// machine without it skips this file and says so.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const chromiumPath =
  process.env.CHROMIUM_PATH || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p))
const haveChromium = Boolean(chromiumPath)
if (!haveChromium && process.env.CI) throw new Error('CI must run the browser test: install chromium (.ci/run does)')
if (!haveChromium) console.warn('demo-browser.test.js skipped: no chromium (set CHROMIUM_PATH)')

const describeIf = haveChromium ? describe : describe.skip

describeIf('the demo in headless Chromium', () => {
  let demo
  let exited
  let url
  let browser

  beforeAll(async () => {
    const env = { ...process.env, PORT: '0', DEMO_TABLE: `demo-browser-${process.pid}` }
    delete env.AWS_ENDPOINT_URL_DYNAMODB
    delete env.AWS_ENDPOINT_URL
    demo = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'demo.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    exited = new Promise((resolve) => demo.once('exit', resolve))
    url = await new Promise((resolve, reject) => {
      let out = ''
      const look = (chunk) => {
        out += chunk
        const match = /http:\/\/localhost:\d+/.exec(out)
        if (match) resolve(match[0])
      }
      demo.stdout.on('data', look)
      demo.stderr.on('data', look)
      demo.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)))
    })
    const { chromium } = require('playwright-core')
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  }, 120_000)

  afterAll(async () => {
    if (browser) await browser.close()
    if (demo) {
      demo.kill('SIGTERM')
      await exited
    }
  })

  test('shows the stored item and stats, and logs in and out by clicking', async () => {
    const page = await browser.newPage()
    await page.goto(url)
    // The first visit saves the session at the end of its response; the view shows it.
    await page.waitForSelector('#stats')
    const first = JSON.parse(await page.textContent('#stats'))
    expect(first.operations.set).toBeGreaterThanOrEqual(1)
    expect(await page.textContent('#item')).toContain('sess:')

    await page.fill('input[name=user]', 'ann')
    await page.click('button:has-text("Log in")')
    await page.waitForSelector('text=Signed in as ann', { timeout: 10_000 })
    expect(await page.textContent('body')).toContain(`${'<b>2</b>'.replace(/<\/?b>/g, '')} times`)
    await page.waitForSelector('#stats')
    expect(await page.textContent('#item')).toContain('"user":"ann"')

    await page.click('button:has-text("Log out")')
    await page.waitForSelector('input[name=user]', { timeout: 10_000 })
    expect(await page.textContent('body')).not.toContain('Signed in as')
    expect(await page.textContent('body')).toContain('1 time in this session')
    await page.close()
  }, 60_000)
})
