import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import detector from './index.ts'
import { testApp, removeDir, type TestApp } from '../../test/helpers/app.ts'
import { institution, item, makeKb } from '../../test/helpers/detect.ts'
import { cn, inventoryMovement, runDetector, storeEvents, visitEvents } from '../../test/audit/helpers.ts'
import type { AnyEvent } from '../../schemas/index.ts'

const P1 = 'P37070200121'
const P2 = 'P37070200122'
const kb = makeKb({
  institutions: [institution(P1, { kind: 'pharmacy', level: 0, type: '药店' }), institution(P2, { kind: 'pharmacy', level: 0, type: '药店' })],
  catalog: ['DRUGX', 'DRUGY', 'DRUGZ', 'DRUGW'].map((c) => item(c, { list_type: 'drug', med_chrgitm_type: '09', price_cap_lv1: '20.00' })),
})

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

type Kind = 'purchase' | 'sale' | 'return' | 'stock_count' | 'loss'
const mv = (code: string, med: string, kind: Kind, cnt: number, time: string, mdtrt_id?: string) =>
  inventoryMovement({ fixmedins_code: code, med_list_codg: med, kind, cnt: String(cnt), time, ...(mdtrt_id ? { mdtrt_id } : {}) })

/** A pharmacy purchase (med_type 41) billing `cnt` of `med` at 30 yuan, and its sale movement unless `book` is false. */
function sale(code: string, med: string, time: string, cnt: number, book = true): { events: AnyEvent[]; mdtrt_id: string } {
  const v = visitEvents({ fixmedins_code: code, med_type: '41', begntime: time, lines: [{ med_list_codg: med, list_type: 'drug', med_chrgitm_type: '09', cnt: String(cnt), pric: '30.00', fee_ocur_time: cn(time) }] })
  return { events: [...v.events, ...(book ? [mv(code, med, 'sale', cnt, time, v.mdtrt_id)] : [])], mdtrt_id: v.mdtrt_id }
}
const day = (month: string, d: number, hm = '10:00') => `${month}-${String(d).padStart(2, '0')} ${hm}`

