import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, HOSPITAL_2, PHARMACY, Timeline, feeReversed, feeUploaded, item, makeKb, visitClosed, visitOpened } from '../../test/helpers/detect.ts'

const MON = '003105000010000' // 心电监护, per hour
const BED = '001101000010000'
const CBC = '001201000010000'
const kb = makeKb({
  catalog: [item(MON, { name: '心电监护', time_unit: 'hour' }), item(BED, { name: '普通病房床位费', med_chrgitm_type: '01', time_unit: 'day' }), item(CBC)],
  persons: [{ psn_no: 'PSN00000099', gend: '1', brdy: '1940-01-01', death_date: '2026-03-03' }],
})
const only = (check: string) => ({
  check_outside_stay: false, check_after_death: false, check_hours_per_day: false, check_bed_days: false,
  check_outpatient_during_stay: false, check_overlapping_stays: false, [check]: true,
})
const bed = (time: string, cnt = '1', over = {}) => ({ fee_ocur_time: time, med_list_codg: BED, med_chrgitm_type: '01', cnt, pric: '50.00', ...over })

function stay(params = {}, psn_no?: string) {
  const t = new Timeline(detector, kb, params, psn_no)
  t.push(visitOpened({ mdtrt_id: 'S1', psn_no, begntime: '2026-03-01T10:00:00+08:00' }))
  return t
}

describe('phantom-service: lines outside the stay', () => {
  it('flags a line before admission beyond the tolerance, at the line amount', () => {
    const t = stay(only('check_outside_stay'))
    const f = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [
      { feedetl_sn: 'early', fee_ocur_time: '2026-03-01T07:00:00+08:00', med_list_codg: CBC, pric: '20.00' },
      { feedetl_sn: 'ok', fee_ocur_time: '2026-03-01T08:30:00+08:00', med_list_codg: CBC },
    ] }))
    expect(f.map((x) => x.key)).toEqual(['S1/timing'])
    expect(f[0]!.refs.feedetl_sns).toEqual(['early'])
    expect(f[0]!.amount_fen / 100).toBe(20)
    expect(f[0]!.evidence['reasons']).toEqual(['before_admission'])
  })

  it('flags lines after discharge both when they arrive later and when the discharge arrives later', () => {
    const t = stay(only('check_outside_stay'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ feedetl_sn: 'pre', fee_ocur_time: '2026-03-08T09:00:00+08:00', med_list_codg: CBC }] }))
    const onClose = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(onClose.map((x) => x.key)).toEqual(['S1/timing'])
    const later = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [
      { feedetl_sn: 'post', fee_ocur_time: '2026-03-06T09:00:00+08:00', med_list_codg: CBC },
      { feedetl_sn: 'within', fee_ocur_time: '2026-03-05T11:30:00+08:00', med_list_codg: CBC },
    ] }))
    // The visit's one finding again, with both lines dated after the discharge.
    expect(later.map((x) => x.key)).toEqual(['S1/timing'])
    expect(later[0]!.refs.feedetl_sns).toEqual(['post', 'pre'])
  })

  it('does not flag reversed lines', () => {
    const t = stay(only('check_outside_stay'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ feedetl_sn: 'x', fee_ocur_time: '2026-03-09T09:00:00+08:00', med_list_codg: CBC }] }))
    t.push(feeReversed({ mdtrt_id: 'S1', feedetl_sns: ['x'], time: '2026-03-09T10:00:00+08:00' }))
    expect(t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))).toEqual([])
  })
})

describe('phantom-service: after death', () => {
  it('flags lines on the day after the KB death date, not on the day of death', () => {
    const t = stay(only('check_after_death'), 'PSN00000099')
    const f = t.push(feeUploaded({ mdtrt_id: 'S1', psn_no: 'PSN00000099', lines: [
      { feedetl_sn: 'same-day', fee_ocur_time: '2026-03-03T22:00:00+08:00', med_list_codg: CBC },
      { feedetl_sn: 'next-day', fee_ocur_time: '2026-03-04T03:00:00+08:00', med_list_codg: CBC },
    ] }))
    expect(f.map((x) => x.key)).toEqual(['S1/timing'])
    expect(f[0]!.refs.feedetl_sns).toEqual(['next-day'])
    expect(f[0]!.evidence['death']).toMatchObject({ source: 'kb_death_date', date: '2026-03-03' })
  })

  it('flags other visits\' lines after a discharge by death', () => {
    const t = stay(only('check_after_death'))
    t.push(visitOpened({ mdtrt_id: 'P1', begntime: '2026-03-06T09:00:00+08:00', med_type: '41', fixmedins_code: PHARMACY }))
    t.push(feeUploaded({ mdtrt_id: 'P1', fixmedins_code: PHARMACY, lines: [{ feedetl_sn: 'buy', fee_ocur_time: '2026-03-06T09:05:00+08:00', med_list_codg: CBC }] }))
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_way: '5', dscg_maindiag_code: 'I21.900' }))
    expect(f.map((x) => x.key)).toEqual(['P1/timing'])
    expect(f[0]!.subject.fixmedins_code).toBe(PHARMACY)
  })
})

