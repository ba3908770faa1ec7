import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, HOSPITAL_2, Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const MET = 'XA10BAA001'
const kb = makeKb({ catalog: [item(MET, { name: '二甲双胍片', list_type: 'drug', med_chrgitm_type: '09', max_prd_days: 30 }), item('NOLIMIT', { list_type: 'drug', med_chrgitm_type: '09' })] })
const rx = (time: string, prd_days: number, over = {}) =>
  ({ fee_ocur_time: time, med_list_codg: MET, list_type: 'drug' as const, med_chrgitm_type: '09', cnt: String(prd_days), pric: '1.00', prd_days, ...over })

function visits(t: Timeline<typeof detector.params>, specs: [string, string, string?][]) {
  for (const [id, time, inst] of specs) t.push(visitOpened({ mdtrt_id: id, begntime: time, med_type: '11', fixmedins_code: inst ?? HOSPITAL }))
}

describe('split-prescription', () => {
  it('flags two same-day prescriptions of 30 days (60 > 30) in two visits, with the excess share', () => {
    const t = new Timeline(detector, kb)
    visits(t, [['V1', '2026-03-02T09:00:00+08:00'], ['V2', '2026-03-02T15:00:00+08:00']])
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [rx('2026-03-02T09:10:00+08:00', 30)] }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'V2', lines: [rx('2026-03-02T15:10:00+08:00', 30)] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`PSN00000001/${HOSPITAL}/${MET}/2026-03-02`)
    expect(f[0]!.refs.mdtrt_ids).toEqual(['V1', 'V2'])
    expect(f[0]!.amount_fen / 100).toBe(30)
    expect(f[0]!.evidence).toMatchObject({ prescriptions: 2, total_prd_days: 60, max_prd_days: 30 })
  })

  it('counts two prescriptions at different times within one visit', () => {
    const t = new Timeline(detector, kb)
    visits(t, [['V1', '2026-03-02T09:00:00+08:00']])
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [rx('2026-03-02T09:10:00+08:00', 20), rx('2026-03-02T09:40:00+08:00', 20)] }))).toHaveLength(1)
  })

  it('does not flag a total within the limit, different days, or prescriptions at another institution', () => {
    const t = new Timeline(detector, kb)
    visits(t, [['V1', '2026-03-02T09:00:00+08:00'], ['V2', '2026-03-02T15:00:00+08:00'], ['V3', '2026-03-03T09:00:00+08:00'], ['V4', '2026-03-03T10:00:00+08:00', HOSPITAL_2]])
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [rx('2026-03-02T09:10:00+08:00', 10)] }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V2', lines: [rx('2026-03-02T15:10:00+08:00', 20)] }))).toEqual([])
    expect(t.push(feeUploaded({ mdtrt_id: 'V3', lines: [rx('2026-03-03T09:10:00+08:00', 30)] }))).toEqual([])
    expect(t.push(feeUploaded({ mdtrt_id: 'V4', fixmedins_code: HOSPITAL_2, lines: [rx('2026-03-03T10:10:00+08:00', 30)] }))).toEqual([])
  })

  it('ignores reversed prescriptions and drugs without a limit', () => {
    const t = new Timeline(detector, kb)
    visits(t, [['V1', '2026-03-02T09:00:00+08:00'], ['V2', '2026-03-02T15:00:00+08:00']])
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [rx('2026-03-02T09:10:00+08:00', 30, { feedetl_sn: 'R1' }), rx('2026-03-02T09:10:00+08:00', 30, { med_list_codg: 'NOLIMIT' })] }))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['R1'], time: '2026-03-02T10:00:00+08:00' }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V2', lines: [rx('2026-03-02T15:10:00+08:00', 30), rx('2026-03-02T15:10:00+08:00', 30, { med_list_codg: 'NOLIMIT' })] }))).toEqual([])
  })

  it('judges drugs without a catalog limit when default_max_prd_days is set', () => {
    const t = new Timeline(detector, kb, { default_max_prd_days: 7 })
    visits(t, [['V1', '2026-03-02T09:00:00+08:00']])
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [rx('2026-03-02T09:10:00+08:00', 7, { med_list_codg: 'NOLIMIT' }), rx('2026-03-02T09:20:00+08:00', 7, { med_list_codg: 'NOLIMIT' })] }))).toHaveLength(1)
  })

  it('keeps one key per day as a third prescription arrives, and the same key on redelivery', () => {
    const t = new Timeline(detector, kb)
    visits(t, [['V1', '2026-03-02T09:00:00+08:00'], ['V2', '2026-03-02T15:00:00+08:00']])
    const a = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [rx('2026-03-02T09:10:00+08:00', 30), rx('2026-03-02T09:20:00+08:00', 30)] }))
    const ev = feeUploaded({ mdtrt_id: 'V2', lines: [rx('2026-03-02T15:10:00+08:00', 30)] })
    const b = t.push(ev)
    expect(b[0]!.key).toBe(a[0]!.key)
    expect(b[0]!.amount_fen / 100).toBe(60)
    expect(t.push(ev)[0]!.amount_fen / 100).toBe(60)
  })
})

describe('split-prescription: one finding per fact', () => {
  it('N identical prescription lines of one drug on one day give one finding (identical lines are one prescription)', () => {
    const t = new Timeline(detector, kb)
    visits(t, [['V1', '2026-03-02T09:00:00+08:00']])
    // One prescription however many identical lines carry it: not a split (duplicate-charge's concern).
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [1, 2, 3, 4].map(() => rx('2026-03-02T09:10:00+08:00', 30)) }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [1, 2, 3].map(() => rx('2026-03-02T09:40:00+08:00', 30)) }))
    expect(f.map((x) => x.key)).toEqual([`PSN00000001/${HOSPITAL}/${MET}/2026-03-02`])
    expect(f[0]!.refs.feedetl_sns).toHaveLength(7)
    expect(f[0]!.evidence).toMatchObject({ prescriptions: 2 })
  })
})
