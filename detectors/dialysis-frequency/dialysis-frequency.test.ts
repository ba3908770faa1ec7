import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, HOSPITAL_2, Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const HD = '003110000010000'
const kb = makeKb({ catalog: [item(HD, { name: '血液透析', dialysis: true }), item('OTHER')] })

let n = 0
function session(t: Timeline<typeof detector.params>, day: string, fixmedins_code = HOSPITAL, sn?: string) {
  const id = `D${++n}`
  t.push(visitOpened({ mdtrt_id: id, begntime: `${day}T08:00:00+08:00`, med_type: '14', fixmedins_code }))
  return t.push(feeUploaded({ mdtrt_id: id, fixmedins_code, lines: [{ feedetl_sn: sn, fee_ocur_time: `${day}T08:30:00+08:00`, med_list_codg: HD, pric: '400.00' }] }))
}

describe('dialysis-frequency', () => {
  it('flags a fourth session in one natural week, with the excess session as the amount', () => {
    const t = new Timeline(detector, kb)
    // 2026-03-02 is a Monday.
    for (const d of ['2026-03-02', '2026-03-04', '2026-03-06']) expect(session(t, d)).toEqual([])
    const f = session(t, '2026-03-08')
    expect(f.map((x) => x.key)).toEqual(['PSN00000001/week/2026-03-02'])
    expect(f[0]!.amount_fen / 100).toBe(400)
    expect(f[0]!.evidence).toMatchObject({ sessions: 4, threshold: 3 })
  })

  it('does not join sessions across the week boundary (Sunday to Monday)', () => {
    const t = new Timeline(detector, kb)
    for (const d of ['2026-03-06', '2026-03-07', '2026-03-08']) session(t, d)
    expect(session(t, '2026-03-09')).toEqual([])
  })

  it('counts several dialysis lines of one institution and day as one session', () => {
    const t = new Timeline(detector, kb)
    session(t, '2026-03-02')
    session(t, '2026-03-02')
    session(t, '2026-03-04')
    expect(session(t, '2026-03-06')).toEqual([])
  })

  it('flags two institutions on one day', () => {
    const t = new Timeline(detector, kb)
    session(t, '2026-03-02', HOSPITAL)
    const f = session(t, '2026-03-02', HOSPITAL_2)
    expect(f.map((x) => x.key)).toEqual(['PSN00000001/day/2026-03-02'])
  })

  it('ignores reversed sessions and non-dialysis lines', () => {
    const t = new Timeline(detector, kb)
    session(t, '2026-03-02', HOSPITAL, 'R1')
    t.push(feeReversed({ mdtrt_id: `D${n}`, feedetl_sns: ['R1'], time: '2026-03-02T12:00:00+08:00' }))
    session(t, '2026-03-03')
    session(t, '2026-03-04')
    expect(session(t, '2026-03-05')).toEqual([])
  })

  it('keeps one key per week when a late session arrives out of order', () => {
    const t = new Timeline(detector, kb)
    for (const d of ['2026-03-03', '2026-03-05', '2026-03-07']) session(t, d)
    const f = session(t, '2026-03-02')
    expect(f.map((x) => x.key)).toEqual(['PSN00000001/week/2026-03-02'])
    // The excess is the last session in time order, not the late arrival.
    expect((f[0]!.evidence['session_list'] as { day: string }[]).map((s) => s.day)).toEqual(['2026-03-02', '2026-03-03', '2026-03-05', '2026-03-07'])
  })
})
