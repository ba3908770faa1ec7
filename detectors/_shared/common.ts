// Small pure helpers shared by the streaming detectors. Nothing here keeps
// state: detectors read the person state the engine hands them.
import type { Diagnosis, DiagnosisRow, Text } from '../../schemas/index.ts'
import type { DetectContext, Finding, Notice } from '../../src/detect/types.ts'
import type { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import type { FeeLineState, VisitState } from '../../src/state/types.ts'
import { cnDayNumber, cnIso } from '../../src/util/time.ts'

/**
 * What a detector returns when it finds nothing. Shared and frozen so the hot
 * path (most events find nothing) allocates no array; the engine only reads it.
 */
export const NO_FINDINGS: Finding[] = Object.freeze([]) as unknown as Finding[]

/** 医疗类别 codes of inpatient stays: 2x 住院 and 52 生育住院. */
export const INPATIENT_MED_TYPES: readonly string[] = ['21', '22', '23', '24', '25', '26', '28', '52']

export function isInpatient(med_type: string): boolean {
  return (med_type.length === 2 && med_type[0] === '2') || med_type === '52'
}

/** Money in yuan, rounded to the fen (amounts are summed in fen to stay exact). */
export function toFen(yuan: number): number {
  return Math.round(yuan * 100)
}
export function fromFen(fen: number): number {
  return fen / 100
}
export function round2(yuan: number): number {
  return Math.round(yuan * 100) / 100
}

/**
 * The state of a line the current fee.uploaded event carries, or undefined when
 * it is reversed (a reversal may have arrived before a redelivery of the upload).
 */
export function activeLine(visit: VisitState, feedetl_sn: string): FeeLineState | undefined {
  const l = visit.lines.get(feedetl_sn)
  return l === undefined || l.reversed ? undefined : l
}

/** The fee.uploaded payload lines of the context, or undefined for any other event. */
export function uploadedLines(ctx: DetectContext): readonly { feedetl_sn: string }[] | undefined {
  return ctx.event.event_type === 'fee.uploaded' ? ctx.event.payload.lines : undefined
}

/** 医疗收费项目类别 01 床位费: the category of bed-day items. */
export const BED_CHRGITM_TYPE = '01'

/**
 * A line's 医疗收费项目类别 (charge category) as the knowledge base's catalog
 * classifies its item, the line's own code only for an item the catalog does
 * not know. Producers code the category inconsistently (a bed fee coded 05
 * 治疗费); the catalog (知识库) is the reference both sides agreed on, so a rule
 * about a kind of item (bed days, the categories that show care was given)
 * follows the item, not the producer's label. Every detector that reads a
 * line's category reads it here.
 */
export function chargeCategory(kb: KnowledgeBase, l: { readonly med_list_codg: string; readonly med_chrgitm_type: string }): string {
  return kb.catalog.get(l.med_list_codg)?.med_chrgitm_type ?? l.med_chrgitm_type
}

/** Whether a line bills bed days (chargeCategory 01 床位费). */
export function isBedLine(kb: KnowledgeBase, l: { readonly med_list_codg: string; readonly med_chrgitm_type: string }): boolean {
  return chargeCategory(kb, l) === BED_CHRGITM_TYPE
}

/**
 * The same rule for an audit detector's SQL over stored lines (the catalog is
 * not in the store): the condition "chargeCategory(line) ∈ types", with the
 * parameters it binds. `codesCodedIn` are the distinct med_list_codg of the
 * lines in scope whose own code is in `types` (a cheap first query); with the
 * catalog they give the two short lists the condition needs — the catalog's
 * items of those categories, and the items the catalog puts elsewhere though a
 * producer coded them in — so no query carries the whole catalog.
 */
export function chargeCategoryInSql(
  kb: KnowledgeBase, types: readonly string[], codesCodedIn: readonly string[], names = { types: 'cat_types', in: 'cat_in', out: 'cat_out' },
): { sql: string; params: Record<string, string[]> } {
  const inSet = new Set(types)
  const catIn: string[] = []
  for (const i of kb.catalog.values()) if (inSet.has(i.med_chrgitm_type)) catIn.push(i.med_list_codg)
  const catOut: string[] = []
  for (const c of codesCodedIn) {
    const i = kb.catalog.get(c)
    if (i !== undefined && !inSet.has(i.med_chrgitm_type)) catOut.push(c)
  }
  return {
    sql: `(med_list_codg IN {${names.in}:Array(String)} OR (med_chrgitm_type IN {${names.types}:Array(String)} AND med_list_codg NOT IN {${names.out}:Array(String)}))`,
    params: { [names.types]: [...types], [names.in]: catIn, [names.out]: catOut },
  }
}

/** Principal diagnosis: the discharge one once the visit is closed, else the flagged one, else the first. */
export function principalDiagnosis(v: VisitState): string | undefined {
  if (v.dscg_maindiag_code) return v.dscg_maindiag_code
  return mainOf(v.diagnoses)
}

export function mainOf(ds: readonly Diagnosis[]): string | undefined {
  for (const d of ds) if (d.maindiag_flag === '1') return d.diag_code
  return ds[0]?.diag_code
}

/** Whether a code starts with any of the prefixes (ICD-10 / ICD-9-CM-3 prefix matching). */
export function startsWithAny(code: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (code.startsWith(p)) return true
  return false
}

/**
 * What the insurance has paid on a visit so far, over its settlements that
 * stand: the pooled funds (fund_pay_sumamt) plus the personal account
 * (acct_pay) — both are fund money, and a pharmacy or outpatient visit of an
 * employee is often paid from the account alone. The audit detectors count
 * the same (src/audit/sql.ts, INSURANCE_PAID).
 */
export function insurancePaid(v: VisitState): number {
  return fromFen(insurancePaidFen(v))
}

/** The same, in integer fen: what a finding's amount is made of. */
export function insurancePaidFen(v: VisitState): number {
  let fen = 0
  for (const s of v.settlements.values()) if (!s.reversed) fen += toFen(s.fund_pay_sumamt) + toFen(s.acct_pay)
  return fen
}

export function activeSettlementIds(v: VisitState): string[] {
  const ids: string[] = []
  for (const s of v.settlements.values()) if (!s.reversed) ids.push(s.setl_id)
  return ids
}

/** event_ids that a finding about a visit rests on (its opening and closing). */
export function visitEventIds(v: VisitState): string[] {
  const ids: string[] = []
  if (v.open_event_id) ids.push(v.open_event_id)
  if (v.close_event_id) ids.push(v.close_event_id)
  return ids
}

/** A line as evidence: what a reviewer needs to find and judge it. */
export function lineEvidence(l: FeeLineState): Record<string, unknown> {
  return {
    feedetl_sn: l.feedetl_sn, med_list_codg: l.med_list_codg, fee_ocur_time: cnIso(l.fee_ocur_time),
    cnt: l.cnt, pric: l.pric, amount: l.amount, bilg_dr_codg: l.bilg_dr_codg, bilg_dept_codg: l.bilg_dept_codg,
    ...(l.hours === undefined ? {} : { hours: l.hours }),
    ...(l.prd_days === undefined ? {} : { prd_days: l.prd_days }),
  }
}

/** Policy texts cited by several detectors (the knowledge base's 政策依据). */
export const REGULATION = '《医疗保障基金使用监督管理条例》(国务院令第735号)'
export const KB_MEASURES = '《医疗保障基金智能审核和监控知识库、规则库管理办法(试行)》'

export function text(zh: string, en: string): Text {
  return { zh, en }
}

/** A flagged line and the part of its amount at risk. */
export interface FlaggedLine {
  line: FeeLineState
  amount: number
}

/**
 * One finding about the flagged lines of one item in one visit under one rule
 * (`rule` ends the key): however many lines of the item an event carries, one
 * finding lists them all — never one finding per line, each quoting the others.
 * The key names the visit and the item, so the finding judged again on a later
 * upload (over all the item's lines: touchedItems) replaces its earlier alert.
 * The amount is the sum of the lines' amounts, in fen.
 */
export function itemFinding(visit: VisitState, flagged: readonly FlaggedLine[], rule: string, message: Text, evidence: Record<string, unknown>): Finding {
  const sorted = [...flagged].sort((a, b) => (a.line.feedetl_sn < b.line.feedetl_sn ? -1 : a.line.feedetl_sn > b.line.feedetl_sn ? 1 : 0))
  const first = sorted[0]!.line
  let fen = 0
  for (const f of sorted) fen += toFen(f.amount)
  return {
    key: `${visit.mdtrt_id}/item/${first.med_list_codg}/${rule}`,
    subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id, doctor: first.bilg_dr_codg },
    refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: sorted.map((f) => f.line.feedetl_sn), event_ids: [...new Set(sorted.map((f) => f.line.event_id))] },
    amount_fen: fen,
    message,
    evidence: { ...evidence, lines_flagged: sorted.length, lines: sorted.map((f) => lineEvidence(f.line)) },
  }
}

