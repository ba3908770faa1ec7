import type { AnyEvent, CatalogItem, Diagnosis, EventOf, FeeLine, Institution } from '../../schemas/index.ts'
import type { KbData } from '../kb/knowledge-base.ts'
import { hashString } from './random.ts'
import { isoCn, residentId } from './world.ts'

/**
 * The generator's national writer: a contract event, as the generator emits
 * it, becomes the national platform transaction an institution would have sent
 * for it — `{request: envelope + input, response: envelope + output}`, the
 * layout of ../shared/national/samples — by the mapping of docs/national.md
 * read backwards (issue 10 item 5). One event, one transaction: the envelope's
 * `msgid` is the event id (the generator's ids are msgid-shaped), `inf_time` the
 * event time in China time, so the adapter's event_id and event_time equal the
 * contract event's.
 *
 * What the printed interface cannot carry travels in `expContent` under
 * fundwatch's documented keys: a fee line's `hours`, 2402's `operations` (with
 * dates) and the settlement output's `pay_grp`. Fields the specification
 * requires that the contract does not know (names, beds, lot numbers …) are
 * filled with plain placeholders the adapter ignores. Extra fields of a
 * contract payload or line that the transaction has no field for are written
 * as they are (the adapter passes unknown fields through): `chrg_bchno` on
 * inpatient lines, `mdtrt_id` on a sale.
 *
 * Some transactions need what an earlier one said (2204 vs 2301 needs the
 * visit's kind; 2205 withdraws a charge batch, while the contract reversal
 * names lines): `toNational` takes that as an explicit, read-only context and
 * is otherwise pure; `NationalWriter` keeps the context as a stream goes by.
 */
export type NationalObject = Record<string, unknown>
export interface NationalRecord {
  request: NationalObject
  response?: NationalObject
}

/** What the writer knows of an open visit. */
export interface NationalVisit {
  inpatient: boolean
  med_type: string
  insutype: string
  insuplc_admdvs: string
  psn_no: string
  begntime: string
  ipt_otp_no: string
  adm_dept_codg: string
  atddr_no: string
  diagnoses: Diagnosis[]
  psn?: { gend: string; brdy: string; certno?: string; psn_name?: string }
  /** The charge batch each uploaded line went up in, and the lines of each batch. */
  batchOf: Map<string, string>
  batches: Map<string, string[]>
  lastBatch?: string
}

export interface NationalContext {
  visit(mdtrt_id: string): NationalVisit | undefined
  institution(code: string): Pick<Institution, 'name' | 'admdvs'> | undefined
  item(med_list_codg: string): Pick<CatalogItem, 'name' | 'chrgitm_lv'> | undefined
}

/** Whether a 医疗类别 is inpatient (住院): 2x and 52 (生育住院). */
export function isInpatientMedType(med_type: string): boolean {
  return med_type.startsWith('2') || med_type === '52'
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))
/** RFC 3339 → the national DT `yyyy-MM-dd HH:mm:ss` in China time. */
export function nationalDateTime(rfc3339: string): string {
  return isoCn(Date.parse(rfc3339)).slice(0, 19).replace('T', ' ')
}
const dateOf = (rfc3339OrDate: string): string => (rfc3339OrDate.length === 10 ? rfc3339OrDate : nationalDateTime(rfc3339OrDate).slice(0, 10))
const num = (s: string): number => Number(s)
const LV = { 甲: '01', 乙: '02', 丙: '03' } as const

/**
 * A resident ID for a person the contract event knows only by gender and birthday (the HIS sent no 证件号码):
 * sent as the 就诊凭证 (mdtrt_cert_type 02), so the adapter derives the same gender and birthday from it.
 */
export function residentIdFor(psn_no: string, admdvs: string, brdy: string, gend: string): string {
  return residentId(admdvs, brdy, gend === '2' ? '2' : '1', hashString(`resident-id:${psn_no}`))
}

