'use strict'

// Explicit test credentials and region: never let the AWS chain probe
// instance metadata (a stall of about a second per lookup).
process.env.AWS_EC2_METADATA_DISABLED = 'true'
process.env.AWS_REGION = 'us-east-1'
process.env.AWS_ACCESS_KEY_ID = 'test'
process.env.AWS_SECRET_ACCESS_KEY = 'test'
