import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import type { Source, SourceRecord } from '../../src/pipeline/types.ts'
import { PersonCache } from '../../src/state/cache.ts'
import { HOSPITAL, feeUploaded, institution, item, makeKb, visitClosed, visitOpened } from '../helpers/detect.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * A rebalance revokes a partition while batches of it are under way (the
 * pipeline prepares the next batch while the last is being stored, and a
 * batch fetched before the revoke is still handed over). Its persons must not
 * vanish from under those batches — a readmission judged without the first
 * stay is a split hospitalization missed — and once the batches are stored,
 * a later batch must read them from the store again, not trust what it held.
 */
const kb = makeKb({ institutions: [institution(HOSPITAL, { level: 3 })], catalog: [item('SVC-1')] })
const t = (d: number, h = 9) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`
const owner = 'claims/0'
const since = Date.parse('2026-01-01T00:00:00+08:00')

function firstStay(psn: string): AnyEvent[] {
  return [
    visitOpened({ event_id: `${psn}-o1`, psn_no: psn, mdtrt_id: `${psn}-A`, begntime: t(2), diagnoses: [{ diag_code: 'J18.900' }] }),
    feeUploaded({ event_id: `${psn}-f1`, psn_no: psn, mdtrt_id: `${psn}-A`, lines: [{ feedetl_sn: `${psn}-L1`, fee_ocur_time: t(3), med_list_codg: 'SVC-1' }] }),
    visitClosed({ event_id: `${psn}-c1`, psn_no: psn, mdtrt_id: `${psn}-A`, endtime: t(6), dscg_maindiag_code: 'J18.900' }),
  ]
}
/** Readmitted 6 days after the discharge, principal diagnosis of the same category. */
const readmission = (psn: string): AnyEvent =>
  visitOpened({ event_id: `${psn}-o2`, psn_no: psn, mdtrt_id: `${psn}-B`, begntime: t(12), diagnoses: [{ diag_code: 'J18.000' }] })

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
  // Stored history: the first stays of the persons the cache tests load.
  await app.pipeline().run(generatorSource(['PSNRV01', 'PSNRV02', 'PSNRV03'].flatMap(firstStay)), new AbortController().signal)
}, 60_000)
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

const who = (...psns: string[]) => psns.map((psn_no) => ({ psn_no, owner }))
const settled = async (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 300))])

describe('person state across a revoke', () => {
  it('keeps a revoked person for the batch under way, even one still loading others', async () => {
    const cache = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
    const b1 = cache.begin()
    await cache.ensure(who('PSNRV01'), b1, since)
    const held = cache.get('PSNRV01')!
    expect(held.visits.size).toBe(1)
    // Batch 2 meets PSNRV01 held and loads PSNRV02; the revoke lands while that load runs.
    const b2 = cache.begin()
    const loading = cache.ensure(who('PSNRV01', 'PSNRV02'), b2, since)
    expect(cache.dropOwner(owner)).toBe(1)
    await loading
    expect(cache.get('PSNRV01'), 'batch 2 judges its events against the state it was given').toBe(held)
    expect(cache.get('PSNRV02')?.visits.size).toBe(1)
    // Once the batches under way are stored, the revoked persons go: PSNRV02 too, loaded after the revoke for a batch begun before it.
    cache.trim(b2)
    expect(cache.get('PSNRV01')).toBeUndefined()
    expect(cache.get('PSNRV02')).toBeUndefined()
    expect(cache.size).toBe(0)
    expect(cache.bytes).toBe(0)
    // The partition assigned again: a batch begun after the revoke keeps what it loads.
    const b3 = cache.begin()
    await cache.ensure(who('PSNRV02'), b3, since)
    cache.trim(b3)
    expect(cache.get('PSNRV02')?.visits.size).toBe(1)
    expect(cache.dropOwner(owner)).toBe(1)
    expect(cache.size).toBe(0)
  })

  it('a later batch meeting a revoked person waits for the batches that touched it to be stored, then reads it again', async () => {
    const cache = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
    const b1 = cache.begin()
    await cache.ensure(who('PSNRV03'), b1, since)
    const held = cache.get('PSNRV03')!
    cache.dropOwner(owner)
    const b2 = cache.begin()
    const next = cache.ensure(who('PSNRV03'), b2, since)
    expect(await settled(next), 'no read while batch 1 is not stored').toBe(false)
    cache.trim(b1)
    await next
    const again = cache.get('PSNRV03')!
    expect(again).not.toBe(held)
    expect([...again.visits.keys()]).toEqual(['PSNRV03-A'])
    expect(cache.size).toBe(1)
  })

  it('stops waiting when the run is aborted', async () => {
    const cache = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
    await cache.ensure(who('PSNRV01'), cache.begin(), since)
    cache.dropOwner(owner)
    const ac = new AbortController()
    const next = cache.ensure(who('PSNRV01'), cache.begin(), since, ac.signal)
    ac.abort(new Error('stopping'))
    await expect(next).rejects.toThrow('stopping')
  })

  it('numbers batches across pipelines: a batch of the second is never taken for a stored one of the first', async () => {
    const cache = new PersonCache(app.store, { maxPersons: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
    for (let i = 0; i < 5; i++) cache.trim(cache.begin())
    const b = cache.begin()
    expect(b).toBe(6)
    await cache.ensure(who('PSNRV02'), b, since)
    cache.dropOwner(owner)
    expect(cache.get('PSNRV02'), 'batch 6 is not stored: kept').toBeDefined()
  })
})

describe('the pipeline across a revoke', () => {
  it('catches a readmission in a batch handed over after its partition was revoked, while the first stay was still being stored', async () => {
    const psns = Array.from({ length: 40 }, (_, i) => `PSNRVP${String(i).padStart(3, '0')}`)
    let pos = 0
    const rec = (ev: AnyEvent): SourceRecord => ({ value: Buffer.from(JSON.stringify(ev)), pos: `${owner}/${pos++}`, owner })
    const source: Source = {
      name: 'revoked mid-flight',
      async *batches() {
        yield { records: psns.flatMap(firstStay).map(rec) }
        // Asked for the next batch: the first is prepared and being stored. The partition is revoked now…
        app.cache.dropOwner(owner)
        // …and a batch fetched before the revoke is handed over all the same.
        yield { records: psns.map(readmission).map(rec) }
      },
    }
    await app.pipeline().run(source, new AbortController().signal)
    const rows = await app.store.query<{ psn_no: string }>(
      `SELECT DISTINCT psn_no FROM ${app.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization' AND psn_no LIKE 'PSNRVP%' ORDER BY psn_no`)
    expect(rows.map((r) => r.psn_no)).toEqual(psns)
  })

  it('a stop while a batch waits for the one before it to be stored: that one is stored and committed, the run ends cleanly', async () => {
    const psn = 'PSNRVSTOP'
    let pos = 0
    const rec = (ev: AnyEvent): SourceRecord => ({ value: Buffer.from(JSON.stringify(ev)), pos: `claims/1/${pos++}`, owner: 'claims/1' })
    let release!: () => void
    const released = new Promise<void>((r) => { release = r })
    let waiting!: () => void
    const second = new Promise<void>((r) => { waiting = r })
    const commits: number[] = []
    const source: Source = {
      name: 'stopped while waiting',
      async *batches() {
        // The first batch's commit is held, so the cache does not hear that it is stored.
        yield { records: firstStay(psn).map(rec), commit: async () => { await released; commits.push(1) } }
        app.cache.dropOwner('claims/1')
        waiting()
        yield { records: [rec(readmission(psn))], commit: async () => { commits.push(2) } }
      },
    }
    const ac = new AbortController()
    const run = app.pipeline().run(source, ac.signal)
    await second
    // Batch 2 is now being prepared, waiting for batch 1: stop, then let batch 1's commit through.
    await new Promise((r) => setTimeout(r, 200))
    ac.abort()
    release()
    const sum = await run
    expect(commits).toEqual([1])
    expect(sum.batches).toBe(1)
    expect(await app.store.query(`SELECT event_id FROM ${app.store.t('events')} FINAL WHERE psn_no = '${psn}' ORDER BY event_id`)).toEqual(firstStay(psn).map((e) => ({ event_id: e.event_id })).sort((a, b) => a.event_id.localeCompare(b.event_id)))
  })
})

