'use strict'

// The single-session example end to end: passport's local strategy, real
// sessions in DynamoDB Local, two browsers as two supertest agents.
const request = require('supertest')
const { newStore } = require('./helpers')
const { createApp } = require('../examples/single-session')

const store = newStore({ userPath: 'passport.user' })
const app = createApp(store)
afterAll(() => store.close())

const login = (agent, username, password = `${username}-password`) => agent.post('/login').send({ username, password })

test("logging in on a second browser ends the first browser's session", async () => {
  const first = request.agent(app)
  const second = request.agent(app)
  expect((await login(first, 'ann').expect(200)).body).toEqual({ user: 'ann', endedOtherSessions: 0 })
  expect((await first.get('/me').expect(200)).body).toEqual({ user: 'ann' })

  expect((await login(second, 'ann').expect(200)).body).toEqual({ user: 'ann', endedOtherSessions: 1 })
  expect((await second.get('/me').expect(200)).body).toEqual({ user: 'ann' })
  await first.get('/me').expect(401)
})

test("another user's login leaves ann's session alone", async () => {
  const ann = request.agent(app)
  const bob = request.agent(app)
  await login(ann, 'ann').expect(200)
  expect((await login(bob, 'bob').expect(200)).body.endedOtherSessions).toBe(0)
  await ann.get('/me').expect(200)
  const devices = (await ann.get('/devices').expect(200)).body
  expect(devices).toHaveLength(1)
  expect(devices[0].current).toBe(true)
})

test('a wrong password changes nothing; logout everywhere ends every session', async () => {
  const ann = request.agent(app)
  await login(ann, 'ann').expect(200)
  await login(request.agent(app), 'ann', 'wrong').expect(401)
  await ann.get('/me').expect(200)
  expect((await ann.post('/logout-everywhere').expect(200)).body).toEqual({ endedSessions: 1 })
  await ann.get('/me').expect(401)
  expect(await store.listSessionsForUser('u-ann')).toEqual([])
})
