import type { Alert } from '../../schemas/index.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import type { Store } from '../store/store.ts'
import { fromChTime } from '../util/time.ts'

/** The claim records behind alerts, as read from ClickHouse. Personal fields are raw here: mask before they leave. */
export interface ClaimRecords {
  visits: VisitRec[]
  discharges: DischargeRec[]
  fee_lines: FeeLineRec[]
  settlements: SettlementRec[]
}

export interface VisitRec {
  mdtrt_id: string; psn_no: string; fixmedins_code: string; med_type: string; insutype: string; begntime: string
  insuplc_admdvs: string; ipt_otp_no: string; adm_dept_codg: string; atddr_no: string; gend: string
  brdy: string; certno: string; psn_name: string; diagnoses: { diag_code: string; diag_name: string; maindiag_flag: string }[]
  /** When the visit was cancelled whole (visit.cancelled 'visit': national 2202/2404), else null: none of its facts count any more. */
  cancelled_at: string | null
}
export interface DischargeRec {
  mdtrt_id: string; psn_no: string; fixmedins_code: string; endtime: string; dscg_way: string; dscg_maindiag_code: string
  diagnoses: { diag_code: string; diag_name: string; maindiag_flag: string }[]; operations: { oprn_oprt_code: string; oprn_oprt_date: string }[]
  /** When this discharge was withdrawn (visit.cancelled 'discharge': national 2405), else null: the stay was open again from then. */
  cancelled_at: string | null
}
export interface FeeLineRec {
  mdtrt_id: string; psn_no: string; feedetl_sn: string; fixmedins_code: string; fee_ocur_time: string; med_list_codg: string
  medins_list_codg: string; list_type: string; med_chrgitm_type: string; cnt: string; pric: string; det_item_fee_sumamt: string
  bilg_dept_codg: string; bilg_dr_codg: string; prd_days: number | null; hours: string | null; reversed: boolean; flagged: boolean; item_name: string | null
}
export interface SettlementRec {
  setl_id: string; mdtrt_id: string; psn_no: string; fixmedins_code: string; setl_time: string; med_type: string; insutype: string
  medfee_sumamt: string; fulamt_ownpay_amt: string; inscp_scp_amt: string; hifp_pay: string; fund_pay_sumamt: string; acct_pay: string
  psn_cash_pay: string; pay_grp_type: string; pay_grp_code: string; pay_grp_weight: string; reversed: boolean
}

/** A case can hold hundreds of long inpatient stays; the pack stays printable and the response bounded. */
export const MAX_FEE_LINES = 20_000

const iso = (v: unknown) => new Date(fromChTime(String(v))).toISOString()
const money = (v: unknown) => Number(v).toFixed(2)
const qty = (v: unknown) => String(Number(v))
type Row = Record<string, unknown>
type Tuple = Record<string, unknown> | unknown[]
const diag = (d: Tuple) => (Array.isArray(d) ? { diag_code: String(d[0]), diag_name: String(d[1]), maindiag_flag: String(d[2]) } : { diag_code: String(d.diag_code), diag_name: String(d.diag_name), maindiag_flag: String(d.maindiag_flag) })
const oprn = (o: Tuple) => (Array.isArray(o) ? { oprn_oprt_code: String(o[0]), oprn_oprt_date: String(o[1]) } : { oprn_oprt_code: String(o.oprn_oprt_code), oprn_oprt_date: String(o.oprn_oprt_date) })

/**
 * Visits, discharges, every fee line of those visits (the flagged ones marked)
 * and their settlements, for a set of alerts. When every alert names its
 * person, the queries lead with psn_no — the tables' sorting key — so they read
 * a few granules instead of scanning.
 */