/** The person fields of 2201/2401/2207/2304: certificate when the contract has one, else a resident-ID 就诊凭证, else the e-voucher (psn_no). */
function personFields(v: Pick<NationalVisit, 'psn' | 'psn_no' | 'insuplc_admdvs'>): NationalObject {
  const psn = v.psn
  if (psn?.certno) {
    return {
      mdtrt_cert_type: '02', mdtrt_cert_no: psn.certno, card_sn: '', psn_cert_type: '01', certno: psn.certno, psn_type: '11',
      ...(psn.psn_name ? { psn_name: psn.psn_name } : {}),
    }
  }
  if (psn) return { mdtrt_cert_type: '02', mdtrt_cert_no: residentIdFor(v.psn_no, v.insuplc_admdvs, psn.brdy, psn.gend), card_sn: '' }
  return { mdtrt_cert_type: '01', mdtrt_cert_no: v.psn_no, card_sn: '' }
}

/** Extra fields of a contract object that `known` does not name: written as they are. */
function extras(o: object, known: ReadonlySet<string>): NationalObject {
  const out: NationalObject = {}
  for (const [k, val] of Object.entries(o)) if (!known.has(k)) out[k] = val
  return out
}
const OPENED_KNOWN = new Set(['mdtrt_id', 'psn_no', 'med_type', 'begntime', 'insutype', 'insuplc_admdvs', 'ipt_otp_no', 'adm_dept_codg', 'atddr_no', 'psn', 'diagnoses'])
const LINE_KNOWN = new Set(['feedetl_sn', 'fee_ocur_time', 'med_list_codg', 'medins_list_codg', 'list_type', 'med_chrgitm_type', 'cnt', 'pric', 'det_item_fee_sumamt', 'bilg_dept_codg', 'bilg_dr_codg', 'prd_days', 'hours', 'chrg_bchno'])
const CLOSED_KNOWN = new Set(['mdtrt_id', 'psn_no', 'endtime', 'dscg_way', 'dscg_maindiag_code', 'diagnoses', 'operations'])
const SETL_KNOWN = new Set(['setl_id', 'mdtrt_id', 'psn_no', 'setl_time', 'med_type', 'insutype', 'medfee_sumamt', 'fulamt_ownpay_amt', 'inscp_scp_amt', 'hifp_pay', 'fund_pay_sumamt', 'acct_pay', 'psn_cash_pay', 'hosp_part_amt', 'pay_grp'])
const MOVE_KNOWN = new Set(['fixmedins_code', 'med_list_codg', 'kind', 'cnt', 'movement_time', 'batch_no', 'mdtrt_id', 'setl_id'])

function envelope(e: AnyEvent, infno: string, ctx: NationalContext, insuplc_admdvs: string, input: NationalObject): NationalObject {
  const code = e.source.fixmedins_code
  const inst = ctx.institution(code)
  return {
    infno, msgid: e.event_id, mdtrtarea_admvs: inst?.admdvs ?? (insuplc_admdvs || code.slice(1, 7)), insuplc_admdvs, recer_sys_code: 'FSI_LOCAL',
    dev_no: '', dev_safe_info: '', cainfo: '', signtype: '', infver: 'V1.0', opter_type: '1', opter: '0001', opter_name: '经办人',
    inf_time: nationalDateTime(e.event_time), fixmedins_code: code, fixmedins_name: inst?.name ?? code, sign_no: '',
    ...(e.source.system !== undefined ? { fixmedins_soft_fcty: e.source.system } : {}),
    input,
  }
}

/** The platform's answer: success, a receiver message id (division + time + serial) and the output. */
function response(req: NationalObject, output: NationalObject): NationalObject {
  const msgid = String(req['msgid'])
  const t = msgid.slice(12, 26)
  const serial = String(hashString(`refmsg:${msgid}`) % 1e10).padStart(10, '0')
  return { infcode: 0, inf_refmsgid: `${String(req['mdtrtarea_admvs'])}${t}${serial}`, refmsg_time: `${t}000`, respond_time: `${t}000`, err_msg: '', output }
}

function diseRows(diagnoses: readonly Diagnosis[], v: NationalVisit | undefined, at: string, o: { mdtrt_id?: string; psn_no?: string; mainFlag: boolean; valid?: boolean }): NationalObject[] {
  return diagnoses.map((d, i) => ({
    ...(o.mdtrt_id ? { mdtrt_id: o.mdtrt_id } : {}), ...(o.psn_no ? { psn_no: o.psn_no } : {}),
    diag_type: '1', ...(o.mainFlag ? { maindiag_flag: d.maindiag_flag } : {}), diag_srt_no: i + 1, diag_code: d.diag_code, diag_name: d.diag_name,
    diag_dept: v?.adm_dept_codg ?? '', dise_dor_no: v?.atddr_no ?? '', dise_dor_name: v?.atddr_no ?? '', diag_time: at,
    ...(o.valid ? { vali_flag: '1' } : {}),
  }))
}

