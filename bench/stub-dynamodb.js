'use strict'

// A stand-in for DynamoDB that answers every call at once, from memory, in
// its own process: `node bench/stub-dynamodb.js` prints its endpoint. It
// keeps the items it is given (PutItem, UpdateItem's SET of plain values,
// DeleteItem) and evaluates no condition, so it measures what the stores
// themselves add to a call, without DynamoDB Local's costs (its writes take
// a lock, which a fast client's reads keep busy). Not a database.

const http = require('node:http')

const items = new Map()
const keyOf = (key) => JSON.stringify(key)

const handlers = {
  GetItem: (body) => {
    const item = items.get(keyOf(body.Key))
    return item ? { Item: item, ConsumedCapacity: { TableName: body.TableName, CapacityUnits: 1 } } : {}
  },
  PutItem: (body) => {
    // Every table here is keyed by "id", as the benchmark's are.
    items.set(keyOf({ id: body.Item.id }), body.Item)
    return { ConsumedCapacity: { TableName: body.TableName, CapacityUnits: 1 } }
  },
  UpdateItem: (body) => {
    const item = items.get(keyOf(body.Key)) || { ...body.Key }
    // SET #a = :v, #b = :w (the stores' touches and saves): plain assignments only.
    const set = /SET (.*?)(?: REMOVE |$)/i.exec(body.UpdateExpression || '')
    const updated = {}
    for (const clause of set ? set[1].split(',') : []) {
      const [name, value] = clause.split('=').map((s) => s.trim())
      const attribute = (body.ExpressionAttributeNames || {})[name] || name
      const given = (body.ExpressionAttributeValues || {})[value]
      if (given) item[attribute] = updated[attribute] = given
    }
    items.set(keyOf(body.Key), item)
    const reply = { ConsumedCapacity: { TableName: body.TableName, CapacityUnits: 1 } }
    if (body.ReturnValues === 'UPDATED_NEW') reply.Attributes = updated
    return reply
  },
  DeleteItem: (body) => {
    items.delete(keyOf(body.Key))
    return { ConsumedCapacity: { TableName: body.TableName, CapacityUnits: 1 } }
  },
  DescribeTable: (body) => ({
    Table: {
      TableName: body.TableName,
      TableStatus: 'ACTIVE',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    },
  }),
  DescribeTimeToLive: () => ({ TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' } }),
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const action = String(req.headers['x-amz-target'] || '').split('.')[1]
    const handler = handlers[action]
    const body = handler ? handler(JSON.parse(Buffer.concat(chunks))) : null
    const text = JSON.stringify(
      body || { __type: 'com.amazon.coral.validate#ValidationException', message: `the stub does not do ${action}` },
    )
    res.writeHead(body ? 200 : 400, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
    })
    res.end(text)
  })
})

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address()
  if (process.send) process.send({ endpoint: `http://127.0.0.1:${port}` })
  else console.log(`http://127.0.0.1:${port}`)
})
process.on('disconnect', () => process.exit(0))
