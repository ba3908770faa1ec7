import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import type { Source, SourceBatch } from '../../src/pipeline/types.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * Issue 13, "small batches cost as much as big ones": `npm start`'s live
 * stream (about 300 events/s) handed the pipeline one batch per event, and
 * every batch pays a fixed cost (the admission and state queries, one insert
 * per table), so a trickle kept a core busy. A paced source now gathers a
 * batch until its size bound or until its first record has waited the linger
 * bound. Time here is vitest's fake clock: the counts and bounds are exact,
 * nothing depends on how fast this machine is.
 */
const RATE = 300
const LINGER_MS = 100

/** The events, stamped on the fake clock as the source pulls each one. */
function stamped(events: AnyEvent[]): { events: Iterable<AnyEvent>; pulledAt: Map<string, number> } {
  const pulledAt = new Map<string, number>()
  return {
    pulledAt,
    events: (function* () {
      for (const ev of events) {
        pulledAt.set(ev.event_id, Date.now())
        yield ev
      }
    })(),
  }
}

/** Runs `work` to its end while the fake clock advances in small steps. */
async function onFakeClock<T>(work: Promise<T>): Promise<T> {
  let done = false
  const finished = work.finally(() => { done = true })
  while (!done) await vi.advanceTimersByTimeAsync(5)
  return finished
}

describe('a paced source at a trickle', () => {
  afterEach(() => { vi.useRealTimers() })

  it(`gathers ${RATE} events/s into batches of about ${(RATE * LINGER_MS) / 1000}, each handed over within ${LINGER_MS} ms of its first event`, async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { events: input } = claimStream({ persons: 100, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 1000, tag: 'LG' })
    const events = input.slice(0, 300)
    expect(events).toHaveLength(300)
    const { events: paced, pulledAt } = stamped(events)
    const got: { batch: SourceBatch; at: number }[] = []
    await onFakeClock((async () => {
      for await (const batch of generatorSource(paced, { ratePerSec: RATE, lingerMs: LINGER_MS, batchSize: 10_000 }).batches(new AbortController().signal)) {
        got.push({ batch, at: Date.now() })
      }
    })())
    // Nothing lost, nothing doubled, in order.
    const ids = got.flatMap((g) => g.batch.records.map((r) => r.pos))
    expect(ids).toEqual(events.map((e) => `generator:${e.event_id}`))
    // One second of events at 300/s, one batch per 100 ms: 10 (the last one may be split off).
    expect(got.length).toBeGreaterThanOrEqual(10)
    expect(got.length).toBeLessThanOrEqual(11)
    for (const g of got) {
      const first = pulledAt.get(g.batch.records[0]!.pos.slice('generator:'.length))!
      expect(g.at - first).toBeLessThanOrEqual(LINGER_MS)
    }
  })

  it('still hands over a full batch at once when the size bound comes first', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { events } = claimStream({ persons: 30, visitsPerPerson: 1, linesPerVisit: 1, splitEvery: 1000, tag: 'LS' })
    const sizes: number[] = []
    await onFakeClock((async () => {
      for await (const b of generatorSource(events.slice(0, 60), { ratePerSec: RATE, lingerMs: 10_000, batchSize: 25 }).batches(new AbortController().signal)) sizes.push(b.records.length)
    })())
    expect(sizes).toEqual([25, 25, 10])
  })
})

describe('the pipeline at a trickle', () => {
  let app: TestApp
  beforeAll(async () => { app = await testApp({ kb: deliveryKb }) })
  afterAll(async () => {
    await app?.close()
    if (app) removeDir(app.dataDir)
  })
  afterEach(() => { vi.useRealTimers() })

  it('pays its per-batch inserts a few times a second, not once per event, and commits each batch only once it is stored', async () => {
    const { events } = claimStream({ persons: 30, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 1000, tag: 'LP' })
    const n = 90
    // The batches the live source forms at 300 events/s, on the fake clock…
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const formed: SourceBatch[] = []
    await onFakeClock((async () => {
      for await (const b of generatorSource(events.slice(0, n), { ratePerSec: RATE, lingerMs: LINGER_MS }).batches(new AbortController().signal)) formed.push(b)
    })())
    vi.useRealTimers()
    // …through the real pipeline and store, its inserts counted; each batch's
    // commit checks that every one of its events is already in the store.
    const inserts: string[] = []
    const insert = app.store.insert.bind(app.store)
    app.store.insert = (async (table: string, rows: object[]) => {
      inserts.push(table)
      return insert(table as never, rows)
    }) as typeof app.store.insert
    const storedAtCommit: number[] = []
    const source: Source = {
      name: 'formed',
      async *batches() {
        for (const b of formed) {
          const ids = b.records.map((r) => r.pos.slice('generator:'.length))
          yield {
            records: b.records,
            commit: async () => {
              const [row] = await app.store.query<{ c: string }>(`SELECT count() AS c FROM ${app.store.t('events')} FINAL WHERE event_id IN {ids:Array(String)}`, { ids })
              storedAtCommit.push(Number(row!.c) - ids.length)
            },
          }
        }
      },
    }
    const sum = await app.pipeline().run(source, new AbortController().signal).finally(() => { app.store.insert = insert })
    expect(sum.events).toBe(n)
    expect(sum.rejected).toBe(0)
    // 90 events at 300/s is 300 ms: at most 4 batches (it was one per event).
    expect(sum.batches).toBeLessThanOrEqual(4)
    // Each batch writes each of its non-empty tables once: the inserts grow with batches, not events.
    expect(inserts.length).toBeLessThanOrEqual(sum.batches * new Set(inserts).size)
    // Every batch committed, each after all its events were stored.
    expect(storedAtCommit).toEqual(formed.map(() => 0))
  })

  it('asks the store once, not once per table, for the state of a few persons it has never seen', async () => {
    const queries: string[] = []
    const query = app.store.query.bind(app.store)
    app.store.query = (async (sql: string, params?: Record<string, unknown>) => {
      queries.push(sql)
      return query(sql, params)
    }) as typeof app.store.query
    try {
      await app.cache.ensure([{ psn_no: 'PSN-NEW-1', owner: 't' }, { psn_no: 'PSN-NEW-2', owner: 't' }, { psn_no: 'PSN-NEW-3', owner: 't' }], 1_000_000, Date.parse('2026-01-01T00:00:00Z'))
    } finally {
      app.store.query = query
    }
    expect(queries).toHaveLength(1)
    expect(app.cache.get('PSN-NEW-2')?.visits.size ?? -1).toBe(0)
  })
})