function need<T>(x: T | undefined, what: string): T {
  if (x === undefined) throw new Error(`national writer: ${what} (the stream names a visit it has not opened)`)
  return x
}

/** One contract event → its national transaction. `ctx` says what earlier transactions established. */
export function toNational(e: AnyEvent, ctx: NationalContext): NationalRecord {
  switch (e.event_type) {
    case 'visit.opened': {
      const p = e.payload
      const inpatient = isInpatientMedType(p.med_type)
      const begntime = nationalDateTime(p.begntime)
      const person = personFields({ psn: p.psn, psn_no: p.psn_no, insuplc_admdvs: p.insuplc_admdvs })
      if (!inpatient) {
        const req = envelope(e, '2201', ctx, p.insuplc_admdvs, {
          data: {
            psn_no: p.psn_no, insutype: p.insutype, begntime, ...person, ipt_otp_no: p.ipt_otp_no, atddr_no: p.atddr_no, dr_name: p.atddr_no,
            dept_code: p.adm_dept_codg, dept_name: p.adm_dept_codg, caty: p.adm_dept_codg,
            // 2201 carries no 医疗类别: one other than the registration's default travels as the provincial extra the adapter reads.
            ...(p.med_type !== '11' ? { med_type: p.med_type } : {}),
            ...extras(p, OPENED_KNOWN),
          },
        })
        return { request: req, response: response(req, { data: { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, ipt_otp_no: p.ipt_otp_no } }) }
      }
      const main = p.diagnoses.find((d) => d.maindiag_flag === '1') ?? p.diagnoses[0]
      const req = envelope(e, '2401', ctx, p.insuplc_admdvs, {
        mdtrtinfo: {
          psn_no: p.psn_no, insutype: p.insutype, begntime, ...person, med_type: p.med_type, ipt_no: p.ipt_otp_no, atddr_no: p.atddr_no,
          chfpdr_name: p.atddr_no, adm_diag_dscr: main?.diag_name ?? '', adm_dept_codg: p.adm_dept_codg, adm_dept_name: p.adm_dept_codg, adm_bed: '1',
          dscg_maindiag_code: main?.diag_code ?? '', dscg_maindiag_name: main?.diag_name ?? '',
          ...extras(p, OPENED_KNOWN),
        },
        diseinfo: diseRows(p.diagnoses, { adm_dept_codg: p.adm_dept_codg, atddr_no: p.atddr_no } as NationalVisit, begntime, { psn_no: p.psn_no, mainFlag: true }),
      })
      return { request: req, response: response(req, { result: { mdtrt_id: p.mdtrt_id } }) }
    }
    case 'visit.updated': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `visit.updated of ${p.mdtrt_id}`)
      const at = nationalDateTime(e.event_time)
      const diagnoses = p.diagnoses ?? v.diagnoses
      const med_type = p.med_type ?? v.med_type
      const rest = extras(p, new Set(['mdtrt_id', 'psn_no', 'med_type', 'diagnoses', 'adm_dept_codg', 'atddr_no']))
      if (!v.inpatient) {
        const main = diagnoses[0]
        return {
          request: envelope(e, '2203', ctx, v.insuplc_admdvs, {
            mdtrtinfo: {
              mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, med_type, begntime: nationalDateTime(v.begntime), main_cond_dscr: '',
              dise_codg: main?.diag_code ?? '', dise_name: main?.diag_name ?? '', birctrl_type: '', birctrl_matn_date: '', ...rest,
            },
            diseinfo: diseRows(diagnoses, v, at, { mainFlag: false, valid: true }),
          }),
        }
      }
      const main = diagnoses.find((d) => d.maindiag_flag === '1') ?? diagnoses[0]
      const dept = p.adm_dept_codg ?? v.adm_dept_codg
      const doctor = p.atddr_no ?? v.atddr_no
      return {
        request: envelope(e, '2403', ctx, v.insuplc_admdvs, {
          adminfo: {
            mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, begntime: nationalDateTime(v.begntime), endtime: '', mdtrt_cert_type: String(personFields(v)['mdtrt_cert_type']),
            med_type, ipt_otp_no: v.ipt_otp_no, atddr_no: doctor, chfpdr_name: doctor, adm_diag_dscr: main?.diag_name ?? '', adm_dept_codg: dept,
            adm_dept_name: dept, adm_bed: '1', dscg_maindiag_code: main?.diag_code ?? '', dscg_maindiag_name: main?.diag_name ?? '', ...rest,
          },
          diseinfo: diseRows(diagnoses, { ...v, adm_dept_codg: dept, atddr_no: doctor }, at, { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, mainFlag: true }),
        }),
      }
    }
    case 'fee.uploaded': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `fee.uploaded of ${p.mdtrt_id}`)
      const rows = p.lines.map((l) => feeRow(l, p.mdtrt_id, p.psn_no, v))
      const result = p.lines.map((l) => {
        const lv = ctx.item(l.med_list_codg)?.chrgitm_lv
        return {
          feedetl_sn: l.feedetl_sn, det_item_fee_sumamt: num(l.det_item_fee_sumamt), cnt: num(l.cnt), pric: num(l.pric), pric_uplmt_amt: num(l.pric),
          selfpay_prop: 0, fulamt_ownpay_amt: 0, overlmt_amt: 0, preselfpay_amt: 0, inscp_scp_amt: num(l.det_item_fee_sumamt), chrgitm_lv: lv ? LV[lv] : '01',
          med_chrgitm_type: l.med_chrgitm_type, bas_medn_flag: '0', hi_nego_drug_flag: '0', chld_medc_flag: '0', list_sp_item_flag: '0', lmt_used_flag: '0',
          drt_reim_flag: '0', memo: '',
        }
      })
      const req = envelope(e, v.inpatient ? '2301' : '2204', ctx, v.insuplc_admdvs, { feedetail: rows })
      return { request: req, response: response(req, { result }) }
    }
    case 'fee.reversed': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `fee.reversed of ${p.mdtrt_id}`)
      if (v.inpatient) {
        const sns = p.feedetl_sns ?? ['0000']
        return { request: envelope(e, '2302', ctx, v.insuplc_admdvs, { data: sns.map((sn) => ({ feedetl_sn: sn, mdtrt_id: p.mdtrt_id, psn_no: p.psn_no })) }) }
      }
      return { request: envelope(e, '2205', ctx, v.insuplc_admdvs, { data: { mdtrt_id: p.mdtrt_id, chrg_bchno: p.chrg_bchno ?? batchOfLines(v, p.feedetl_sns ?? []), psn_no: p.psn_no } }) }
    }
    case 'visit.closed': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `visit.closed of ${p.mdtrt_id}`)
      const endtime = nationalDateTime(p.endtime)
      const diagnoses = p.diagnoses ?? v.diagnoses
      const ops = p.operations ?? []
      return {
        request: envelope(e, '2402', ctx, v.insuplc_admdvs, {
          dscginfo: {
            mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, insutype: v.insutype, endtime, dise_codg: '', dise_name: '', oprn_oprt_code: ops[0]?.oprn_oprt_code ?? '',
            oprn_oprt_name: '', fpsc_no: '', matn_type: '', birctrl_type: '', latechb_flag: '', geso_val: 0, fetts: 0, fetus_cnt: 0, pret_flag: '',
            birctrl_matn_date: '', cop_flag: '0', dscg_dept_codg: v.adm_dept_codg, dscg_dept_name: v.adm_dept_codg, dscg_bed: '', dscg_way: p.dscg_way,
            die_date: p.dscg_way === '5' ? endtime.slice(0, 10) : '',
            ...(ops.length ? { expContent: { operations: ops.map((o) => ({ oprn_oprt_code: o.oprn_oprt_code, oprn_oprt_date: dateOf(o.oprn_oprt_date) })) } } : {}),
            ...extras(p, CLOSED_KNOWN),
          },
          diseinfo: diseRows(diagnoses, v, endtime, { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, mainFlag: true }),
        }),
      }
    }
    case 'settlement.completed': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `settlement.completed of ${p.mdtrt_id}`)
      const person = personFields(v)
      const input: NationalObject = {
        psn_no: p.psn_no, ...person, med_type: p.med_type, medfee_sumamt: p.medfee_sumamt, psn_setlway: '01', mdtrt_id: p.mdtrt_id,
        ...(v.inpatient ? {} : { chrg_bchno: v.lastBatch ?? '0000' }),
        acct_used_flag: num(p.acct_pay) > 0 ? '1' : '0', insutype: p.insutype, invono: '', ...(v.inpatient ? { mid_setl_flag: '0' } : {}),
        fulamt_ownpay_amt: p.fulamt_ownpay_amt, overlmt_selfpay: '0.00', preselfpay_amt: '0.00', inscp_scp_amt: p.inscp_scp_amt,
      }
      const req = envelope(e, v.inpatient ? '2304' : '2207', ctx, v.insuplc_admdvs, { data: input })
      const fen = (s: string): number => Math.round(Number(s) * 100)
      const money = (f: number): string => (f < 0 ? '-' : '') + `${Math.floor(Math.abs(f) / 100)}.${pad2(Math.abs(f) % 100)}`
      const psnPart = money(fen(p.acct_pay) + fen(p.psn_cash_pay))
      const setlinfo: NationalObject = {
        // The platform knows the person (1101): its output names them even when the HIS sent no certificate.
        mdtrt_id: p.mdtrt_id, setl_id: p.setl_id, psn_no: p.psn_no, psn_name: v.psn?.psn_name ?? '参保人', psn_cert_type: '01',
        certno: v.psn ? v.psn.certno ?? residentIdFor(v.psn_no, v.insuplc_admdvs, v.psn.brdy, v.psn.gend) : '',
        ...(v.psn ? { gend: v.psn.gend, brdy: v.psn.brdy } : {}), insutype: p.insutype, psn_type: '11',
        cvlserv_flag: '0', setl_time: nationalDateTime(p.setl_time), mdtrt_cert_type: person['mdtrt_cert_type'], med_type: p.med_type,
        medfee_sumamt: p.medfee_sumamt, fulamt_ownpay_amt: p.fulamt_ownpay_amt, overlmt_selfpay: '0.00', preselfpay_amt: '0.00', inscp_scp_amt: p.inscp_scp_amt,
        act_pay_dedc: '0.00', hifp_pay: p.hifp_pay, pool_prop_selfpay: '0', cvlserv_pay: '0.00', hifes_pay: '0.00',
        // What the funds pay beyond the pooled fund (the generator's serious-illness top-up) is 大额医疗补助.
        hifmi_pay: money(fen(p.fund_pay_sumamt) - fen(p.hifp_pay)), hifob_pay: '0.00', maf_pay: '0.00', oth_pay: '0.00',
        fund_pay_sumamt: p.fund_pay_sumamt, psn_part_amt: psnPart, acct_pay: p.acct_pay, psn_cash_pay: p.psn_cash_pay,
        ...(p.hosp_part_amt !== undefined ? { hosp_part_amt: p.hosp_part_amt } : {}), balc: '0.00', acct_mulaid_pay: '0.00', medins_setl_id: e.event_id,
        clr_optins: v.insuplc_admdvs, clr_way: '1', clr_type: v.inpatient ? '21' : p.med_type === '41' ? '41' : '11',
        ...(p.pay_grp ? { expContent: { pay_grp: { ...p.pay_grp } } } : {}),
        ...extras(p, SETL_KNOWN),
      }
      return { request: req, response: response(req, { setlinfo, setldetail: [{ fund_pay_type: p.insutype === '390' ? '390100' : '310100', inscp_scp_amt: p.inscp_scp_amt, crt_payb_lmt_amt: p.hifp_pay, fund_payamt: p.hifp_pay, fund_pay_type_name: '', setl_proc_info: '' }] }) }
    }
    case 'settlement.reversed': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `settlement.reversed of ${p.mdtrt_id}`)
      const data = v.inpatient ? { mdtrt_id: p.mdtrt_id, setl_id: p.setl_id, psn_no: p.psn_no } : { setl_id: p.setl_id, mdtrt_id: p.mdtrt_id, psn_no: p.psn_no }
      return { request: envelope(e, v.inpatient ? '2305' : '2208', ctx, v.insuplc_admdvs, { data }) }
    }
    case 'visit.cancelled': {
      const p = e.payload
      const v = need(ctx.visit(p.mdtrt_id), `visit.cancelled of ${p.mdtrt_id}`)
      if (p.cancels === 'discharge') return { request: envelope(e, '2405', ctx, v.insuplc_admdvs, { data: { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no } }) }
      if (v.inpatient) return { request: envelope(e, '2404', ctx, v.insuplc_admdvs, { data: { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no } }) }
      return { request: envelope(e, '2202', ctx, v.insuplc_admdvs, { data: { psn_no: p.psn_no, mdtrt_id: p.mdtrt_id, ipt_otp_no: v.ipt_otp_no } }) }
    }
    case 'inventory.movement':
      return movement(e, ctx)
  }
}