describe('phantom-service: one finding per visit for lines dated outside it', () => {
  const XRAY = '002101000010000'
  const INJ = '004101000010000'
  const kb4 = makeKb({
    catalog: [item(MON, { name: '心电监护', time_unit: 'hour' }), item(BED, { name: '普通病房床位费', med_chrgitm_type: '01', time_unit: 'day' }), item(CBC), item(XRAY), item(INJ)],
    persons: [{ psn_no: 'PSN00000099', gend: '1', brdy: '1940-01-01', death_date: '2026-03-03' }],
  })

  it('four lines of four items after death: exactly one finding for the visit, listing them all', () => {
    const t = new Timeline(detector, kb4, only('check_after_death'), 'PSN00000099')
    t.push(visitOpened({ mdtrt_id: 'D1', psn_no: 'PSN00000099', begntime: '2026-03-05T09:00:00+08:00', med_type: '11' }))
    const f = t.push(feeUploaded({ mdtrt_id: 'D1', psn_no: 'PSN00000099', lines: [
      { feedetl_sn: 'a', fee_ocur_time: '2026-03-05T09:10:00+08:00', med_list_codg: CBC, pric: '20.00' },
      { feedetl_sn: 'b', fee_ocur_time: '2026-03-05T09:20:00+08:00', med_list_codg: XRAY, pric: '80.00' },
      { feedetl_sn: 'c', fee_ocur_time: '2026-03-05T09:30:00+08:00', med_list_codg: INJ, pric: '15.00' },
      { feedetl_sn: 'd', fee_ocur_time: '2026-03-05T09:40:00+08:00', med_list_codg: MON, pric: '5.00' },
    ] }))
    expect(f.map((x) => x.key)).toEqual(['D1/timing'])
    expect(f[0]!.refs.feedetl_sns).toEqual(['a', 'b', 'c', 'd'])
    expect(f[0]!.amount_fen / 100).toBe(120)
    expect(f[0]!.evidence).toMatchObject({ reasons: ['after_death'], lines_flagged: 4 })
    expect(f[0]!.notice).toBeDefined()
  })

  it('N identical lines after discharge: one finding', () => {
    const t = stay(only('check_outside_stay'))
    t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    const same = { fee_ocur_time: '2026-03-06T09:00:00+08:00', med_list_codg: CBC, pric: '20.00' }
    const f = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [1, 2, 3, 4, 5].map((i) => ({ feedetl_sn: `n${i}`, ...same })) }))
    expect(f.map((x) => x.key)).toEqual(['S1/timing'])
    expect(f[0]!.refs.feedetl_sns).toHaveLength(5)
    expect(f[0]!.amount_fen / 100).toBe(100)
  })

  it('a line before admission and one after discharge, known at different times: the one finding, revised', () => {
    const t = stay(only('check_outside_stay'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ feedetl_sn: 'early', fee_ocur_time: '2026-03-01T07:00:00+08:00', med_list_codg: CBC }] }))
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(f.map((x) => x.key)).toEqual(['S1/timing'])
    const g = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ feedetl_sn: 'late', fee_ocur_time: '2026-03-07T09:00:00+08:00', med_list_codg: BED, med_chrgitm_type: '01' }] }))
    expect(g.map((x) => [x.key, x.refs.feedetl_sns, x.evidence['reasons']])).toEqual([['S1/timing', ['early', 'late'], ['after_discharge', 'before_admission']]])
  })
})

