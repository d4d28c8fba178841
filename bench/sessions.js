'use strict'

// Session data shaped like what apps really keep: a login with tokens,
// preferences, flash messages, a cart and a browsing history, with random ids
// and tokens (which compress badly) among repetitive keys (which compress well).
// Deterministic for a given `seed`, so runs compare.

const WORDS = (
  'blue red linen cotton wool shirt dress boots sneaker lamp chair desk oak walnut steel ' +
  'mug kettle organic coffee tea green black large small medium classic slim relaxed ' +
  'waterproof travel backpack wallet leather canvas vintage modern garden outdoor kids'
).split(' ')

function random(seed) {
  let state = 2166136261
  for (const c of String(seed)) state = Math.imul(state ^ c.charCodeAt(0), 16777619)
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 4294967296
  }
}

/** A session whose JSON is about `bytes` long. */
function realisticSession(bytes, seed = 'session') {
  const next = random(seed)
  const pick = (list) => list[Math.floor(next() * list.length)]
  const hex = (n) => Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('')
  const token = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))).toString('base64url')
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`
  const when = () => new Date(1_790_000_000_000 + Math.floor(next() * 1e10)).toISOString()
  const title = () => `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}`

  const sess = {
    cookie: {
      originalMaxAge: 86_400_000,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      secure: true,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    passport: { user: uuid() },
    auth: {
      accessToken: `${token(36)}.${token(180)}.${token(64)}`,
      refreshToken: token(48),
      scope: 'openid profile email orders:read',
    },
    csrfSecret: token(18),
    prefs: { theme: 'dark', lang: 'en-GB', currency: 'GBP', newsletter: true },
    flash: { info: ['Welcome back!'] },
    cart: [],
    recentlyViewed: [],
  }
  let size = JSON.stringify(sess).length
  while (size < bytes) {
    const [list, entry] =
      next() < 0.5
        ? [
            sess.cart,
            {
              id: uuid(),
              sku: `SKU-${hex(6).toUpperCase()}`,
              title: title(),
              qty: 1 + Math.floor(next() * 4),
              price: Math.floor(next() * 20000) / 100,
              addedAt: when(),
            },
          ]
        : [sess.recentlyViewed, { productId: uuid(), title: title(), at: when() }]
    list.push(entry)
    size += JSON.stringify(entry).length + 1
  }
  return sess
}

module.exports = { realisticSession }
