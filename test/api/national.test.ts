import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent, EventOf } from '../../schemas/index.ts'
import { NationalAnalysisResponse, National3101Request, National3102Request, NationalResponseEnvelope } from '../../schemas/national.ts'
import { nationalRule } from '../../src/detect/rulebase.ts'
import { feeUploaded, item, makeKb, visitOpened } from '../helpers/detect.ts'
import { INST_A, INST_A2, eventsFor, fixture, kb, people, type Fixture, type Person } from './fixture.ts'

/**
 * 3101 / 3102 as fundwatch answers them: the national request runs through
 * the pre-check (the same draft, the same detectors, the same alert ids as
 * POST /api/v1/precheck) and is answered in the national response envelope;
 * every refusal is in national form.
 */
let fx: Fixture
const STENT = 'CONS-STENT'
beforeAll(async () => {
  fx = await fixture()
  // The fixture's knowledge base and one high-value consumable that needs a PCI (36.06…).
  fx.app.setKb(makeKb({
    institutions: [...kb.institutions.values()],
    catalog: [...kb.catalog.values(), item(STENT, { name: '冠脉支架', list_type: 'consumable', med_chrgitm_type: '08', high_value: true, oprn_prefixes: ['36.06'] })],
  }))
})
afterAll(async () => fx?.close())

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'national', 'samples')
const sample = (infno: string) => (JSON.parse(readFileSync(join(FIXTURES, `${infno}.json`), 'utf8')) as { request: Record<string, unknown> }).request

interface Result {
  jr_id: string; rule_id: string; rule_name: string; sev_deg: string; vola_amt: number; vola_amt_stas: string; vola_bhvr_type: string; task_id?: string
  patn_id: string; mdtrt_id?: string
  judge_result_detail_dtos: { rx_id?: string; vola_item_type: string; vola_amt: number }[]
  expContent: { detector: string; result: string; severity: string; stage: string; evidence: Record<string, unknown> }
}
interface Answer { infcode: number; err_msg: string; inf_refmsgid: string; output?: { result: Result[] } }
interface Finding { alert_id: string; detector: { id: string }; result: string; severity: string; stage: string }

const cn = (iso: string) => iso.slice(0, 19).replace('T', ' ')

/**
 * The national request an HIS would send for a contract draft (visit.opened +
 * fee.uploaded of one person): the visit as the current encounter, each line
 * as an order whose rx_id is the line's feedetl_sn.
 */
