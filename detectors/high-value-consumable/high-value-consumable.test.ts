import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitClosed, visitOpened } from '../../test/helpers/detect.ts'

const STENT = 'C0301010000000000001' // 冠脉支架: PCI 36.06/36.07
const MESH = 'C0401010000000000002' // high value, no operation named
const kb = makeKb({
  catalog: [
    item(STENT, { name: '药物洗脱冠脉支架', list_type: 'consumable', med_chrgitm_type: '08', high_value: true, oprn_prefixes: ['36.06', '36.07'] }),
    item(MESH, { name: '疝修补补片', list_type: 'consumable', med_chrgitm_type: '08', high_value: true }),
    item('GAUZE', { list_type: 'consumable', med_chrgitm_type: '08' }),
  ],
})
const line = (code: string, sn: string, pric = '8000.00') => ({ feedetl_sn: sn, fee_ocur_time: '2026-03-03T10:00:00+08:00', med_list_codg: code, list_type: 'consumable' as const, med_chrgitm_type: '08', pric })

function stay(codes: [string, string][], med_type = '21') {
  const t = new Timeline(detector, kb)
  t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T10:00:00+08:00', med_type }))
  expect(t.push(feeUploaded({ mdtrt_id: 'S1', lines: codes.map(([c, sn]) => line(c, sn)) }))).toEqual([])
  return t
}
const close = (operations: string[]) => visitClosed({
  mdtrt_id: 'S1', endtime: '2026-03-08T10:00:00+08:00', dscg_maindiag_code: 'I25.100',
  operations: operations.map((oprn_oprt_code) => ({ oprn_oprt_code, oprn_oprt_date: '2026-03-03' })),
})

describe('high-value-consumable', () => {
  it('flags a stent on a stay discharged without PCI, at the line amount', () => {
    const f = stay([[STENT, 'L1'], ['GAUZE', 'L2']]).push(close(['88.5501']))
    expect(f.map((x) => x.key)).toEqual([`S1/item/${STENT}/no-operation`])
    expect(f[0]!.amount_fen / 100).toBe(8000)
    expect(f[0]!.evidence['oprn_prefixes']).toEqual(['36.06', '36.07'])
  })

  it('one finding per item for all its lines (two stents: one finding, both amounts)', () => {
    const f = stay([[STENT, 'L1'], [STENT, 'L2']]).push(close(['88.5501']))
    expect(f).toHaveLength(1)
    expect(f[0]!.refs.feedetl_sns).toEqual(['L1', 'L2'])
    expect(f[0]!.amount_fen / 100).toBe(16000)
  })

  it('accepts it with a matching operation code prefix', () => {
    expect(stay([[STENT, 'L1']]).push(close(['36.0700x001']))).toEqual([])
  })

  it('needs some operation for a high-value item that names none, unless switched off', () => {
    expect(stay([[MESH, 'L1']]).push(close([])).map((x) => x.key)).toEqual([`S1/item/${MESH}/no-operation`])
    expect(stay([[MESH, 'L1']]).push(close(['53.0501']))).toEqual([])
    const t = new Timeline(detector, kb, { require_operation_when_unspecified: false })
    t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T10:00:00+08:00' }))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [line(MESH, 'L1')] }))
    expect(t.push(close([]))).toEqual([])
  })

  it('judges lines uploaded after discharge, and skips reversed ones', () => {
    const t = stay([[STENT, 'L1']])
    t.push(feeReversed({ mdtrt_id: 'S1', feedetl_sns: ['L1'], time: '2026-03-05T10:00:00+08:00' }))
    expect(t.push(close([]))).toEqual([])
    const late = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [line(STENT, 'L9')] }))
    expect(late.map((x) => x.key)).toEqual([`S1/item/${STENT}/no-operation`])
    expect(late[0]!.refs.feedetl_sns).toEqual(['L9'])
  })

  it('leaves outpatient visits alone by default', () => {
    expect(stay([[STENT, 'L1']], '11').push(close([]))).toEqual([])
  })
})