describe('phantom-service: hours per day', () => {
  it('flags more than 24 hours of monitoring on one China day', () => {
    const t = stay(only('check_hours_per_day'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ fee_ocur_time: '2026-03-02T00:00:00+08:00', med_list_codg: MON, cnt: '20', hours: '20', pric: '5.00' }] }))
    const f = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ fee_ocur_time: '2026-03-02T20:00:00+08:00', med_list_codg: MON, cnt: '8', hours: '8', pric: '5.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`S1/${MON}/2026-03-02/hours`)
    expect(f[0]!.evidence).toMatchObject({ hours: 28 })
    expect(f[0]!.amount_fen / 100).toBe(20)
  })

  it('does not add up hours across China midnight', () => {
    const t = stay(only('check_hours_per_day'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ fee_ocur_time: '2026-03-02T01:00:00+08:00', med_list_codg: MON, hours: '20', cnt: '20' }] }))
    // 2026-03-02T17:00Z is 01:00 on 3 March in China.
    expect(t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ fee_ocur_time: '2026-03-02T17:00:00Z', med_list_codg: MON, hours: '20', cnt: '20' }] }))).toEqual([])
  })
})

describe('phantom-service: bed days', () => {
  it('flags more bed days than days in the stay at discharge (admission day counted, discharge day not)', () => {
    const t = stay(only('check_bed_days'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [bed('2026-03-01T12:00:00+08:00', '5')] }))
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe('S1/bed-days')
    expect(f[0]!.evidence).toMatchObject({ bed_days_billed: 5, days_in_stay: 4 })
    expect(f[0]!.amount_fen / 100).toBe(50)
  })

  it('accepts it when the discharge day is billable', () => {
    const t = stay({ ...only('check_bed_days'), count_discharge_day: true })
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [bed('2026-03-01T12:00:00+08:00', '5')] }))
    expect(t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))).toEqual([])
  })

  it('counts a bed line the producer coded 05 when the catalog classes the item 01 (catalog first)', () => {
    const t = stay(only('check_bed_days'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [bed('2026-03-01T12:00:00+08:00', '5', { med_chrgitm_type: '05' })] }))
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(f.map((x) => [x.key, x.evidence['bed_days_billed'], x.evidence['days_in_stay']])).toEqual([['S1/bed-days', 5, 4]])
  })

  it('does not count a line coded 01 whose catalog item is not a bed item; counts an uncatalogued item by its line code', () => {
    const t = stay(only('check_bed_days'))
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ fee_ocur_time: '2026-03-01T12:00:00+08:00', med_list_codg: CBC, med_chrgitm_type: '01', cnt: '5' }] }))
    expect(t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))).toEqual([])
    const u = stay(only('check_bed_days'))
    u.push(feeUploaded({ mdtrt_id: 'S1', lines: [bed('2026-03-01T12:00:00+08:00', '5', { med_list_codg: '001101000099999' })] }))
    expect(u.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' })).map((x) => x.key)).toEqual(['S1/bed-days'])
  })

  it('leaves a bed line dated after the discharge to the timing finding: one fact, one finding, counted once', () => {
    const t = stay({ ...only('check_bed_days'), check_outside_stay: true })
    t.push(feeUploaded({ mdtrt_id: 'S1', lines: [bed('2026-03-01T12:00:00+08:00', '4'), { ...bed('2026-03-06T08:30:00+08:00', '1'), feedetl_sn: 'late' }] }))
    const f = t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(f.map((x) => [x.key, x.refs.feedetl_sns])).toEqual([['S1/timing', ['late']]])
    // Without the timing check the same line is a bed day beyond the stay.
    const u = stay(only('check_bed_days'))
    u.push(feeUploaded({ mdtrt_id: 'S1', lines: [bed('2026-03-01T12:00:00+08:00', '4'), bed('2026-03-06T08:30:00+08:00', '1')] }))
    expect(u.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' })).map((x) => x.key)).toEqual(['S1/bed-days'])
  })

  it('flags an open stay billing more days than have begun', () => {
    const t = stay(only('check_bed_days'))
    const f = t.push(feeUploaded({ mdtrt_id: 'S1', event_time: '2026-03-02T12:00:00+08:00', lines: [bed('2026-03-02T08:00:00+08:00', '3')] }))
    expect(f[0]!.evidence).toMatchObject({ bed_days_billed: 3, days_in_stay: 2, stay_closed: false })
  })
})

