import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import capacityExceeded from '../../detectors/capacity-exceeded/index.ts'
import { runAudit } from '../../src/audit/runner.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'
import { THERAPY_CLINIC, brokenAudit, ms, storeEvents, therapyKb, visitEvents } from './helpers.ts'

// A registry with one audit detector that always throws, and a real one: the
// failure is reported and counted, and the other detector's alerts are stored.
const broken = brokenAudit('query failed: secret table layout in the message')
const CLINIC = THERAPY_CLINIC
const kb = therapyKb

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb, registry: [broken, capacityExceeded] })
  const rehab = Array.from({ length: 13 }, (_, k) => visitEvents({ fixmedins_code: CLINIC, begntime: `2026-01-10 ${String(8 + k).padStart(2, '0')}:00`, lines: [{ med_list_codg: 'PT', pric: '60.00' }] }))
  await storeEvents(app.store, rehab.flatMap((v) => v.events))
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

describe('runAudit with a failing detector', () => {
  it('reports the failure with a sanitised reason, counts it, logs it, and still stores the others\' alerts', async () => {
    const run = await runAudit(app, { from: ms('2026-01-01 00:00'), to: ms('2026-02-01 00:00') })
    expect(run.errors).toEqual([{ detector: 'broken-audit', reason: 'STORE_QUERY_FAILED' }])
    expect(run.byDetector).toEqual({ 'capacity-exceeded': 1 })
    const stored = await app.store.query<{ detector_id: string }>(`SELECT detector_id FROM ${app.store.t('alerts')} FINAL`)
    expect(stored.map((r) => r.detector_id)).toEqual(['capacity-exceeded'])
    const metric = (await app.metrics.registry.getSingleMetric('fundwatch_detector_errors_total')!.get()).values
    expect(metric.find((v) => v.labels.detector === 'broken-audit')?.value).toBe(1)
    const logged = app.logs.lines.find((l) => l.msg === 'audit detector failed')
    expect(logged).toMatchObject({ detector: 'broken-audit', level: 50 })
  })
})
