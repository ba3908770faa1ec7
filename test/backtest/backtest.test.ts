import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { backtestWithIds, type DiffIds } from '../../src/backtest/backtest.ts'
import type { BacktestResult } from '../../src/backtest/result.ts'
import { parseRules, rulesHash } from '../../src/detect/rules-file.ts'
import { evaluate } from '../../src/generator/evaluate.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import type { Label } from '../../src/generator/labels.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { alertFromRow } from '../../src/store/rows.ts'
import { chTime } from '../../src/util/time.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * Issue 14's done-when: a backtest of a raised over-standard-charge threshold
 * over a generated, labelled history reports exactly the alerts that
 * disappear when the same history is replayed live under that rule base —
 * and nothing else moves. The live runs are the real pipeline into real
 * chDB; the backtest reads the first store's events table.
 */
const OSC = 'over-standard-charge'
let live: TestApp
let again: TestApp
let events: AnyEvent[]
let labels: Label[]
let candidate: string
let threshold: number
let run: { result: BacktestResult; ids: DiffIds }
let from: number
let to: number

/** The latest revision of every stored alert that still stands, by detector. */
async function standing(app: TestApp): Promise<Map<string, ReturnType<typeof alertFromRow>>> {
  const rows = await app.store.query<Record<string, unknown>>(`SELECT * FROM ${app.store.t('alerts')} FINAL WHERE stage = 'in' ORDER BY alert_id, revision`)
  const latest = new Map<string, ReturnType<typeof alertFromRow>>()
  for (const r of rows) latest.set(String(r.alert_id), alertFromRow(r))
  return new Map([...latest].filter(([, a]) => a.status !== 'withdrawn'))
}

const idsOf = (m: Map<string, { detector: { id: string } }>, detector: string) => [...m].filter(([, a]) => a.detector.id === detector).map(([id]) => id).sort()

beforeAll(async () => {
  const start = Date.parse('2026-03-02T00:00:00+08:00')
  const gen = createGenerator({ seed: 140014, persons: 600, days: 30, startTime: start, fraudRate: 0.3, kb: sampleKnowledgeBase() })
  events = [...gen.events()]
  labels = gen.labels
  const kb = new KnowledgeBase(gen.kb, 'generated')
  live = await testApp({ kb, database: `bt_live_${process.pid}` })
  await live.pipeline().run(generatorSource(events, { batchSize: 400 }), new AbortController().signal)

  // A threshold between the smallest and the largest over-standard amount, so the change removes some alerts and keeps others.
  const amounts = [...(await standing(live)).values()].filter((a) => a.detector.id === OSC).map((a) => Number(a.amount_at_risk)).sort((a, b) => a - b)
  expect(amounts.length).toBeGreaterThan(4)
  threshold = amounts[Math.floor(amounts.length / 2)]!
  candidate = `# raise the smallest excess worth a finding\ndetectors:\n  ${OSC}:\n    params:\n      min_excess_amount: ${threshold}\n`

  again = await testApp({ kb, dataDir: live.dataDir, database: `bt_again_${process.pid}`, rules: parseRules(candidate, live.registry).config })
  await again.pipeline().run(generatorSource(events, { batchSize: 400 }), new AbortController().signal)

  // A verdict on two stored alerts: one the change removes (confirmed by review), one it keeps (dismissed as a false positive).
  const base = await standing(live)
  const kept = await standing(again)
  const removedId = idsOf(base, OSC).find((id) => !kept.has(id))!
  const keptId = idsOf(base, OSC).find((id) => kept.has(id))!
  const action = (alert_id: string, status: string) => ({
    action_id: `a-${alert_id}`, alert_id, version: 1, kind: 'transition', from_status: 'new', status, reason: 'test', assignee: '',
    entered_at: chTime(Date.now()), due_at: null, recovered_amount: '0', penalty_amount: '0', measures: '', dismiss_reason: '',
    detector_id: OSC, fixmedins_code: base.get(alert_id)!.subject.fixmedins_code, admdvs: '', amount_at_risk: '0', by_user: 'u', by_name: 'u', role: 'admin', at: chTime(Date.now()),
  })
  await live.store.insert('alert_actions', [action(removedId, 'decided'), action(keptId, 'dismissed')])

  const times = events.map((e) => Date.parse(e.event_time))
  from = Math.min(...times)
  to = Math.max(...times) + 1
  run = await backtestWithIds({
    store: live.store, kb: live.kb(),
    baseline: { engine: live.engine(), hash: 'defaults' },
    candidate: { engine: parseRules(candidate, live.registry).engine, hash: rulesHash(candidate) },
    from, to, labels, chunk: 700,
  })
}, 300_000)

afterAll(async () => {
  await again?.close()
  await live?.close()
  if (live) removeDir(live.dataDir)
})

