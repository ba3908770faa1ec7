import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildProbeServer } from '../../src/api/http-metrics.ts'
import { buildServer } from '../../src/api/server.ts'
import { promtoolCheckMetrics, sample } from '../helpers/metrics.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

const count = (labels: string) => `fundwatch_http_request_duration_seconds_count{${labels}}`

describe('HTTP server metrics', () => {
  let app: TestApp
  let server: FastifyInstance
  beforeAll(async () => {
    app = await testApp()
    server = await buildServer(app, { webDir: false })
    // A route that fails, to see a 5xx counted like any other answer.
    server.get('/test/boom', { config: { public: true } }, () => {
      throw new Error('boom')
    })
  })
  afterAll(async () => {
    await server.close()
    await app.close()
    removeDir(app.dataDir)
  })

  it('counts requests by method, route template and status class — never the raw URL', async () => {
    expect((await server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    expect((await server.inject({ method: 'GET', url: '/api/v1/alerts/a1b2c3d4e5f6' })).statusCode).toBe(401)
    expect((await server.inject({ method: 'GET', url: '/api/v1/alerts/ffffffffffff?x=1' })).statusCode).toBe(401)
    expect((await server.inject({ method: 'GET', url: '/no/such/path/12345' })).statusCode).toBe(404)
    expect((await server.inject({ method: 'GET', url: '/test/boom' })).statusCode).toBe(500)
    const text = (await server.inject({ method: 'GET', url: '/metrics' })).body

    expect(sample(text, count('method="GET",route="/healthz",status_class="2xx"'))).toBe(1)
    expect(sample(text, count('method="GET",route="/api/v1/alerts/:alert_id",status_class="4xx"'))).toBe(2)
    expect(sample(text, count('method="GET",route="(unmatched)",status_class="4xx"'))).toBe(1)
    expect(sample(text, count('method="GET",route="/test/boom",status_class="5xx"'))).toBe(1)
    expect(text).not.toMatch(/a1b2c3d4e5f6|ffffffffffff|12345|x=1/)
    expect(promtoolCheckMetrics(text).status).toBe(0)
  })
})

describe('METRICS_PORT: the processor\'s probe server', () => {
  it('serves /metrics and /healthz and no API, console or docs', async () => {
    const app = await testApp()
    const probe = await buildProbeServer(app)
    try {
      const metrics = await probe.inject({ method: 'GET', url: '/metrics' })
      expect(metrics.statusCode).toBe(200)
      expect(promtoolCheckMetrics(metrics.body).status).toBe(0)
      expect((await probe.inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({ status: 'ok' })
      for (const url of ['/api/v1/alerts', '/api/v1/auth/whoami', '/docs', '/', '/api/v1/precheck']) {
        expect((await probe.inject({ method: 'GET', url })).statusCode, url).toBe(404)
      }
      expect((await probe.inject({ method: 'POST', url: '/api/v1/precheck', payload: { events: [] } })).statusCode).toBe(404)
    } finally {
      await probe.close()
      await app.close()
      removeDir(app.dataDir)
    }
  })
})
