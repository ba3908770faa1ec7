import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import type { RunSummary } from '../../src/pipeline/pipeline.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { applyEvent, newPerson } from '../../src/state/apply.ts'
import { loadPersons } from '../../src/state/cache.ts'
import type { PersonState } from '../../src/state/types.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * Person state is a cache over ClickHouse: after a restart or a rebalance it
 * is rebuilt from the stored rows (loadPersons), and the detectors must not be
 * able to tell the difference. Here every person of a generated month — with
 * reversals, settlements paid from the personal account, stays, pharmacies —
 * is applied in memory as the pipeline does, and compared field by field with
 * the state rebuilt from what the same pipeline stored.
 */
let app: TestApp
let events: AnyEvent[]
let summary: RunSummary
beforeAll(async () => {
  const start = Date.parse('2026-02-02T00:00:00+08:00')
  const gen = createGenerator({ seed: 424242, persons: 400, days: 30, startTime: start, fraudRate: 0.05, kb: sampleKnowledgeBase() })
  events = [...gen.events()]
  app = await testApp({ kb: new KnowledgeBase(gen.kb, 'generated') })
  summary = await app.pipeline().run(generatorSource(events, { batchSize: 500 }), new AbortController().signal)
}, 120_000)
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

describe('person state restored from ClickHouse', () => {
  it('admits the generated month whole: nothing refused, nothing flagged (admission, docs/admission.md)', async () => {
    expect(summary.rejectedByReason).toEqual({})
    expect(summary.events).toBe(events.length)
    expect(Number((await app.store.query<{ c: string }>(`SELECT count() AS c FROM ${app.store.t('data_quality')}`))[0]!.c)).toBe(0)
  })


  it('equals the state built in memory from the same events, for every person', async () => {
    const memory = new Map<string, PersonState>()
    for (const ev of events) {
      if (ev.event_type === 'inventory.movement') continue
      const psn = ev.payload.psn_no
      if (!psn) continue
      let p = memory.get(psn)
      if (!p) memory.set(psn, (p = newPerson(psn, 'test')))
      applyEvent(p, ev, Date.parse(ev.event_time))
    }
    expect(memory.size).toBeGreaterThan(300)
    const accountPaid = [...memory.values()].flatMap((p) => [...p.visits.values()]).flatMap((v) => [...v.settlements.values()]).filter((s) => s.acct_pay > 0)
    expect(accountPaid.length).toBeGreaterThan(0)

    const loaded = await loadPersons(app.store, [...memory.keys()], 0)
    expect([...loaded.keys()].sort()).toEqual([...memory.keys()].sort())
    let alerts = 0
    for (const [psn, mem] of memory) {
      const { alerts: held, ...got } = loaded.get(psn)!
      got.owner = mem.owner
      const { alerts: _, ...want } = mem
      expect(got, psn).toEqual(want)
      // What the streaming detectors raised on the person comes back with the history, so later facts can revise it.
      for (const a of held.values()) expect([a.subject.psn_no, a.stage], a.alert_id).toEqual([psn, 'in'])
      alerts += held.size
    }
    const [stored] = await app.store.query<{ c: string }>(`SELECT count(DISTINCT alert_id) AS c FROM ${app.store.t('alerts')} WHERE stage = 'in' AND psn_no != '' AND notEmpty(mdtrt_ids)`)
    expect(alerts).toBeGreaterThan(0)
    expect(alerts).toBe(Number(stored!.c))
  })
})
