import type { MeterProvider, Span, TracerProvider } from '@opentelemetry/api'
import type { RequestMessage } from './index'

export interface ConnectDynamoDBRsInstrumentationConfig {
  /** Default true: subscribe to the store's diagnostics channels when constructed. */
  enabled?: boolean
  /** Default false: an INTERNAL span per store call (`DynamoDBStore.get`), parent of its DynamoDB calls' spans. */
  storeSpans?: boolean
  /** Called with each DynamoDB call's CLIENT span after it starts, and the request channel's message. */
  requestHook?: (span: Span, message: RequestMessage) => void
  /** Called with each DynamoDB call's CLIENT span before it ends, and its last attempt's message. */
  responseHook?: (span: Span, message: RequestMessage) => void
}

/**
 * OpenTelemetry spans and metrics for connect-dynamodb-rs, made from its diagnostics channels:
 * `registerInstrumentations({ instrumentations: [new ConnectDynamoDBRsInstrumentation()] })`.
 */
export class ConnectDynamoDBRsInstrumentation {
  constructor(config?: ConnectDynamoDBRsInstrumentationConfig)
  readonly instrumentationName: 'connect-dynamodb-rs'
  readonly instrumentationVersion: string
  setTracerProvider(provider: TracerProvider): void
  setMeterProvider(provider: MeterProvider): void
  getConfig(): ConnectDynamoDBRsInstrumentationConfig
  setConfig(config?: ConnectDynamoDBRsInstrumentationConfig): void
  enable(): void
  disable(): void
}
