import { describe, expect, it } from 'vitest'
import detector from './index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'

const INSULIN = 'XA10ABA001' // 门慢: diabetes E10–E14
const ANY_CHRONIC = 'XB01ACA001' // chronic-only without named indications
const kb = makeKb({
  catalog: [
    item(INSULIN, { name: '胰岛素注射液', list_type: 'drug', med_chrgitm_type: '09', chronic_only: true, indications: ['E10', 'E11', 'E14'] }),
    item(ANY_CHRONIC, { name: '慢病通用药', list_type: 'drug', med_chrgitm_type: '09', chronic_only: true }),
    item('PLAIN', { list_type: 'drug', med_chrgitm_type: '09' }),
  ],
  persons: [
    { psn_no: 'PSNDIAB001', gend: '1', brdy: '1960-01-01', chronic_diseases: ['E11'] },
    { psn_no: 'PSNHYPER01', gend: '2', brdy: '1955-01-01', chronic_diseases: ['I10'] },
  ],
  diagnoses: [{ diag_code: 'I10', name: '高血压', chronic: true }],
})
const drug = (code: string, sn = 'L1') => ({ feedetl_sn: sn, fee_ocur_time: '2026-03-02T09:10:00+08:00', med_list_codg: code, list_type: 'drug' as const, med_chrgitm_type: '09', pric: '66.00' })

function visit(psn_no: string, diag: string[] = [], params = {}, med_type = '14') {
  const t = new Timeline(detector, kb, params, psn_no)
  t.push(visitOpened({ mdtrt_id: 'V1', psn_no, begntime: '2026-03-02T09:00:00+08:00', med_type, diagnoses: diag.map((diag_code) => ({ diag_code })) }))
  return t
}
const upload = (t: Timeline<typeof detector.params>, psn_no: string, lines: ReturnType<typeof drug>[]) => t.push(feeUploaded({ mdtrt_id: 'V1', psn_no, lines }))

describe('chronic-disease-abuse', () => {
  it('flags insulin for a person registered only for hypertension with no diabetes diagnosis, at the line amount', () => {
    const f = upload(visit('PSNHYPER01', ['I10.x00']), 'PSNHYPER01', [drug(INSULIN), drug('PLAIN', 'L2')])
    expect(f.map((x) => x.key)).toEqual([`V1/item/${INSULIN}/chronic`])
    expect(f[0]!.amount_fen / 100).toBe(66)
    expect(f[0]!.evidence).toMatchObject({ registered_chronic_diseases: ['I10'], person_in_registry: true })
  })

  it('accepts it for a person registered for diabetes (prefix either way)', () => {
    expect(upload(visit('PSNDIAB001'), 'PSNDIAB001', [drug(INSULIN)])).toEqual([])
  })

  it('accepts a matching diagnosis on an ordinary visit unless registration is required', () => {
    expect(upload(visit('PSNHYPER01', ['E11.900'], {}, '11'), 'PSNHYPER01', [drug(INSULIN)])).toEqual([])
    expect(upload(visit('PSNHYPER01', ['E11.900'], { accept_visit_diagnosis: false }, '11'), 'PSNHYPER01', [drug(INSULIN)])).toHaveLength(1)
  })

  it('on a 门诊慢特病 visit (med_type 14) the disease coded on the visit does not replace the registration', () => {
    const f = upload(visit('PSNHYPER01', ['E11.900']), 'PSNHYPER01', [drug(INSULIN)])
    expect(f.map((x) => x.key)).toEqual([`V1/item/${INSULIN}/chronic`])
  })

  it('flags a person missing from the registry with no matching diagnosis, saying so', () => {
    const f = upload(visit('PSNNOBODY1', ['J06.900']), 'PSNNOBODY1', [drug(INSULIN)])
    expect(f[0]!.evidence['person_in_registry']).toBe(false)
  })

  it('for a chronic-only drug naming no disease, accepts any registration or a KB chronic diagnosis', () => {
    expect(upload(visit('PSNHYPER01'), 'PSNHYPER01', [drug(ANY_CHRONIC)])).toEqual([])
    expect(upload(visit('PSNNOBODY1', ['I10.x00'], {}, '11'), 'PSNNOBODY1', [drug(ANY_CHRONIC)])).toEqual([])
    expect(upload(visit('PSNNOBODY1', ['J06.900']), 'PSNNOBODY1', [drug(ANY_CHRONIC)])).toHaveLength(1)
  })

  it('skips reversed lines and visits outside med_types; a redelivery keeps its key', () => {
    const t = visit('PSNHYPER01')
    const ev = feeUploaded({ mdtrt_id: 'V1', psn_no: 'PSNHYPER01', lines: [drug(INSULIN)] })
    expect(t.push(ev).map((f) => f.key)).toEqual(t.push(ev).map((f) => f.key))
    t.push(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['L1'], time: '2026-03-02T10:00:00+08:00' }))
    expect(t.push(ev)).toEqual([])
    expect(upload(visit('PSNHYPER01', [], { med_types: ['14'] }), 'PSNHYPER01', [drug(INSULIN)])).toHaveLength(1)
    expect(upload(visit('PSNHYPER01', [], { med_types: ['11'] }), 'PSNHYPER01', [drug(INSULIN)])).toEqual([])
  })
})

describe('chronic-disease-abuse: one finding per fact', () => {
  it('N identical lines of a chronic-only drug give one finding for the item', () => {
    const f = upload(visit('PSNHYPER01', ['I10.x00']), 'PSNHYPER01', [1, 2, 3, 4].map((i) => drug(INSULIN, `N${i}`)))
    expect(f.map((x) => x.key)).toEqual([`V1/item/${INSULIN}/chronic`])
    expect(f[0]!.refs.feedetl_sns).toEqual(['N1', 'N2', 'N3', 'N4'])
    expect(f[0]!.amount_fen / 100).toBe(264)
  })
})
