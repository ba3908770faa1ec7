import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { PHARMACY, Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const AMLO = 'XC08CAA001' // 氨氯地平, 30 days max per prescription
const XRAY = '002101000020000' // at most 1 per day
const kb = makeKb({
  catalog: [
    item(AMLO, { name: '氨氯地平片', list_type: 'drug', med_chrgitm_type: '09', max_prd_days: 30 }),
    item(XRAY, { name: 'X线摄影', med_chrgitm_type: '03', max_cnt_per_day: 1 }),
  ],
})
const drug = (over: Record<string, unknown>) => ({ med_list_codg: AMLO, list_type: 'drug' as const, med_chrgitm_type: '09', ...over }) as Parameters<typeof feeUploaded>[0]['lines'][number]

function timeline(params = {}) {
  const t = new Timeline(detector, kb, params)
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-02T08:00:00+08:00', med_type: '11' }))
  return t
}

describe('over-quantity: days of supply per prescription', () => {
  it('flags 60 days against a 30-day limit, with the excess share of the amount', () => {
    const f = timeline({ check_cumulative_supply: false }).push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ feedetl_sn: 'L1', fee_ocur_time: '2026-03-02T09:00:00+08:00', cnt: '60', pric: '1.00', prd_days: 60 })] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/item/${AMLO}/days`)
    expect(f[0]!.amount_fen / 100).toBe(30)
  })

  it('one finding per item for all its lines, over earlier uploads too, with the lines\' excess shares summed', () => {
    const t = timeline({ check_cumulative_supply: false })
    const first = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ feedetl_sn: 'L1', fee_ocur_time: '2026-03-02T09:00:00+08:00', cnt: '60', pric: '1.00', prd_days: 60 })] }))
    const again = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ feedetl_sn: 'L2', fee_ocur_time: '2026-03-02T10:00:00+08:00', cnt: '45', pric: '1.00', prd_days: 45 })] }))
    expect(again).toHaveLength(1)
    // The same alert, now listing both lines: the earlier finding is not lost when it is replaced.
    expect(again[0]!.key).toBe(first[0]!.key)
    expect(again[0]!.refs.feedetl_sns).toEqual(['L1', 'L2'])
    expect(again[0]!.amount_fen / 100).toBe(30 + 15)
  })

  it('accepts exactly the limit', () => {
    expect(timeline().push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ fee_ocur_time: '2026-03-02T09:00:00+08:00', prd_days: 30 })] }))).toEqual([])
  })
})

describe('over-quantity: quantity per day', () => {
  it('flags the second X-ray of a China day, keyed by visit, item and day', () => {
    const t = timeline()
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: XRAY, pric: '80.00' }] }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T15:00:00+08:00', med_list_codg: XRAY, pric: '80.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/${XRAY}/2026-03-02`)
    expect(f[0]!.amount_fen / 100).toBe(80)
  })

  it('does not join two China days across midnight, nor count reversed lines', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'X1', fee_ocur_time: '2026-03-02T23:50:00+08:00', med_list_codg: XRAY }] }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-03T00:10:00+08:00', med_list_codg: XRAY }] }))).toEqual([])
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['X1'], time: '2026-03-03T01:00:00+08:00' }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T23:55:00+08:00', med_list_codg: XRAY }] }))).toEqual([])
  })
})

describe('over-quantity: cumulative supply across institutions', () => {
  it('flags the prescription that takes the 30-day supply above 45 days, citing every prescription', () => {
    const t = timeline({ check_days_of_supply: false })
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ fee_ocur_time: '2026-03-02T09:00:00+08:00', prd_days: 30, cnt: '30', pric: '2.00' })] }))).toEqual([])
    t.push(visitOpened({ mdtrt_id: 'P1', begntime: '2026-03-10T10:00:00+08:00', med_type: '41', fixmedins_code: PHARMACY }))
    const f = t.push(feeUploaded({ mdtrt_id: 'P1', fixmedins_code: PHARMACY, lines: [drug({ feedetl_sn: 'P1L', fee_ocur_time: '2026-03-10T10:05:00+08:00', prd_days: 30, cnt: '30', pric: '2.00' })] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`P1/item/${AMLO}/cumulative`)
    expect(f[0]!.evidence).toMatchObject({ supply_days: 60, limit_days: 45 })
    expect(f[0]!.amount_fen / 100).toBe(30) // 15 excess days of a 30-day, 60-yuan line
    expect(f[0]!.refs.mdtrt_ids).toEqual(['V1', 'P1'])
  })

  it('does not count supply older than the window', () => {
    const t = timeline({ check_days_of_supply: false })
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ fee_ocur_time: '2026-03-02T09:00:00+08:00', prd_days: 30 })] }))
    t.push(visitOpened({ mdtrt_id: 'V2', begntime: '2026-04-01T09:00:00+08:00', med_type: '11' }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V2', lines: [drug({ fee_ocur_time: '2026-04-01T09:05:00+08:00', prd_days: 30 })] }))).toEqual([])
  })

  it('declares its lookback from window_days', () => {
    expect(detector.lookbackDays!(detector.params.parse({ window_days: 60 }))).toBe(61)
  })
})

describe('over-quantity: one record of many identical lines (regression: N findings each quoting N lines ran a processor out of memory)', () => {
  it('1,000 identical drug lines give one finding per rule, not one per line', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ fee_ocur_time: '2026-03-01T09:00:00+08:00', prd_days: 30, cnt: '30', pric: '2.00' })] }))
    const lines = Array.from({ length: 1000 }, (_, i) => drug({ feedetl_sn: `N${i}`, fee_ocur_time: '2026-03-02T09:00:00+08:00', prd_days: 60, cnt: '60', pric: '2.00' }))
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines }))
    expect(f.map((x) => x.evidence.rule).sort()).toEqual(['cumulative_supply', 'days_of_supply'])
    const days = f.find((x) => x.evidence.rule === 'days_of_supply')!
    expect(days.refs.feedetl_sns).toHaveLength(1000)
    expect(days.amount_fen / 100).toBe(1000 * 60) // each line: 30 of its 60 days, 120 yuan → 60
  })
})
