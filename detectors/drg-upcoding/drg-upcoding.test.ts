import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, makeKb, settlementCompleted, visitClosed, visitOpened } from '../../test/helpers/detect.ts'

const O2 = '003101000010000' // 吸氧: evidence for respiratory failure
const kb = makeKb({
  groups: [
    { type: 'DRG', code: 'ES21', name: '呼吸系统感染伴严重并发症', weight: 1.6, avg_los_days: 10, cc: 'MCC' },
    { type: 'DRG', code: 'ES23', name: '呼吸系统感染伴一般并发症', weight: 1.1, avg_los_days: 8, cc: 'CC' },
    { type: 'DRG', code: 'ES25', name: '呼吸系统感染不伴并发症', weight: 0.8, avg_los_days: 7, cc: 'none' },
    { type: 'DRG', code: 'FM11', name: '经皮冠状动脉支架植入伴严重并发症', weight: 3.5, avg_los_days: 12, cc: 'MCC' },
    { type: 'DRG', code: 'XX13', name: '无兄弟组', weight: 1.2, avg_los_days: 8, cc: 'CC' },
  ],
  diagnoses: [
    { diag_code: 'J96.0', name: '急性呼吸衰竭', cc: 'MCC', evidence_items: [O2] },
    { diag_code: 'E87.1', name: '低钠血症', cc: 'CC', evidence_items: ['NACL'] },
    { diag_code: 'I10', name: '高血压', cc: 'CC' },
  ],
})

function stay(secondaries: string[], lines: string[] = [], close = '2026-03-10T10:00:00+08:00', dscg_way: '1' | '5' = '1') {
  const t = new Timeline(detector, kb)
  t.push(visitOpened({ mdtrt_id: 'S1', begntime: '2026-03-01T10:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }))
  if (lines.length) t.push(feeUploaded({ mdtrt_id: 'S1', lines: lines.map((c, i) => ({ feedetl_sn: `L${i}`, fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: c })) }))
  t.push(visitClosed({ mdtrt_id: 'S1', endtime: close, dscg_way, dscg_maindiag_code: 'J18.900',
    diagnoses: [{ diag_code: 'J18.900' }, ...secondaries.map((diag_code) => ({ diag_code }))] }))
  return t
}
const settle = (code: string, weight: string, fund = '10000.00') =>
  settlementCompleted({ mdtrt_id: 'S1', setl_id: 'T1', setl_time: '2026-03-10T11:00:00+08:00', fund_pay_sumamt: fund, pay_grp: { type: 'DRG', code, weight } })

describe('drg-upcoding: unsupported CC/MCC', () => {
  it('flags an MCC group resting on respiratory failure with no oxygen billed, priced against the sibling group', () => {
    const f = stay(['J96.000']).push(settle('ES21', '1.6'))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe('T1/cc')
    expect(f[0]!.evidence).toMatchObject({ required_level: 'MCC', supported_level: 'none', sibling_group: { code: 'ES25', weight: 0.8 } })
    expect(f[0]!.amount_fen / 100).toBe(5000) // 10000 × (1 − 0.8/1.6)
    expect(f[0]!.subject.setl_id).toBe('T1')
  })

  it('accepts the MCC when its evidence item was billed, but not when that line was reversed', () => {
    expect(stay(['J96.000'], [O2]).push(settle('ES21', '1.6'))).toEqual([])
    const t = stay(['J96.000'], [O2])
    t.push(feeReversed({ mdtrt_id: 'S1', feedetl_sns: ['L0'], time: '2026-03-10T10:30:00+08:00' }))
    expect(t.push(settle('ES21', '1.6'))).toHaveLength(1)
  })

  it('prices against the CC sibling when a supported CC remains', () => {
    const f = stay(['J96.000', 'E87.100'], ['NACL']).push(settle('ES21', '1.6'))
    expect(f[0]!.evidence).toMatchObject({ supported_level: 'CC', sibling_group: { code: 'ES23' } })
    expect(f[0]!.amount_fen / 100).toBe(3125) // 10000 × (1 − 1.1/1.6)
  })

  it('does not judge diagnoses without KB evidence items, nor groups that need no complication', () => {
    expect(stay(['I10.x00']).push(settle('ES23', '1.1'))).toEqual([])
    expect(stay(['J96.000']).push(settle('ES25', '0.8'))).toEqual([])
  })

  it('falls back to the whole fund payment when no sibling group is known', () => {
    const f = stay(['E87.100']).push(settle('XX13', '1.2', '4321.00'))
    expect(f[0]!.amount_fen / 100).toBe(4321)
    expect(f[0]!.evidence['amount_basis']).toBe('fund_pay_upper_bound')
  })

  it('ignores settlements without a pay group', () => {
    const t = stay(['J96.000'])
    expect(t.push(settlementCompleted({ mdtrt_id: 'S1', setl_time: '2026-03-10T11:00:00+08:00' }))).toEqual([])
  })
})

describe('drg-upcoding: high-weight group, short stay', () => {
  it('flags a weight-3.5 group with a 2-day stay against 12 days average', () => {
    const f = stay(['J96.000'], [O2], '2026-03-03T10:00:00+08:00').push(settle('FM11', '3.5', '30000.00'))
    expect(f.map((x) => x.key)).toEqual(['T1/short-stay'])
    expect(f[0]!.evidence).toMatchObject({ stay_days: 2, avg_los_days: 12 })
    expect(f[0]!.amount_fen / 100).toBe(30000)
  })

  it('accepts a stay at the ratio boundary, a low-weight group, and a death', () => {
    // 12 × 0.3 = 3.6: a 4-day stay is plausible.
    expect(stay(['J96.000'], [O2], '2026-03-05T10:00:00+08:00').push(settle('FM11', '3.5'))).toEqual([])
    expect(stay([], [], '2026-03-02T10:00:00+08:00').push(settle('ES25', '0.8'))).toEqual([])
    expect(stay(['J96.000'], [O2], '2026-03-02T10:00:00+08:00', '5').push(settle('FM11', '3.5'))).toEqual([])
  })

  it('gives a redelivered settlement the same keys', () => {
    const t = stay(['J96.000'], [], '2026-03-02T10:00:00+08:00')
    const ev = settle('FM11', '3.5')
    expect(t.push(ev).map((f) => f.key)).toEqual(t.push(ev).map((f) => f.key))
  })
})
