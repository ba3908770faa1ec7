import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, type App } from '../../src/app.ts'
import { configFromEnv } from '../../src/config.ts'
import { buildProbeServer } from '../../src/api/http-metrics.ts'
import { readiness } from '../../src/api/probes.ts'
import { buildServer } from '../../src/api/server.ts'
import { GroupMembership } from '../../src/kafka/membership.ts'
import { createLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'
import { startChdbHttp } from '../../src/store/chdb-http.ts'
import { LogCapture, removeDir } from '../helpers/app.ts'

/**
 * The probes against a real store outage: the role reaches ClickHouse over
 * HTTP (chDB served by this test process, as the multi-process tests do), and
 * the outage is that server going away — connections refused — and coming
 * back on the same port.
 */
let dir: string
let ch: Awaited<ReturnType<typeof startChdbHttp>>
let app: App
let api: FastifyInstance
let probe: FastifyInstance
const logs = new LogCapture()

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fundwatch-probes-'))
  ch = await startChdbHttp({ dataDir: join(dir, 'chdb') })
  const config = configFromEnv({ CLICKHOUSE_URL: ch.url, FUNDWATCH_DB: `probes_${process.pid}` })
  app = await createApp(config, { metrics: new Metrics(), log: createLogger({ level: 'debug', destination: logs }) })
  api = await buildServer(app, { webDir: false, review: {}, rateLimitPerMinute: 5 })
  probe = await buildProbeServer(app)
})
afterAll(async () => {
  await api.close()
  await probe.close()
  await app.close()
  await ch.close()
  removeDir(dir)
})

const port = () => new URL(ch.url).port
async function storeDown(): Promise<void> {
  await new Promise<void>((resolve) => {
    ch.server.close(() => resolve())
    // Kept-alive connections too: the store is gone, not merely refusing new callers.
    ch.server.closeAllConnections()
  })
}
async function storeUp(): Promise<void> {
  await new Promise<void>((resolve) => ch.server.listen(Number(port()), '127.0.0.1', resolve))
}
const get = async (f: FastifyInstance, url: string) => {
  const r = await f.inject({ method: 'GET', url })
  return { status: r.statusCode, body: r.json() as Record<string, unknown> }
}

describe('probes: /livez, /readyz and /healthz', () => {
  it('a store outage: /livez stays 200, /readyz and /healthz go 503 naming the store, then 200 again — on the API and on a processor\'s probe server', async () => {
    for (const f of [api, probe]) {
      expect(await get(f, '/livez')).toMatchObject({ status: 200, body: { status: 'ok' } })
      expect(await get(f, '/readyz')).toEqual({ status: 200, body: { status: 'ok', store: 'clickhouse', kb: 'sample', checks: { store: 'ok' } } })
      expect(await get(f, '/healthz')).toEqual(await get(f, '/readyz'))
    }

    await storeDown()
    try {
      for (const f of [api, probe]) {
        expect(await get(f, '/livez')).toMatchObject({ status: 200, body: { status: 'ok' } })
        const ready = await get(f, '/readyz')
        expect(ready).toMatchObject({ status: 503, body: { status: 'unavailable', checks: { store: 'unavailable' } } })
        // Public route: the reason is named, the store's error text is not.
        expect(JSON.stringify(ready.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|probes_/)
        expect((await get(f, '/healthz')).status).toBe(503)
      }
    } finally {
      await storeUp()
    }

    for (const f of [api, probe]) {
      expect(await get(f, '/readyz')).toMatchObject({ status: 200, body: { checks: { store: 'ok' } } })
      expect((await get(f, '/healthz')).status).toBe(200)
    }
    // The cause goes to the log, once per change of state and server, not once per probe.
    const changes = logs.lines.filter((l) => l.component === 'probe' && /readiness check/.test(String(l.msg)))
    expect(changes.map((l) => l.msg).sort()).toEqual(['readiness check fails', 'readiness check fails', 'readiness check passes again', 'readiness check passes again'])
    expect(JSON.stringify(changes)).toMatch(/ECONNREFUSED|socket hang up|ECONNRESET/)
  })

  it('are public and outside the rate limit: a kubelet is never answered 429', async () => {
    // Past the limit of 5 per minute for this address…
    for (let i = 0; i < 6; i++) await api.inject({ method: 'GET', url: '/metrics' })
    expect((await api.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(429)
    // …the probes still answer.
    for (const url of ['/livez', '/readyz', '/healthz']) expect((await api.inject({ method: 'GET', url })).statusCode, url).toBe(200)
  })

  it('a processor is not ready until it is a member of its consumer group', async () => {
    const membership = new GroupMembership()
    const server = await buildProbeServer(app, { readiness: [{ name: 'kafka', check: () => membership.readiness() }] })
    try {
      expect(await get(server, '/livez')).toMatchObject({ status: 200 })
      expect(await get(server, '/readyz')).toMatchObject({ status: 503, body: { checks: { store: 'ok', kafka: 'joining the consumer group' } } })
    } finally {
      await server.close()
    }
  })

  it('a check that hangs reads as not ready within the check timeout, not as a probe timeout', async () => {
    const check = readiness(app, [{ name: 'stuck', check: () => new Promise<undefined>(() => undefined) }], 20)
    expect(await check()).toMatchObject({ ready: false, checks: { stuck: 'no answer within 20 ms' } })
  })
})
