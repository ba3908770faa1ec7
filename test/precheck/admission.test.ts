import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { feeUploaded, visitOpened } from '../helpers/detect.ts'
import { INST_A, INST_A2, fixture, people, type Fixture } from '../api/fixture.ts'

/**
 * The pre-check obeys the pipeline's admission rules (issue 8.4, 8.10): a
 * draft's sender is the caller's token, and a draft may only touch a visit its
 * sender owns — else another institution's visit would be checked, and the
 * finding filed against that institution; values that cannot be true are
 * refused as the pipeline would dead-letter them.
 */
let fx: Fixture
const at = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00+08:00`
const drug = (sn: string) => ({ feedetl_sn: sn, fee_ocur_time: at(10), med_list_codg: 'DRUG-A', list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '2', pric: '35.50' })
const p = people(1, INST_A2, 900)[0]!
const MDT = 'MDTOWN0900'

beforeAll(async () => {
  fx = await fixture()
  // A2 opened the visit and billed the drug at 10:00.
  await fx.ingest([
    visitOpened({ event_id: 'own-open-900', mdtrt_id: MDT, psn_no: p.psn_no, begntime: at(9), med_type: '11', gend: '1', brdy: p.brdy, fixmedins_code: INST_A2 }),
    feeUploaded({ event_id: 'own-fee-900', mdtrt_id: MDT, psn_no: p.psn_no, fixmedins_code: INST_A2, lines: [drug(`${MDT}-1`)] }),
  ])
})
afterAll(async () => fx?.close())

describe('pre-check admission', () => {
  it('refuses a draft that writes into another institution\'s visit (no finding against that institution)', async () => {
    // A's HIS drafts the same drug into A2's visit: before the fix, a duplicate charge "by A2".
    const draft = feeUploaded({ event_id: 'own-draft-1', mdtrt_id: MDT, psn_no: p.psn_no, fixmedins_code: INST_A, lines: [drug(`${MDT}-A1`)] })
    const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: [draft] })
    expect([res.statusCode, res.json().error]).toEqual([403, 'FORBIDDEN'])
    expect(res.json().message).toMatch(/^events\[0\]: foreign_visit/)
    expect(res.json().message).not.toContain(INST_A2)
    // An unscoped staff token trying A's claim is held to the same rule.
    expect((await fx.call('monitor', 'POST', '/api/v1/precheck', { events: [draft] })).statusCode).toBe(403)
  })

  it('lets the owner check its own visit', async () => {
    const own = feeUploaded({ event_id: 'own-draft-2', mdtrt_id: MDT, psn_no: p.psn_no, fixmedins_code: INST_A2, lines: [drug(`${MDT}-2`)] })
    const res = await fx.call('monitor', 'POST', '/api/v1/precheck', { events: [own] })
    expect(res.statusCode).toBe(200)
    expect((res.json() as { findings: { detector: { id: string }; subject: { fixmedins_code: string } }[] }).findings.map((f) => [f.detector.id, f.subject.fixmedins_code])).toEqual([['duplicate-charge', INST_A2]])
  })

  it('refuses a draft naming the visit under another person', async () => {
    const other = people(1, INST_A2, 901)[0]!
    const draft = feeUploaded({ event_id: 'own-draft-3', mdtrt_id: MDT, psn_no: other.psn_no, fixmedins_code: INST_A2, lines: [drug(`${MDT}-3`)] })
    const res = await fx.call('monitor', 'POST', '/api/v1/precheck', { events: [draft] })
    expect([res.statusCode, res.json().message]).toEqual([400, expect.stringMatching(/^events\[0\]: visit_person_mismatch/)])
  })

  it('refuses values that cannot be true with the reason the pipeline would dead-letter them with', async () => {
    const q = people(1, INST_A, 903)[0]!
    const open = visitOpened({ event_id: 'own-open-903', mdtrt_id: 'MDTOWN0903', psn_no: q.psn_no, begntime: at(9), med_type: '11', brdy: q.brdy, fixmedins_code: INST_A })
    const born = { ...open, payload: { ...open.payload, psn: { ...open.payload.psn, brdy: '2026-05-01' } } }
    const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: [born] })
    expect([res.statusCode, res.json().message]).toEqual([400, expect.stringMatching(/^events\[0\]: birth_after_visit@payload\.psn\.brdy /)])
    const stranger = { ...open, source: { fixmedins_code: 'H99999900001' } }
    const res2 = await fx.call('monitor', 'POST', '/api/v1/precheck', { events: [stranger] })
    expect([res2.statusCode, res2.json().message]).toEqual([400, expect.stringMatching(/^events\[0\]: unknown_institution /)])
  })

  it('reads no history for a draft refused before its visits are looked up; an admitted draft reads it alongside the ownership check', async () => {
    const sql: string[] = []
    const store = fx.app.store
    const query = store.query.bind(store)
    store.query = (q, ...rest) => {
      sql.push(q)
      return query(q, ...rest)
    }
    const history = () => sql.filter((q) => / FROM \S+\.(visits|fee_lines|settlements)\b/.test(q)).length
    try {
      const q = people(1, INST_A, 904)[0]!
      const open = visitOpened({ event_id: 'own-open-904', mdtrt_id: 'MDTOWN0904', psn_no: q.psn_no, begntime: at(9), med_type: '11', brdy: q.brdy, fixmedins_code: INST_A })
      const born = { ...open, payload: { ...open.payload, psn: { ...open.payload.psn, brdy: '2026-05-01' } } }
      expect((await fx.call('precheck', 'POST', '/api/v1/precheck', { events: [born] })).statusCode).toBe(400)
      const foreign = { ...open, source: { fixmedins_code: INST_A2 } }
      expect((await fx.call('precheck', 'POST', '/api/v1/precheck', { events: [foreign] })).statusCode).toBe(403)
      expect(history()).toBe(0)
      expect((await fx.call('precheck', 'POST', '/api/v1/precheck', { events: [open] })).statusCode).toBe(200)
      expect(history()).toBeGreaterThan(0)
    } finally {
      store.query = query
    }
  })

  it('a precheck token speaks for the institutions it names, not for its whole region', async () => {
    // Created through the API, so this replica knows the token at once (one made by the CLI is known within a second).
    const created = await fx.call('admin', 'POST', '/api/v1/users', { name: 'HIS-区域', role: 'precheck', admdvs: ['3707'], fixmedins_codes: [] })
    expect(created.statusCode, created.body).toBe(201)
    const token = created.json().token as string
    const q = people(1, INST_A2, 902)[0]!
    const draft = [visitOpened({ event_id: 'own-open-902', mdtrt_id: 'MDTOWN0902', psn_no: q.psn_no, begntime: at(9), med_type: '11', brdy: q.brdy, fixmedins_code: INST_A2 })]
    const res = await fx.server.inject({ method: 'POST', url: '/api/v1/precheck', headers: { authorization: `Bearer ${token}` }, payload: { events: draft } })
    expect([res.statusCode, res.json().message]).toEqual([403, expect.stringMatching(/^events\[0\]: foreign_institution/)])
  })
})
