import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import capacityExceeded from '../../detectors/capacity-exceeded/index.ts'
import { runAudit } from '../../src/audit/runner.ts'
import { pushAuditMetrics } from '../../src/cli/audit.ts'
import { FundwatchError } from '../../src/errors.ts'
import { Metrics } from '../../src/metrics.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'
import { promtoolCheckMetrics, sample } from '../helpers/metrics.ts'
import { THERAPY_CLINIC, brokenAudit, ms, storeEvents, therapyKb, visitEvents } from './helpers.ts'

/**
 * The audit (事后) job was invisible to ops. Each run now records its end,
 * duration, findings and failed detectors; `fundwatch audit` pushes them to a
 * Pushgateway (here a real HTTP server that keeps what it receives).
 */
const broken = brokenAudit('query failed')
const CLINIC = THERAPY_CLINIC
const kb = therapyKb
const window = { from: ms('2026-01-01 00:00'), to: ms('2026-02-01 00:00') }

let app: TestApp
let gateway: Server
let gatewayUrl: string
const pushes: { method: string; url: string; body: string }[] = []
beforeAll(async () => {
  app = await testApp({ kb, registry: [broken, capacityExceeded] })
  const rehab = Array.from({ length: 13 }, (_, k) => visitEvents({ fixmedins_code: CLINIC, begntime: `2026-01-10 ${String(8 + k).padStart(2, '0')}:00`, lines: [{ med_list_codg: 'PT', pric: '60.00' }] }))
  await storeEvents(app.store, rehab.flatMap((v) => v.events))
  gateway = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString('utf8') })
    req.on('end', () => {
      pushes.push({ method: req.method!, url: req.url!, body })
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r))
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`
})
afterAll(async () => {
  await new Promise((r) => gateway?.close(r))
  await app?.close()
  if (app) removeDir(app.dataDir)
})

const scrape = () => app.metrics.registry.metrics()

describe('audit run metrics', () => {
  it('a role that never audited exports no audit series (so AuditNotRun cannot fire on it with a 0)', async () => {
    const text = await new Metrics().registry.metrics()
    expect(text).not.toMatch(/fundwatch_audit_/)
  })

  it('a run with a failed detector records the run and the failure, but no success; its push keeps the previous success', async () => {
    const before = Date.now() / 1000
    const run = await runAudit(app, window)
    expect(run.errors).toHaveLength(1)
    const text = await scrape()
    expect(sample(text, 'fundwatch_audit_last_run_timestamp_seconds')).toBeGreaterThanOrEqual(before)
    expect(sample(text, 'fundwatch_audit_failed_detectors')).toBe(1)
    expect(sample(text, 'fundwatch_audit_findings{detector="capacity-exceeded"}')).toBe(1)
    expect(sample(text, 'fundwatch_audit_duration_seconds')).toBeGreaterThan(0)
    expect(text).not.toMatch(/fundwatch_audit_last_success_timestamp_seconds/)

    await pushAuditMetrics(app, gatewayUrl)
    const push = pushes.at(-1)!
    expect(push.method).toBe('POST') // pushAdd: replaces only the metrics it carries
    expect(push.url).toBe('/metrics/job/fundwatch-audit')
    expect(sample(push.body, 'fundwatch_audit_failed_detectors')).toBe(1)
    expect(push.body).not.toMatch(/fundwatch_audit_last_success_timestamp_seconds/)
    expect(promtoolCheckMetrics(push.body).status).toBe(0)
  })

  it('a run in which every detector succeeds records the last success and pushes it', async () => {
    const before = Date.now() / 1000
    await runAudit(app, { ...window, detectors: ['capacity-exceeded'] })
    const text = await scrape()
    expect(sample(text, 'fundwatch_audit_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(before)
    expect(sample(text, 'fundwatch_audit_failed_detectors')).toBe(0)
    await pushAuditMetrics(app, gatewayUrl)
    expect(sample(pushes.at(-1)!.body, 'fundwatch_audit_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(before)
    expect(promtoolCheckMetrics(text).status).toBe(0)
  })

  it('a run that fails as a whole counts every detector failed', async () => {
    await expect(runAudit(app, { ...window, detectors: ['no-such-detector'] })).rejects.toThrow(FundwatchError)
    expect(sample(await scrape(), 'fundwatch_audit_failed_detectors')).toBe(2)
  })
})