describe('phantom-service: outpatient lines while inpatient elsewhere', () => {
  it('flags pharmacy purchases during a stay at another institution, with the visit total inside the stay', () => {
    const t = stay(only('check_outpatient_during_stay'))
    t.push(visitOpened({ mdtrt_id: 'P1', begntime: '2026-03-03T09:00:00+08:00', med_type: '41', fixmedins_code: PHARMACY }))
    const a = t.push(feeUploaded({ mdtrt_id: 'P1', fixmedins_code: PHARMACY, lines: [{ fee_ocur_time: '2026-03-03T09:05:00+08:00', med_list_codg: CBC, pric: '30.00' }] }))
    const b = t.push(feeUploaded({ mdtrt_id: 'P1', fixmedins_code: PHARMACY, lines: [{ fee_ocur_time: '2026-03-03T09:15:00+08:00', med_list_codg: CBC, pric: '12.00' }] }))
    expect(a[0]!.key).toBe('P1/during/S1')
    expect(b[0]!.key).toBe('P1/during/S1')
    expect(b[0]!.amount_fen / 100).toBe(42)
  })

  it('does not flag visits after the discharge, at the same institution, or within the tolerance of admission', () => {
    const t = stay(only('check_outpatient_during_stay'))
    t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-05T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    t.push(visitOpened({ mdtrt_id: 'O1', begntime: '2026-03-06T09:00:00+08:00', med_type: '11', fixmedins_code: HOSPITAL_2 }))
    expect(t.push(feeUploaded({ mdtrt_id: 'O1', fixmedins_code: HOSPITAL_2, lines: [{ fee_ocur_time: '2026-03-06T09:05:00+08:00', med_list_codg: CBC }] }))).toEqual([])
    t.push(visitOpened({ mdtrt_id: 'O2', begntime: '2026-03-03T09:00:00+08:00', med_type: '11', fixmedins_code: HOSPITAL }))
    expect(t.push(feeUploaded({ mdtrt_id: 'O2', fixmedins_code: HOSPITAL, lines: [{ fee_ocur_time: '2026-03-03T09:05:00+08:00', med_list_codg: CBC }] }))).toEqual([])
    t.push(visitOpened({ mdtrt_id: 'O3', begntime: '2026-03-01T09:00:00+08:00', med_type: '13', fixmedins_code: HOSPITAL_2 }))
    expect(t.push(feeUploaded({ mdtrt_id: 'O3', fixmedins_code: HOSPITAL_2, lines: [{ fee_ocur_time: '2026-03-01T09:30:00+08:00', med_list_codg: CBC }] }))).toEqual([])
  })
})

describe('phantom-service: overlapping stays', () => {
  it('flags two stays at different institutions once the later one shows presence inside the earlier, keyed by both ids', () => {
    const t = stay(only('check_overlapping_stays'))
    t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-06T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    // An admission alone is not yet presence: the person may have been sent straight on.
    expect(t.push(visitOpened({ mdtrt_id: 'S2', begntime: '2026-03-03T10:00:00+08:00', fixmedins_code: HOSPITAL_2 }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'S2', fixmedins_code: HOSPITAL_2, lines: [bed('2026-03-04T08:00:00+08:00', '1')] }))
    expect(f.map((x) => [x.key, x.amount_fen / 100])).toEqual([['S1~S2', 50]])
    expect(f[0]!.evidence).toMatchObject({ overlap_hours: 22, overlap_from: '2026-03-03T10:00:00+08:00', overlap_to: '2026-03-04T08:00:00+08:00' })
    expect(f[0]!.subject.mdtrt_id).toBe('S2')
    const g = t.push(visitClosed({ mdtrt_id: 'S2', endtime: '2026-03-08T10:00:00+08:00', dscg_maindiag_code: 'J18.900' }))
    expect(g.map((x) => [x.key, x.evidence['overlap_hours']])).toEqual([['S1~S2', 72]])
  })

  it('accepts a transfer: discharge and admission a few hours apart or overlapping within the tolerance', () => {
    const t = stay(only('check_overlapping_stays'))
    t.push(visitClosed({ mdtrt_id: 'S1', endtime: '2026-03-06T10:00:00+08:00', dscg_way: '2', dscg_maindiag_code: 'J18.900' }))
    expect(t.push(visitOpened({ mdtrt_id: 'S2', begntime: '2026-03-06T02:00:00+08:00', fixmedins_code: HOSPITAL_2 }))).toEqual([])
  })

  it('uses the latest line as the end of a stay whose discharge is not known yet', () => {
    const t = stay(only('check_overlapping_stays'))
    t.push(visitOpened({ mdtrt_id: 'S2', begntime: '2026-03-03T10:00:00+08:00', fixmedins_code: HOSPITAL_2 }))
    expect(t.push(feeUploaded({ mdtrt_id: 'S2', fixmedins_code: HOSPITAL_2, lines: [{ fee_ocur_time: '2026-03-04T08:00:00+08:00', med_list_codg: CBC }] }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'S1', lines: [{ fee_ocur_time: '2026-03-05T10:00:00+08:00', med_list_codg: CBC }] }))
    expect(f.map((x) => x.key)).toEqual(['S1~S2'])
    expect(f[0]!.evidence['overlap_hours']).toBe(22)
  })
})
