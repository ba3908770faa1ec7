import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Alert } from '../../schemas/index.ts'
import {
  National3101Request, National3102Request, type AnalysisResult, type JudgeResultDetail, type NationalAnalysisRequest,
} from '../../schemas/national.ts'
import type { App } from '../app.ts'
import { MaskedRecord } from '../auth/mask.ts'
import type { Principal } from '../auth/principal.ts'
import { nationalRule, nationalRules } from '../detect/rulebase.ts'
import { FundwatchError, NationalRefusal } from '../errors.ts'
import { fen, yuan } from '../util/money.ts'
import { listTypeOf } from '../national/mapping.ts'
import { contractMedType } from '../national/variants.ts'
import { precheck } from './precheck.ts'

/**
 * The national rule-engine analysis (3101 事前 / 3102 事中, docs/national-analysis.md)
 * answered by the pre-check: each insured person of the request becomes one
 * draft of contract events — the current encounter as visit.opened, its orders
 * as the lines of one fee.uploaded, and for 3102 at inpatient (pre-)settlement
 * its discharge as visit.closed — run through precheck() like any draft
 * (validation, admission, disclosure, the same detectors and alert ids), and
 * each finding is written as a national result.
 */

export type AnalysisInfno = '3101' | '3102'


/** 触发场景 (§6): 1 门诊挂号 2 门诊收费登记 3 住院登记 4 住院收费登记 5 住院执行医嘱 | 6 门诊结算 7 门诊预结算 8 住院结算 9 住院预结算 10 购药划卡. */
export const TRIG_SCENES: Record<AnalysisInfno, readonly string[]> = { '3101': ['1', '2', '3', '4', '5'], '3102': ['6', '7', '8', '9', '10'] }
/** Scenes at which the stay has been discharged (2402 comes before 2303/2304): the encounter's discharge is part of the draft. */
const DISCHARGED = new Set(['8', '9'])
/** 3101 is judged by the 事前 detectors, 3102 by the 事中 ones. */
export const STAGE: Record<AnalysisInfno, 'pre' | 'in'> = { '3101': 'pre', '3102': 'in' }

const SCHEMAS = { '3101': National3101Request, '3102': National3102Request } as const

/** Validates a 3101/3102 request; a refusal names the first wrong field by its national path. */
export function parseAnalysisRequest(infno: AnalysisInfno, body: unknown): NationalAnalysisRequest {
  const r = SCHEMAS[infno].safeParse(body)
  if (r.success) return r.data
  throw new NationalRefusal(issueText(r.error, body))
}