/** A line judged on its own: what a per-line rule says about it. */
export interface LineJudgement extends FlaggedLine {
  message: Text
  evidence: Record<string, unknown>
  /** What the pre-check may disclose when the judgement rests on another institution's records (Finding.notice). */
  notice?: Notice
}

/**
 * The per-item judgement most line rules make: every standing line of `lines`
 * through `judge`, then one finding per item of those it flags (findingsByItem).
 */
export function judgeByItem(visit: VisitState, lines: Iterable<FeeLineState>, rule: string, judge: (l: FeeLineState) => LineJudgement | undefined): Finding[] {
  const judged: LineJudgement[] = []
  for (const l of lines) {
    if (l.reversed) continue
    const j = judge(l)
    if (j !== undefined) judged.push(j)
  }
  return findingsByItem(visit, judged, rule)
}

/**
 * Per-line judgements of one visit folded into one finding per item
 * (itemFinding): the message and evidence of the item's first line (by
 * feedetl_sn), with the number of lines when there are several; every line is
 * listed in the evidence and the refs, and their amounts are summed.
 */
export function findingsByItem(visit: VisitState, judged: readonly LineJudgement[], rule: string): Finding[] {
  if (judged.length === 0) return NO_FINDINGS
  const byItem = new Map<string, LineJudgement[]>()
  for (const j of judged) {
    const a = byItem.get(j.line.med_list_codg)
    if (a === undefined) byItem.set(j.line.med_list_codg, [j])
    else a.push(j)
  }
  const out: Finding[] = []
  for (const group of byItem.values()) {
    let first = group[0]!
    for (const j of group) if (j.line.feedetl_sn < first.line.feedetl_sn) first = j
    const n = group.length
    const message = n === 1 ? first.message : text(`${first.message.zh}(共 ${n} 条明细)`, `${first.message.en} (${n} lines)`)
    const f = itemFinding(visit, group, rule, message, first.evidence)
    if (first.notice !== undefined) f.notice = first.notice
    out.push(f)
  }
  return out
}

