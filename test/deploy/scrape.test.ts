import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer } from '../../src/api/server.ts'
import { Metrics } from '../../src/metrics.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'
import { promtoolCheckMetrics, sample } from '../helpers/metrics.ts'

describe('a real /metrics scrape', () => {
  let app: TestApp
  let text: string
  beforeAll(async () => {
    // Default process metrics on, as createApp gives every production role.
    app = await testApp({ metrics: new Metrics({ defaultMetrics: true }) })
    const server = await buildServer(app, { webDir: false })
    const res = await server.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    text = res.body
    await server.close()
  })
  afterAll(async () => {
    await app.close()
    removeDir(app.dataDir)
  })

  it('passes promtool check metrics (no gauge named _total, no lint problems)', () => {
    const r = promtoolCheckMetrics(text)
    expect(r.out).toBe('')
    expect(r.status).toBe(0)
  })

  it("Node's process metrics keep their standard names, so community Node dashboards work", () => {
    expect(text).toMatch(/^process_cpu_seconds_total /m)
    expect(text).toMatch(/^process_resident_memory_bytes /m)
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m)
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m)
    expect(text).not.toMatch(/fundwatch_process_/)
    expect(sample(text, 'fundwatch_heap_limit_bytes')).toBeGreaterThan(0)
  })

  it('names the running build: fundwatch_build_info{version,commit,node} 1', () => {
    const line = text.split('\n').find((l) => l.startsWith('fundwatch_build_info{'))
    expect(line).toMatch(/^fundwatch_build_info\{version="\d+\.\d+\.\d+",commit="[^"]+",node="v\d+[^"]*"\} 1$/)
  })

  it('labelled counters exist at 0 for every known label value before anything happens (so the first error fires DetectorErrors)', () => {
    expect(app.registry.length).toBeGreaterThan(5)
    for (const d of app.registry) {
      expect(sample(text, `fundwatch_detector_errors_total{detector="${d.id}"}`), d.id).toBe(0)
      expect(sample(text, `fundwatch_alerts_total{detector="${d.id}",severity="high"}`), d.id).toBe(0)
    }
    expect(sample(text, 'fundwatch_events_in_total{type="fee.uploaded"}')).toBe(0)
    expect(sample(text, 'fundwatch_sink_retries_total{sink="clickhouse"}')).toBe(0)
    expect(sample(text, 'fundwatch_rulebase_reloads_total{outcome="invalid"}')).toBe(0)
  })
})