/** `input.data.patient_dtos[0].patn_id: missing` — the first issue, as the HIS's developer reads it. */
export function issueText(err: z.ZodError, input: unknown): string {
  const i = err.issues[0]!
  const path = i.path.map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k ? '.' : ''}${String(p)}`)).join('')
  let v = input
  for (const p of i.path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined
  const missing = i.path.length > 0 && v === undefined
  return `${path || 'body'}: ${missing ? 'missing (required)' : i.message}${err.issues.length > 1 ? ` (and ${err.issues.length - 1} more)` : ''}`
}

const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

/** National D / DT (China time) → RFC 3339 with +08:00. */
export function cnTime(v: string): string {
  const [d, t = '00:00:00'] = v.split(' ')
  return `${d}T${t.length === 5 ? `${t}:00` : t}+08:00`
}


interface Order { rx_id: string; feedetl_sn: string; fee: bigint; current: boolean }

/** One person of the request as a pre-check draft, and what the answer needs to speak of its lines. */
export interface AnalysisDraft {
  index: number
  patn_id: string
  mdtrt_id: string
  events: unknown[]
  /** By feedetl_sn: the order each draft line came from. */
  orders: Map<string, Order>
}

/** Maps each patient_dtos entry to a draft (see the module comment and docs/national-analysis.md, "Request mapping"). */
export function draftsOf(infno: AnalysisInfno, req: NationalAnalysisRequest): AnalysisDraft[] {
  const data = req.input.data
  const scenes = trigScenes(infno, data.trig_scen)
  const eventTime = cnTime(req.inf_time)
  const system = s((req as Record<string, unknown>).fixmedins_soft_fcty)
  const source = { fixmedins_code: req.fixmedins_code, ...(system ? { system } : {}) }
  let n = 0
  const envelope = (event_type: string, payload: Record<string, unknown>) => ({ event_id: `${req.msgid}.${++n}`, event_type, event_time: eventTime, schema_version: 1, source, payload })
  return data.patient_dtos.map((p, index) => {
    const at = `input.data.patient_dtos[${index}]`
    const psn_no = s(p.patn_id)
    const curr = s(p.curr_mdtrt_id)
    const k = p.fsi_encounter_dtos.findIndex((e) => s(e.mdtrt_id) === curr)
    if (k < 0) throw new NationalRefusal(`${at}.curr_mdtrt_id: ${curr} names no encounter of fsi_encounter_dtos`)
    const e = p.fsi_encounter_dtos[k]!
    const eAt = `${at}.fsi_encounter_dtos[${k}]`
    if (s(e.medins_id) !== req.fixmedins_code) throw new NationalRefusal(`${eAt}.medins_id: the current encounter is ${s(e.medins_id)}'s, not the sender ${req.fixmedins_code}'s`)
    const diagnoses = [...e.fsi_diagnose_dtos]
      .sort((a, b) => Number(s(a.dias_srt_no) || 0) - Number(s(b.dias_srt_no) || 0))
      .map((d) => ({ diag_code: d.dise_codg, diag_name: d.dise_name, maindiag_flag: s(d.maindise_flag) === '1' ? '1' : '0' }))
    const insuplc = [s(req.insuplc_admdvs), s(p.poolarea), s(req.mdtrtarea_admvs)].find((x) => /^\d{6}$/.test(x)) ?? s(req.mdtrtarea_admvs)
    const events: unknown[] = [envelope('visit.opened', {
      mdtrt_id: curr, psn_no, med_type: contractMedType(s(e.med_type)), begntime: cnTime(e.adm_date), insutype: s(e.insutype), insuplc_admdvs: insuplc,
      ipt_otp_no: curr, adm_dept_codg: s(e.adm_dept_codg), atddr_no: s(e.dr_codg), psn: { gend: s(p.gend), brdy: p.brdy.slice(0, 10) }, diagnoses,
    })]
    const orders = new Map<string, Order>()
    const flagged = e.fsi_order_dtos.some((o) => s(o.curr_drord_flag) === '1')
    const lines = e.fsi_order_dtos.map((o, j) => {
      // An HIS that uploads the order under another line id says so in the order's own feedetl_sn (an extra field).
      const sn = s((o as Record<string, unknown>).feedetl_sn) || s(o.rx_id)
      if (orders.has(sn)) throw new NationalRefusal(`${eAt}.fsi_order_dtos[${j}].rx_id: ${sn} appears twice; an order line is one fee line`)
      const chrg = s(o.chrg_type).padStart(2, '0')
      const sumamt = s(o.sumamt)
      orders.set(sn, { rx_id: s(o.rx_id), feedetl_sn: sn, fee: /^\d+(\.\d+)?$/.test(sumamt) ? fen(sumamt) : 0n, current: !flagged || s(o.curr_drord_flag) === '1' })
      // What an order cannot print but the fee line carries (2204's prd_days, the expContent hours): taken when the HIS adds them.
      const ext = expContent(o)
      const prd = s((o as Record<string, unknown>).prd_days ?? ext.prd_days)
      const hours = s((o as Record<string, unknown>).hours ?? ext.hours)
      return {
        feedetl_sn: sn, fee_ocur_time: cnTime(o.drord_begn_date), med_list_codg: o.hilist_code, medins_list_codg: s(o.hosplist_code),
        list_type: listTypeOf(chrg), med_chrgitm_type: chrg, cnt: s(o.cnt), pric: s(o.pric), det_item_fee_sumamt: sumamt,
        bilg_dept_codg: s(o.drord_dept_codg), bilg_dr_codg: s(o.drord_dr_codg),
        ...(prd !== '' && Number(prd) !== 0 ? { prd_days: Number(prd) } : {}),
        ...(hours !== '' ? { hours } : {}),
      }
    })
    if (lines.length) events.push(envelope('fee.uploaded', { mdtrt_id: curr, psn_no, lines }))
    if (infno === '3102' && scenes.some((x) => DISCHARGED.has(x))) {
      const endtime = s(e.dscg_date)
      const main = s(e.dscg_main_dise_codg)
      if (!endtime) throw new NationalRefusal(`${eAt}.dscg_date: missing (required at trig_scen 8/9, the discharged stay)`)
      if (!main) throw new NationalRefusal(`${eAt}.dscg_main_dise_codg: missing (required at trig_scen 8/9, the discharged stay)`)
      const operations = (e.fsi_operation_dtos ?? []).filter((o) => s(o.oprn_code) !== '')
        .map((o) => ({ oprn_oprt_code: s(o.oprn_code), oprn_oprt_date: s(o.oprn_date).slice(0, 10) || endtime.slice(0, 10) }))
      events.push(envelope('visit.closed', {
        mdtrt_id: curr, psn_no, endtime: cnTime(endtime), dscg_way: s((e as Record<string, unknown>).dscg_way) || '9', dscg_maindiag_code: main,
        diagnoses, ...(operations.length ? { operations } : {}),
      }))
    }
    return { index, patn_id: psn_no, mdtrt_id: curr, events, orders }
  })
}

/** The national extension field of a node (Jiangxi's expContent): an object, or a JSON string of one; anything else is nothing. */
function expContent(node: object): Record<string, unknown> {
  let v = (node as Record<string, unknown>).expContent
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v)
    } catch {
      return {}
    }
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {}
}

/** trig_scen as a list (some callers send "1,2"); each must belong to the transaction (3101: 1–5, 3102: 6–10). */
export function trigScenes(infno: AnalysisInfno, v: unknown): string[] {
  const list = s(v).split(',').map((x) => x.trim()).filter((x) => x !== '')
  for (const x of list) {
    if (!TRIG_SCENES[infno].includes(x)) {
      const other = infno === '3101' ? '3102' : '3101'
      const hint = TRIG_SCENES[other].includes(x) ? `: it is a ${other === '3101' ? '事前' : '事中'} scene, send it as ${other}` : ''
      throw new NationalRefusal(`input.data.trig_scen: ${x} is not a scene of ${infno} (${TRIG_SCENES[infno].join(', ')})${hint}`)
    }
  }
  return list
}

/** rule_ids → the detectors whose findings are answered (undefined: all). A rule id (FWR0101) or a detector id is taken; an unknown one is refused. */
export function selectedDetectors(ruleIds: readonly string[] | undefined): Set<string> | undefined {
  if (!ruleIds || ruleIds.length === 0) return undefined
  const rules = nationalRules()
  const out = new Set<string>()
  for (const id of ruleIds) {
    const r = rules.find((x) => x.rule_id === id || x.detector === id)
    if (!r) throw new NationalRefusal(`input.data.rule_ids: unknown rule ${JSON.stringify(id)}; fundwatch's rules are ${rules.map((x) => x.rule_id).join(', ')} (docs/national-analysis.md)`)
    out.add(r.detector)
  }
  return out
}

