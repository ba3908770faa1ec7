import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Alert } from '../../schemas/index.ts'
import { DetectEngine, type DetectorError } from '../../src/detect/engine.ts'
import { MAX_EVIDENCE_ITEMS, boundEvidence } from '../../src/detect/evidence.ts'
import { defineDetector, type Finding, type StreamDetector } from '../../src/detect/types.ts'
import { Metrics } from '../../src/metrics.ts'
import type { Source } from '../../src/pipeline/types.ts'
import { newPerson } from '../../src/state/apply.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { HOSPITAL, feeUploaded, institution, makeKb, visitOpened } from '../helpers/detect.ts'

// The sender must be a known institution (admission refuses an unknown one).
const kb = makeKb({ institutions: [institution(HOSPITAL)] })
const base = {
  kind: 'stream' as const, version: '1.0.0', title: { zh: '测试', en: 'test' }, pattern: { zh: '测试', en: 'test' }, description: { zh: '测试', en: 'test' },
  stages: ['pre', 'in'] as const, scenarios: ['outpatient'] as const, result: 'suspicious' as const, severity: 'low' as const, basis: { zh: '测试', en: 'test' },
  params: z.object({}).strict(), evidence: {}, reactsTo: ['fee.uploaded'] as const,
}
const finding = (key: string, evidence: Record<string, unknown> = {}): Finding => ({
  key, subject: { fixmedins_code: 'H11010500001' }, refs: { feedetl_sns: ['L1'] }, amount_fen: 100, message: { zh: key, en: key }, evidence,
})
/** Quotes every line of the event, as a detector might. */
const quoting = defineDetector({
  ...base, id: 'quotes-all-lines',
  detect(ctx) {
    if (ctx.event.event_type !== 'fee.uploaded') return []
    const lines = ctx.event.payload.lines
    return [{ ...finding('all'), refs: { feedetl_sns: lines.map((l) => l.feedetl_sn) }, evidence: { lines: lines.map((l) => ({ feedetl_sn: l.feedetl_sn })), nested: { sessions: [{ lines: lines.map((l) => l.feedetl_sn) }] } } }]
  },
})
/** Throws on the event whose first line is POISON, finds something on every other. */
const throwing = defineDetector({
  ...base, id: 'throws-on-poison',
  detect(ctx) {
    if (ctx.event.event_type === 'fee.uploaded' && ctx.event.payload.lines[0]!.feedetl_sn === 'POISON') throw new Error('cannot judge this line')
    return [finding(`ok/${ctx.event.event_id}`)]
  },
})
/** Spins for 40 ms on the event whose first line is SLOW. */
const slow = defineDetector({
  ...base, id: 'slow-on-some',
  detect(ctx) {
    if (ctx.event.event_type === 'fee.uploaded' && ctx.event.payload.lines[0]!.feedetl_sn === 'SLOW') {
      const until = performance.now() + 40
      while (performance.now() < until) { /* the runaway detector */ }
    }
    return [finding(`done/${ctx.event.event_id}`)]
  },
})
const registry = [quoting, throwing, slow] as StreamDetector[]

const T = '2026-03-02T10:00:00+08:00'
const upload = (event_id: string, sns: string[]) =>
  feeUploaded({ event_id, mdtrt_id: 'MDT-ENG', lines: sns.map((sn) => ({ feedetl_sn: sn, fee_ocur_time: T, med_list_codg: 'SVC-A' })) })

function run(engine: DetectEngine, events: ReturnType<typeof upload>[], metrics?: Metrics) {
  const person = newPerson('PSN00000001', 'test/0')
  const into = new Map<string, Alert>()
  const errors: DetectorError[] = []
  for (const ev of events) engine.step(into, { event: ev, eventTime: Date.parse(ev.event_time), person, stage: 'in', kb }, Date.now(), metrics, undefined, errors)
  return { alerts: [...into.values()], errors }
}