function nationalOf(infno: '3101' | '3102', p: Person, draft: AnyEvent[], data: Record<string, unknown> = {}, env: Record<string, unknown> = {}): Record<string, unknown> {
  const open = draft.find((e) => e.event_type === 'visit.opened') as EventOf<'visit.opened'>
  const lines = draft.filter((e): e is EventOf<'fee.uploaded'> => e.event_type === 'fee.uploaded').flatMap((e) => e.payload.lines)
  const v = open.payload
  return {
    infno, msgid: `${INST_A}20260302140000${infno === '3101' ? '0001' : '0002'}`, mdtrtarea_admvs: '370702', insuplc_admdvs: v.insuplc_admdvs,
    recer_sys_code: 'FSI_LOCAL', infver: 'V1.0', opter_type: '1', opter: 'D01', opter_name: '医生', inf_time: '2026-03-02 13:00:00',
    fixmedins_code: open.source.fixmedins_code, fixmedins_name: '潍坊市第一医院', ...env,
    input: {
      data: {
        syscode: 'HIS01', rule_ids: [], task_id: 'T0001', trig_scen: infno === '3101' ? '2' : '7', ...data,
        patient_dtos: [{
          patn_id: p.psn_no, patn_name: p.psn_name, gend: v.psn!.gend, brdy: v.psn!.brdy, poolarea: v.insuplc_admdvs, curr_mdtrt_id: v.mdtrt_id,
          fsi_encounter_dtos: [{
            mdtrt_id: v.mdtrt_id, medins_id: open.source.fixmedins_code, medins_name: '潍坊市第一医院', medins_admdvs: '370702', medins_type: '1', medins_lv: '05',
            adm_date: cn(v.begntime), dscg_date: cn(v.begntime), dscg_main_dise_codg: v.diagnoses[0]!.diag_code, dscg_main_dise_name: v.diagnoses[0]!.diag_name,
            fsi_diagnose_dtos: v.diagnoses.map((d, i) => ({ dise_id: `ZD${i}`, inout_dise_type: '1', maindise_flag: d.maindiag_flag, dias_srt_no: String(i + 1), dise_codg: d.diag_code, dise_name: d.diag_name, dise_date: cn(v.begntime) })),
            dr_codg: v.atddr_no, adm_dept_codg: v.adm_dept_codg, adm_dept_name: '内科', dscg_dept_codg: v.adm_dept_codg, dscg_dept_name: '内科', med_mdtrt_type: '1', med_type: v.med_type,
            fsi_order_dtos: lines.map((l) => ({
              rx_id: l.feedetl_sn, rxno: 'RX1', long_drord_flag: '0', hilist_type: '101', chrg_type: l.med_chrgitm_type, drord_bhvr: '0',
              hilist_code: l.med_list_codg, hilist_name: l.med_list_codg, hilist_lv: '01', hilist_pric: Number(l.pric), hosplist_code: l.medins_list_codg, hosplist_name: l.med_list_codg,
              cnt: Number(l.cnt), pric: Number(l.pric), sumamt: Number(l.det_item_fee_sumamt), ownpay_amt: 0, selfpay_amt: 0, spec: '-', spec_unt: '盒',
              drord_begn_date: cn(l.fee_ocur_time), drord_dept_codg: l.bilg_dept_codg, drord_dept_name: '内科', drord_dr_codg: l.bilg_dr_codg, drord_dr_name: '医生', drord_dr_profttl: '234', curr_drord_flag: '1',
            })),
            matn_stas: '0', medfee_sumamt: 0, ownpay_amt: 0, selfpay_amt: 0, setl_totlnum: 0, insutype: v.insutype, reim_flag: '1', out_setl_flag: '0', fsi_operation_dtos: [],
          }],
        }],
      },
    },
  }
}

const national = async (url: string, body: unknown, who: 'precheck' | 'monitor' | null = 'precheck') => fx.call(who, 'POST', url, body)
const answer = (res: { json(): unknown }) => res.json() as Answer
/** A refusal: national form (infcode -1, err_msg, no output), valid against the response envelope schema. */
function refused(res: { statusCode: number; json(): unknown }, status = 200): string {
  expect(res.statusCode).toBe(status)
  const a = answer(res)
  expect(NationalResponseEnvelope.safeParse(a).success).toBe(true)
  expect(a.infcode).toBe(-1)
  expect(a.output).toBeUndefined()
  expect(a.err_msg).not.toBe('')
  return a.err_msg
}
const sorted = (xs: [string, string][]) => [...xs].sort((a, b) => a.join().localeCompare(b.join()))

