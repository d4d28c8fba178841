'use strict'

// The quick start's `npm run demo`: started as a user would, with no endpoint
// configured, so it brings up its own DynamoDB Local.
const { spawn } = require('node:child_process')
const path = require('node:path')
const request = require('supertest')

test('the demo serves a visit counter and login/logout with sessions in DynamoDB', async () => {
  const env = { ...process.env, PORT: '0', DEMO_TABLE: `demo-${process.pid}` }
  delete env.AWS_ENDPOINT_URL_DYNAMODB
  delete env.AWS_ENDPOINT_URL
  const demo = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'demo.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise((resolve) => demo.once('exit', resolve))
  try {
    const url = await new Promise((resolve, reject) => {
      let out = ''
      demo.stdout.on('data', (chunk) => {
        out += chunk
        const match = /http:\/\/localhost:\d+/.exec(out)
        if (match) resolve(match[0])
      })
      demo.stderr.on('data', (chunk) => (out += chunk))
      demo.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)))
    })
    const agent = request.agent(url)
    expect((await agent.get('/').expect(200)).text).toContain('<b>1</b> time in this session')
    expect((await agent.get('/').expect(200)).text).toContain('<b>2</b> times')
    await agent.post('/login').type('form').send({ user: 'ann' }).expect(302)
    const signedIn = (await agent.get('/').expect(200)).text
    expect(signedIn).toContain('Signed in as <b>ann</b>')
    expect(signedIn).toContain('<b>3</b> times')
    await agent.post('/logout').expect(302)
    expect((await agent.get('/').expect(200)).text).toContain('<b>1</b> time in this session')
  } finally {
    demo.kill('SIGTERM')
    await exited
  }
}, 90_000)
