import type connectDynamoDB = require('./index')

/** The options of the store underneath (docs/options.md), or `{ store }` to share a store already made. */
export type DynamoDBHonoStoreOptions = connectDynamoDB.DynamoDBStoreOptions | { store: connectDynamoDB.DynamoDBStore }

/** hono-sessions' session data. */
export interface HonoSessionData {
  _data: Record<string, { value: unknown; flash: boolean }>
  _expire: string | null
  _delete: boolean
  _accessed: string | null
  _id?: string
}

/** The store for hono-sessions' `store` option (its Store interface). */
export class DynamoDBHonoStore {
  constructor(options: DynamoDBHonoStoreOptions)
  readonly store: connectDynamoDB.DynamoDBStore
  getSessionById(sessionId?: string): Promise<HonoSessionData | null>
  createSession(sessionId: string, initialData: HonoSessionData): Promise<void>
  persistSessionData(sessionId: string, sessionData: HonoSessionData): Promise<void>
  deleteSession(sessionId: string): Promise<void>
  close(): Promise<void>
}

export type DynamoDBSessionStorageOptions = DynamoDBHonoStoreOptions & {
  /** ms a session lives after its last write (default: the store's default lifetime). */
  maxAge?: number
}

/** Storage for @hono/session (`get`, `set`, `delete`), best used through `middleware()`. */
export class DynamoDBSessionStorage<Data = Record<string, unknown>> {
  constructor(options: DynamoDBSessionStorageOptions)
  readonly store: connectDynamoDB.DynamoDBStore
  get(sid: string): Promise<Data | null>
  set(sid: string, value: Data): void
  delete(sid: string): void
  /** Gives each request this storage and waits for its writes; a failed one is thrown for Hono's onError. */
  middleware(): (c: { set(key: 'sessionStorage', value: unknown): void }, next: () => Promise<void>) => Promise<void>
  close(): Promise<void>
}