describe('national 3101 / 3102', () => {
  it('answers the samples\' 3101 and 3102 requests (valid against the request schemas) with a response valid against the response schema', async () => {
    for (const [infno, schema] of [['3101', National3101Request], ['3102', National3102Request]] as const) {
      const req = sample(infno)
      expect(schema.safeParse(req).success).toBe(true)
      for (const url of [`/api/v1/national/${infno}`, '/api/v1/national']) {
        const res = await national(url, req)
        expect(res.statusCode).toBe(200)
        const a = answer(res)
        expect([a.infcode, a.err_msg]).toEqual([0, ''])
        expect(NationalAnalysisResponse.safeParse(a).success).toBe(true)
        expect(a.inf_refmsgid).toMatch(/^370700\d{14}\d{10}$/)
        expect(Array.isArray(a.output?.result)).toBe(true)
      }
    }
  })

  it('3101 finds what POST /api/v1/precheck finds for the same draft: same alert ids (= the 事中 alerts\' ids), same detectors', async () => {
    const p = people(1, INST_A, 900)[0]!
    const draft = eventsFor(p, 2, 'nat').slice(0, 2)
    const pre = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: draft })
    expect(pre.statusCode).toBe(200)
    const findings = (pre.json() as { findings: Finding[] }).findings
    expect(findings.map((f) => f.detector.id).sort()).toEqual(['duplicate-charge', 'restricted-item', 'restricted-item'])

    const res = await national('/api/v1/national/3101', nationalOf('3101', p, draft))
    expect(res.statusCode).toBe(200)
    const a = answer(res)
    expect(a.infcode).toBe(0)
    expect(NationalAnalysisResponse.safeParse(a).success).toBe(true)
    const results = a.output!.result
    expect(sorted(results.map((r) => [r.jr_id, r.expContent.detector]))).toEqual(sorted(findings.map((f) => [f.alert_id, f.detector.id])))
    for (const r of results) {
      const rule = nationalRule(r.expContent.detector)!
      expect([r.rule_id, r.rule_name, r.vola_bhvr_type, r.patn_id, r.task_id, r.expContent.stage]).toEqual([rule.rule_id, rule.rule_name, rule.vola_bhvr_type, p.psn_no, 'T0001', 'pre'])
      expect(r.sev_deg).toBe('1') // violations: 明确违规
      expect(r.vola_amt_stas).toBe('1')
      // Every line named is one of the request's current orders: a 违规项 carrying the finding's amount between them.
      expect(r.judge_result_detail_dtos.length).toBeGreaterThan(0)
      expect(r.judge_result_detail_dtos.every((d) => d.vola_item_type === '1' && d.rx_id?.startsWith('MDTnat'))).toBe(true)
      expect(Math.round(r.judge_result_detail_dtos.reduce((t, d) => t + d.vola_amt, 0) * 100)).toBe(Math.round(r.vola_amt * 100))
    }
    // The dispatching URL answers the same.
    const viaGateway = answer(await national('/api/v1/national', nationalOf('3101', p, draft))).output!.result
    expect(viaGateway.map((r) => r.jr_id).sort()).toEqual(results.map((r) => r.jr_id).sort())
    // Settled and streamed, the same facts raise 事中 alerts under the jr_ids.
    await fx.ingest(eventsFor(p, 2, 'nat'))
    const stored = await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String}`, { p: p.psn_no })
    expect(stored.map((r) => r.alert_id).sort()).toEqual(results.map((r) => r.jr_id).sort())
  })

  it('3102 is the 事中 stage: the same as POST /api/v1/precheck with stage in', async () => {
    const p = people(1, INST_A, 910)[0]!
    const draft = eventsFor(p, 2, 'n32').slice(0, 2)
    const pre = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: draft, stage: 'in' })
    expect(pre.statusCode).toBe(200)
    const findings = (pre.json() as { findings: Finding[] }).findings
    expect(findings.length).toBeGreaterThan(0)
    expect(findings.every((f) => f.stage === 'in')).toBe(true)
    const a = answer(await national('/api/v1/national/3102', nationalOf('3102', p, draft)))
    expect(a.infcode).toBe(0)
    expect(sorted(a.output!.result.map((r) => [r.jr_id, r.expContent.detector]))).toEqual(sorted(findings.map((f) => [f.alert_id, f.detector.id])))
    expect(a.output!.result.every((r) => r.expContent.stage === 'in')).toBe(true)
  })

  it('a detector in shadow mode is answered by neither 3101 nor 3102, nor recorded as a finding an institution could answer (issue 14)', async () => {
    const [p, q] = people(2, INST_A, 930)
    const draftOf = (x: Person) => eventsFor(x, 2, 'nsh').slice(0, 2)
    const detectors = async (infno: '3101' | '3102', x: Person) => answer(await national(`/api/v1/national/${infno}`, nationalOf(infno, x, draftOf(x)))).output!.result.map((r) => r.expContent.detector)
    const recorded = async () => Number((await fx.app.store.query<{ n: string }>(`SELECT count() AS n FROM ${fx.app.store.t('precheck_findings')} FINAL WHERE detector_id = 'duplicate-charge'`))[0]!.n)
    const before = await recorded()
    expect(await detectors('3101', p!)).toContain('duplicate-charge')
    expect(await recorded()).toBe(before + 1)
    const rules = fx.app.engine()
    try {
      expect((await fx.call('admin', 'PUT', '/api/v1/rules', { text: 'detectors:\n  duplicate-charge:\n    mode: shadow\n', reason: 'shadow test' })).statusCode).toBe(200)
      for (const infno of ['3101', '3102'] as const) {
        const found = await detectors(infno, q!)
        expect(found).toContain('restricted-item')
        expect(found).not.toContain('duplicate-charge')
      }
      expect(await recorded()).toBe(before + 1)
    } finally {
      fx.app.setEngine(rules, fx.app.rulesInForce())
    }
  })

  it('3102 at inpatient settlement (trig_scen 8) takes the discharge and its operations: the 事中 detectors judge the stay', async () => {
    const p = people(1, INST_A, 950)[0]!
    const mdtrt = 'MDTSTAY0950'
    const at = (d: number, h: number) => `2026-02-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`
    const draft = [
      visitOpened({ event_id: 'stay-open-950', mdtrt_id: mdtrt, psn_no: p.psn_no, begntime: at(20, 9), med_type: '21', gend: '1', brdy: p.brdy, fixmedins_code: INST_A, diagnoses: [{ diag_code: 'I25.100', diag_name: '冠心病' }] }),
      feeUploaded({ event_id: 'stay-fee-950', mdtrt_id: mdtrt, psn_no: p.psn_no, fixmedins_code: INST_A, lines: [{ feedetl_sn: `${mdtrt}-1`, fee_ocur_time: at(21, 10), med_list_codg: STENT, list_type: 'consumable', med_chrgitm_type: '08', pric: '5000.00' }] }),
    ]
    const stay = (scene: string, operations: unknown[]) => {
      // Only the consumable rule: the five-day stay with one line is also, rightly, a bed-holding suspicion.
      const r = nationalOf('3102', p, draft, { trig_scen: scene, rule_ids: [nationalRule('high-value-consumable')!.rule_id] }) as { input: { data: { patient_dtos: { fsi_encounter_dtos: Record<string, unknown>[] }[] } } }
      Object.assign(r.input.data.patient_dtos[0]!.fsi_encounter_dtos[0]!, { dscg_date: '2026-02-25 10:00:00', fsi_operation_dtos: operations })
      return r
    }
    const noPci = answer(await national('/api/v1/national/3102', stay('8', [])))
    expect(noPci.output!.result.map((r) => [r.expContent.detector, r.sev_deg, r.judge_result_detail_dtos.map((d) => d.rx_id)])).toEqual([['high-value-consumable', '2', [`${mdtrt}-1`]]])
    const withPci = answer(await national('/api/v1/national/3102', stay('8', [{ setl_list_oprn_id: 'OP1', oprn_code: '36.0600x001', oprn_name: 'PCI', main_oprn_flag: '1', oprn_date: '2026-02-21' }])))
    expect(withPci.output!.result).toEqual([])
    // At outpatient pre-settlement (7) the stay is not discharged: nothing to judge the consumable against yet.
    expect(answer(await national('/api/v1/national/3102', stay('7', []))).output!.result).toEqual([])
    // The discharge is required where it is read.
    const noDate = stay('9', [])
    Object.assign(noDate.input.data.patient_dtos[0]!.fsi_encounter_dtos[0]!, { dscg_date: '' })
    expect(refused(await national('/api/v1/national/3102', noDate))).toMatch(/dscg_date: missing \(required at trig_scen 8\/9/)
  })

  it('rule_ids selects the rules answered, by national rule id or detector id; an unknown rule is refused', async () => {
    const p = people(1, INST_A, 920)[0]!
    const draft = eventsFor(p, 2, 'rid').slice(0, 2)
    const dup = nationalRule('duplicate-charge')!.rule_id
    const only = answer(await national('/api/v1/national/3101', nationalOf('3101', p, draft, { rule_ids: [dup] }))).output!.result
    expect(only.map((r) => r.rule_id)).toEqual([dup])
    const byDetector = answer(await national('/api/v1/national/3101', nationalOf('3101', p, draft, { rule_ids: ['restricted-item'] }))).output!.result
    expect(byDetector.map((r) => r.expContent.detector)).toEqual(['restricted-item', 'restricted-item'])
    expect(refused(await national('/api/v1/national/3101', nationalOf('3101', p, draft, { rule_ids: ['R9999'] })))).toMatch(/^input\.data\.rule_ids: unknown rule "R9999"/)
  })

  it('shows each detector\'s national rule in the detector catalogue', async () => {
    const res = await fx.call('monitor', 'GET', '/api/v1/detectors')
    expect(res.statusCode).toBe(200)
    const list = (res.json() as { detectors: { id: string; rule_id: string; rule_name: string }[] }).detectors
    expect(list.length).toBeGreaterThan(20)
    for (const d of list) expect([d.id, d.rule_id, d.rule_name]).toEqual([d.id, nationalRule(d.id)!.rule_id, nationalRule(d.id)!.rule_name])
  })

  it('refuses another institution\'s fixmedins_code in national form', async () => {
    const p = people(1, INST_A2, 930)[0]!
    const draft = eventsFor(p, 2, 'scp').slice(0, 2)
    expect(refused(await national('/api/v1/national/3101', nationalOf('3101', p, draft)))).toMatch(/^fixmedins_code: H37070200002 — this token speaks for H37070200001/)
    // The envelope says the token's institution, the current encounter another's.
    const own = nationalOf('3101', p, draft, {}, { fixmedins_code: INST_A })
    expect(refused(await national('/api/v1/national/3101', own))).toMatch(/medins_id: the current encounter is H37070200002's, not the sender H37070200001's/)
  })

  it('refuses malformed JSON, a malformed or incomplete envelope, a wrong infno, a wrong scene and an oversized body in national form', async () => {
    const p = people(1, INST_A, 940)[0]!
    const good = nationalOf('3101', p, eventsFor(p, 2, 'bad').slice(0, 2))
    const raw = await fx.server.inject({ method: 'POST', url: '/api/v1/national/3101', headers: { authorization: `Bearer ${fx.tokens.precheck}`, 'content-type': 'application/json' }, payload: '{"infno": "3101",' })
    expect(refused(raw)).toMatch(/not valid JSON/)
    expect(refused(await national('/api/v1/national/3101', [good]))).toMatch(/not a national request envelope/)
    const { msgid: _m, ...noMsgid } = good
    expect(refused(await national('/api/v1/national/3101', noMsgid))).toBe('msgid: missing (required)')
    expect(refused(await national('/api/v1/national/3101', { ...good, inf_time: '2026-03-02T13:00:00' }))).toMatch(/^inf_time: /)
    expect(refused(await national('/api/v1/national/3102', good))).toMatch(/^infno: 3101 sent to the 3102 service/)
    expect(refused(await national('/api/v1/national', { ...good, infno: '9999' }))).toMatch(/^infno: 9999 is not a transaction fundwatch answers/)
    const input = good.input as { data: { patient_dtos: Record<string, unknown>[] } }
    const { patn_id: _p, ...noPatn } = input.data.patient_dtos[0]!
    expect(refused(await national('/api/v1/national/3101', { ...good, input: { data: { ...input.data, patient_dtos: [noPatn] } } }))).toBe('input.data.patient_dtos[0].patn_id: missing (required)')
    expect(refused(await national('/api/v1/national/3101', { ...good, input: { data: { ...input.data, trig_scen: '7' } } }))).toMatch(/trig_scen: 7 is not a scene of 3101 .*send it as 3102/)
    const big = { ...good, padding: 'x'.repeat(140 * 1024) }
    expect(refused(await national('/api/v1/national/3101', big))).toMatch(/over 128 KiB/)
    // No token: 401, still in national form.
    const anonymous = await national('/api/v1/national/3101', good, null)
    expect(refused(anonymous, 401)).toMatch(/Bearer/)
    expect(anonymous.json().error).toBe('UNAUTHORIZED')
  })
})
