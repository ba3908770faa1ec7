import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Alert } from '../../schemas/index.ts'
import { auditTopK, runAudit } from '../../src/audit/runner.ts'
import type { Label } from '../../src/generator/labels.ts'
import { alertFromRow } from '../../src/store/rows.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'
import { institution, item, makeKb } from '../helpers/detect.ts'
import { cn, ms, storeEvents, visitEvents } from './helpers.ts'

// Six community clinics, one of them with one therapist: the history holds a
// cost outlier (provider-outlier) and a day beyond therapist capacity
// (capacity-exceeded) in January 2026.
const CLINICS = ['H37070500041', 'H37070500042', 'H37070500043', 'H37070500044', 'H37070500045', 'H37070500046']
const kb = makeKb({
  institutions: CLINICS.map((c, i) => institution(c, { kind: 'clinic', level: 1, type: '基层医疗机构', admdvs: '370705', therapists: i === 0 ? 1 : 0 })),
  catalog: [item('PT', { name: '运动疗法', therapist_minutes: 40 })],
})
const FROM = ms('2026-01-01 00:00')
const TO = ms('2026-02-01 00:00')

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
  const visits = CLINICS.flatMap((c, i) => Array.from({ length: 31 }, (_, k) => visitEvents({
    fixmedins_code: c, begntime: `2026-01-${String(1 + k).padStart(2, '0')} 15:00`,
    lines: [{ med_list_codg: 'SVC1', pric: (i === 5 ? 300 : 50 + i).toFixed(2) }],
  })))
  // Thirteen 40-minute PT sessions on 10 January at the clinic with one therapist.
  const rehab = Array.from({ length: 13 }, (_, k) => visitEvents({
    fixmedins_code: CLINICS[0]!, begntime: `2026-01-10 ${String(8 + Math.floor(k / 2)).padStart(2, '0')}:${k % 2 ? '30' : '00'}`,
    lines: [{ med_list_codg: 'PT', pric: '60.00' }],
  }))
  await storeEvents(app.store, [...visits, ...rehab].flatMap((v) => v.events))
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

async function storedAlerts(): Promise<Alert[]> {
  const rows = await app.store.query<Record<string, unknown>>(`SELECT * FROM ${app.store.t('alerts')} FINAL WHERE stage = 'post' ORDER BY alert_id`)
  return rows.map(alertFromRow)
}

