import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, institution, latestByKey, makeKb, settlementCompleted, visitClosed, visitOpened } from '../../test/helpers/detect.ts'

const BEIJING = 'H11010500001'
const BEIJING_2 = 'H11010500002' // 10 km away
const KUNMING = 'H53010200001' // ≈ 2090 km away
const TIANJIN = 'H12010100001' // ≈ 115 km away
const kb = makeKb({
  institutions: [
    institution(BEIJING, { lat: 39.92, lon: 116.44 }), institution(BEIJING_2, { lat: 39.99, lon: 116.35 }),
    institution(KUNMING, { lat: 25.04, lon: 102.71, admdvs: '530102' }), institution(TIANJIN, { lat: 39.13, lon: 117.2, admdvs: '120101' }),
  ],
  persons: [{ psn_no: 'PSN00000099', gend: '1', brdy: '1940-01-01', death_date: '2026-03-03' }],
})
const open = (id: string, begntime: string, fixmedins_code = BEIJING, med_type = '11', psn_no?: string) => visitOpened({ mdtrt_id: id, begntime, fixmedins_code, med_type, psn_no })

describe('identity-misuse: after death', () => {
  it('flags a visit begun the day after the KB death date, not one on the day of death', () => {
    const t = new Timeline(detector, kb, { check_travel: false }, 'PSN00000099')
    expect(t.push(open('V1', '2026-03-03T20:00:00+08:00', BEIJING, '11', 'PSN00000099'))).toEqual([])
    const f = t.push(open('V2', '2026-03-04T09:00:00+08:00', BEIJING, '41', 'PSN00000099'))
    expect(f.map((x) => x.key)).toEqual(['V2/after-death'])
    expect(f[0]!.evidence['death']).toMatchObject({ source: 'kb_death_date', date: '2026-03-03' })
    expect(f[0]!.severity ?? detector.severity).toBe('critical')
  })

  it('flags a visit after a discharge by death, whichever arrives first, and re-issues it with the fund payment', () => {
    const t = new Timeline(detector, kb, { check_travel: false })
    t.push(open('S1', '2026-03-01T09:00:00+08:00', BEIJING, '21'))
    expect(t.push(open('P1', '2026-03-06T09:00:00+08:00', BEIJING_2, '41'))).toEqual([])
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_way: '5', dscg_maindiag_code: 'I21.900' }))
    expect(f.map((x) => x.key)).toEqual(['P1/after-death'])
    expect(f[0]!.refs.mdtrt_ids).toEqual(['P1', 'S1'])
    const g = t.push(settlementCompleted({ mdtrt_id: 'P1', setl_time: '2026-03-06T09:10:00+08:00', med_type: '41', fund_pay_sumamt: '260.00' }))
    expect(latestByKey(g).get('P1/after-death')!.amount_fen / 100).toBe(260)
  })

  it('counts the personal account in the amount: a pharmacy purchase after death paid from the account alone', () => {
    const t = new Timeline(detector, kb, { check_travel: false }, 'PSN00000099')
    t.push(open('R1', '2026-03-05T15:00:00+08:00', BEIJING_2, '41', 'PSN00000099'))
    const g = t.push(settlementCompleted({ mdtrt_id: 'R1', psn_no: 'PSN00000099', setl_time: '2026-03-05T15:05:00+08:00', med_type: '41', fund_pay_sumamt: '0.00', acct_pay: '186.40', medfee_sumamt: '186.40' }))
    const a = latestByKey(g).get('R1/after-death')!
    expect(a.amount_fen / 100).toBe(186.4)
    expect(a.evidence['insurance_pay']).toBe(186.4)
  })

  it('accepts visits within the tolerance after a death discharge (same-hour paperwork)', () => {
    const t = new Timeline(detector, kb, { check_travel: false })
    t.push(open('S1', '2026-03-01T09:00:00+08:00', BEIJING, '21'))
    t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_way: '5', dscg_maindiag_code: 'I21.900' }))
    expect(t.push(open('V1', '2026-03-05T10:30:00+08:00'))).toEqual([])
  })
})

describe('identity-misuse: impossible travel', () => {
  it('flags Beijing and Kunming two hours apart, keyed by both visits', () => {
    const t = new Timeline(detector, kb, { check_after_death: false })
    t.push(open('A', '2026-03-02T09:00:00+08:00', BEIJING))
    const f = t.push(open('B', '2026-03-02T11:00:00+08:00', KUNMING, '41'))
    expect(f.map((x) => x.key)).toEqual(['A~B/travel'])
    const e = f[0]!.evidence as { distance_km: number; hours_between: number }
    expect(e.distance_km).toBeGreaterThan(2000)
    expect(e.distance_km).toBeLessThan(2200)
    expect(e.hours_between).toBe(2)
    expect(f[0]!.subject.fixmedins_code).toBe(KUNMING)
  })

  it('accepts Beijing and Kunming eight hours apart, Beijing and Tianjin one hour apart, and nearby sites at once', () => {
    const t = new Timeline(detector, kb, { check_after_death: false })
    t.push(open('A', '2026-03-02T09:00:00+08:00', BEIJING))
    expect(t.push(open('B', '2026-03-02T17:00:00+08:00', KUNMING))).toEqual([])
    const u = new Timeline(detector, kb, { check_after_death: false })
    u.push(open('A', '2026-03-02T09:00:00+08:00', BEIJING))
    expect(u.push(open('B', '2026-03-02T10:00:00+08:00', TIANJIN))).toEqual([])
    expect(u.push(open('C', '2026-03-02T09:00:00+08:00', BEIJING_2))).toEqual([])
  })

  it('uses the end of an earlier visit when it is closer in time', () => {
    const t = new Timeline(detector, kb, { check_after_death: false })
    t.push(open('A', '2026-03-02T06:00:00+08:00', BEIJING, '13'))
    t.push(visitClosed({ mdtrt_id: 'A', endtime: '2026-03-02T12:00:00+08:00', dscg_maindiag_code: 'R10.400' }))
    // Opened 3 h after leaving Beijing: 2090 km needs ≈ 700 km/h.
    expect(t.push(open('B', '2026-03-02T15:00:00+08:00', KUNMING))).toHaveLength(1)
  })

  it('skips institutions missing from the KB and gives a redelivery the same key', () => {
    const t = new Timeline(detector, kb, { check_after_death: false })
    t.push(open('A', '2026-03-02T09:00:00+08:00', 'H99999900001'))
    expect(t.push(open('B', '2026-03-02T09:30:00+08:00', KUNMING))).toEqual([])
    const u = new Timeline(detector, kb, { check_after_death: false })
    u.push(open('A', '2026-03-02T09:00:00+08:00', BEIJING))
    const ev = open('B', '2026-03-02T10:00:00+08:00', KUNMING)
    expect(u.push(ev).map((f) => f.key)).toEqual(u.push(ev).map((f) => f.key))
  })
})
