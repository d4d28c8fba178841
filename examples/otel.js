'use strict'

// The demo app (examples/demo.js) traced with OpenTelemetry, its spans
// printed to the console: each page's server span, and under it the
// DynamoDB calls the session store made for it (connect-dynamodb-rs/otel).
// `node examples/otel.js`, then open http://localhost:3000 and watch the
// terminal. With the OpenTelemetry packages installed (the repository's
// devDependencies), as an app installs them.

const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node')
const { ConsoleSpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { registerInstrumentations } = require('@opentelemetry/instrumentation')
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http')
const { ConnectDynamoDBRsInstrumentation } = require('../otel')

const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] })
provider.register()
registerInstrumentations({
  instrumentations: [new HttpInstrumentation(), new ConnectDynamoDBRsInstrumentation()],
})

// Required after the instrumentations, as an app's entry point does.
const session = require('express-session')
const DynamoDBStore = require('..')(session)
const { createApp } = require('./demo')
const { serve, runIfMain } = require('./serve')

runIfMain(module, () =>
  serve({
    name: 'connect-dynamodb-rs demo, traced',
    table: 'connect-dynamodb-rs-demo',
    createStore: (options) => new DynamoDBStore({ ...options, touchAfter: 10_000 }),
    createApp,
  }),
)