describe('inventory-mismatch', () => {
  it('flags sales beyond the counted stock and purchases, citing the sales and pricing the shortfall', async () => {
    const sales = Array.from({ length: 10 }, (_, k) => sale(P1, 'DRUGX', day('2026-01', 3 + k), 2))
    await storeEvents(app.store, [mv(P1, 'DRUGX', 'stock_count', 5, day('2026-01', 2, '07:30')), ...sales.flatMap((s) => s.events)])
    const f = await runDetector(detector, app.store, kb, '2026-01-01', '2026-01-31')
    expect(f).toHaveLength(1)
    const x = f[0]!
    expect(x.subject).toEqual({ fixmedins_code: P1 })
    expect(x.key).toBe(`${P1}/DRUGX`)
    expect(x.evidence).toMatchObject({
      shortfall: 15, outflow: 20, stock_and_purchases: 5, unit_price: 30, fund_ratio: 0.6,
      periods: [{ counted_at: '2026-01-02T07:30:00+08:00', opening: 5, purchased: 0, sold: 20, shortfall: 15 }],
    })
    // 15 units × 30 yuan × 0.6 insurance share.
    expect(x.amount_fen / 100).toBeCloseTo(270, 2)
    expect([...x.refs.mdtrt_ids!].sort()).toEqual(sales.map((s) => s.mdtrt_id).sort())
  })

  it('balances stock, purchases, losses and later counts without a finding', async () => {
    const m = '2026-02'
    await storeEvents(app.store, [
      mv(P1, 'DRUGX', 'stock_count', 10, day(m, 2, '07:30')),
      mv(P1, 'DRUGX', 'purchase', 20, day(m, 5, '07:45')),
      ...Array.from({ length: 5 }, (_, k) => sale(P1, 'DRUGX', day(m, 3 + k), 5).events).flat(),
      mv(P1, 'DRUGX', 'loss', 2, day(m, 8, '07:00')),
      // Monday count: 10 + 20 − 25 − 2 = 3 on the shelf, then 3 sold.
      mv(P1, 'DRUGX', 'stock_count', 3, day(m, 9, '07:30')),
      ...sale(P1, 'DRUGX', day(m, 10), 3).events,
    ])
    expect(await runDetector(detector, app.store, kb, '2026-02-01', '2026-02-28')).toEqual([])
  })

  it('judges each count period on its own: a recount does not carry a shortfall forward', async () => {
    const m = '2026-03'
    await storeEvents(app.store, [
      mv(P1, 'DRUGX', 'stock_count', 10, day(m, 2, '07:30')),
      ...Array.from({ length: 7 }, (_, k) => sale(P1, 'DRUGX', day(m, 2 + k), 2).events).flat(),
      mv(P1, 'DRUGX', 'stock_count', 0, day(m, 9, '07:30')),
      // A purchase at the very instant of a count belongs to the period the count opens.
      mv(P1, 'DRUGX', 'purchase', 10, day(m, 9, '07:30')),
      ...Array.from({ length: 4 }, (_, k) => sale(P1, 'DRUGX', day(m, 10 + k), 2).events).flat(),
    ])
    const f = await runDetector(detector, app.store, kb, '2026-03-01', '2026-03-31')
    expect(f).toHaveLength(1)
    expect(f[0]!.evidence).toMatchObject({ shortfall: 4, outflow: 22, stock_and_purchases: 20 })
    expect((f[0]!.evidence.periods as { shortfall: number }[]).map((p) => p.shortfall)).toEqual([4, 0])
    // Only the short period's sales are cited.
    expect(f[0]!.refs.mdtrt_ids).toHaveLength(7)
  })

  it('treats a shortfall within the tolerance as counting noise', async () => {
    const m = '2026-04'
    await storeEvents(app.store, [mv(P2, 'DRUGX', 'stock_count', 100, day(m, 2, '07:30')), ...Array.from({ length: 6 }, (_, k) => sale(P2, 'DRUGX', day(m, 2 + k), 17).events).flat()])
    expect(await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30')).toEqual([])
    const strict = await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30', { tolerance_ratio: 0 })
    expect(strict.map((x) => x.evidence.shortfall)).toEqual([2])
    expect(await runDetector(detector, app.store, kb, '2026-04-01', '2026-04-30', { tolerance_ratio: 0, min_shortfall: 3 })).toEqual([])
  })

  it('opens a period from a count before the window, and judges nothing without a count in reach', async () => {
    await storeEvents(app.store, [
      mv(P2, 'DRUGY', 'stock_count', 5, '2026-04-20 07:30'),
      ...Array.from({ length: 5 }, (_, k) => sale(P2, 'DRUGY', day('2026-05', 4 + k), 2).events).flat(),
      // Never counted: sold without any stock on record, but nothing to reconcile against.
      ...Array.from({ length: 5 }, (_, k) => sale(P2, 'DRUGZ', day('2026-05', 4 + k), 2).events).flat(),
    ])
    const f = await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31')
    expect(f.map((x) => [x.evidence.med_list_codg, x.evidence.shortfall])).toEqual([['DRUGY', 5]])
    expect(await runDetector(detector, app.store, kb, '2026-05-01', '2026-05-31', { lookback_days: 0 })).toEqual([])
  })

  it('can count billed quantities as sales: billing that never left the shelf', async () => {
    const m = '2026-06'
    await storeEvents(app.store, [
      mv(P2, 'DRUGW', 'stock_count', 10, day(m, 2, '07:30')),
      ...sale(P2, 'DRUGW', day(m, 3), 5).events,
      ...sale(P2, 'DRUGW', day(m, 4), 10, false).events,
    ])
    expect(await runDetector(detector, app.store, kb, '2026-06-01', '2026-06-30')).toEqual([])
    const both = await runDetector(detector, app.store, kb, '2026-06-01', '2026-06-30', { sales_from: 'both' })
    expect(both.map((x) => x.evidence.shortfall)).toEqual([5])
    expect((both[0]!.evidence.periods as { sold: number; billed: number }[])[0]).toMatchObject({ sold: 5, billed: 15 })
    const lines = await runDetector(detector, app.store, kb, '2026-06-01', '2026-06-30', { sales_from: 'fee_lines' })
    expect(lines.map((x) => x.evidence.shortfall)).toEqual([5])
  })
})