describe('evidence is bounded in one place', () => {
  it(`quotes at most ${MAX_EVIDENCE_ITEMS} entries of any list, with a count of the rest; refs keep every record`, () => {
    const sns = Array.from({ length: 300 }, (_, i) => `L${i}`)
    const { alerts } = run(new DetectEngine([quoting]), [upload('e-many', sns)])
    const a = alerts[0]!
    expect(a.refs.feedetl_sns).toHaveLength(300)
    expect(a.evidence.lines).toHaveLength(MAX_EVIDENCE_ITEMS)
    expect(a.evidence.lines_omitted).toBe(300 - MAX_EVIDENCE_ITEMS)
    const nested = a.evidence.nested as { sessions: { lines: string[]; lines_omitted: number }[] }
    expect(nested.sessions[0]!.lines).toHaveLength(MAX_EVIDENCE_ITEMS)
    expect(nested.sessions[0]!.lines_omitted).toBe(300 - MAX_EVIDENCE_ITEMS)
    expect(JSON.stringify(a.evidence).length).toBeLessThan(4000)
  })

  it('leaves short evidence as it is and never changes the detector\'s objects', () => {
    const short = { lines: [1, 2, 3], rule: 'x' }
    expect(boundEvidence(short)).toBe(short)
    const long = { lines: Array.from({ length: 25 }, (_, i) => i) }
    const bounded = boundEvidence(long)
    expect(long.lines).toHaveLength(25)
    expect(bounded).toEqual({ lines: long.lines.slice(0, MAX_EVIDENCE_ITEMS), lines_omitted: 5 })
  })
})

describe('a detector that fails on one event is recorded and skipped for that event', () => {
  it('a detector that throws: recorded with the event id, its other events and the other detectors go on', () => {
    const metrics = new Metrics()
    const { alerts, errors } = run(new DetectEngine([throwing, quoting]), [upload('e-1', ['A1']), upload('e-poison', ['POISON']), upload('e-2', ['A2'])], metrics)
    expect(alerts.filter((a) => a.detector.id === 'throws-on-poison').map((a) => a.message.en).sort()).toEqual(['ok/e-1', 'ok/e-2'])
    expect(alerts.filter((a) => a.detector.id === 'quotes-all-lines')).toHaveLength(1)
    expect(errors).toEqual([expect.objectContaining({ event_id: 'e-poison', detector_id: 'throws-on-poison', kind: 'threw', detail: 'cannot judge this line' })])
  })

  it('a detector over its time budget: recorded as over_budget with the event id, its findings for that event dropped', () => {
    const { alerts, errors } = run(new DetectEngine([slow], {}, { budgetMs: 10 }), [upload('e-fast', ['F1']), upload('e-slow', ['SLOW'])])
    expect(alerts.map((a) => a.message.en)).toEqual(['done/e-fast'])
    expect(errors).toEqual([expect.objectContaining({ event_id: 'e-slow', detector_id: 'slow-on-some', kind: 'over_budget' })])
    expect(errors[0]!.elapsed_ms).toBeGreaterThan(10)
  })
})

describe('in the pipeline', () => {
  let app: TestApp
  beforeAll(async () => { app = await testApp({ kb, registry }) })
  afterAll(async () => app?.close())

  it('stores the batch, and a detector_errors row naming the event a detector was skipped on', async () => {
    const events = [visitOpened({ event_id: 'p-open', mdtrt_id: 'MDT-ENG', begntime: '2026-03-02T09:00:00+08:00', med_type: '11' }), upload('p-1', ['B1']), upload('p-poison', ['POISON']), upload('p-2', ['B2'])]
    const source: Source = { name: 'test', async *batches() { yield { records: events.map((e, i) => ({ value: Buffer.from(JSON.stringify(e)), pos: `engine:${i}`, owner: 'engine' })) } } }
    const sum = await app.pipeline().run(source, new AbortController().signal)
    expect(sum.rejectedByReason).toEqual({})
    expect(sum.events).toBe(4)
    const rows = await app.store.query<{ event_id: string; detector_id: string; kind: string }>(`SELECT event_id, detector_id, kind FROM ${app.store.t('detector_errors')} FINAL`)
    expect(rows).toEqual([{ event_id: 'p-poison', detector_id: 'throws-on-poison', kind: 'threw' }])
    const stored = await app.store.query<{ c: string }>(`SELECT count() c FROM ${app.store.t('alerts')} FINAL WHERE detector_id = 'throws-on-poison'`)
    expect(Number(stored[0]!.c)).toBe(2)
    const logged = app.logs.lines.find((l) => l.msg === 'detector skipped for this event')
    expect(logged).toMatchObject({ detector: 'throws-on-poison', event_id: 'p-poison', kind: 'threw' })
  })
})
