import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, HOSPITAL_2, Timeline, feeReversed, feeUploaded, institution, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const CT = '002101000010000'
const kb = makeKb({
  catalog: [item(CT, { name: 'CT平扫', med_chrgitm_type: '03', price_cap_lv1: '120.00', price_cap_lv2: '150.00', price_cap_lv3: '180.00' }), item('NOCAP')],
  institutions: [institution(HOSPITAL, { level: 3 }), institution(HOSPITAL_2, { level: 2 }), institution('H11010500003', { level: 0 })],
})
const at = '2026-03-02T09:00:00+08:00'

function timeline(code = HOSPITAL, params = {}) {
  const t = new Timeline(detector, kb, params)
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-02T08:00:00+08:00', med_type: '11', fixmedins_code: code }))
  return t
}

describe('over-standard-charge', () => {
  it('flags a price above the level-2 cap with the excess over the whole quantity', () => {
    const t = timeline(HOSPITAL_2)
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', fixmedins_code: HOSPITAL_2, lines: [{ feedetl_sn: 'L1', fee_ocur_time: at, med_list_codg: CT, cnt: '2', pric: '170.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/item/${CT}/price-cap`)
    expect(f[0]!.amount_fen / 100).toBe(40)
    expect(f[0]!.evidence).toMatchObject({ price_cap: 150, institution_level: 2, pric: 170 })
  })

  it('accepts the same price at a level-3 hospital and a price exactly at the cap', () => {
    expect(timeline(HOSPITAL).push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: CT, pric: '170.00' }] }))).toEqual([])
    expect(timeline(HOSPITAL).push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: CT, pric: '180.00' }] }))).toEqual([])
  })

  it('uses the level-1 cap for an ungraded institution', () => {
    const f = timeline('H11010500003').push(feeUploaded({ mdtrt_id: 'V1', fixmedins_code: 'H11010500003', lines: [{ fee_ocur_time: at, med_list_codg: CT, pric: '130.00' }] }))
    expect(f[0]!.evidence['price_cap']).toBe(120)
  })

  it('honours tolerance_pct', () => {
    const line = { fee_ocur_time: at, med_list_codg: CT, pric: '189.00' }
    expect(timeline(HOSPITAL, { tolerance_pct: 5 }).push(feeUploaded({ mdtrt_id: 'V1', lines: [line] }))).toEqual([])
    expect(timeline(HOSPITAL, { tolerance_pct: 4 }).push(feeUploaded({ mdtrt_id: 'V1', lines: [line] }))).toHaveLength(1)
  })

  it('skips items without a cap, unknown institutions and reversed lines', () => {
    expect(timeline().push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: 'NOCAP', pric: '9999.00' }] }))).toEqual([])
    expect(timeline('H11010599999').push(feeUploaded({ mdtrt_id: 'V1', fixmedins_code: 'H11010599999', lines: [{ fee_ocur_time: at, med_list_codg: CT, pric: '999.00' }] }))).toEqual([])
    const t = timeline()
    const ev = feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'L9', fee_ocur_time: at, med_list_codg: CT, pric: '999.00' }] })
    expect(t.push(ev).map((f) => f.key)).toEqual(t.push(ev).map((f) => f.key))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['L9'], time: at }))
    expect(t.push(ev)).toEqual([])
  })
})

describe('over-standard-charge: one finding per fact', () => {
  it('N identical over-priced lines give one finding for the item, the excesses summed', () => {
    const t = timeline(HOSPITAL_2)
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', fixmedins_code: HOSPITAL_2, lines: [1, 2, 3, 4].map((i) => ({ feedetl_sn: `N${i}`, fee_ocur_time: at, med_list_codg: CT, pric: '170.00' })) }))
    expect(f.map((x) => x.key)).toEqual([`V1/item/${CT}/price-cap`])
    expect(f[0]!.refs.feedetl_sns).toEqual(['N1', 'N2', 'N3', 'N4'])
    expect(f[0]!.amount_fen / 100).toBe(80)
  })
})
