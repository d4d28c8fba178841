'use strict'

// An express app with sessions in DynamoDB, as an AWS Lambda function behind
// API Gateway (an HTTP API or a REST API), with serverless-http. The store is
// made once, outside the handler: its connections to DynamoDB are kept
// between invocations, and a connection closed while the function was frozen
// is replaced on the spot, never seen as an error. (One dropped without a
// word, no close reaching the process, is found when its first request times
// out: that call then retries on a new connection, after half its timeout.)
//
// Environment: SESSIONS_TABLE (the table; create it once with
// `npx connect-dynamodb-rs init`), SESSION_SECRET. Bundle it with the package
// left out and installed beside the bundle, or with the addon copied beside
// it (docs/runtimes.md: "Bundling and AWS Lambda").

const express = require('express')
const session = require('express-session')
const serverless = require('serverless-http')
const DynamoDBStore = require('..')(session)

const store = new DynamoDBStore({
  table: process.env.SESSIONS_TABLE || 'sessions',
  // The table exists already: the first invocation pays no DescribeTable.
  initialized: true,
})

const app = express()
// API Gateway terminates TLS: trust its X-Forwarded-Proto for secure cookies.
app.set('trust proxy', true)
app.use(
  session({
    store,
    secret: process.env.SESSION_SECRET || 'change me',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 24 * 60 * 60 * 1000, sameSite: 'lax', secure: 'auto' },
  }),
)
app.get('/count', (req, res) => {
  req.session.count = (req.session.count || 0) + 1
  res.json({ count: req.session.count })
})

module.exports = { handler: serverless(app), store }