/**
 * 严重程度 from the finding's judgement: a 违规 (violation) is 1 明确违规
 * whatever its severity; a 可疑 (suspicious) finding is 2 高度可疑 at high or
 * critical severity and 3 轻度可疑 at low or medium.
 */
export function sevDeg(a: Pick<Alert, 'result' | 'severity'>): '1' | '2' | '3' {
  if (a.result === 'violation') return '1'
  return a.severity === 'high' || a.severity === 'critical' ? '2' : '3'
}

const detailId = (alertId: string, sn: string) => createHash('sha256').update(alertId).update('\n').update(sn).digest('hex').slice(0, 32)
const num = (f: bigint) => Number(yuan(f))

/** One finding as a national result (docs/national-analysis.md, "Response fields"). */
export function toResult(a: Alert, d: AnalysisDraft, taskId: string | undefined): AnalysisResult {
  const rule = nationalRule(a.detector.id)
  if (!rule) throw new FundwatchError('DETECTOR_FAILED', `detector ${a.detector.id} has no national rule`)
  const mdtrt_id = a.subject.mdtrt_id ?? a.refs.mdtrt_ids[0] ?? d.mdtrt_id
  const amount = fen(a.amount_at_risk)
  // The amount goes to the finding's lines among the request's current orders, in order, each at most its own fee.
  let left = amount
  const details: JudgeResultDetail[] = a.refs.feedetl_sns.map((sn) => {
    const o = d.orders.get(sn)
    const violating = o?.current === true
    const share = violating ? (o.fee < left ? o.fee : left) : 0n
    left -= share
    return {
      jrd_id: detailId(a.alert_id, sn), patn_id: d.patn_id, mdtrt_id: o ? d.mdtrt_id : mdtrt_id, rx_id: o?.rx_id ?? sn,
      vola_item_type: violating ? '1' as const : '2' as const, vola_amt: num(share),
    }
  })
  // A finding about the visit as a whole (no line): one detail, the visit.
  if (details.length === 0) details.push({ jrd_id: detailId(a.alert_id, ''), patn_id: d.patn_id, mdtrt_id, vola_item_type: '1', vola_amt: num(amount) })
  return {
    jr_id: a.alert_id, rule_id: rule.rule_id, rule_name: rule.rule_name, vola_cont: a.message.zh, patn_id: d.patn_id, mdtrt_id,
    judge_result_detail_dtos: details,
    vola_amt: num(amount), vola_amt_stas: a.evidence.amount_withheld === true ? '0' : '1', sev_deg: sevDeg(a), vola_evid: a.basis.zh,
    vola_bhvr_type: rule.vola_bhvr_type, ...(taskId ? { task_id: taskId } : {}),
    expContent: {
      detector: a.detector.id, result: a.result, severity: a.severity, stage: a.stage, amount_at_risk: a.amount_at_risk,
      feedetl_sns: a.refs.feedetl_sns,
      // Masked as POST /api/v1/precheck masks it for its callers (the response is not an inspector's).
      evidence: z.encode(MaskedRecord, a.evidence),
    },
  }
}

