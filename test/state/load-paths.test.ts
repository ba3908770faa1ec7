import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { loadPersons } from '../../src/state/cache.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * loadPersons (src/state/cache.ts) has two paths: a pre-check loads one person
 * without probing first; the pipeline loads a batch after a probe. Both must
 * build the same state, alerts included. And the store may hold a row twice
 * (a replay before a merge) or in two versions: the state counts it once, in
 * its newest version, as FINAL keeps it — what any cheaper read of the history
 * must keep too.
 */
let app: TestApp
let events: AnyEvent[]
beforeAll(async () => {
  const start = Date.parse('2026-03-02T00:00:00+08:00')
  const gen = createGenerator({ seed: 77001, persons: 150, days: 30, startTime: start, fraudRate: 0.08, kb: sampleKnowledgeBase() })
  events = [...gen.events()]
  app = await testApp({ kb: new KnowledgeBase(gen.kb, 'generated') })
  await app.pipeline().run(generatorSource(events, { batchSize: 400 }), new AbortController().signal)
}, 120_000)
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

const persons = () => [...new Set(events.flatMap((e) => (e.event_type === 'inventory.movement' || !e.payload.psn_no ? [] : [e.payload.psn_no])))].sort()

describe('loadPersons: one person (the pre-check path) and a batch (the pipeline path)', () => {
  it('build the same state for every person, with and without the stored alerts', async () => {
    const psns = persons()
    expect(psns.length).toBeGreaterThan(100)
    const since = Date.parse('2026-03-10T00:00:00+08:00')
    for (const alerts of [true, false]) {
      const batch = await loadPersons(app.store, psns, since, { probe: true, alerts })
      expect(batch.size).toBeGreaterThan(50)
      let held = 0
      // One by one: 60 persons (of whom most have history), enough to cover each kind of row and an alert.
      for (const psn of psns.slice(0, 60)) {
        const one = await loadPersons(app.store, [psn], since, { alerts })
        expect(one.get(psn), psn).toEqual(batch.get(psn))
        held += one.get(psn)?.alerts.size ?? 0
      }
      if (alerts) expect(held).toBeGreaterThan(0)
      else expect(held).toBe(0)
    }
  }, 180_000)

  it('counts a row stored twice once (a replay before the merge)', async () => {
    const psn = persons().find((p) => events.some((e) => e.event_type === 'fee.uploaded' && e.payload.psn_no === p))!
    const before = (await loadPersons(app.store, [psn], 0)).get(psn)!
    const lines = [...before.visits.values()].reduce((n, v) => n + v.lines.size, 0)
    expect(lines).toBeGreaterThan(0)
    // Every row of the person's visits, lines, settlements and discharges written a second time, as a replay writes them.
    for (const t of ['visits', 'fee_lines', 'settlements', 'discharges', 'visit_updates']) {
      await app.store.command(`INSERT INTO ${app.store.t(t)} SELECT * FROM ${app.store.t(t)} WHERE psn_no = {psn:String}`, { psn })
    }
    const [dup] = await app.store.query<{ c: string }>(`SELECT count() AS c FROM ${app.store.t('fee_lines')} WHERE psn_no = {psn:String}`, { psn })
    expect(Number(dup!.c)).toBe(2 * lines)
    expect((await loadPersons(app.store, [psn], 0)).get(psn)).toEqual(before)
  })

  it('keeps the newest version of a row, as FINAL does, whichever was written last', async () => {
    const psn = persons().filter((p) => events.some((e) => e.event_type === 'fee.uploaded' && e.payload.psn_no === p))[3]!
    const before = (await loadPersons(app.store, [psn], 0)).get(psn)!
    const [v] = [...before.visits.values()].filter((x) => x.lines.size > 0)
    const [sn, line] = [...v!.lines.entries()][0]!
    const t = app.store.t('fee_lines')
    const where = `psn_no = {psn:String} AND mdtrt_id = {m:String} AND feedetl_sn = {sn:String}`
    const params = { psn, m: v!.mdtrt_id, sn }
    // A newer version of the line (another count), then an older one (written after it, as a late replay would).
    await app.store.command(`INSERT INTO ${t} SELECT * REPLACE (cnt + 7 AS cnt, event_time + INTERVAL 1 HOUR AS event_time) FROM ${t} WHERE ${where} LIMIT 1`, params)
    await app.store.command(`INSERT INTO ${t} SELECT * REPLACE (cnt + 3 AS cnt, event_time - INTERVAL 1 HOUR AS event_time) FROM ${t} WHERE ${where} ORDER BY event_time LIMIT 1`, params)
    const [final] = await app.store.query<{ cnt: string }>(`SELECT toString(cnt) AS cnt FROM ${t} FINAL WHERE ${where}`, params)
    expect(Number(final!.cnt)).toBe(line.cnt + 7)
    const after = (await loadPersons(app.store, [psn], 0)).get(psn)!
    expect(after.visits.get(v!.mdtrt_id)!.lines.get(sn)!.cnt).toBe(line.cnt + 7)
    expect(after.visits.get(v!.mdtrt_id)!.lines.size).toBe(v!.lines.size)
  })
})
