import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { AnyEvent, FeeLine } from '../../schemas/index.ts'
import { SPEC } from '../../src/national/spec.ts'
import { NOT_CARRIED, TRANSACTIONS } from '../../src/national/mapping.ts'
import { decodeRecord, eventsOf, fixture, fixtureNames, line, only, reason } from './helpers.ts'

/**
 * The national adapter on its own: each provincial variant named in the
 * interface summary (§9) has a fixture in test/fixtures/national/variants and
 * a test here; then the design's rules (identity, time, person, grouping) and
 * the dead letters, with their exact reasons.
 */

describe('provincial variants', () => {
  it.each(fixtureNames('variants'))('%s maps without a dead letter', (name) => {
    expect(reason(fixture(name))).toMatch(/^ok \([1-9]/)
  })

  it('Hunan 2401 cert_type: the person is read as from psn_cert_type', () => {
    const hn = only(fixture('variants/2401-hn-cert_type'), 'visit.opened')
    const jx = only(fixture('samples/2401'), 'visit.opened')
    expect(hn.payload.psn).toEqual({ gend: '2', brdy: '1955-06-20', certno: '370703195506209981', psn_name: '李秀兰' })
    expect(hn.payload).toEqual(jx.payload)
    // A Hunan certificate type that is not a resident ID: no person from certno.
    const passport = fixture('variants/2401-hn-cert_type')
    passport.request.input.mdtrtinfo.cert_type = '08'
    expect(only(passport, 'visit.opened').payload.psn).toBeUndefined()
  })

  it('Hunan inpatient med_type 2101/2102/2106/2107 is 21', () => {
    expect(only(fixture('variants/2401-hn-med_type-2102'), 'visit.opened').payload.med_type).toBe('21')
    for (const code of ['2101', '2106', '2107']) {
      const r = fixture('samples/2403')
      r.request.input.adminfo.med_type = code
      expect(only(r, 'visit.updated').payload.med_type).toBe('21')
    }
  })

  it('Guangzhou 2401 ipt_otp_no for ipt_no, and hcard_* card data passed through', () => {
    const p = only(fixture('variants/2401-gz-ipt_otp_no'), 'visit.opened').payload as Record<string, unknown>
    expect(p.ipt_otp_no).toBe('ZY202403100012')
    expect(p.hcard_basinfo).toBe('GZ-HCARD-BASE-0001')
    expect(p.hcard_chkinfo).toBe('GZ-HCARD-CHK-0001')
    // Neither spelling: ipt_no is required in HN and JX alike.
    const none = fixture('variants/2401-gz-ipt_otp_no')
    delete none.request.input.mdtrtinfo.ipt_otp_no
    expect(reason(none)).toBe('national.missing@2401.mdtrtinfo.ipt_no')
  })

  it('Guangzhou 2201 hcard_basinfo / hcard_chkinfo pass through into the payload', () => {
    const p = only(fixture('variants/2201-gz-hcard'), 'visit.opened').payload as Record<string, unknown>
    expect(p.hcard_basinfo).toBe('GZ-HCARD-BASE-0002')
    expect(p.hcard_chkinfo).toBe('GZ-HCARD-CHK-0002')
  })

  it('envelope extras: fixmedins_soft_fcty is source.system; recer_admdvs, _api_* and enctype are accepted', () => {
    const ev = only(fixture('variants/2201-envelope-extras'), 'visit.opened')
    expect(ev.source).toEqual({ fixmedins_code: 'H37070200001', system: '示例软件有限公司' })
    expect(ev.payload).toEqual(only(fixture('samples/2201'), 'visit.opened').payload)
    expect(only(fixture('samples/2201'), 'visit.opened').source).toEqual({ fixmedins_code: 'H37070200001' })
  })

  it('Jiangxi expContent on a fee line, object and JSON string: hours read, the rest kept', () => {
    const obj = only(fixture('variants/2204-jx-expContent-object'), 'fee.uploaded').payload.lines[0]! as Record<string, unknown>
    expect(obj.hours).toBe('0.5')
    expect(obj.expContent).toEqual({ hours: '0.5', his_memo: '诊室内完成' })
    const str = only(fixture('variants/2204-jx-expContent-string'), 'fee.uploaded').payload.lines[0]! as Record<string, unknown>
    expect(str.hours).toBe('1.5')
    expect(str.expContent).toBe(fixture('variants/2204-jx-expContent-string').request.input.feedetail[0].expContent)
    expect(typeof str.expContent).toBe('string')
    // Not JSON though it looks like an object: the extension is broken, said so.
    const bad = fixture('variants/2204-jx-expContent-string')
    bad.request.input.feedetail[0].expContent = '{hours: 1'
    expect(reason(bad)).toBe('national.invalid@2204.feedetail.expContent')
    // Free text that is not meant as JSON is kept and read for nothing.
    const text = fixture('variants/2204-jx-expContent-string')
    text.request.input.feedetail[0].expContent = '自费告知已签'
    expect((only(text, 'fee.uploaded').payload.lines[0] as Record<string, unknown>).hours).toBeUndefined()
  })

  it("Jiangxi expContent on the settlement output: fundwatch's pay_grp", () => {
    expect(only(fixture('variants/2304-jx-expContent-pay_grp'), 'settlement.completed').payload.pay_grp).toEqual({ type: 'DRG', code: 'ES31', weight: '1.0512' })
  })

  it("Jiangxi expContent on the discharge: fundwatch's operations, else the printed one code dated on the discharge day", () => {
    expect(only(fixture('variants/2402-jx-expContent-operations'), 'visit.closed').payload.operations).toEqual([
      { oprn_oprt_code: '33.2400', oprn_oprt_date: '2024-03-12' },
      { oprn_oprt_code: '96.0400', oprn_oprt_date: '2024-03-11T10:30:00+08:00' },
    ])
    expect(only(fixture('variants/2402-oprn_oprt_code'), 'visit.closed').payload.operations).toEqual([{ oprn_oprt_code: '33.2400', oprn_oprt_date: '2024-03-20' }])
    expect(only(fixture('samples/2402'), 'visit.closed').payload.operations).toBeUndefined()
  })

  it('3503 manufacturer: prodentp_name (JX) or prdr_name (HN), one of them required', () => {
    expect((only(fixture('variants/3503-jx-prodentp_name'), 'inventory.movement').payload as Record<string, unknown>).prdr_name).toBe('示例制药股份有限公司')
    expect((only(fixture('samples/3503'), 'inventory.movement').payload as Record<string, unknown>).prdr_name).toBe('示例制药股份有限公司')
    const none = fixture('samples/3503')
    delete none.request.input.purcinfo.prdr_name
    expect(reason(none)).toBe('national.missing@3503.purcinfo.prdr_name')
  })

  it('pdn_cash_pay for psn_cash_pay in settlement outputs (2207, and the 2208 output is accepted)', () => {
    expect(only(fixture('variants/2207-pdn_cash_pay'), 'settlement.completed').payload.psn_cash_pay).toBe('0')
    expect(only(fixture('variants/2208-pdn_cash_pay'), 'settlement.reversed').payload).toEqual({ setl_id: '370700S00000000023456789', mdtrt_id: '370700G00000000012345678', psn_no: '37070000000000000000001234' })
  })

  it('2204 unchk_flag / unchk_memo (Guangzhou, unknown to the specs) pass through on the lines; comb_no (a JX field fundwatch does not map) stays in the raw record', () => {
    const l = only(fixture('variants/2204-comb_no-unchk_flag'), 'fee.uploaded').payload.lines[1] as Record<string, unknown>
    expect(l).toMatchObject({ unchk_flag: '1', unchk_memo: '急诊先行' })
    expect(l.comb_no).toBeUndefined()
    expect(l.det_item_fee_sumamt).toBe('57.00')
  })

  it('drug trace codes: drugtracinfo[] (2025 layout) or the single drug_trac_codg', () => {
    const codes = (name: string) => (only(fixture(name), 'inventory.movement').payload as Record<string, unknown>).drug_trac_codgs
    expect(codes('variants/3505-flat-drug_trac_codg')).toEqual(['81000123456789015501'])
    expect(codes('samples/3505')).toEqual(['81000123456789015501', '81000123456789015502'])
    expect(codes('variants/3501-drugtracinfo')).toEqual(['81000123456789010001', '81000123456789010002'])
    expect(codes('samples/3501')).toBeUndefined()
  })
})

describe('identity, time, sender, person', () => {
  it('one event: event_id = msgid; inf_time in China time; the sender is fixmedins_code', () => {
    const ev = only(fixture('samples/2207'), 'settlement.completed')
    expect(ev.event_id).toBe('H37070200001202403150935400008')
    expect(ev.event_time).toBe('2024-03-15T09:35:40+08:00')
    expect(ev.schema_version).toBe(1)
    expect(ev.source.fixmedins_code).toBe('H37070200001')
    // A JSON number becomes its String(); strings pass as sent.
    expect(ev.payload).toMatchObject({ medfee_sumamt: '92', hifp_pay: '43.15', setl_time: '2024-03-15T09:35:41+08:00' })
  })

  it('several events: msgid.1, msgid.2 … in order of first appearance; a 2301 refund line is a reversal after the uploads', () => {
    const r = fixture('samples/2204')
    const second = { ...r.request.input.feedetail[1], feedetl_sn: '9', mdtrt_id: '370700G00000000099999999' }
    r.request.input.feedetail.splice(1, 0, second)
    r.response.output.result.push({ ...r.response.output.result[1], feedetl_sn: '9' })
    const evs = eventsOf(r)
    expect(evs.map((e) => [e.event_id, e.event_type, (e.payload as { mdtrt_id: string }).mdtrt_id])).toEqual([
      ['H37070200001202403150931200005.1', 'fee.uploaded', '370700G00000000012345678'],
      ['H37070200001202403150931200005.2', 'fee.uploaded', '370700G00000000099999999'],
    ])
    expect((evs[0]!.payload as { lines: { feedetl_sn: string }[] }).lines.map((l) => l.feedetl_sn)).toEqual(['1', '2', '3'])
    const ipt = eventsOf(fixture('samples/2301'))
    expect(ipt.map((e) => [e.event_id, e.event_type])).toEqual([['H37070200001202403121800050011.1', 'fee.uploaded'], ['H37070200001202403121800050011.2', 'fee.reversed']])
    expect((ipt[1]!.payload as { feedetl_sns: string[] }).feedetl_sns).toEqual(['1'])
  })

  it('fee lines: med_chrgitm_type from the result row, list_type derived, chrg_bchno kept, prd_days 0 absent', () => {
    const lines = only(fixture('samples/2204'), 'fee.uploaded').payload.lines as Record<string, unknown>[]
    expect(lines.map((l) => [l.med_chrgitm_type, l.list_type, l.prd_days, l.chrg_bchno])).toEqual([
      ['02', 'service', undefined, 'SF202403150087'], ['09', 'drug', 14, 'SF202403150087'], ['04', 'service', undefined, 'SF202403150087'],
    ])
    const types = (t: string) => {
      const r = fixture('samples/2204')
      r.response.output.result[0].med_chrgitm_type = t
      return (only(r, 'fee.uploaded').payload.lines[0] as Record<string, unknown>).list_type
    }
    expect(['09', '11', '10', '08', '01'].map(types)).toEqual(['drug', 'drug', 'herb', 'consumable', 'service'])
  })

  it('psn: from certno when the certificate is a resident ID, else from mdtrt_cert_no when the card is one; never a certno that is not', () => {
    const r = fixture('samples/2201')
    Object.assign(r.request.input.data, { psn_cert_type: '08', certno: 'E12345678', mdtrt_cert_type: '02', mdtrt_cert_no: '370702198703159992' })
    expect(only(r, 'visit.opened').payload.psn).toEqual({ gend: '1', brdy: '1987-03-15', psn_name: '张伟明' })
    Object.assign(r.request.input.data, { mdtrt_cert_type: '01', mdtrt_cert_no: 'EC-TOKEN-0001' })
    expect(only(r, 'visit.opened').payload.psn).toBeUndefined()
    // A resident ID with a valid check digit but no real birthday gives no person.
    Object.assign(r.request.input.data, { psn_cert_type: '01', certno: '370702198702309991' })
    expect(only(r, 'visit.opened').payload.psn).toBeUndefined()
  })

  it('2201: med_type 11 until 2203; insuplc_admdvs empty = local care (the care area)', () => {
    const r = fixture('samples/2201')
    r.request.insuplc_admdvs = ''
    r.request.mdtrtarea_admvs = '370702'
    expect(only(r, 'visit.opened').payload).toMatchObject({ med_type: '11', insuplc_admdvs: '370702', diagnoses: [] })
  })

  it('2203: only valid diagnoses, by diag_srt_no, the first one main', () => {
    const r = fixture('samples/2203')
    const rows = r.request.input.diseinfo
    rows.reverse()
    rows.push({ ...rows[0], diag_srt_no: 3, diag_code: 'J06.900', vali_flag: '0' })
    expect(only(r, 'visit.updated').payload.diagnoses).toEqual([
      { diag_code: 'I10.x00', diag_name: '原发性高血压', maindiag_flag: '1' },
      { diag_code: 'E78.500', diag_name: '高脂血症', maindiag_flag: '0' },
    ])
  })

  it('2302: a feedetl_sn 0000 reverses every unsettled line of the visit (chrg_bchno 0000)', () => {
    const r = fixture('samples/2302')
    r.request.input.data[0].feedetl_sn = '0000'
    expect(only(r, 'fee.reversed').payload).toEqual({ mdtrt_id: '370700G00000000012349001', psn_no: '37070000000000000000005678', chrg_bchno: '0000' })
  })

  it('2304: setl_time optional in setlinfo, the transaction time then', () => {
    const r = fixture('samples/2304')
    delete r.response.output.setlinfo.setl_time
    expect(only(r, 'settlement.completed').payload.setl_time).toBe('2024-03-20T10:05:20+08:00')
    const o = fixture('samples/2207')
    delete o.response.output.setlinfo.setl_time
    expect(reason(o)).toBe('national.missing@2207.setlinfo.setl_time')
  })

  it('3501–3506: one event per row when a node holds several (msgid.1, msgid.2)', () => {
    const r = fixture('samples/3503')
    const row = r.request.input.purcinfo
    r.request.input.purcinfo = [row, { ...row, fixmedins_bchno: 'PC20240306003', purc_retn_cnt: '50.0000' }]
    expect(eventsOf(r).map((e) => [e.event_id, (e.payload as { batch_no: string }).batch_no])).toEqual([
      ['P37070200017202403061001000025.1', 'PC20240306002'], ['P37070200017202403061001000025.2', 'PC20240306003'],
    ])
  })

  it('2203A exists in Jiangxi only: its Jiangxi requiredness applies', () => {
    const r = fixture('samples/2203A')
    delete r.request.input.mdtrtinfo.med_type
    expect(reason(r)).toBe('national.missing@2203A.mdtrtinfo.med_type')
  })

  it('a bare request (no "request" key) is taken as request-only', () => {
    expect(only(fixture('samples/2202').request, 'visit.cancelled').payload.cancels).toBe('visit')
    expect(only(fixture('samples/2405').request, 'visit.cancelled').payload.cancels).toBe('discharge')
  })

  it('a field required in one province only is not required', () => {
    // 2201 psn_cert_type / certno / psn_name: HN Y, JX N.
    const r = fixture('samples/2201')
    for (const f of ['psn_cert_type', 'certno', 'psn_type', 'psn_name']) delete r.request.input.data[f]
    expect(only(r, 'visit.opened').payload.psn).toEqual({ gend: '1', brdy: '1987-03-15' })
  })
})

describe('ignored, and dead letters', () => {
  it.each(['2206', '2303', '3101', '3102', '3103'])('%s is not a fact: no events, counted as ignored', (infno) => {
    const r = decodeRecord(fixture(`samples/${infno}`))
    expect(r).toMatchObject({ ok: true, events: [], ignored: { infno, reason: 'not_a_fact' } })
  })

  it('a failed transaction (infcode ≠ 0) never happened: ignored and counted', () => {
    for (const infcode of [-1, '1', '-1']) {
      const r = fixture('samples/2207')
      r.response.infcode = infcode
      r.response.err_msg = '余额不足'
      expect(decodeRecord(r)).toMatchObject({ ok: true, events: [], ignored: { infno: '2207', reason: 'failed' } })
    }
  })

  it('a required field missing names transaction, node and field', () => {
    const r = fixture('samples/2204')
    delete r.request.input.feedetail[1].det_item_fee_sumamt
    expect(reason(r)).toBe('national.missing@2204.feedetail.det_item_fee_sumamt')
    const e = fixture('samples/2204')
    e.request.input.feedetail[0].bilg_dr_codg = ''
    expect(reason(e)).toBe('national.missing@2204.feedetail.bilg_dr_codg')
  })

  it('an output the mapping needs, missing: the line has no 医疗收费项目类别', () => {
    const r = fixture('samples/2204')
    delete r.response
    expect(reason(r)).toBe('national.missing@2204.result.med_chrgitm_type')
    const o = fixture('samples/2201')
    delete o.response
    expect(reason(o)).toBe('national.missing@2201.output.data.mdtrt_id')
  })

  it('a value of the wrong type or format', () => {
    const r = fixture('samples/2204')
    r.request.input.feedetail[0].cnt = { value: 1 }
    expect(reason(r)).toBe('national.invalid@2204.feedetail.cnt')
    const t = fixture('samples/2201')
    t.request.input.data.begntime = '2024/03/15 09:12:31'
    expect(reason(t)).toBe('national.invalid@2201.data.begntime')
    const n = fixture('samples/2204')
    n.request.input.feedetail = 'not rows'
    expect(reason(n)).toBe('national.invalid@2204.feedetail')
    const k = fixture('samples/3502')
    k.request.input.invinfo.inv_chg_type = '199'
    expect(reason(k)).toBe('national.invalid@3502.invinfo.inv_chg_type')
  })

  it('the mapped events meet the ordinary contract validation', () => {
    const r = fixture('samples/2201')
    r.request.input.data.insutype = '999'
    expect(reason(r)).toBe('schema.invalid_value@payload.insutype')
    const a = fixture('samples/2204')
    a.request.input.feedetail[1].det_item_fee_sumamt = '58.00'
    expect(reason(a)).toBe('amount_mismatch@payload.lines.*')
    const d = decodeRecord(a)
    expect(!d.ok && d.detail).toMatch(/^2204 event 1 of 1 \(fee\.uploaded\): line 1 \(2\)/)
  })

  it('the envelope: non-object, unknown infno, missing or bad envelope fields', () => {
    expect(reason('[1, 2]')).toBe('not_object')
    expect(reason('"2201"')).toBe('not_object')
    expect(reason('{"hello": 1}')).toBe('national.envelope@request')
    expect(reason('{"request": [1]}')).toBe('national.envelope@request')
    expect(reason('{not json')).toBe('not_json')
    const u = fixture('samples/2201')
    u.request.infno = '9999'
    expect(reason(u)).toBe('national.unknown_infno')
    const m = fixture('samples/2201')
    delete m.request.msgid
    expect(reason(m)).toBe('national.envelope@msgid')
    const t = fixture('samples/2201')
    t.request.inf_time = '20240315091240'
    expect(reason(t)).toBe('national.envelope@inf_time')
    const i = fixture('samples/2201')
    delete i.request.input
    expect(reason(i)).toBe('national.envelope@input')
    const n = fixture('samples/2201')
    delete n.request.input.data
    expect(reason(n)).toBe('national.missing@2201.data')
  })

  it('a malformed record never throws', () => {
    const odd = [
      { request: { infno: '2204', msgid: 'x', inf_time: '2024-03-15 09:31:20', fixmedins_code: 'H37070200001', input: { feedetail: [null] } } },
      { request: { infno: 2204, msgid: 1, inf_time: '2024-03-15 09:31:20', fixmedins_code: 'H37070200001', input: { feedetail: [] } } },
      { request: { infno: '2402', msgid: 'm', inf_time: '2024-03-15 09:31:20', fixmedins_code: 'H37070200001', input: { dscginfo: fixture('samples/2402').request.input.dscginfo, diseinfo: [] } } },
      { request: { ...fixture('samples/2302').request, input: { data: [{ feedetl_sn: '1', mdtrt_id: 'A', psn_no: 'P000001' }, { feedetl_sn: '2', mdtrt_id: 'A', psn_no: 'P000002' }] } } },
      { request: fixture('samples/2204').request, response: 'ok' },
      { request: fixture('samples/2204').request, response: { infcode: 0, output: { result: 7 } } },
    ]
    expect(odd.map((o) => reason(o))).toEqual([
      'national.invalid@2204.feedetail', 'national.missing@2204.feedetail', 'national.missing@2402.diseinfo.maindiag_flag',
      'national.invalid@2302.data.psn_no', 'national.envelope@response', 'national.invalid@2204.result',
    ])
    expect(reason(line(fixture('samples/2204')).replace('"cnt":"2"', '"cnt":"-2"'))).toMatch(/^schema\./)
  })
})

describe('the mapping table', () => {
  it('names every transaction of the interface summary, with an event or the reason it is ignored', () => {
    expect(TRANSACTIONS.map((t) => t.infno).sort()).toEqual(Object.keys(SPEC).sort())
    for (const t of TRANSACTIONS) expect(Boolean(t.event) !== Boolean(t.ignored)).toBe(true)
  })

  it('covers every field of every contract payload (and fee line), or says why the transactions cannot carry it', () => {
    const uncovered: string[] = []
    for (const member of AnyEvent.options) {
      const type = (member.shape.event_type as z.ZodLiteral<string>).value
      const payload = Object.keys((member.shape.payload as z.ZodObject).shape)
      const rules = TRANSACTIONS.filter((t) => t.event === type || (t.refunds && type === 'fee.reversed'))
      const mapped = new Set(rules.flatMap((t) => (t.payload ?? []).map((r) => r.to)))
      if (rules.some((t) => t.lines)) mapped.add('lines')
      for (const f of payload) if (!mapped.has(f) && !NOT_CARRIED[`${type}.${f}`]) uncovered.push(`${type}.${f}`)
    }
    const lineFields = new Set(TRANSACTIONS.flatMap((t) => (t.lines ?? []).map((r) => r.to)))
    for (const f of Object.keys(FeeLine.shape)) if (!lineFields.has(f)) uncovered.push(`fee.uploaded.lines.${f}`)
    expect(uncovered).toEqual([])
  })
})
