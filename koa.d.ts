import type connectDynamoDB = require('./index')

/** The options of the store underneath (docs/options.md), or `{ store }` to share a store already made. */
export type DynamoDBKoaStoreOptions = connectDynamoDB.DynamoDBStoreOptions | { store: connectDynamoDB.DynamoDBStore }

/** A session as koa-session hands it to a store and takes it back. */
export interface KoaSessionData {
  _expire?: number
  _maxAge?: number
  _session?: boolean
  [key: string]: unknown
}

/** The store for koa-session's `store` option: `session({ store: new DynamoDBKoaStore(options) }, app)`. */
export class DynamoDBKoaStore {
  constructor(options: DynamoDBKoaStoreOptions)
  /** The store underneath: `stats()`, `close()`, the user index, locks, `all()`… */
  readonly store: connectDynamoDB.DynamoDBStore
  get(
    key: string,
    maxAge?: number | 'session',
    options?: { rolling?: boolean; ctx?: object },
  ): Promise<KoaSessionData | null>
  set(
    key: string,
    sess: KoaSessionData,
    maxAge?: number | 'session',
    options?: { rolling?: boolean; changed?: boolean; ctx?: object },
  ): Promise<void>
  destroy(key: string, options?: { ctx?: object }): Promise<void>
  close(): Promise<void>
}

export interface ExpressCookieOptions {
  /** express-session's cookie name. Default 'connect.sid'. */
  name?: string
  /** express-session's secret, or its list (the first signs; any verifies). */
  secret: string | string[]
  /** Cookie options for Koa's `ctx.cookies.set` (maxAge, secure, sameSite…). */
  cookie?: Record<string, unknown>
}

/** koa-session's `externalKey` that reads and writes express-session's signed cookie. */
export function expressCookie(options: ExpressCookieOptions): {
  get(ctx: object): string | undefined
  set(ctx: object, id: string): void
}