function feeRow(l: FeeLine, mdtrt_id: string, psn_no: string, v: NationalVisit): NationalObject {
  const common = {
    feedetl_sn: l.feedetl_sn, mdtrt_id, psn_no,
    ...(v.inpatient ? { init_feedetl_sn: '', drord_no: '', med_type: v.med_type } : { chrg_bchno: l['chrg_bchno'] ?? '', dise_codg: '', rxno: '', rx_circ_flag: '0' }),
    fee_ocur_time: nationalDateTime(l.fee_ocur_time), med_list_codg: l.med_list_codg, medins_list_codg: l.medins_list_codg,
    det_item_fee_sumamt: l.det_item_fee_sumamt, cnt: l.cnt, pric: l.pric,
    ...(v.inpatient ? {} : { sin_dos_dscr: '', used_frqu_dscr: '', prd_days: String(l.prd_days ?? 0), medc_way_dscr: '' }),
    bilg_dept_codg: l.bilg_dept_codg, bilg_dept_name: l.bilg_dept_codg, bilg_dr_codg: l.bilg_dr_codg, bilg_dr_name: l.bilg_dr_codg,
    acord_dept_codg: '', acord_dept_name: '', orders_dr_code: '', orders_dr_name: '', hosp_appr_flag: '0', tcmdrug_used_way: '', etip_flag: '0', etip_hosp_code: '',
    dscg_tkdrug_flag: '0', matn_fee_flag: '0',
    // 2301 has no days of supply and no charge batch: the inpatient line carries them as extras when it has them.
    ...(v.inpatient && l.prd_days !== undefined ? { prd_days: String(l.prd_days) } : {}),
    ...(v.inpatient && l['chrg_bchno'] !== undefined ? { chrg_bchno: l['chrg_bchno'] } : {}),
    ...(l.hours !== undefined ? { expContent: { hours: l.hours } } : {}),
    ...extras(l, LINE_KNOWN),
  }
  return common
}

