import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BODY_MAX_DEPTH } from '../../src/api/body.ts'
import { buildServer } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { INST_A, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * Limits on what a caller can make the API do (issue 8): failed
 * authentication is rate limited and costs no store lookup, bodies are
 * refused by depth and by name, times are RFC 3339 strictly, store errors
 * stay in the log, and what the router refuses has the API's error shape.
 */
let fx: Fixture
const madeUp = (i: number) => `Z${String(i).padStart(42, '0')}`

beforeAll(async () => {
  fx = await fixture()
  await fx.ingest(people(3, INST_A).flatMap((p) => eventsFor(p, 2, 'l')))
})
afterAll(async () => fx?.close())

describe('failed authentication', () => {
  it('is rate limited by client address, while a valid token keeps its own budget', async () => {
    const server = await buildServer(fx.app, { webDir: false, rateLimitPerMinute: 5, review: {} })
    try {
      const codes: number[] = []
      for (let i = 0; i < 8; i++) codes.push((await server.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${madeUp(i)}` } })).statusCode)
      expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429, 429])
      // No token at all counts against the same address.
      const none = await server.inject({ method: 'GET', url: '/api/v1/me' })
      expect([none.statusCode, none.json().error]).toEqual([429, 'RATE_LIMITED'])
      // The legitimate user behind the same address is unaffected; another address has its own budget.
      expect((await server.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${fx.tokens.monitor}` } })).statusCode).toBe(200)
      expect((await server.inject({ method: 'GET', url: '/api/v1/me', remoteAddress: '10.0.0.9', headers: { authorization: `Bearer ${madeUp(99)}` } })).statusCode).toBe(401)
    } finally {
      await server.close()
    }
  })

  it('counts the client behind a trusted load balancer, and only behind a trusted one', async () => {
    const flood = async (server: Awaited<ReturnType<typeof buildServer>>, client: string) => {
      const codes: number[] = []
      for (let i = 0; i < 4; i++) codes.push((await server.inject({ method: 'GET', url: '/api/v1/me', remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${madeUp(i)}`, 'x-forwarded-for': client } })).statusCode)
      return codes
    }
    const behind = await buildServer(fx.app, { webDir: false, rateLimitPerMinute: 3, review: {}, trustProxy: '10.0.0.0/8' })
    const untrusted = await buildServer(fx.app, { webDir: false, rateLimitPerMinute: 3, review: {} })
    try {
      // Two clients behind one balancer: each has its own budget.
      expect(await flood(behind, '203.0.113.5')).toEqual([401, 401, 401, 429])
      expect(await flood(behind, '203.0.113.6')).toEqual([401, 401, 401, 429])
      // A header from a peer nobody said to trust changes nothing: one budget, the peer's.
      expect(await flood(untrusted, '203.0.113.7')).toEqual([401, 401, 401, 429])
      expect(await flood(untrusted, '203.0.113.8')).toEqual([429, 429, 429, 429])
    } finally {
      await behind.close()
      await untrusted.close()
    }
  })

  it('costs no store lookup per unknown token: a flood of made-up tokens reads the users table at most once', async () => {
    // Loads the users once, as the first request of the day would.
    expect((await fx.call('monitor', 'GET', '/api/v1/me')).statusCode).toBe(200)
    fx.clock.ms += 1_000
    const spy = vi.spyOn(fx.app.store, 'query')
    try {
      for (let i = 0; i < 300; i++) {
        const r = await fx.server.inject({ method: 'GET', url: '/api/v1/alerts', headers: { authorization: `Bearer ${madeUp(1000 + i)}` } })
        expect(r.statusCode).toBe(401)
      }
      const userReads = spy.mock.calls.filter(([sql]) => String(sql).includes('.users'))
      expect(userReads.length).toBeLessThanOrEqual(1)
      expect(spy.mock.calls.length).toBe(userReads.length)
    } finally {
      spy.mockRestore()
    }
    expect((await fx.call('monitor', 'GET', '/api/v1/me')).statusCode).toBe(200)
  })

  it('still finds a token created elsewhere (the CLI) within a second', async () => {
    const { token } = await new Users(fx.app.store).create({ name: 'CLI 用户', role: 'monitor' }, 'cli')
    fx.clock.ms += 1_000
    expect((await fx.server.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
  })
})

describe('bodies', () => {
  it('issue 8: a deeply nested body is a 400 naming the depth limit, not a 500 stack overflow', async () => {
    const depth = 10_000
    const body = `{"events":${'['.repeat(depth)}${']'.repeat(depth)}}`
    expect(body.length).toBeGreaterThan(20_000)
    for (const url of ['/api/v1/precheck', '/api/v1/cases']) {
      const who = url.endsWith('precheck') ? 'precheck' : 'inspector'
      const r = await fx.call(who, 'POST', url, body, { 'content-type': 'application/json' })
      expect([url, r.statusCode, r.json()]).toEqual([url, 400, { error: 'BAD_REQUEST', message: `the body nests arrays and objects deeper than ${BODY_MAX_DEPTH} levels` }])
    }
    // At the limit it is parsed (and then judged by the route's schema).
    const ok = `{"events":[${'['.repeat(BODY_MAX_DEPTH - 2)}${']'.repeat(BODY_MAX_DEPTH - 2)}]}`
    const r = await fx.call('precheck', 'POST', '/api/v1/precheck', ok, { 'content-type': 'application/json' })
    expect(r.statusCode).toBe(400)
    expect(r.json().message).not.toMatch(/nests/)
  })

  it('issue 8: a __proto__ or constructor.prototype key is refused by name', async () => {
    for (const [body, key] of [
      ['{"title":"案件","subject":{"kind":"institution"},"alert_ids":["0123456789abcdef0123456789abcdef"],"__proto__":{"admin":true}}', '__proto__'],
      ['{"title":"案件","subject":{"kind":"institution","__proto__":{"x":1}},"alert_ids":[]}', '__proto__'],
      ['{"title":"案件","constructor":{"prototype":{"admin":true}}}', 'constructor.prototype'],
    ] as const) {
      const r = await fx.call('inspector', 'POST', '/api/v1/cases', body, { 'content-type': 'application/json' })
      expect([r.statusCode, r.json()]).toEqual([400, { error: 'BAD_REQUEST', message: `the body may not use the key "${key}" (anywhere)` }])
    }
    const broken = await fx.call('inspector', 'POST', '/api/v1/cases', '{"title":', { 'content-type': 'application/json' })
    expect([broken.statusCode, broken.json().error]).toEqual([400, 'BAD_REQUEST'])
    expect(broken.json().message).toMatch(/^the body is not valid JSON: /)
  })
})

describe('times, cursors and store errors', () => {
  it('issue 8: feed times are RFC 3339 strictly, within the years the store holds', async () => {
    for (const from of ['+275760-09-13T00:00:00.000Z', '-1', 'March 7', '2026-02-30T00:00:00Z', '2026-03-07', '2026-03-07 10:00:00', '9999-12-31T00:00:00Z']) {
      const r = await fx.call('monitor', 'GET', `/api/v1/alerts?from=${encodeURIComponent(from)}`)
      expect([from, r.statusCode, r.json().error]).toEqual([from, 400, 'BAD_REQUEST'])
    }
    for (const from of ['2026-03-01T00:00:00Z', '2026-03-01T08:00:00+08:00', '2024-02-29T00:00:00.123Z']) {
      expect((await fx.call('monitor', 'GET', `/api/v1/alerts?from=${encodeURIComponent(from)}`)).statusCode, from).toBe(200)
    }
  })

  it('issue 8: a forged amount cursor is a position or a 400, never a store error', async () => {
    const cursor = (amount: string) => Buffer.from(JSON.stringify(['amount', amount, '0'.repeat(32)])).toString('base64url')
    // Amounts at risk are Decimal(38, 2): this figure is a place in the order, above every stored alert.
    const inRange = await fx.call('monitor', 'GET', `/api/v1/alerts?sort=amount&cursor=${cursor('9999999999999999.99')}`)
    expect(inRange.statusCode, inRange.body).toBe(200)
    for (const forged of ['1'.repeat(37) + '.00', '1e3', '12.345', '-1.00']) {
      const r = await fx.call('monitor', 'GET', `/api/v1/alerts?sort=amount&cursor=${cursor(forged)}`)
      expect([r.statusCode, r.json()]).toEqual([400, { error: 'BAD_REQUEST', message: 'invalid cursor' }])
    }
  })

  it('issue 8: a store error is logged, never echoed to the client', async () => {
    const t = fx.app.store.t('alerts')
    await fx.app.store.command(`RENAME TABLE ${t} TO ${t}_away`)
    try {
      const r = await fx.call('monitor', 'GET', '/api/v1/alerts')
      expect([r.statusCode, r.json()]).toEqual([503, { error: 'STORE_QUERY_FAILED', message: 'the store did not answer; try again shortly' }])
      expect(r.body).not.toContain(fx.app.store.db)
    } finally {
      await fx.app.store.command(`RENAME TABLE ${t}_away TO ${t}`)
    }
    const logged = fx.app.logs.lines.filter((l) => l.msg === 'request failed')
    expect(JSON.stringify(logged.at(-1))).toContain(fx.app.store.db)
    expect((await fx.call('monitor', 'GET', '/api/v1/alerts')).statusCode).toBe(200)
  })
})

describe('what the router refuses', () => {
  it('issue 8: an over-long path is the same bare 404 as any path that matches no route, whoever asks', async () => {
    for (const who of [null, 'monitor'] as const) {
      const long = await fx.call(who, 'GET', `/api/v1/alerts/${'a'.repeat(300)}`)
      expect([long.statusCode, long.json()]).toEqual([404, { error: 'NOT_FOUND', message: 'not found' }])
    }
    const bad = await fx.call(null, 'GET', '/api/v1/alerts/%E0%A4%A')
    expect([bad.statusCode, bad.json()]).toEqual([400, { error: 'BAD_REQUEST', message: 'malformed URL' }])
  })
})