export async function loadClaims(store: Store, alerts: readonly Alert[], kb?: KnowledgeBase): Promise<ClaimRecords> {
  const mdtrt = new Set<string>()
  const setl = new Set<string>()
  const flagged = new Set<string>()
  const psns = new Set<string>()
  let everyPsn = true
  for (const a of alerts) {
    for (const m of a.refs.mdtrt_ids) mdtrt.add(m)
    if (a.subject.mdtrt_id) mdtrt.add(a.subject.mdtrt_id)
    for (const s of a.refs.setl_ids) setl.add(s)
    if (a.subject.setl_id) setl.add(a.subject.setl_id)
    for (const sn of a.refs.feedetl_sns) flagged.add(sn)
    if (a.subject.psn_no) psns.add(a.subject.psn_no)
    else everyPsn = false
  }
  const empty: ClaimRecords = { visits: [], discharges: [], fee_lines: [], settlements: [] }
  if (!mdtrt.size && !setl.size) return empty
  const params = { m: [...mdtrt], s: [...setl], p: [...psns] }
  const byPsn = everyPsn && psns.size ? 'psn_no IN {p:Array(String)} AND ' : ''
  const t = (x: string) => store.t(x)
  const [visits, updates, cancellations, discharges, lines, reversals, settlements, setlRev] = await Promise.all([
    store.query<Row>(`SELECT * FROM ${t('visits')} FINAL WHERE ${byPsn}mdtrt_id IN {m:Array(String)} ORDER BY begntime, mdtrt_id`, params),
    store.query<Row>(`SELECT * FROM ${t('visit_updates')} FINAL WHERE ${byPsn}mdtrt_id IN {m:Array(String)} ORDER BY event_time, event_id`, params),
    store.query<Row>(`SELECT mdtrt_id, cancels, event_time FROM ${t('visit_cancellations')} FINAL WHERE ${byPsn}mdtrt_id IN {m:Array(String)} ORDER BY event_time, event_id`, params),
    store.query<Row>(`SELECT * FROM ${t('discharges')} FINAL WHERE ${byPsn}mdtrt_id IN {m:Array(String)} ORDER BY endtime, mdtrt_id`, params),
    store.query<Row>(`SELECT * FROM ${t('fee_lines')} FINAL WHERE ${byPsn}mdtrt_id IN {m:Array(String)} ORDER BY fee_ocur_time, mdtrt_id, feedetl_sn LIMIT ${MAX_FEE_LINES}`, params),
    store.query<Row>(`SELECT mdtrt_id, feedetl_sn FROM ${t('fee_reversals')} FINAL WHERE mdtrt_id IN {m:Array(String)}`, params),
    store.query<Row>(`SELECT * FROM ${t('settlements')} FINAL WHERE ${byPsn}(mdtrt_id IN {m:Array(String)} OR setl_id IN {s:Array(String)}) ORDER BY setl_time, setl_id`, params),
    store.query<Row>(`SELECT setl_id FROM ${t('settlement_reversals')} FINAL WHERE setl_id IN (SELECT setl_id FROM ${t('settlements')} FINAL WHERE ${byPsn}(mdtrt_id IN {m:Array(String)} OR setl_id IN {s:Array(String)}))`, params),
  ])
  const reversed = new Set(reversals.map((r) => `${String(r.mdtrt_id)}/${String(r.feedetl_sn)}`))
  const setlReversed = new Set(setlRev.map((r) => String(r.setl_id)))
  // A visit as it stands: what visit.updated changed since it was opened (src/state/apply.ts updateVisit), in order.
  const changes = new Map<string, Row[]>()
  for (const u of updates) changes.set(String(u.mdtrt_id), [...(changes.get(String(u.mdtrt_id)) ?? []), u])
  const asUpdated = (r: Row): Row => {
    const out = { ...r }
    for (const u of changes.get(String(r.mdtrt_id)) ?? []) {
      if (u.med_type) out.med_type = u.med_type
      if (u.adm_dept_codg) out.adm_dept_codg = u.adm_dept_codg
      if (u.atddr_no) out.atddr_no = u.atddr_no
      if (Number(u.has_diagnoses)) out.diagnoses = u.diagnoses
    }
    return out
  }
  // Cancellations, in order: a visit's first 'visit' one; for a discharge, the first 'discharge' one sent after it.
  const cancelledVisit = new Map<string, string>()
  const dischargeCancels = new Map<string, number[]>()
  for (const c of cancellations) {
    const m = String(c.mdtrt_id)
    if (c.cancels === 'visit') { if (!cancelledVisit.has(m)) cancelledVisit.set(m, iso(c.event_time)) }
    else dischargeCancels.set(m, [...(dischargeCancels.get(m) ?? []), fromChTime(String(c.event_time))])
  }
  const dischargeCancelled = (r: Row): string | null => {
    const after = (dischargeCancels.get(String(r.mdtrt_id)) ?? []).find((t) => t > fromChTime(String(r.event_time)))
    return after === undefined ? null : new Date(after).toISOString()
  }
  return {
    visits: visits.map(asUpdated).map((r) => ({
      mdtrt_id: String(r.mdtrt_id), psn_no: String(r.psn_no), fixmedins_code: String(r.fixmedins_code), med_type: String(r.med_type), insutype: String(r.insutype),
      begntime: iso(r.begntime), insuplc_admdvs: String(r.insuplc_admdvs), ipt_otp_no: String(r.ipt_otp_no), adm_dept_codg: String(r.adm_dept_codg),
      atddr_no: String(r.atddr_no), gend: String(r.gend), brdy: String(r.brdy), certno: String(r.certno), psn_name: String(r.psn_name),
      diagnoses: (r.diagnoses as Tuple[]).map(diag), cancelled_at: cancelledVisit.get(String(r.mdtrt_id)) ?? null,
    })),
    discharges: discharges.map((r) => ({
      mdtrt_id: String(r.mdtrt_id), psn_no: String(r.psn_no), fixmedins_code: String(r.fixmedins_code), endtime: iso(r.endtime), dscg_way: String(r.dscg_way),
      dscg_maindiag_code: String(r.dscg_maindiag_code), diagnoses: (r.diagnoses as Tuple[]).map(diag), operations: (r.operations as Tuple[]).map(oprn),
      cancelled_at: dischargeCancelled(r),
    })),
    fee_lines: lines.map((r) => ({
      mdtrt_id: String(r.mdtrt_id), psn_no: String(r.psn_no), feedetl_sn: String(r.feedetl_sn), fixmedins_code: String(r.fixmedins_code),
      fee_ocur_time: iso(r.fee_ocur_time), med_list_codg: String(r.med_list_codg), medins_list_codg: String(r.medins_list_codg), list_type: String(r.list_type),
      med_chrgitm_type: String(r.med_chrgitm_type), cnt: qty(r.cnt), pric: money(r.pric), det_item_fee_sumamt: money(r.det_item_fee_sumamt),
      bilg_dept_codg: String(r.bilg_dept_codg), bilg_dr_codg: String(r.bilg_dr_codg), prd_days: r.prd_days === null ? null : Number(r.prd_days),
      hours: r.hours === null ? null : qty(r.hours), reversed: reversed.has(`${String(r.mdtrt_id)}/${String(r.feedetl_sn)}`), flagged: flagged.has(String(r.feedetl_sn)),
      item_name: kb?.catalog.get(String(r.med_list_codg))?.name ?? null,
    })),
    settlements: settlements.map((r) => ({
      setl_id: String(r.setl_id), mdtrt_id: String(r.mdtrt_id), psn_no: String(r.psn_no), fixmedins_code: String(r.fixmedins_code), setl_time: iso(r.setl_time),
      med_type: String(r.med_type), insutype: String(r.insutype), medfee_sumamt: money(r.medfee_sumamt), fulamt_ownpay_amt: money(r.fulamt_ownpay_amt),
      inscp_scp_amt: money(r.inscp_scp_amt), hifp_pay: money(r.hifp_pay), fund_pay_sumamt: money(r.fund_pay_sumamt), acct_pay: money(r.acct_pay),
      psn_cash_pay: money(r.psn_cash_pay), pay_grp_type: String(r.pay_grp_type), pay_grp_code: String(r.pay_grp_code), pay_grp_weight: String(Number(r.pay_grp_weight)),
      reversed: setlReversed.has(String(r.setl_id)),
    })),
  }
}