describe('runAudit', () => {
  it('runs every enabled audit detector and stores its findings as post-stage alerts', async () => {
    const run = await runAudit(app, { from: FROM, to: TO })
    expect(run.errors).toEqual([])
    // The costly clinic, and its one doctor against the doctors of the other clinics.
    expect(run.byDetector).toEqual({ 'provider-outlier': 2, 'case-mix-drift': 0, collusion: 0, 'inventory-mismatch': 0, 'capacity-exceeded': 1 })
    for (const a of run.alerts) expect(Alert.safeParse(a).success).toBe(true)
    const outlier = run.alerts.find((a) => a.detector.id === 'provider-outlier' && a.subject.doctor === undefined)!
    const engine = app.engine()
    expect(outlier).toMatchObject({
      stage: 'post', result: 'suspicious', subject: { fixmedins_code: CLINICS[5] },
      // The window end, in China time: a re-run of the same window writes the same row.
      event_time: '2026-02-01T00:00:00+08:00',
    })
    expect(outlier.detector).toEqual({ id: 'provider-outlier', version: '2.0.0', params_hash: engine.audits.find((a) => a.detector.id === 'provider-outlier')!.paramsHash })
    const capacity = run.alerts.find((a) => a.detector.id === 'capacity-exceeded')!
    expect(capacity.event_time).toBe('2026-01-10T00:00:00+08:00')
    expect(capacity.refs.mdtrt_ids).toHaveLength(13)
    const stored = await storedAlerts()
    expect(stored.map((a) => a.alert_id).sort()).toEqual(run.alerts.map((a) => a.alert_id).sort())
    expect(stored.find((a) => a.alert_id === outlier.alert_id)).toMatchObject({ amount_at_risk: outlier.amount_at_risk, evidence: outlier.evidence })
    const admdvs = await app.store.query<{ admdvs: string }>(`SELECT DISTINCT admdvs FROM ${app.store.t('alerts')} FINAL WHERE stage = 'post'`)
    expect(admdvs.map((r) => r.admdvs)).toEqual(['370705'])
  })

  it('re-running the same window yields the same alert ids and no extra rows', async () => {
    const before = await storedAlerts()
    const again = await runAudit(app, { from: FROM, to: TO })
    expect(again.alerts.map((a) => a.alert_id).sort()).toEqual(before.map((a) => a.alert_id).sort())
    await app.store.command(`OPTIMIZE TABLE ${app.store.t('alerts')} FINAL`)
    const rows = await app.store.query<{ n: string }>(`SELECT count() AS n FROM ${app.store.t('alerts')} WHERE stage = 'post'`)
    expect(Number(rows[0]!.n)).toBe(before.length)
  })

  it('a finding that persists into the next night\'s window keeps its alert: updated, not raised again', async () => {
    const night1 = (await storedAlerts()).filter((a) => a.detector.id === 'provider-outlier')
    expect(night1.length).toBeGreaterThan(0)
    const DAY = 86_400_000
    const night2 = await runAudit(app, { from: FROM + DAY, to: TO + DAY, detectors: ['provider-outlier'] })
    expect(night2.alerts.map((a) => a.alert_id).sort()).toEqual(night1.map((a) => a.alert_id).sort())
    const after = (await storedAlerts()).filter((a) => a.detector.id === 'provider-outlier')
    expect(after.map((a) => a.alert_id).sort()).toEqual(night1.map((a) => a.alert_id).sort())
    for (const a of after) {
      const first = night1.find((x) => x.alert_id === a.alert_id)!
      // The window moved and a day of visits left it: the values changed, so a new revision; its place in the feed stays.
      expect([a.status, a.revision, a.detected_at, a.event_time]).toEqual(['updated', 2, first.detected_at, first.event_time])
      expect(a.evidence.window).toEqual({ from: '2026-01-02', to: '2026-02-01', days: 31 })
    }
    // The same night again adds nothing.
    await runAudit(app, { from: FROM + DAY, to: TO + DAY, detectors: ['provider-outlier'] })
    const revisions = await app.store.query<{ n: string }>(`SELECT count() AS n FROM ${app.store.t('alert_revisions')} FINAL WHERE detector_id = 'provider-outlier'`)
    expect(Number(revisions[0]!.n)).toBe(2 * night1.length)
  })

  it('publishes the stored alerts to its sinks after storing them, the same documents', async () => {
    await app.store.command(`TRUNCATE TABLE ${app.store.t('alerts')}`)
    const published: Alert[] = []
    let storedWhenPublished = -1
    const run = await runAudit(app, {
      from: FROM, to: TO,
      sinks: [{ name: 'memory', publish: async (alerts) => { storedWhenPublished = (await storedAlerts()).length; published.push(...alerts) } }],
    })
    expect(run.alerts.length).toBeGreaterThan(0)
    expect(published).toEqual(run.alerts)
    expect(storedWhenPublished).toBe(run.alerts.length)
    const stored = await storedAlerts()
    expect(published.map((a) => a.alert_id).sort()).toEqual(stored.map((a) => a.alert_id).sort())
  })

  it('runs only the detectors asked for, and refuses ids that are not audit detectors', async () => {
    const run = await runAudit(app, { from: FROM, to: TO, detectors: ['capacity-exceeded'] })
    expect(Object.keys(run.byDetector)).toEqual(['capacity-exceeded'])
    await expect(runAudit(app, { from: FROM, to: TO, detectors: ['no-such-detector'] })).rejects.toMatchObject({ code: 'DETECTOR_UNKNOWN' })
    await expect(runAudit(app, { from: FROM, to: TO, detectors: ['duplicate-charge'] })).rejects.toMatchObject({ code: 'DETECTOR_UNKNOWN' })
    await expect(runAudit(app, { from: TO, to: FROM })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('applies the rule base: disabled detectors, scope by institution, result and severity overrides, parameters', async () => {
    try {
      app.setRules({
        detectors: {
          'provider-outlier': { enabled: false },
          'capacity-exceeded': { scope: { levels: [2, 3] } },
        },
      })
      const scoped = await runAudit(app, { from: FROM, to: TO })
      expect(scoped.byDetector).toEqual({ 'case-mix-drift': 0, collusion: 0, 'inventory-mismatch': 0, 'capacity-exceeded': 0 })

      const engine = app.setRules({ detectors: { 'capacity-exceeded': { severity: 'critical', params: { minutes_per_therapist_day: 600 } } } })
      expect((await runAudit(app, { from: FROM, to: TO, detectors: ['capacity-exceeded'] })).alerts).toEqual([])
      const hash = engine.audits.find((a) => a.detector.id === 'capacity-exceeded')!.paramsHash
      app.setRules({ detectors: { 'capacity-exceeded': { severity: 'critical', params: { minutes_per_therapist_day: 450 } } } })
      const strict = await runAudit(app, { from: FROM, to: TO, detectors: ['capacity-exceeded'] })
      expect(strict.alerts.map((a) => [a.severity, a.evidence.capacity_minutes])).toEqual([['critical', 450]])
      expect(strict.alerts[0]!.detector.params_hash).not.toBe(hash)
    } finally {
      app.setRules({})
    }
  })
})

describe('an audit detector in shadow mode (issue 14)', () => {
  it('writes its revisions to shadow_alerts, publishes none, and leaves the live alert standing as it was (demotion)', async () => {
    const live = async () => (await storedAlerts()).filter((a) => a.detector.id === 'capacity-exceeded')
    const standing = await live()
    expect(standing).toHaveLength(1)
    const published: Alert[] = []
    try {
      app.setRules({ detectors: { 'capacity-exceeded': { mode: 'shadow', severity: 'low', params: { minutes_per_therapist_day: 420 } } } })
      const run = await runAudit(app, { from: FROM, to: TO, sinks: [{ name: 'recording', publish: async (a) => { published.push(...a) } }] })
      expect(run.byDetector['capacity-exceeded']).toBe(1)
    } finally {
      app.setRules({})
    }
    expect(published.filter((a) => a.detector.id === 'capacity-exceeded')).toEqual([])
    expect(await live()).toEqual(standing)
    const shadow = (await app.store.query<Record<string, unknown>>(`SELECT * FROM ${app.store.t('shadow_alerts')}`)).map(alertFromRow)
    expect(shadow.map((a) => [a.alert_id, a.revision, a.severity])).toEqual([[standing[0]!.alert_id, standing[0]!.revision + 1, 'low']])
  })
})

describe('auditTopK', () => {
  const alert = (id: string, detector: string, amount: number, fixmedins_code: string, mdtrt_ids: string[] = []): Alert => ({
    alert_id: id, schema_version: 1, detector: { id: detector, version: '1.0.0', params_hash: 'h' }, result: 'suspicious', severity: 'medium', stage: 'post',
    subject: { fixmedins_code }, refs: { mdtrt_ids, feedetl_sns: [], setl_ids: [], event_ids: [] }, amount_at_risk: amount.toFixed(2),
    title: { zh: 't', en: 't' }, message: { zh: 'm', en: 'm' }, evidence: {}, basis: { zh: 'b', en: 'b' }, event_time: cn('2026-02-01 00:00'), detected_at: cn('2026-02-01 00:00'), revision: 1, status: 'active', revised_at: cn('2026-02-01 00:00'),
  })
  const label = (pattern: Label['pattern'], fixmedins_code: string, mdtrt_ids: string[] = []): Label => ({ pattern, fixmedins_code, refs: { mdtrt_ids, feedetl_sns: [], setl_ids: [] }, note: '' })

  it('scores the top k by amount at risk per audit detector, with the generator\'s matching rule', () => {
    const alerts = [
      alert('a1', 'provider-outlier', 900, 'H1'), alert('a2', 'provider-outlier', 800, 'H9'), alert('a3', 'provider-outlier', 700, 'H1'),
      alert('a4', 'provider-outlier', 10, 'H2'),
      alert('c1', 'collusion', 50, 'H3', ['V1', 'V2']), alert('c2', 'collusion', 60, 'H3', ['V7']),
      alert('s1', 'duplicate-charge', 5000, 'H1'),
    ]
    const labels = [label('provider-outlier', 'H1'), label('provider-outlier', 'H2'), label('collusion', 'H3', ['V2']), label('inventory-mismatch', 'P1')]
    const s = auditTopK(alerts, labels, 3)
    // Top 3 by amount: a1 (H1 ✓), a2 (H9 ✗), a3 (H1 ✓); a4 (H2 ✓) is found but below the cut.
    expect(s['provider-outlier']).toEqual({ alerts: 4, k: 3, tp: 2, precision: 2 / 3, labels: 2, labelsFound: 2, labelsFoundInTopK: 1 })
    // Collusion labels carry visits: the alert must cite one of them, whatever its institution.
    expect(s.collusion).toEqual({ alerts: 2, k: 2, tp: 1, precision: 0.5, labels: 1, labelsFound: 1, labelsFoundInTopK: 1 })
    expect(s['inventory-mismatch']).toEqual({ alerts: 0, k: 0, tp: 0, precision: undefined, labels: 1, labelsFound: 0, labelsFoundInTopK: 0 })
    // Stream detectors are not scored here.
    expect(Object.keys(s).sort()).toEqual(['capacity-exceeded', 'case-mix-drift', 'collusion', 'inventory-mismatch', 'provider-outlier'])
  })
})
