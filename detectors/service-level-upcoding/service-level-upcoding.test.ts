import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const CHIEF_FEE = '001102000000001' // 主任医师诊查费
const ASSOC_FEE = '001102000000002' // 副主任医师诊查费
const kb = makeKb({
  catalog: [item(CHIEF_FEE, { name: '主任医师诊查费', med_chrgitm_type: '02', required_title: 'chief' }), item(ASSOC_FEE, { name: '副主任医师诊查费', med_chrgitm_type: '02', required_title: 'associate_chief' }), item('PLAIN')],
  doctors: [
    { dr_code: 'DRCHIEF', fixmedins_code: HOSPITAL, name: '甲', title: 'chief' },
    { dr_code: 'DRATT', fixmedins_code: HOSPITAL, name: '乙', title: 'attending' },
    { dr_code: 'DRASSOC', fixmedins_code: HOSPITAL, name: '丙', title: 'associate_chief' },
  ],
})
const at = '2026-03-02T09:00:00+08:00'

function timeline(params = {}) {
  const t = new Timeline(detector, kb, params)
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-02T08:00:00+08:00', med_type: '11' }))
  return t
}

describe('service-level-upcoding', () => {
  it('one finding per item and billing doctor, however many lines', () => {
    const lines = [...Array.from({ length: 5 }, (_, i) => ({ feedetl_sn: `A${i}`, fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRATT', pric: '50.00' })),
      { feedetl_sn: 'B1', fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRASSOC', pric: '50.00' }]
    const f = timeline().push(feeUploaded({ mdtrt_id: 'V1', lines }))
    expect(f.map((x) => [x.subject.doctor, x.refs.feedetl_sns!.length, x.amount_fen / 100])).toEqual([['DRATT', 5, 250], ['DRASSOC', 1, 50]])
  })

  it('flags a chief-physician fee billed by an attending physician, at the line amount', () => {
    const f = timeline().push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'L1', fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRATT', pric: '50.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/item/${CHIEF_FEE}/title/DRATT`)
    expect(f[0]!.amount_fen / 100).toBe(50)
    expect(f[0]!.evidence).toMatchObject({ required_title: 'chief', doctor_title: 'attending' })
    expect(f[0]!.subject.doctor).toBe('DRATT')
  })

  it('accepts the required title or higher', () => {
    const t = timeline()
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRCHIEF' },
      { fee_ocur_time: at, med_list_codg: ASSOC_FEE, bilg_dr_codg: 'DRCHIEF' },
      { fee_ocur_time: at, med_list_codg: ASSOC_FEE, bilg_dr_codg: 'DRASSOC' },
      { fee_ocur_time: at, med_list_codg: 'PLAIN', bilg_dr_codg: 'DRATT' },
    ] }))).toEqual([])
  })

  it('flags one rank short: an associate chief billing the chief fee', () => {
    expect(timeline().push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRASSOC' }] }))).toHaveLength(1)
  })

  it('skips unregistered doctors unless flag_unknown_doctor', () => {
    const line = { fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRNOBODY' }
    expect(timeline().push(feeUploaded({ mdtrt_id: 'V1', lines: [line] }))).toEqual([])
    const f = timeline({ flag_unknown_doctor: true }).push(feeUploaded({ mdtrt_id: 'V1', lines: [line] }))
    expect(f[0]!.evidence['doctor_registered']).toBe(false)
  })

  it('skips reversed lines and keys a redelivery the same', () => {
    const t = timeline()
    const ev = feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'L1', fee_ocur_time: at, med_list_codg: CHIEF_FEE, bilg_dr_codg: 'DRATT' }] })
    expect(t.push(ev).map((f) => f.key)).toEqual(t.push(ev).map((f) => f.key))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['L1'], time: at }))
    expect(t.push(ev)).toEqual([])
  })
})