/**
 * 3101 / 3102: every person of the request through precheck() at the
 * transaction's stage; the findings of the selected rules as national results.
 * A refusal of the pre-check (a 4xx) is a NationalRefusal naming the person.
 */
export async function analyse(app: App, caller: Principal, infno: AnalysisInfno, body: unknown, now: number): Promise<{ result: AnalysisResult[] }> {
  const req = parseAnalysisRequest(infno, body)
  const selected = selectedDetectors(req.input.data.rule_ids)
  const drafts = draftsOf(infno, req)
  const taskId = req.input.data.task_id === undefined ? undefined : s(req.input.data.task_id)
  const result: AnalysisResult[] = []
  for (const d of drafts) {
    let findings: Alert[]
    try {
      findings = (await precheck(app, caller, d.events, now, { stage: STAGE[infno] })).findings
    } catch (err) {
      if (err instanceof FundwatchError && err.statusCode < 500) throw new NationalRefusal(`input.data.patient_dtos[${d.index}] (encounter ${d.mdtrt_id}): ${draftMessage(err.message, d)}`)
      throw err
    }
    for (const a of findings) if (!selected || selected.has(a.detector.id)) result.push(toResult(a, d, taskId))
  }
  return { result }
}

/** A pre-check refusal names draft events (events[i]) and contract paths; say which part of the encounter they came from. */
function draftMessage(msg: string, d: AnalysisDraft): string {
  return msg.replace(/^events\[(\d+)\]: /, (_m, i: string) => {
    const ev = d.events[Number(i)] as { event_type?: string } | undefined
    const part = ev?.event_type === 'fee.uploaded' ? 'fsi_order_dtos (as fee lines, payload.lines[k] = fsi_order_dtos[k])'
      : ev?.event_type === 'visit.closed' ? 'the discharge (dscg_date, dscg_main_dise_codg, fsi_operation_dtos)'
        : 'the encounter (as visit.opened)'
    return `${part}: `
  })
}