/** The one charge batch a reversal's lines make up whole (2205 withdraws batches, not lines). */
function batchOfLines(v: NationalVisit, sns: readonly string[]): string {
  const b = v.batchOf.get(sns[0] ?? '')
  const all = b === undefined ? undefined : v.batches.get(b)
  if (b === undefined || !all || all.length !== sns.length || !sns.every((sn) => v.batchOf.get(sn) === b)) {
    throw new Error(`national writer: an outpatient reversal of ${sns.join(',')} is not one whole charge batch (2205 withdraws batches)`)
  }
  return b
}

const KIND_INFNO = { stock_count: '3501', loss: '3502', purchase: '3503', sale: '3505', return: '3506' } as const
/** 库存变更类型 of a loss: 104 盘损. */
export const LOSS_INV_CHG_TYPE = '104'

function movement(e: EventOf<'inventory.movement'>, ctx: NationalContext): NationalRecord {
  const p = e.payload
  const name = ctx.item(p.med_list_codg)?.name ?? p.med_list_codg
  const time = nationalDateTime(p.movement_time)
  const day = time.slice(0, 10)
  const goods = { med_list_codg: p.med_list_codg, fixmedins_hilist_id: p.med_list_codg, fixmedins_hilist_name: name }
  const batch = p.batch_no ?? ''
  const lot = { manu_lotnum: batch, manu_date: '2025-01-01', expy_end: '2028-12-31' }
  const rest = { ...extras(p, MOVE_KNOWN), ...(p.setl_id !== undefined ? { setl_id: p.setl_id } : {}) }
  let input: NationalObject
  switch (p.kind) {
    case 'stock_count':
      input = { invinfo: { ...goods, rx_flag: '1', invdate: day, inv_cnt: p.cnt, ...lot, fixmedins_bchno: batch, memo: '', ...rest } }
      break
    case 'loss':
      input = { invinfo: { ...goods, inv_chg_type: LOSS_INV_CHG_TYPE, fixmedins_bchno: batch, pric: '0', cnt: p.cnt, rx_flag: '1', inv_chg_time: time, inv_chg_opter_name: '经办人', memo: '', trdn_flag: '0', ...rest } }
      break
    case 'purchase':
      input = {
        purcinfo: {
          ...goods, dynt_no: '', fixmedins_bchno: batch, spler_name: '供应商', spler_pmtno: '', ...lot, prdr_name: '生产企业', aprvno: '国药准字', finl_trns_pric: '0',
          purc_retn_cnt: p.cnt, purc_invo_codg: '', purc_invo_no: batch, rx_flag: '1', purc_retn_stoin_time: time, purc_retn_opter_name: '经办人', prod_geay_flag: '0', memo: '', ...rest,
        },
      }
      break
    case 'sale':
    case 'return':
      input = {
        selinfo: {
          ...goods, fixmedins_bchno: batch,
          // 3505 names the prescriber, pharmacist and sale document; the return (3506) does not.
          ...(p.kind === 'sale' ? { prsc_dr_name: '医师', phar_name: '药师', phar_prac_cert_no: '0000', mdtrt_sn: e.event_id } : {}), ...lot, rx_flag: '1', trdn_flag: '0',
          ...(p.kind === 'sale' ? { rtal_docno: e.event_id } : {}), sel_retn_cnt: p.cnt, sel_retn_time: time, sel_retn_opter_name: '经办人', memo: '',
          ...(p.mdtrt_id !== undefined ? { mdtrt_id: p.mdtrt_id } : {}), ...rest,
        },
      }
      break
  }
  return { request: envelope(e, KIND_INFNO[p.kind], ctx, '', input) }
}