describe('backtest over stored history (issue 14)', () => {
  it('reports as removed exactly the over-standard-charge alerts a live replay under the candidate no longer raises', async () => {
    const base = await standing(live)
    const cand = await standing(again)
    const disappear = idsOf(base, OSC).filter((id) => !cand.has(id))
    expect(disappear.length).toBeGreaterThan(0)
    expect(idsOf(cand, OSC).length).toBeGreaterThan(0)
    expect([...run.ids.get(OSC)!.removed].sort()).toEqual(disappear)
    const d = run.result.detectors.find((x) => x.detector === OSC)!
    expect(d.removed.count).toBe(disappear.length)
    expect(d.added.count).toBe(0)
    expect(d.removed.sample.length).toBe(Math.min(20, disappear.length))
    for (const s of d.removed.sample) expect(Number(s.amount_at_risk)).toBeLessThan(threshold)
  })

  it('moves no other detector, and its baseline is what the live run stored, detector by detector', async () => {
    const base = await standing(live)
    const cand = await standing(again)
    for (const d of run.result.detectors) {
      expect([d.detector, d.baseline.alerts], 'baseline = stored').toEqual([d.detector, idsOf(base, d.detector).length])
      expect([d.detector, d.candidate.alerts], 'candidate = live replay under it').toEqual([d.detector, idsOf(cand, d.detector).length])
      if (d.detector === OSC) continue
      expect([d.detector, d.added.count, d.removed.count, d.changed.count]).toEqual([d.detector, 0, 0, 0])
    }
    const detectorsWithAlerts = new Set([...base.values()].map((a) => a.detector.id))
    for (const id of detectorsWithAlerts) expect(run.result.detectors.map((d) => d.detector)).toContain(id)
  })

  it('states the window, the events and fee lines replayed, and both hashes', () => {
    expect(run.result.events).toBe(events.length)
    expect(run.result.fee_lines).toBe(events.reduce((n, e) => n + (e.event_type === 'fee.uploaded' ? e.payload.lines.length : 0), 0))
    expect(run.result.skipped).toBe(0)
    expect(run.result.candidate_hash).toBe(rulesHash(candidate))
    expect(run.result.window.from).toMatch(/\+08:00$/)
  })

  it('estimates precision from review verdicts on stored alerts with the same ids', () => {
    const d = run.result.detectors.find((x) => x.detector === OSC)!
    // Baseline: one confirmed, one dismissed. Candidate: only the dismissed one is still raised.
    expect(d.precision).toEqual({ baseline: 0.5, candidate: 0, reviewed_baseline: 2, reviewed_candidate: 1 })
    const other = run.result.detectors.find((x) => x.detector !== OSC && x.baseline.alerts > 0)!
    expect(other.precision).toEqual({ baseline: null, candidate: null, reviewed_baseline: 0, reviewed_candidate: 0 })
  })

  it('scores both sides against the labels with the generator evaluation', async () => {
    expect(run.result.labelled).toBe(true)
    const stored = evaluate([...(await standing(live)).values()], labels).get(OSC)!
    const again_ = evaluate([...(await standing(again)).values()], labels).get(OSC)!
    const d = run.result.detectors.find((x) => x.detector === OSC)!
    expect(d.labels).toEqual({ baseline: { precision: stored.precision, recall: stored.recall }, candidate: { precision: again_.precision, recall: again_.recall } })
  })

  it('writes nothing: the alert tables and the running app state are as the live run left them', async () => {
    const [n] = await live.store.query<{ c: string }>(`SELECT count() AS c FROM ${live.store.t('alerts')}`)
    const before = Number(n!.c)
    const cacheSize = live.cache.size
    await backtestWithIds({
      store: live.store, kb: live.kb(), baseline: { engine: live.engine(), hash: 'x' }, candidate: { engine: parseRules(candidate, live.registry).engine, hash: 'y' }, from, to,
    })
    const [m] = await live.store.query<{ c: string }>(`SELECT count() AS c FROM ${live.store.t('alerts')}`)
    expect(Number(m!.c)).toBe(before)
    expect(live.cache.size).toBe(cacheSize)
  })

  it('stops between chunks when aborted', async () => {
    const ac = new AbortController()
    const seen: number[] = []
    let total = 0
    const p = backtestWithIds({
      store: live.store, kb: live.kb(), baseline: { engine: live.engine(), hash: 'x' }, candidate: { engine: live.engine(), hash: 'x' }, from, to, chunk: 500,
      signal: ac.signal, onProgress: (pr) => { total = pr.events_total; seen.push(pr.events_done); if (seen.length === 3) ac.abort(new Error('stop')) },
    })
    await expect(p).rejects.toThrow('stop')
    // Nothing read after the abort: the start, two chunks, then the stop before the third.
    expect(seen).toHaveLength(3)
    expect(seen[0]).toBe(0)
    expect(seen[2]).toBeGreaterThan(seen[1]!)
    expect(seen[2]).toBeLessThan(total)
  })

  it('replays an event stored twice (redelivered before the merge) once, at its first arrival', async () => {
    const [row] = await live.store.query<Record<string, unknown>>(`SELECT * FROM ${live.store.t('events')} WHERE event_type = 'fee.uploaded' ORDER BY event_id LIMIT 1`)
    await live.store.insert('events', [{ ...row, ingested_at: chTime(Date.now() + 60_000), source_pos: 'redelivered:1' }])
    const again_ = await backtestWithIds({
      store: live.store, kb: live.kb(), baseline: { engine: live.engine(), hash: 'defaults' },
      candidate: { engine: parseRules(candidate, live.registry).engine, hash: rulesHash(candidate) }, from, to, labels, chunk: 700,
    })
    expect(again_.result.events).toBe(run.result.events)
    expect(again_.result.fee_lines).toBe(run.result.fee_lines)
    expect(again_.result.detectors).toEqual(run.result.detectors)
  })
})
