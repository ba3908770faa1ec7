import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitClosed, visitOpened } from '../../test/helpers/detect.ts'

const DRUG = 'XJ01DDA001' // 头孢: only for infections J/A
const kb = makeKb({
  catalog: [
    item(DRUG, { name: '头孢曲松', list_type: 'drug', med_chrgitm_type: '09', chrgitm_lv: '乙', indications: ['J', 'A41'] }),
    item('SELFPAY', { list_type: 'drug', med_chrgitm_type: '09', chrgitm_lv: '丙', indications: ['J'] }),
    item('CHRONIC', { list_type: 'drug', med_chrgitm_type: '09', chronic_only: true, indications: ['E11'] }),
    item('FREE', { list_type: 'drug', med_chrgitm_type: '09' }),
  ],
})
const at = '2026-03-02T09:00:00+08:00'
const drug = (over = {}) => ({ fee_ocur_time: at, med_list_codg: DRUG, list_type: 'drug' as const, med_chrgitm_type: '09', pric: '56.00', ...over })

function outpatient(diag: string[], params = {}) {
  const t = new Timeline(detector, kb, params)
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-02T08:00:00+08:00', med_type: '11', diagnoses: diag.map((diag_code) => ({ diag_code })) }))
  return t
}

describe('out-of-scope: outpatient, judged on upload', () => {
  it('flags an indication-restricted drug without a matching diagnosis, at the line amount', () => {
    const f = outpatient(['I10.x00']).push(feeUploaded({ mdtrt_id: 'V1', lines: [drug({ feedetl_sn: 'L1' })] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/item/${DRUG}/indication`)
    expect(f[0]!.amount_fen / 100).toBe(56)
    expect(f[0]!.evidence).toMatchObject({ allowed_prefixes: ['J', 'A41'], visit_diagnoses: ['I10.x00'], judged_at: 'upload' })
  })

  it('accepts it when any diagnosis matches a prefix', () => {
    expect(outpatient(['I10.x00', 'J18.900']).push(feeUploaded({ mdtrt_id: 'V1', lines: [drug()] }))).toEqual([])
    expect(outpatient(['A41.900']).push(feeUploaded({ mdtrt_id: 'V1', lines: [drug()] }))).toEqual([])
  })

  it('does not judge self-pay (丙), chronic-only or unrestricted items', () => {
    const lines = ['SELFPAY', 'CHRONIC', 'FREE'].map((med_list_codg) => drug({ med_list_codg }))
    expect(outpatient(['I10.x00']).push(feeUploaded({ mdtrt_id: 'V1', lines }))).toEqual([])
  })

  it('leaves visits without diagnoses alone unless flag_without_diagnosis', () => {
    expect(outpatient([]).push(feeUploaded({ mdtrt_id: 'V1', lines: [drug()] }))).toEqual([])
    expect(outpatient([], { flag_without_diagnosis: true }).push(feeUploaded({ mdtrt_id: 'V1', lines: [drug()] }))).toHaveLength(1)
  })
})

describe('out-of-scope: inpatient, judged at discharge', () => {
  function stay() {
    const t = new Timeline(detector, kb)
    t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T08:00:00+08:00', med_type: '21', diagnoses: [{ diag_code: 'R50.900' }] }))
    return t
  }

  it('waits for the final diagnoses: an infection found at discharge clears the drug', () => {
    const t = stay()
    expect(t.push(feeUploaded({ mdtrt_id: 'S1', lines: [drug()] }))).toEqual([])
    expect(t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))).toEqual([])
  })

  it('flags every unmatched line at discharge, not reversed ones, and lines uploaded after discharge', () => {
    const t = stay()
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [drug({ feedetl_sn: 'A' }), drug({ feedetl_sn: 'B' }), drug({ feedetl_sn: 'C' })] }))
    t.push(feeReversed({ mdtrt_id: 'S1', feedetl_sns: ['B'], time: at }))
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'R50.900' }))
    expect(f.map((x) => x.key)).toEqual([`S1/item/${DRUG}/indication`])
    expect(f[0]!.refs.feedetl_sns).toEqual(['A', 'C'])
    expect(f[0]!.evidence['judged_at']).toBe('discharge')
    const late = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [drug({ feedetl_sn: 'D', fee_ocur_time: '2026-03-05T09:00:00+08:00' })] }))
    // The same item: its one finding again, now with the late line too.
    expect(late.map((x) => x.key)).toEqual([`S1/item/${DRUG}/indication`])
    expect(late[0]!.refs.feedetl_sns).toEqual(['A', 'C', 'D'])
  })

  it('judges on upload in the pre stage (a reminder cannot wait for discharge)', () => {
    const t = new Timeline(detector, kb, {}, undefined, 'pre')
    t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T08:00:00+08:00', med_type: '21', diagnoses: [{ diag_code: 'R50.900' }] }))
    expect(t.push(feeUploaded({ mdtrt_id: 'S1', lines: [drug()] }))).toHaveLength(1)
  })

  it('judges on upload when deferral is off', () => {
    const t = new Timeline(detector, kb, { defer_inpatient_to_discharge: false })
    t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T08:00:00+08:00', med_type: '21', diagnoses: [{ diag_code: 'R50.900' }] }))
    expect(t.push(feeUploaded({ mdtrt_id: 'S1', lines: [drug()] }))).toHaveLength(1)
    expect(t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'R50.900' }))).toEqual([])
  })
})

describe('out-of-scope: one finding per fact', () => {
  it('N identical lines of an out-of-scope drug give one finding for the item', () => {
    const f = outpatient(['I10.x00']).push(feeUploaded({ mdtrt_id: 'V1', lines: [1, 2, 3, 4].map((i) => drug({ feedetl_sn: `N${i}` })) }))
    expect(f.map((x) => x.key)).toEqual([`V1/item/${DRUG}/indication`])
    expect(f[0]!.refs.feedetl_sns).toEqual(['N1', 'N2', 'N3', 'N4'])
    expect(f[0]!.amount_fen / 100).toBe(224)
  })
})
