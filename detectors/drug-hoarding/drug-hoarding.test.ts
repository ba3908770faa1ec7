import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, visitOpened } from '../../test/helpers/detect.ts'

const DRUG = 'XN02AJA001'
const PHARMACIES = ['P11010500001', 'P11010500002', 'P11010500003', 'P11010500004']

function buy(t: Timeline<typeof detector.params>, id: string, pharmacy: string, day: string, prd_days?: number, sn?: string) {
  t.push(visitOpened({ mdtrt_id: id, begntime: `${day}T09:00:00+08:00`, med_type: '41', fixmedins_code: pharmacy }))
  return t.push(feeUploaded({ mdtrt_id: id, fixmedins_code: pharmacy, lines: [{ feedetl_sn: sn, fee_ocur_time: `${day}T09:05:00+08:00`, med_list_codg: DRUG, list_type: 'drug', med_chrgitm_type: '09', cnt: '30', pric: '3.00', prd_days }] }))
}

describe('drug-hoarding', () => {
  it('flags the purchase that makes three pharmacies\' supplies overlap', () => {
    const t = new Timeline(detector)
    expect(buy(t, 'A', PHARMACIES[0]!, '2026-03-01', 30)).toEqual([])
    expect(buy(t, 'B', PHARMACIES[1]!, '2026-03-05', 30)).toEqual([])
    const f = buy(t, 'C', PHARMACIES[2]!, '2026-03-10', 30, 'C1')
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`C/item/${DRUG}/overlapping-supply`)
    expect(f[0]!.amount_fen / 100).toBe(90)
    expect(f[0]!.evidence['institutions']).toEqual([PHARMACIES[2], PHARMACIES[0], PHARMACIES[1]])
    expect(f[0]!.refs.mdtrt_ids).toEqual(['C', 'A', 'B'])
  })

  it('does not flag consecutive refills whose supplies do not overlap (day 30 ends before day 31 starts)', () => {
    const t = new Timeline(detector)
    buy(t, 'A', PHARMACIES[0]!, '2026-03-01', 30) // covers 1–30 March
    buy(t, 'B', PHARMACIES[1]!, '2026-03-31', 30)
    expect(buy(t, 'C', PHARMACIES[2]!, '2026-04-30', 30)).toEqual([])
  })

  it('counts institutions, not purchases: three buys at two pharmacies are not enough', () => {
    const t = new Timeline(detector)
    buy(t, 'A', PHARMACIES[0]!, '2026-03-01', 30)
    buy(t, 'B', PHARMACIES[1]!, '2026-03-02', 30)
    expect(buy(t, 'C', PHARMACIES[0]!, '2026-03-03', 30)).toEqual([])
  })

  it('ignores reversed purchases and lines without days of supply unless a default is set', () => {
    const t = new Timeline(detector)
    buy(t, 'A', PHARMACIES[0]!, '2026-03-01', 30, 'A1')
    buy(t, 'B', PHARMACIES[1]!, '2026-03-02', 30)
    t.push(feeReversed({ mdtrt_id: 'A', feedetl_sns: ['A1'], time: '2026-03-02T10:00:00+08:00' }))
    expect(buy(t, 'C', PHARMACIES[2]!, '2026-03-03', 30)).toEqual([])

    const u = new Timeline(detector, undefined, { default_prd_days: 7 })
    buy(u, 'A', PHARMACIES[0]!, '2026-03-01')
    buy(u, 'B', PHARMACIES[1]!, '2026-03-02')
    expect(buy(u, 'C', PHARMACIES[2]!, '2026-03-03')).toHaveLength(1)
    const w = new Timeline(detector)
    buy(w, 'A', PHARMACIES[0]!, '2026-03-01')
    buy(w, 'B', PHARMACIES[1]!, '2026-03-02')
    expect(buy(w, 'C', PHARMACIES[2]!, '2026-03-03')).toEqual([])
  })

  it('honours min_institutions', () => {
    const t = new Timeline(detector, undefined, { min_institutions: 2 })
    buy(t, 'A', PHARMACIES[0]!, '2026-03-01', 30)
    expect(buy(t, 'B', PHARMACIES[1]!, '2026-03-20', 30)).toHaveLength(1)
  })

  it('one finding per drug and visit however many lines repeat it (regression: one finding per line, each quoting every overlapping purchase)', () => {
    const t = new Timeline(detector)
    const many = (id: string, pharmacy: string, day: string) => {
      t.push(visitOpened({ mdtrt_id: id, begntime: `${day}T09:00:00+08:00`, med_type: '41', fixmedins_code: pharmacy }))
      return t.push(feeUploaded({
        mdtrt_id: id, fixmedins_code: pharmacy,
        lines: Array.from({ length: 300 }, (_, i) => ({ feedetl_sn: `${id}${i}`, fee_ocur_time: `${day}T09:05:00+08:00`, med_list_codg: DRUG, list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '30', pric: '3.00', prd_days: 30 })),
      }))
    }
    many('A', PHARMACIES[0]!, '2026-03-01')
    many('B', PHARMACIES[1]!, '2026-03-05')
    const f = many('C', PHARMACIES[2]!, '2026-03-10')
    expect(f).toHaveLength(1)
    expect(f[0]!.refs.feedetl_sns).toHaveLength(900)
    expect(f[0]!.amount_fen / 100).toBe(300 * 90)
    expect(f[0]!.evidence).toMatchObject({ lines_flagged: 300, overlapping_purchases_count: 600 })
  })
})
