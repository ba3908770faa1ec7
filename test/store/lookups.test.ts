import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { lookupKnown } from '../../src/store/lookups.ts'
import { MIGRATIONS, migrate } from '../../src/store/migrations.ts'
import { Store } from '../../src/store/store.ts'
import { chTime } from '../../src/util/time.ts'
import { feeUploaded, settlementCompleted, visitOpened } from '../helpers/detect.ts'
import { removeDir } from '../helpers/app.ts'
import { addEventRows, emptyEventRows } from '../helpers/legacy-rows.ts'

/**
 * The admission indexes (migration 4) answer from the events table, the
 * source of truth: history stored before the migration is indexed by it, and
 * where legacy history holds two contents of one event_id, or two owners of
 * one visit, the first is the one that stands.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-lookups-'))
let store: Store
const t = (d: number, h = 9) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`
const A = 'H37070200001'
const contentHash = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const B = 'H37070200002'

/** History as a data dir made before migration 14 holds it: typed rows written directly (the ingest views came later). */
async function storeEvents(events: AnyEvent[], ingestedAt: number): Promise<void> {
  const rows = emptyEventRows()
  for (const ev of events) addEventRows(rows, ev, JSON.stringify(ev), `test:${ev.event_id}`, chTime(ingestedAt))
  for (const table of ['events', 'visits', 'fee_lines', 'settlements'] as const) await store.insert(table, rows[table])
}

beforeAll(async () => {
  store = await Store.open({ dataDir: join(dir, 'data'), database: `lk_${process.pid}` })
  await migrate(store, MIGRATIONS.filter((m) => m.version <= 3))
})
afterAll(async () => {
  await store?.close()
  removeDir(dir)
})

describe('admission lookups', () => {
  const open = visitOpened({ event_id: 'lk-o1', mdtrt_id: 'V-LK1', psn_no: 'PSNLK0001', begntime: t(2), fixmedins_code: A })
  const fee = feeUploaded({ event_id: 'lk-f1', mdtrt_id: 'V-LK1', psn_no: 'PSNLK0001', fixmedins_code: A, lines: [{ feedetl_sn: 'V-LK1-L1', fee_ocur_time: t(2, 10), med_list_codg: 'SVC-1' }] })
  const setl = settlementCompleted({ event_id: 'lk-s1', mdtrt_id: 'V-LK1', psn_no: 'PSNLK0001', setl_id: 'S-LK1', setl_time: t(3), fixmedins_code: A })
  // Legacy: the same event_id stored again with other content, and another institution writing into the visit, later.
  const replaced = feeUploaded({ event_id: 'lk-f1', mdtrt_id: 'V-LK1', psn_no: 'PSNLK0001', fixmedins_code: A, lines: [{ feedetl_sn: 'V-LK1-L1', fee_ocur_time: t(2, 10), med_list_codg: 'SVC-1', cnt: '50' }] })
  const intruder = feeUploaded({ event_id: 'lk-x1', mdtrt_id: 'V-LK1', psn_no: 'PSNLK0001', fixmedins_code: B, lines: [{ feedetl_sn: 'V-LK1-X1', fee_ocur_time: t(4, 10), med_list_codg: 'SVC-1' }] })

  it('indexes the history stored before the migration, keeping the first content and the first owner', async () => {
    await storeEvents([open, fee, setl], Date.parse(t(3, 12)))
    await storeEvents([replaced, intruder], Date.parse(t(5, 12)))
    await migrate(store)
    const k = await lookupKnown(store, {
      eventIds: ['lk-o1', 'lk-f1', 'lk-none'], mdtrtIds: ['V-LK1', 'V-NONE'],
      lines: ['V-LK1/V-LK1-L1', 'V-LK1/V-LK1-L9'], settlements: [{ mdtrt_id: 'V-LK1', setl_id: 'S-LK1' }, { mdtrt_id: 'V-LK1', setl_id: 'S-NONE' }],
    })
    expect(k.events).toEqual(new Map([['lk-o1', contentHash(Buffer.from(JSON.stringify(open)))], ['lk-f1', contentHash(Buffer.from(JSON.stringify(fee)))]]))
    expect(k.visits).toEqual(new Map([['V-LK1', { psn_no: 'PSNLK0001', fixmedins_code: A }]]))
    expect(k.lines).toEqual(new Set(['V-LK1/V-LK1-L1']))
    expect(k.settlements).toEqual(new Set(['S-LK1']))
  })

  it('keeps indexing what is stored after it, and a re-run of the migration changes no answer', async () => {
    const later = visitOpened({ event_id: 'lk-o2', mdtrt_id: 'V-LK2', psn_no: 'PSNLK0002', begntime: t(6), fixmedins_code: B })
    await storeEvents([later], Date.parse(t(6, 12)))
    for (const sql of MIGRATIONS.find((m) => m.version === 4)!.statements) await store.command(sql.replaceAll('{db}', store.db))
    const k = await lookupKnown(store, { eventIds: ['lk-o2', 'lk-f1'], mdtrtIds: ['V-LK2', 'V-LK1'] })
    expect(k.events.get('lk-o2')).toBe(contentHash(Buffer.from(JSON.stringify(later))))
    expect(k.events.get('lk-f1')).toBe(contentHash(Buffer.from(JSON.stringify(fee))))
    expect(k.visits.get('V-LK2')).toEqual({ psn_no: 'PSNLK0002', fixmedins_code: B })
    expect(k.visits.get('V-LK1')).toEqual({ psn_no: 'PSNLK0001', fixmedins_code: A })
  })

  it('splits a lookup too large for one request URI into several queries, and answers for every key', async () => {
    await store.command(`INSERT INTO ${store.t('event_index')} SELECT concat('lk-bulk-', toString(number)), 'h', now64(3) FROM numbers(60000)`)
    const ids = Array.from({ length: 60000 }, (_, i) => `lk-bulk-${i}`)
    const real = store.query.bind(store)
    const sent: number[] = []
    store.query = async <T,>(sql: string, params: Record<string, unknown> = {}) => {
      const pairs = Object.entries(params).map(([k, v]): [string, string] => [`param_${k}`, JSON.stringify(v)])
      sent.push(new URLSearchParams(pairs).toString().length)
      return real<T>(sql, params)
    }
    try {
      const k = await lookupKnown(store, { eventIds: ids })
      expect(k.events.size).toBe(60000)
    } finally {
      store.query = real
    }
    expect(sent.length).toBeGreaterThan(1)
    expect(Math.max(...sent)).toBeLessThan(1 << 20)
  })

  it('asks nothing when there is nothing to ask', async () => {
    expect(await lookupKnown(store, {})).toEqual({ events: new Map(), visits: new Map(), lines: new Set(), settlements: new Set() })
  })
})