/**
 * Writes a stream: keeps the visits (their kind, person, charge batches) the
 * transactions need, from the contract events themselves.
 */
export class NationalWriter implements NationalContext {
  private readonly visits = new Map<string, NationalVisit>()
  private readonly insts: Map<string, Institution>
  private readonly items: Map<string, CatalogItem>

  constructor(kb?: Pick<KbData, 'institutions' | 'catalog'>) {
    this.insts = new Map((kb?.institutions ?? []).map((i) => [i.fixmedins_code, i]))
    this.items = new Map((kb?.catalog ?? []).map((c) => [c.med_list_codg, c]))
  }

  visit(mdtrt_id: string): NationalVisit | undefined {
    return this.visits.get(mdtrt_id)
  }
  institution(code: string): Institution | undefined {
    return this.insts.get(code)
  }
  item(code: string): CatalogItem | undefined {
    return this.items.get(code)
  }

  write(e: AnyEvent): NationalRecord {
    const rec = toNational(e, this)
    this.learn(e)
    return rec
  }

  private learn(e: AnyEvent): void {
    switch (e.event_type) {
      case 'visit.opened': {
        const p = e.payload
        this.visits.set(p.mdtrt_id, {
          inpatient: isInpatientMedType(p.med_type), med_type: p.med_type, insutype: p.insutype, insuplc_admdvs: p.insuplc_admdvs, psn_no: p.psn_no,
          begntime: p.begntime, ipt_otp_no: p.ipt_otp_no, adm_dept_codg: p.adm_dept_codg, atddr_no: p.atddr_no, diagnoses: p.diagnoses,
          ...(p.psn ? { psn: p.psn } : {}), batchOf: new Map(), batches: new Map(),
        })
        break
      }
      case 'visit.updated': {
        const v = this.visits.get(e.payload.mdtrt_id)
        if (!v) break
        const p = e.payload
        if (p.med_type !== undefined) v.med_type = p.med_type
        if (p.diagnoses !== undefined) v.diagnoses = p.diagnoses
        if (p.adm_dept_codg !== undefined) v.adm_dept_codg = p.adm_dept_codg
        if (p.atddr_no !== undefined) v.atddr_no = p.atddr_no
        break
      }
      case 'fee.uploaded': {
        const v = this.visits.get(e.payload.mdtrt_id)
        if (!v || v.inpatient) break
        for (const l of e.payload.lines) {
          const b = l['chrg_bchno']
          if (typeof b !== 'string') continue
          v.batchOf.set(l.feedetl_sn, b)
          const a = v.batches.get(b)
          if (a) a.push(l.feedetl_sn)
          else v.batches.set(b, [l.feedetl_sn])
          v.lastBatch = b
        }
        break
      }
    }
  }
}