/** A finding about one fee line: keyed by visit and line, so a redelivery gives the same key. */
export function lineFinding(
  visit: VisitState, l: FeeLineState, amount_fen: number, message: Text, evidence: Record<string, unknown>, keySuffix = '',
): Finding {
  return {
    key: `${visit.mdtrt_id}/${l.feedetl_sn}${keySuffix}`,
    subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id, doctor: l.bilg_dr_codg },
    refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: [l.feedetl_sn], event_ids: [l.event_id] },
    amount_fen,
    message,
    evidence: { ...evidence, line: lineEvidence(l) },
  }
}

/**
 * Inpatient days, counted the way bed days are billed (算入不算出): China
 * calendar days from admission to discharge, the discharge day not counted,
 * at least 1.
 */
export function stayDays(begntime: number, endtime: number): number {
  return Math.max(1, cnDayNumber(endtime) - cnDayNumber(begntime))
}

/** Great-circle distance in km between two points given in degrees. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = Math.PI / 180
  const a = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)))
}

/** The line's amount scaled to the share of its quantity that exceeds a limit. */
export function excessShare(amount: number, total: number, limit: number): number {
  return total <= limit || total <= 0 ? 0 : round2((amount * (total - limit)) / total)
}

/**
 * The KB row of a diagnosis by longest prefix: J96.000 finds a row for J96.000,
 * J96.00, J96.0 or J96. KnowledgeBase.diagnosis() tries only the exact code and
 * the 3-character category, which misses rows kept at 4-character depth (CC lists are).
 */
export function diagnosisRow(kb: KnowledgeBase, code: string): DiagnosisRow | undefined {
  for (let n = code.length; n >= 3; n--) {
    const row = kb.diagnoses.get(code.slice(0, n))
    if (row !== undefined) return row
  }
  return undefined
}
