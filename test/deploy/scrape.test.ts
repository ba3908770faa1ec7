import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runAudit } from '../../src/audit/runner.ts'
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
    // One audit run, as the all-in-one does (its gauges appear with the first run).
    await runAudit(app, { from: Date.parse('2026-01-01T00:00:00+08:00'), to: Date.parse('2026-01-02T00:00:00+08:00') })
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
      for (const kind of ['threw', 'over_budget']) expect(sample(text, `fundwatch_detector_errors_total{detector="${d.id}",kind="${kind}"}`), d.id).toBe(0)
      expect(sample(text, `fundwatch_alerts_total{detector="${d.id}",severity="high"}`), d.id).toBe(0)
    }
    expect(sample(text, 'fundwatch_events_in_total{type="fee.uploaded"}')).toBe(0)
    expect(sample(text, 'fundwatch_sink_retries_total{sink="clickhouse"}')).toBe(0)
    expect(sample(text, 'fundwatch_rulebase_reloads_total{outcome="invalid"}')).toBe(0)
  })

  it('every metric the dashboard\'s expressions name exists in the scrape', () => {
    const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../deploy/grafana/fundwatch.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] }
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)
    expect(exprs.length).toBeGreaterThan(20)
    const typed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]))
    const missing = new Set<string>()
    for (const e of exprs) {
      for (const m of e.matchAll(/\b(?:fundwatch|process|nodejs)_[a-z0-9_]+/g)) {
        const name = m[0]
        if (!typed.has(name) && !typed.has(name.replace(/_(bucket|sum|count)$/, ''))) missing.add(name)
      }
    }
    expect([...missing]).toEqual([])
  })
})
