import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { Metrics } from '../../src/metrics.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { applyEvent } from '../../src/state/apply.ts'
import { PersonCache, stateBytes } from '../../src/state/cache.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * The person cache is bounded by memory, not only by a count (issue 13: at
 * ~10 KB a person, the default 500,000 persons is ~5 GB, above Node's heap):
 * its estimated bytes stay under the bound, the least recently touched go
 * first, and never one a batch not yet stored touched.
 */
let app: TestApp
let persons: string[]
const owner = 'test/0'
beforeAll(async () => {
  const gen = createGenerator({ seed: 77, persons: 300, days: 20, startTime: Date.parse('2026-02-02T00:00:00+08:00'), fraudRate: 0.02, kb: sampleKnowledgeBase() })
  const events: AnyEvent[] = [...gen.events()]
  app = await testApp({ kb: new KnowledgeBase(gen.kb, 'generated') })
  await app.pipeline().run(generatorSource(events, { batchSize: 1000 }), new AbortController().signal)
  persons = [...new Set(events.flatMap((e) => (e.event_type === 'inventory.movement' ? [] : [e.payload.psn_no])))].sort()
}, 120_000)
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

const since = Date.parse('2026-01-01T00:00:00+08:00')
const ids = (xs: string[]) => xs.map((psn_no) => ({ psn_no, owner }))

describe('person cache bounded by memory', () => {
  it('keeps its estimated bytes under the bound, evicting the least recently touched first, and counts them', async () => {
    const metrics = new Metrics()
    const unbounded = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
    await unbounded.ensure(ids(persons), 1, since)
    const bytes = new Map(persons.map((p) => [p, stateBytes(unbounded.get(p)!)]))
    expect(unbounded.bytes).toBe([...bytes.values()].reduce((a, b) => a + b, 0))

    // Room for about a third of them.
    const bound = Math.floor(unbounded.bytes / 3)
    const cache = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: bound, metrics })
    const [first, second, third] = [persons.slice(0, 100), persons.slice(100, 200), persons.slice(200)]
    await cache.ensure(ids(first), 1, since)
    cache.trim(1)
    await cache.ensure(ids(second), 2, since)
    // The first batch's persons, touched again: now more recent than the second's.
    await cache.ensure(ids(first.slice(0, 20)), 2, since)
    cache.trim(2)
    expect(cache.bytes).toBeLessThanOrEqual(bound)
    expect(first.slice(0, 20).every((p) => cache.get(p) !== undefined), 'touched again: kept').toBe(true)
    // Of the second batch, what is kept is its most recently touched part: a tail, in order.
    const kept = second.filter((p) => cache.get(p) !== undefined)
    expect(kept.length).toBeGreaterThan(0)
    expect(kept).toEqual(second.slice(second.length - kept.length))
    expect(first.slice(20).filter((p) => cache.get(p) !== undefined).length, 'least recently touched: gone first').toBe(0)
    const evicted = persons.length - third.length - cache.size
    expect((await metrics.registry.getSingleMetric('fundwatch_state_evictions_total')!.get()).values[0]!.value).toBe(evicted)
    expect((await metrics.registry.getSingleMetric('fundwatch_state_bytes')!.get()).values[0]!.value).toBe(cache.bytes)

    // A batch not yet stored: its persons stay whatever the bound says, until it is.
    await cache.ensure(ids(third), 3, since)
    cache.trim(2)
    expect(third.every((p) => cache.get(p) !== undefined)).toBe(true)
    cache.trim(3)
    expect(cache.bytes).toBeLessThanOrEqual(bound)
  })

  it('measures a person again after a batch that touched it is stored: state that grows counts', async () => {
    const cache = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
    const p = persons[0]!
    await cache.ensure(ids([p]), 1, since)
    const before = cache.bytes
    const s = cache.get(p)!
    const v = [...s.visits.values()][0]!
    // Twenty more lines billed on one of the person's visits in batch 1.
    const ev = {
      event_id: 'grow', event_type: 'fee.uploaded', event_time: '2026-02-10T10:00:00+08:00', schema_version: 1, source: { fixmedins_code: v.fixmedins_code },
      payload: { mdtrt_id: v.mdtrt_id, psn_no: p, lines: Array.from({ length: 20 }, (_, i) => ({ feedetl_sn: `G${i}`, fee_ocur_time: '2026-02-10T10:00:00+08:00', med_list_codg: 'X', medins_list_codg: 'X', list_type: 'drug', med_chrgitm_type: '09', cnt: '1', pric: '1', det_item_fee_sumamt: '1.00', bilg_dept_codg: 'D', bilg_dr_codg: 'DR' })) },
    } as AnyEvent
    applyEvent(s, ev, Date.parse(ev.event_time))
    expect(cache.bytes).toBe(before)
    cache.trim(1)
    expect(cache.bytes).toBe(stateBytes(s))
    expect(cache.bytes).toBeGreaterThan(before)
  })
})
