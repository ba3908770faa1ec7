import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const PANEL = '002501000010000' // 肝功能全套, includes ALT and AST
const ALT = '002501000020000'
const AST = '002501000030000'
const kb = makeKb({ catalog: [item(PANEL, { name: '肝功能全套', includes: [ALT, AST] }), item(ALT, { name: 'ALT' }), item(AST, { name: 'AST' })] })

function timeline(params = {}) {
  const t = new Timeline(detector, kb, params)
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-01T08:00:00+08:00' }))
  return t
}

describe('unbundling', () => {
  it('flags a component billed with its bundle the same day, at the component amount', () => {
    const t = timeline()
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: PANEL, pric: '60.00' }] }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: ALT, pric: '8.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/${PANEL}/2026-03-02`)
    expect(f[0]!.amount_fen / 100).toBe(8)
  })

  it('finds it whichever comes first, and grows the amount under one key', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: ALT, pric: '8.00' }] }))
    const a = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: PANEL, pric: '60.00' }] }))
    const b = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T11:00:00+08:00', med_list_codg: AST, pric: '9.00' }] }))
    expect(a[0]!.key).toBe(b[0]!.key)
    expect(b[0]!.amount_fen / 100).toBe(17)
    expect(b[0]!.evidence['components_billed']).toEqual([ALT, AST])
  })

  it('does not flag them on different China days in day scope, but does in visit scope', () => {
    const lines = [{ fee_ocur_time: '2026-03-02T23:30:00+08:00', med_list_codg: PANEL }, { fee_ocur_time: '2026-03-03T00:30:00+08:00', med_list_codg: ALT }]
    expect(timeline().push(feeUploaded({ mdtrt_id: 'V1', lines }))).toEqual([])
    const f = timeline({ scope: 'visit' }).push(feeUploaded({ mdtrt_id: 'V1', lines }))
    expect(f.map((x) => x.key)).toEqual([`V1/${PANEL}`])
  })

  it('ignores reversed bundles and components billed alone', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'B1', fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: PANEL }] }))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['B1'], time: '2026-03-02T08:30:00+08:00' }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: ALT }, { fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: AST }] }))).toEqual([])
  })

  it('keys a redelivered upload the same', () => {
    const t = timeline()
    const ev = feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: PANEL }, { fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: ALT }] })
    expect(t.push(ev).map((f) => [f.key, f.amount_fen / 100])).toEqual(t.push(ev).map((f) => [f.key, f.amount_fen / 100]))
  })
})

describe('unbundling: one finding per fact', () => {
  it('N identical component lines with their bundle give one finding for the bundle and day', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: PANEL, pric: '60.00' }] }))
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [1, 2, 3, 4].map(() => ({ fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: ALT, pric: '8.00' })) }))
    expect(f.map((x) => x.key)).toEqual([`V1/${PANEL}/2026-03-02`])
    expect(f[0]!.amount_fen / 100).toBe(32)
  })
})
