import connectDynamoDB from './index.js'

export default connectDynamoDB
export const DynamoDBStore = connectDynamoDB.DynamoDBStore
export const rotateSession = connectDynamoDB.rotateSession
