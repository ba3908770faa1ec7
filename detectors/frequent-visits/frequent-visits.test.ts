import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, HOSPITAL_2, Timeline, latestByKey, settlementCompleted, visitOpened } from '../../test/helpers/detect.ts'

const open = (id: string, begntime: string, med_type = '11', fixmedins_code = HOSPITAL) => visitOpened({ mdtrt_id: id, begntime, med_type, fixmedins_code })

describe('frequent-visits', () => {
  it('flags the fourth visit of a China day, keyed by person and day', () => {
    const t = new Timeline(detector)
    const f = t.pushAll([
      open('V1', '2026-03-02T08:00:00+08:00'), open('V2', '2026-03-02T10:00:00+08:00', '13', HOSPITAL_2),
      open('V3', '2026-03-02T14:00:00+08:00'), open('V4', '2026-03-02T20:00:00+08:00', '11', HOSPITAL_2),
    ])
    expect(f.map((x) => x.key)).toEqual(['PSN00000001/day/2026-03-02'])
    expect(f[0]!.evidence).toMatchObject({ visits: 4, threshold: 3, institutions: [HOSPITAL, HOSPITAL_2] })
  })

  it('does not join visits across China midnight', () => {
    const t = new Timeline(detector)
    // 2026-03-02T16:30Z is 00:30 on 3 March in China.
    expect(t.pushAll([
      open('V1', '2026-03-02T08:00:00+08:00'), open('V2', '2026-03-02T10:00:00+08:00'), open('V3', '2026-03-02T23:00:00+08:00'),
      open('V4', '2026-03-02T16:30:00Z'),
    ])).toEqual([])
  })

  it('flags a month above the threshold and re-issues it with the excess visits\' fund payment on settlement', () => {
    const t = new Timeline(detector, undefined, { max_visits_per_month: 3 })
    const events = [1, 5, 9, 13].map((d, i) => open(`V${i + 1}`, `2026-03-${String(d).padStart(2, '0')}T09:00:00+08:00`))
    const f = t.pushAll(events)
    expect(f.map((x) => x.key)).toEqual(['PSN00000001/month/2026-03'])
    expect(f[0]!.amount_fen / 100).toBe(0)
    const g = t.push(settlementCompleted({ mdtrt_id: 'V4', setl_time: '2026-03-13T10:00:00+08:00', med_type: '11', fund_pay_sumamt: '88.50' }))
    expect(latestByKey(g).get('PSN00000001/month/2026-03')!.amount_fen / 100).toBe(88.5)
    // The first visits are within the threshold: their payment is not at risk.
    const h = t.push(settlementCompleted({ mdtrt_id: 'V1', setl_time: '2026-03-01T10:00:00+08:00', med_type: '11', fund_pay_sumamt: '40.00' }))
    expect(latestByKey(h).get('PSN00000001/month/2026-03')!.amount_fen / 100).toBe(88.5)
  })

  it('counts calendar months, not a rolling window, and leaves chronic-disease visits out', () => {
    const t = new Timeline(detector, undefined, { max_visits_per_month: 3 })
    expect(t.pushAll([
      open('V1', '2026-02-27T09:00:00+08:00'), open('V2', '2026-02-28T09:00:00+08:00'),
      open('V3', '2026-03-01T09:00:00+08:00'), open('V4', '2026-03-02T09:00:00+08:00'),
      open('D1', '2026-03-03T09:00:00+08:00', '14'), open('D2', '2026-03-05T09:00:00+08:00', '14'),
    ])).toEqual([])
  })

  it('gives a redelivered visit the same key', () => {
    const t = new Timeline(detector, undefined, { max_visits_per_day: 1 })
    t.push(open('V1', '2026-03-02T08:00:00+08:00'))
    const ev = open('V2', '2026-03-02T09:00:00+08:00')
    expect(t.push(ev).map((f) => [f.key, f.evidence['visits']])).toEqual(t.push(ev).map((f) => [f.key, f.evidence['visits']]))
  })
})
