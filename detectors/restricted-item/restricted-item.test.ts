import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { HOSPITAL, HOSPITAL_2, Timeline, feeReversed, feeUploaded, institution, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const OBST = '003111000010000' // 产科检查: women only
const PSA = '002502000010000' // 前列腺特异抗原: men only
const PAED = 'XR05CBA001' // 儿童用药: ages 0–17
const ELDER = 'XN06DXA001' // ages 60+
const LV3 = 'XL01XEA002' // 限三级医院
const PLAIN = '001201000010000'

const kb = makeKb({
  catalog: [
    item(OBST, { name: '产前检查', gend: '2' }),
    item(PSA, { name: '前列腺特异抗原测定', gend: '1', med_chrgitm_type: '04' }),
    item(PAED, { name: '小儿止咳糖浆', list_type: 'drug', med_chrgitm_type: '11', age_max: 17 }),
    item(ELDER, { name: '老年专用药', list_type: 'drug', med_chrgitm_type: '09', age_min: 60 }),
    item(LV3, { name: '靶向药', list_type: 'drug', med_chrgitm_type: '09', min_hosp_lv: 3 }),
    item(PLAIN, { name: '血常规' }),
  ],
  institutions: [institution(HOSPITAL, { level: 3 }), institution(HOSPITAL_2, { level: 2 }), institution('P11010500009', { level: 0, kind: 'pharmacy', type: '药店' })],
  persons: [{ psn_no: 'PSN00000077', gend: '2', brdy: '2015-06-10' }],
})

function open(t: Timeline<typeof detector.params>, over: Partial<Parameters<typeof visitOpened>[0]> = {}) {
  t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-01T08:00:00+08:00', med_type: '11', ...over }))
}
const at = '2026-03-02T09:00:00+08:00'

describe('restricted-item: gender', () => {
  it('flags an obstetric item billed for a man, at the line amount', () => {
    const t = new Timeline(detector, kb)
    open(t, { gend: '1' })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'L1', fee_ocur_time: at, med_list_codg: OBST, pric: '45.50' }, { fee_ocur_time: at, med_list_codg: PLAIN }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.key).toBe(`V1/item/${OBST}/restriction`)
    expect(f[0]!.amount_fen / 100).toBe(45.5)
    expect(f[0]!.evidence['restrictions']).toEqual(['gender'])
    expect(f[0]!.message.zh).toContain('限女性')
  })

  it('does not flag it for a woman, nor for an unknown gender', () => {
    const woman = new Timeline(detector, kb)
    open(woman, { gend: '2' })
    expect(woman.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: OBST }] }))).toEqual([])
    const unknown = new Timeline(detector, kb)
    open(unknown, { gend: '9' })
    expect(unknown.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: PSA }] }))).toEqual([])
  })

  it('falls back to the KB persons table when no visit.opened was seen', () => {
    const t = new Timeline(detector, kb, {}, 'PSN00000077')
    const f = t.push(feeUploaded({ mdtrt_id: 'V9', psn_no: 'PSN00000077', lines: [{ fee_ocur_time: at, med_list_codg: PSA }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.evidence['checks']).toEqual([{ restriction: 'gender', required: '1', person_gend: '2' }])
  })

  it('can be switched off', () => {
    const t = new Timeline(detector, kb, { check_gender: false })
    open(t, { gend: '1' })
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: OBST }] }))).toEqual([])
  })
})

describe('restricted-item: age', () => {
  it('flags a paediatric drug for an adult', () => {
    const t = new Timeline(detector, kb)
    open(t, { brdy: '1980-01-01' })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: PAED, list_type: 'drug', med_chrgitm_type: '11' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.evidence['checks']).toEqual([{ restriction: 'age', age_min: undefined, age_max: 17, age: 46, brdy: '1980-01-01', tolerance_years: 0 }])
  })

  it('counts age at the fee time on China days: the 18th birthday starts at China midnight', () => {
    const t = new Timeline(detector, kb)
    open(t, { brdy: '2008-03-02' })
    // 2026-03-01T16:30Z is already 2 March in China: the person is 18 and over the age_max of 17.
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [
      { feedetl_sn: 'before', fee_ocur_time: '2026-03-01T23:30:00+08:00', med_list_codg: PAED, list_type: 'drug', med_chrgitm_type: '11' },
      { feedetl_sn: 'after', fee_ocur_time: '2026-03-01T16:30:00Z', med_list_codg: PAED, list_type: 'drug', med_chrgitm_type: '11' },
    ] }))
    expect(f.map((x) => x.key)).toEqual([`V1/item/${PAED}/restriction`])
    expect(f[0]!.refs.feedetl_sns).toEqual(['after'])
  })

  it('says an open age bound in words, not as ∞ (issue 15: "限18–∞岁")', () => {
    const elder = new Timeline(detector, kb)
    open(elder, { brdy: '1980-01-01' })
    const over = elder.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: ELDER, list_type: 'drug', med_chrgitm_type: '09' }] }))
    expect(over[0]!.message.zh).toContain('限60岁及以上使用')
    expect(over[0]!.message.en).toContain('restricted to ages 60 and over')
    const child = new Timeline(detector, kb)
    open(child, { brdy: '1980-01-01' })
    const under = child.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: PAED, list_type: 'drug', med_chrgitm_type: '11' }] }))
    expect(under[0]!.message.zh).toContain('限17岁及以下使用')
    expect(under[0]!.message.en).toContain('restricted to ages 17 and under')
    for (const f of [...over, ...under]) expect(`${f.message.zh}${f.message.en}`).not.toContain('∞')
  })

  it('honours age_tolerance_years on the lower bound', () => {
    const line = { fee_ocur_time: at, med_list_codg: ELDER, list_type: 'drug' as const, med_chrgitm_type: '09' }
    const strict = new Timeline(detector, kb)
    open(strict, { brdy: '1967-01-01' }) // 59
    expect(strict.push(feeUploaded({ mdtrt_id: 'V1', lines: [line] }))).toHaveLength(1)
    const loose = new Timeline(detector, kb, { age_tolerance_years: 1 })
    open(loose, { brdy: '1967-01-01' })
    expect(loose.push(feeUploaded({ mdtrt_id: 'V1', lines: [line] }))).toEqual([])
  })

  it('does not flag a child within range', () => {
    const t = new Timeline(detector, kb)
    open(t, { brdy: '2020-01-01' })
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: PAED, list_type: 'drug', med_chrgitm_type: '11' }] }))).toEqual([])
  })
})

