import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitClosed, visitOpened, type LineArgs } from '../../test/helpers/detect.ts'

const bed = (day: string, sn?: string): LineArgs => ({ feedetl_sn: sn, fee_ocur_time: `${day}T08:00:00+08:00`, med_list_codg: 'BED', med_chrgitm_type: '01', pric: '50.00' })
const nursing = (day: string): LineArgs => ({ fee_ocur_time: `${day}T09:00:00+08:00`, med_list_codg: 'NURSE', med_chrgitm_type: '07', pric: '20.00' })
const drug = (day: string, sn?: string): LineArgs => ({ feedetl_sn: sn, fee_ocur_time: `${day}T10:00:00+08:00`, med_list_codg: 'DRUG', list_type: 'drug', med_chrgitm_type: '09', pric: '15.00' })

/** A 1 → 10 March stay: whole days are 2–9 March (8 days). */
function stay(lines: LineArgs[], params = {}) {
  const t = new Timeline(detector, undefined, params)
  t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T10:00:00+08:00' }))
  t.push(feeUploaded({ mdtrt_id: 'S1', lines }))
  return t
}
const close = (endtime = '2026-03-10T10:00:00+08:00') => visitClosed({ mdtrt_id: 'S1', endtime, dscg_maindiag_code: 'M54.500' })
const days = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `2026-03-${String(from + i).padStart(2, '0')}`)

describe('bed-holding', () => {
  it('flags a stay whose whole days hold only bed and nursing charges, with those days\' charges as the amount', () => {
    const lines = [...days(1, 10).flatMap((d) => [bed(d), nursing(d)]), drug('2026-03-01'), drug('2026-03-02'), drug('2026-03-03')]
    const t = stay(lines)
    const f = t.push(close())
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe('S1')
    expect(f[0]!.evidence).toMatchObject({ whole_days: 8, empty_count: 6, longest_empty_run: 6, empty_days: days(4, 9) })
    expect(f[0]!.amount_fen / 100).toBe(6 * 70)
  })

  it('does not flag a stay with care every day, nor count the admission and discharge days', () => {
    const t = stay([...days(2, 9).map((d) => drug(d)), bed('2026-03-01'), bed('2026-03-10')])
    expect(t.push(close())).toEqual([])
  })

  it('respects min_empty_days and min_empty_ratio', () => {
    const twoEmpty = [...days(2, 7).map((d) => drug(d)), ...days(2, 9).map((d) => bed(d))]
    expect(stay(twoEmpty).push(close())).toEqual([])
    expect(stay(twoEmpty, { min_empty_days: 2 }).push(close())).toEqual([]) // 2 of 8 is below the default ratio 0.3
    expect(stay(twoEmpty, { min_empty_days: 2, min_empty_ratio: 0.25 }).push(close())).toHaveLength(1)
    expect(stay(twoEmpty, { min_empty_days: 2, min_empty_ratio: 0.5 }).push(close())).toEqual([])
  })

  it('counts a day as empty when its only drug line was reversed', () => {
    const t = stay([...days(2, 9).map((d) => drug(d, `D${d}`))], { min_empty_days: 1, min_empty_ratio: 0 })
    t.push(feeReversed({ mdtrt_id: 'S1', feedetl_sns: ['D2026-03-05'], time: '2026-03-06T10:00:00+08:00' }))
    expect(t.push(close())[0]!.evidence['empty_days']).toEqual(['2026-03-05'])
  })

  it('uses China days: a drug at 00:30 China time belongs to that day', () => {
    // 2026-03-04T16:30Z is 00:30 on 5 March in China.
    const lines = [...days(2, 9).filter((d) => d !== '2026-03-05').map((d) => drug(d)), { fee_ocur_time: '2026-03-04T16:30:00Z', med_list_codg: 'DRUG', list_type: 'drug' as const, med_chrgitm_type: '09' }]
    expect(stay(lines, { min_empty_days: 1, min_empty_ratio: 0 }).push(close())).toEqual([])
  })

  it('leaves stays longer than max_stay_days and outpatient visits alone', () => {
    expect(stay(days(1, 3).map((d) => bed(d)), { max_stay_days: 5 }).push(close())).toEqual([])
    const t = new Timeline(detector)
    t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T10:00:00+08:00', med_type: '14' }))
    expect(t.push(close())).toEqual([])
  })

  it('judges a line by its catalog category first: a bed fee coded 05 is not care, a catalog drug coded 01 is', () => {
    const kb = makeKb({ catalog: [item('BED', { med_chrgitm_type: '01', time_unit: 'day' }), item('DRUG', { list_type: 'drug', med_chrgitm_type: '09' })] })
    const run = (lines: LineArgs[]) => {
      const t = new Timeline(detector, kb, {})
      t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T10:00:00+08:00' }))
      t.push(feeUploaded({ mdtrt_id: 'S1', lines }))
      return t.push(close())
    }
    // Only bed fees, coded 05 治疗费 by the producer: still empty days.
    const f = run(days(1, 10).map((d) => ({ ...bed(d), med_chrgitm_type: '05' })))
    expect(f.map((x) => [x.key, x.evidence['empty_count']])).toEqual([['S1', 8]])
    // A drug every day, coded 01 by the producer: care was given.
    expect(run([...days(1, 10).map((d) => bed(d)), ...days(2, 9).map((d) => ({ ...drug(d), med_chrgitm_type: '01' }))])).toEqual([])
  })

  it('gives a redelivered discharge the same key', () => {
    const t = stay(days(1, 10).map((d) => bed(d)))
    const ev = close()
    expect(t.push(ev).map((f) => [f.key, f.amount_fen / 100])).toEqual(t.push(ev).map((f) => [f.key, f.amount_fen / 100]))
  })
})
