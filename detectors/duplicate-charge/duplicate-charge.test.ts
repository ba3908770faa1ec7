import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const kb = makeKb({
  catalog: [
    item('001201000010000', { name: '血常规' }),
    item('001102000010000', { name: '一级护理', med_chrgitm_type: '07', exclusive_group: 'nursing-level', time_unit: 'day' }),
    item('001102000020000', { name: '二级护理', med_chrgitm_type: '07', exclusive_group: 'nursing-level', time_unit: 'day' }),
    item('001102000030000', { name: '三级护理', med_chrgitm_type: '07', exclusive_group: 'nursing-level', time_unit: 'day' }),
    item('003105000010000', { name: '心电监护', time_unit: 'hour' }),
  ],
})
const CBC = '001201000010000'
const N1 = '001102000010000'
const N2 = '001102000020000'
const N3 = '001102000030000'
const ECG = '003105000010000'

function timeline(params = {}) {
  const t = new Timeline(detector, kb, params)
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-01T08:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }))
  return t
}

describe('duplicate-charge: same item, same service time', () => {
  it('flags the second billing of an item at the same fee_ocur_time, with the duplicate amount', () => {
    const t = timeline()
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'A1', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC, pric: '25.00' }] }))).toEqual([])
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'A2', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC, pric: '25.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.amount_fen / 100).toBe(25)
    expect(f[0]!.refs.feedetl_sns).toEqual(['A1', 'A2'])
    expect(f[0]!.evidence).toMatchObject({ rule: 'same_item_same_time', times_billed: 2, kept_feedetl_sn: 'A1', duplicate_feedetl_sns: ['A2'] })
    expect(f[0]!.subject).toMatchObject({ mdtrt_id: 'V1', fixmedins_code: 'H11010500001' })
  })

  it('flags duplicates within one upload too', () => {
    const t = timeline()
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { feedetl_sn: 'A1', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC, pric: '25.00' },
      { feedetl_sn: 'A2', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC, pric: '25.00' },
      { feedetl_sn: 'A3', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC, pric: '25.00' },
    ] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.amount_fen / 100).toBe(50)
  })

  it('does not flag the same item at different times (hourly monitoring billed hour by hour)', () => {
    const t = timeline()
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: ECG, cnt: '1', hours: '1', pric: '8.00' },
      { fee_ocur_time: '2026-03-02T10:00:00+08:00', med_list_codg: ECG, cnt: '1', hours: '1', pric: '8.00' },
      { fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC, pric: '25.00' },
    ] }))
    expect(f).toEqual([])
  })

  it('does not count reversed lines, and a reversal before a redelivery keeps them out', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'A1', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC }] }))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['A1'], time: '2026-03-02T09:30:00+08:00' }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'A2', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC }] }))).toEqual([])
  })

  it('does not re-report an old duplicate when unrelated lines arrive later', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC },
      { fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC },
    ] }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-03T09:00:00+08:00', med_list_codg: CBC }] }))).toEqual([])
  })

  it('gives a redelivered event the same key and amount', () => {
    const t = timeline()
    const ev = feeUploaded({ mdtrt_id: 'V1', lines: [
      { feedetl_sn: 'A1', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC },
      { feedetl_sn: 'A2', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC },
    ] })
    const first = t.push(ev)
    const again = t.push(ev)
    expect(again.map((f) => [f.key, f.amount_fen / 100])).toEqual(first.map((f) => [f.key, f.amount_fen / 100]))
    expect(first).toHaveLength(1)
  })

  it('gives the same key whichever of the two lines arrives first', () => {
    const a = { feedetl_sn: 'A1', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC }
    const b = { feedetl_sn: 'A2', fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: CBC }
    const t1 = timeline()
    t1.push(feeUploaded({ mdtrt_id: 'V1', lines: [a] }))
    const k1 = t1.push(feeUploaded({ mdtrt_id: 'V1', lines: [b] }))
    const t2 = timeline()
    t2.push(feeUploaded({ mdtrt_id: 'V1', lines: [b] }))
    const k2 = t2.push(feeUploaded({ mdtrt_id: 'V1', lines: [a] }))
    expect(k1[0]!.key).toBe(k2[0]!.key)
    expect(k1[0]!.evidence['kept_feedetl_sn']).toBe(k2[0]!.evidence['kept_feedetl_sn'])
  })

  it('honours list_types: drugs left out of the same-time check', () => {
    const t = timeline({ list_types: ['service'] })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: 'XA01', list_type: 'drug', med_chrgitm_type: '09' },
      { fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: 'XA01', list_type: 'drug', med_chrgitm_type: '09' },
    ] }))
    expect(f).toEqual([])
  })
})

describe('duplicate-charge: mutually exclusive items on one day', () => {
  it('flags 一级护理 and 二级护理 on the same China day, at the cheaper amount', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'N1', fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: N1, pric: '30.00' }] }))
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'N2', fee_ocur_time: '2026-03-02T20:00:00+08:00', med_list_codg: N2, pric: '18.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe('V1/exclusive/nursing-level/2026-03-02')
    expect(f[0]!.amount_fen / 100).toBe(18)
    expect(f[0]!.evidence).toMatchObject({ rule: 'exclusive_same_day', day: '2026-03-02', med_list_codgs: [N1, N2] })
  })

  it('does not flag them on different China days, even within 24 hours across midnight', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T23:30:00+08:00', med_list_codg: N1 }] }))
    // 2026-03-02T16:30Z is 00:30 on 3 March in China: a UTC-day grouping would wrongly join them.
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T16:30:00Z', med_list_codg: N2 }] }))).toEqual([])
  })

  it('joins lines of one China day even when UTC puts them on different days', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T07:00:00+08:00', med_list_codg: N1 }] }))
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T09:00:00+08:00', med_list_codg: N2 }] }))
    expect(f).toHaveLength(1)
  })

  it('does not treat the same item twice on a day as exclusive', () => {
    const t = timeline({ check_same_time: false })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: N1 },
      { fee_ocur_time: '2026-03-02T20:00:00+08:00', med_list_codg: N1 },
    ] }))
    expect(f).toEqual([])
  })

  it('ignores a reversed exclusive line', () => {
    const t = timeline()
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'N1', fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: N1 }] }))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['N1'], time: '2026-03-02T09:00:00+08:00' }))
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T20:00:00+08:00', med_list_codg: N2 }] }))).toEqual([])
  })

  it('keeps one key per group and day as a third item arrives, the amount growing', () => {
    const t = timeline()
    const a = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: N1, pric: '30.00' },
      { fee_ocur_time: '2026-03-02T12:00:00+08:00', med_list_codg: N2, pric: '18.00' },
    ] }))
    const b = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-02T20:00:00+08:00', med_list_codg: N3, pric: '10.00' }] }))
    expect(b[0]!.key).toBe(a[0]!.key)
    expect(a[0]!.amount_fen / 100).toBe(18)
    expect(b[0]!.amount_fen / 100).toBe(28)
  })

  it('can be switched off', () => {
    const t = timeline({ check_exclusive: false })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { fee_ocur_time: '2026-03-02T08:00:00+08:00', med_list_codg: N1 },
      { fee_ocur_time: '2026-03-02T12:00:00+08:00', med_list_codg: N2 },
    ] }))
    expect(f).toEqual([])
  })
})

describe('duplicate-charge: parameters', () => {
  it('rejects unknown parameters', () => {
    expect(() => detector.params.parse({ check_same_tme: true })).toThrow()
  })
})