describe('restricted-item: institution level', () => {
  it('flags a level-3 drug at a level-2 hospital', () => {
    const t = new Timeline(detector, kb)
    t.push(visitOpened({ mdtrt_id: 'V2', begntime: '2026-03-01T08:00:00+08:00', fixmedins_code: HOSPITAL_2 }))
    const f = t.push(feeUploaded({ mdtrt_id: 'V2', fixmedins_code: HOSPITAL_2, lines: [{ fee_ocur_time: at, med_list_codg: LV3, list_type: 'drug', med_chrgitm_type: '09', pric: '1200.00' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.evidence['checks']).toEqual([{ restriction: 'hosp_level', min_hosp_lv: 3, institution_level: 2 }])
    expect(f[0]!.subject.fixmedins_code).toBe(HOSPITAL_2)
  })

  it('treats an ungraded institution as level 1', () => {
    const t = new Timeline(detector, kb)
    t.push(visitOpened({ mdtrt_id: 'V3', begntime: '2026-03-01T08:00:00+08:00', fixmedins_code: 'P11010500009', med_type: '41' }))
    const f = t.push(feeUploaded({ mdtrt_id: 'V3', fixmedins_code: 'P11010500009', lines: [{ fee_ocur_time: at, med_list_codg: LV3, list_type: 'drug', med_chrgitm_type: '09' }] }))
    expect(f[0]!.message.en).toContain('ungraded')
  })

  it('does not flag it at a level-3 hospital, nor at an institution missing from the KB', () => {
    const t = new Timeline(detector, kb)
    open(t)
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: LV3, list_type: 'drug', med_chrgitm_type: '09' }] }))).toEqual([])
    const u = new Timeline(detector, kb)
    u.push(visitOpened({ mdtrt_id: 'V4', begntime: '2026-03-01T08:00:00+08:00', fixmedins_code: 'H11010599999' }))
    expect(u.push(feeUploaded({ mdtrt_id: 'V4', fixmedins_code: 'H11010599999', lines: [{ fee_ocur_time: at, med_list_codg: LV3, list_type: 'drug', med_chrgitm_type: '09' }] }))).toEqual([])
  })
})

describe('restricted-item: lines and redelivery', () => {
  it('reports several restrictions of one line in one finding', () => {
    const both = makeKb({ catalog: [item('X1', { gend: '2', age_max: 17 })], institutions: [institution(HOSPITAL)] })
    const t = new Timeline(detector, both)
    open(t, { gend: '1', brdy: '1970-01-01' })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: 'X1' }] }))
    expect(f).toHaveLength(1)
    expect(f[0]!.evidence['restrictions']).toEqual(['gender', 'age'])
  })

  it('does not re-report old lines, skips reversed ones and keys a redelivery the same', () => {
    const t = new Timeline(detector, kb)
    open(t, { gend: '1' })
    const ev = feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'L1', fee_ocur_time: at, med_list_codg: OBST }] })
    const first = t.push(ev)
    expect(t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: at, med_list_codg: PLAIN }] }))).toEqual([])
    expect(t.push(ev).map((f) => f.key)).toEqual(first.map((f) => f.key))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['L1'], time: at }))
    expect(t.push(ev)).toEqual([])
  })
})

describe('restricted-item: one finding per fact', () => {
  it('N identical lines of a restricted item give one finding for the item, listing them all', () => {
    const t = new Timeline(detector, kb)
    open(t, { gend: '1' })
    const f = t.push(feeUploaded({ mdtrt_id: 'V1', lines: [1, 2, 3, 4, 5].map((i) => ({ feedetl_sn: `N${i}`, fee_ocur_time: at, med_list_codg: OBST, pric: '45.50' })) }))
    expect(f.map((x) => x.key)).toEqual([`V1/item/${OBST}/restriction`])
    expect(f[0]!.refs.feedetl_sns).toEqual(['N1', 'N2', 'N3', 'N4', 'N5'])
    expect(f[0]!.amount_fen / 100).toBe(227.5)
  })
})
