import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alert, AnyEvent } from '../../schemas/index.ts'
import { DetectEngine } from '../../src/detect/engine.ts'
import { applyRules } from '../../src/detect/rulebase-store.ts'
import { parseRules } from '../../src/detect/rules-file.ts'
import { promoteShadow } from '../../src/detect/shadow.ts'
import type { AlertSink, Source } from '../../src/pipeline/types.ts'
import { precheck } from '../../src/precheck/precheck.ts'
import { alertsById, listAlerts, type AlertTable } from '../../src/store/alerts.ts'
import { HOSPITAL, duplicateCharge, feeReversed, institution, item, makeKb } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

// Shadow mode (issue 14, item 2): a detector in `mode: shadow` runs in the
// live pipeline, its alerts kept in shadow_alerts with the ids and revisions a
// live run gives, out of the alerts table, the alert sinks and the pre-check
// answer; promotion makes them live in the state the live detector would have
// put them. Each scenario runs twice on the same data — once with the
// detector live, once in shadow — in two databases of one chDB directory.

const kb = makeKb({
  institutions: [institution(HOSPITAL, { level: 2 })],
  catalog: [item('DRUG-A', { list_type: 'drug', med_chrgitm_type: '09' })],
})
const t = (d: number, h: number, m = 0) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`
const SHADOW = 'detectors:\n  duplicate-charge:\n    mode: shadow\n'
const ON = 'detectors:\n  duplicate-charge:\n    mode: on\n'

const duplicate = duplicateCharge
const reversal = (m: string, psn_no: string): AnyEvent => {
  const ev = feeReversed({ event_id: `${m}-rev`, mdtrt_id: m, feedetl_sns: [`${m}-L2`], time: t(2, 10, 5) })
  return { ...ev, payload: { ...ev.payload, psn_no } } as AnyEvent
}
/** Two batches: two duplicates; then, after the processor lost its state (a restart), the reversal of one. */
const BATCHES: AnyEvent[][] = [[...duplicate('SH-A', 'PSNSH0001'), ...duplicate('SH-B', 'PSNSH0002')], [reversal('SH-A', 'PSNSH0001')]]

class RecordingSink implements AlertSink {
  readonly name = 'recording'
  readonly seen: Alert[] = []
  async publish(alerts: Alert[]): Promise<void> { this.seen.push(...alerts) }
}

async function run(app: TestApp, batches: AnyEvent[][]): Promise<RecordingSink> {
  const sink = new RecordingSink()
  for (const [i, events] of batches.entries()) {
    // Each batch from stored state: the person's alerts are loaded from the store, not kept in memory.
    app.cache.clear()
    const source: Source = { name: 'test', async *batches() { yield { records: events.map((e, j) => ({ value: Buffer.from(JSON.stringify(e)), pos: `shadow:${i}:${j}`, owner: 'test' })) } } }
    await app.pipeline({ alertSinks: [sink] }).run(source, new AbortController().signal)
  }
  return sink
}

/** The current revision of every stored duplicate-charge alert in a table, as id → (revision, status, reason). */
async function stateOf(app: TestApp, table: AlertTable): Promise<Record<string, [number, string, string]>> {
  const ids = await app.store.query<{ alert_id: string }>(`SELECT DISTINCT alert_id FROM ${app.store.t(table)} WHERE detector_id = 'duplicate-charge'`)
  const out: Record<string, [number, string, string]> = {}
  for (const { alert } of await alertsById(app.store, ids.map((r) => r.alert_id), table)) out[alert.alert_id] = [alert.revision, alert.status, alert.withdrawn_reason ?? '']
  return out
}

const counter = async (app: TestApp, name: string, detector: string) =>
  (await app.metrics.registry.getSingleMetric(name)!.get()).values.filter((v) => v.labels.detector === detector).reduce((s, v) => s + v.value, 0)

let live: TestApp
let shadow: TestApp
let liveSink: RecordingSink
let shadowSink: RecordingSink
beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-shadow-'))
  live = await testApp({ kb, dataDir, database: `sh_live_${process.pid}` })
  shadow = await testApp({ kb, dataDir, database: `sh_shadow_${process.pid}` })
  await applyRules(live, ON, { by: 'test', source: 'test', reason: 'test' })
  await applyRules(shadow, SHADOW, { by: 'test', source: 'test', reason: 'test' })
  liveSink = await run(live, BATCHES)
  shadowSink = await run(shadow, BATCHES)
})
afterAll(async () => {
  await live?.close()
  await shadow?.close()
})

describe('the rule base says how a detector runs', () => {
  it('mode on|shadow|off; enabled:false is off; enabled:false with mode on or shadow is refused with its line', () => {
    const reg = shadow.registry
    expect(parseRules(SHADOW, reg).engine.shadowIds).toEqual(new Set(['duplicate-charge']))
    const modes = (text: string) => {
      const e = parseRules(text, reg).engine
      return ['duplicate-charge', 'restricted-item'].map((id) => (e.shadowIds.has(id) ? 'shadow' : e.active.some((a) => a.detector.id === id) ? 'on' : 'off'))
    }
    expect(modes('detectors:\n  duplicate-charge:\n    mode: off\n')).toEqual(['off', 'on'])
    expect(modes('detectors:\n  duplicate-charge:\n    enabled: false\n')).toEqual(['off', 'on'])
    expect(modes('defaults:\n  enabled: false\ndetectors:\n  duplicate-charge:\n    mode: shadow\n')).toEqual(['shadow', 'off'])
    expect(modes('detectors:\n  duplicate-charge:\n    enabled: false\n    mode: off\n')).toEqual(['off', 'on'])
    expect(() => parseRules('detectors:\n  restricted-item: {}\n  duplicate-charge:\n    enabled: false\n    mode: shadow\n', reg)).toThrow(/^rules:4: .*enabled: false contradicts mode/)
    expect(() => parseRules('detectors:\n  duplicate-charge:\n    mode: dark\n', reg)).toThrow(/rules:3: .*mode/)
  })
})

describe('a detector in shadow mode', () => {
  it('stores its alerts in shadow_alerts with the ids, revisions and withdrawals a live run gives — none in alerts', async () => {
    const expected = await stateOf(live, 'alerts')
    // The live run: one duplicate withdrawn by the reversal (a revision made from stored state), one standing.
    expect(Object.values(expected).map((s) => s.join('/')).sort()).toEqual(['1/active/', '2/withdrawn/reversed'])
    expect(await stateOf(shadow, 'shadow_alerts')).toEqual(expected)
    expect(await stateOf(shadow, 'alerts')).toEqual({})
    expect(await stateOf(live, 'shadow_alerts')).toEqual({})
  })

  it('never reaches the alert sinks (alerts topic, live feed), the feed or fundwatch_alerts_total; counted as shadow', async () => {
    expect(liveSink.seen.filter((a) => a.detector.id === 'duplicate-charge').length).toBeGreaterThan(0)
    expect(shadowSink.seen.filter((a) => a.detector.id === 'duplicate-charge')).toEqual([])
    const feed = await listAlerts(shadow.store, { limit: 100, lifecycle: 'all' })
    expect(feed.alerts.filter((a) => a.alert.detector.id === 'duplicate-charge')).toEqual([])
    expect(await counter(shadow, 'fundwatch_alerts_total', 'duplicate-charge')).toBe(0)
    expect(await counter(shadow, 'fundwatch_shadow_alerts_total', 'duplicate-charge')).toBe(2)
    expect(await counter(live, 'fundwatch_shadow_alerts_total', 'duplicate-charge')).toBe(0)
  })

  it('is left out of the pre-check answer and of the findings it records; what it would have said is counted', async () => {
    const draft = duplicate('SH-PRE', 'PSNSH0009')
    const admin = { id: 'test', name: 'test', role: 'admin' as const, admdvs: [], fixmedins_codes: [] }
    const asLive = await precheck(live, admin, draft, Date.parse(t(2, 11)))
    expect(asLive.findings.map((f) => f.detector.id)).toContain('duplicate-charge')
    const before = await counter(shadow, 'fundwatch_precheck_shadow_findings_total', 'duplicate-charge')
    const asShadow = await precheck(shadow, admin, draft, Date.parse(t(2, 11)))
    expect(asShadow.findings.map((f) => f.detector.id)).not.toContain('duplicate-charge')
    expect(asShadow.violation).toBe(asShadow.findings.some((f) => f.result === 'violation'))
    const answered = await shadow.store.query<{ detector_id: string }>(`SELECT detector_id FROM ${shadow.store.t('precheck_findings')}`)
    expect(answered.map((r) => r.detector_id)).not.toContain('duplicate-charge')
    expect(await counter(shadow, 'fundwatch_precheck_shadow_findings_total', 'duplicate-charge')).toBe(before + 1)
  })
})

describe('promotion shadow → on', () => {
  it('makes the shadow alerts live, once, with the ids and revision state of the live run; the feed shows the standing one', async () => {
    const before = shadow.engine()
    const r = await applyRules(shadow, ON, { by: 'test:promote', source: 'test', reason: 'test:promote' })
    expect(r.promoted).toEqual([{ detector: 'duplicate-charge', alerts: 2 }])
    expect(await stateOf(shadow, 'alerts')).toEqual(await stateOf(live, 'alerts'))
    // Again, and twice at once (two replicas swapping to the same rule base): nothing newer to copy.
    const again = await Promise.all([promoteShadow(shadow.store, before, shadow.engine()), promoteShadow(shadow.store, before, shadow.engine())])
    expect(again).toEqual([[{ detector: 'duplicate-charge', alerts: 0 }], [{ detector: 'duplicate-charge', alerts: 0 }]])
    const feed = (s: TestApp) => listAlerts(s.store, { limit: 100, lifecycle: 'current', detector: ['duplicate-charge'] }).then((p) => p.alerts.map((a) => a.alert.alert_id))
    expect(await feed(shadow)).toEqual(await feed(live))
    expect(await feed(shadow)).toHaveLength(1)
    // From now on the detector's revisions are live: a new duplicate reaches the sink and the alerts table.
    const next = await run(shadow, [duplicate('SH-C', 'PSNSH0003')])
    expect(next.seen.filter((a) => a.detector.id === 'duplicate-charge')).toHaveLength(1)
    expect(Object.keys(await stateOf(shadow, 'alerts'))).toHaveLength(3)
  })

  it('a process that starts with the detector live (a restart with a changed rules file, an audit run) promotes first', async () => {
    const database = `sh_restart_${process.pid}`
    const before = await testApp({ kb, dataDir: shadow.dataDir, database, rules: { detectors: { 'duplicate-charge': { mode: 'shadow' } } } })
    await run(before, BATCHES)
    expect(await stateOf(before, 'alerts')).toEqual({})
    const after = await testApp({ kb, dataDir: shadow.dataDir, database, rules: {} })
    try {
      expect(await stateOf(after, 'alerts')).toEqual(await stateOf(live, 'alerts'))
      expect(after.logs.lines.some((l) => l.msg === 'shadow detector promoted: its shadow alerts are live' && l.detector === 'duplicate-charge' && l.alerts === 2)).toBe(true)
    } finally {
      await after.close()
      await before.close()
    }
  })

  it('a batch whose shadow rows are being written while the promotion runs is copied live by the pipeline itself', async () => {
    await applyRules(shadow, SHADOW, { by: 'test:demote', source: 'test', reason: 'test:demote' })
    const events = duplicate('SH-D', 'PSNSH0004')
    const inShadow = shadow.engine()
    const promoted = new DetectEngine(shadow.registry, { detectors: { 'duplicate-charge': { mode: 'on' } } })
    let swapped = false
    // The store step reads the engine before and after writing: the swap lands in between.
    const engine = () => (swapped ? promoted : inShadow)
    const p = shadow.pipeline({ engine, now: () => Date.parse(t(2, 12)) })
    const prepared = await p.prepare({ records: events.map((e, j) => ({ value: Buffer.from(JSON.stringify(e)), pos: `race:${j}`, owner: 'test' })) })
    const insert = shadow.store.insert.bind(shadow.store)
    shadow.store.insert = async (table, rows, settings) => {
      await insert(table, rows, settings)
      if (table === 'shadow_alerts') swapped = true
    }
    try {
      await p.persist(prepared, new AbortController().signal)
    } finally {
      shadow.store.insert = insert
    }
    const ids = prepared.alerts.filter((a) => a.detector.id === 'duplicate-charge').map((a) => a.alert_id)
    expect(ids).toHaveLength(1)
    expect((await alertsById(shadow.store, ids)).map((s) => s.alert.status)).toEqual(['active'])
  })
})
