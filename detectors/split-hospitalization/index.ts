import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { PersonState, VisitState } from '../../src/state/types.ts'
import { cnDayNumber, cnIso } from '../../src/util/time.ts'
import { INPATIENT_MED_TYPES, KB_MEASURES, NO_FINDINGS, REGULATION, activeSettlementIds, insurancePaid, principalDiagnosis, startsWithAny, text, toFen } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  window_days: z.number().int().min(1).max(90).default(15)
    .describe('Readmission within this many China calendar days of the discharge date (discharge day D, admission day D + window_days is inside)').meta({ description_zh: '出院日后这么多个自然日(北京时间)内再次入院即计入(出院日为 D，入院日 D + window_days 仍在内)' }),
  diag_match_chars: z.number().int().min(1).max(7).default(3)
    .describe('Principal diagnoses match when this many leading characters of the ICD-10 code agree, dot ignored (3 = same category, J18.9 ~ J18.0)').meta({ description_zh: '主要诊断 ICD-10 编码前这么多位相同(忽略小数点)即视为相同(3 = 同一类目，J18.9 ~ J18.0)' }),
  planned_cycle_prefixes: z.array(z.string().regex(/^[A-Z]\d{0,2}/)).default(['Z49', 'Z51'])
    .describe('Diagnosis prefixes of planned cycles (Z51 放化疗, Z49 透析): a readmission carrying any of them is not split').meta({ description_zh: '计划周期治疗的诊断前缀(Z51 放化疗、Z49 透析)：再次入院带有其一的，不算分解住院' }),
  exclude_dscg_ways: z.array(z.enum(['1', '2', '3', '4', '5', '9'])).default(['2', '5'])
    .describe('离院方式 of the earlier stay that rule a split out (2 医嘱转院, 5 死亡)').meta({ description_zh: '前次住院的离院方式为其一的，不算分解住院(2 医嘱转院、5 死亡)' }),
  same_institution: z.boolean().default(true).describe('Only pairs of stays at the same institution').meta({ description_zh: '只比较同一机构的两次住院' }),
  inpatient_med_types: z.array(z.string()).default([...INPATIENT_MED_TYPES]).describe('医疗类别 codes that count as an inpatient stay').meta({ description_zh: '计为住院的医疗类别代码' }),
  amount_followup_days: z.number().int().min(0).max(365).default(30)
    .describe('Extra days of history kept so the finding can be re-issued with the fund payment when a readmission of up to this many days settles').meta({ description_zh: '额外保留的历史天数：再次入院(不超过这么多天)结算后，预警可带上基金支付额重新签发' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'split-hospitalization',
  version: '1.1.0',
  title: text('分解住院', 'Split hospitalization'),
  pattern: text('分解住院', 'Split hospitalization'),
  description: text(
    '参保人出院后短期内(默认15日内)在同一机构以相同或相关主诊断再次住院，且不属于计划性周期治疗(放化疗、透析)。',
    'A person discharged and readmitted to the same institution within a short window (15 days by default) with the same or a related principal diagnosis, not a planned treatment cycle.',
  ),
  stages: ['in'],
  scenarios: ['inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第十五条：不得分解住院；第三十八条第(一)项：分解住院的，责令退回并处罚款。${KB_MEASURES}"分解住院"类规则(出院后15日内再次入院)。`,
    `${REGULATION} art. 15: no split hospitalization; art. 38(1): recovered and fined. The "split hospitalization" rule family (readmission within 15 days) of the national smart-review knowledge/rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('gap_days', 'window_days', 'diag_match_chars', 'matched_category', 'planned_cycle_prefixes', 'earlier_stay', 'mdtrt_id', 'fixmedins_code', 'med_type', 'begntime', 'endtime', 'dscg_way', 'principal_diagnosis', 'insurance_pay', 'readmission', 'diagnoses', 'settled'),
  reactsTo: ['visit.opened', 'visit.closed', 'settlement.completed'],
  lookbackDays: (p) => p.window_days + 1 + p.amount_followup_days,
  detect(ctx, p) {
    const v = ctx.visit
    const person = ctx.person
    if (v === undefined || person === undefined || !isStay(v, p)) return NO_FINDINGS

    let findings: Finding[] | undefined
    // The visit as the readmission: on its admission, and again on its discharge
    // (final diagnosis) and settlement (fund payment known) under the same key.
    const earlier = nearestEarlier(person, v, p)
    if (earlier !== undefined) (findings ??= []).push(finding(earlier, v, p))
    // The visit as the earlier stay: its discharge arrived after the readmission
    // was opened (two systems, two delivery orders).
    if (ctx.event.event_type === 'visit.closed' && v.endtime !== undefined) {
      for (const later of person.visits.values()) {
        if (later === v || later.begntime < v.endtime || !isStay(later, p)) continue
        if (nearestEarlier(person, later, p) === v) (findings ??= []).push(finding(v, later, p))
      }
    }
    return findings ?? NO_FINDINGS
  },
})

function isStay(v: VisitState, p: Params): boolean {
  return v.begntime > 0 && p.inpatient_med_types.includes(v.med_type)
}

function category(code: string, chars: number): string {
  return code.replace('.', '').slice(0, chars)
}

function plannedCycle(v: VisitState, p: Params): boolean {
  if (v.dscg_maindiag_code !== undefined && startsWithAny(v.dscg_maindiag_code, p.planned_cycle_prefixes)) return true
  for (const d of v.diagnoses) if (startsWithAny(d.diag_code, p.planned_cycle_prefixes)) return true
  return false
}

/** The latest-discharged earlier stay that makes `later` a split readmission, if any. */
function nearestEarlier(person: PersonState, later: VisitState, p: Params): VisitState | undefined {
  const laterDiag = principalDiagnosis(later)
  if (laterDiag === undefined || plannedCycle(later, p)) return undefined
  const want = category(laterDiag, p.diag_match_chars)
  const admitDay = cnDayNumber(later.begntime)
  let best: VisitState | undefined
  for (const e of person.visits.values()) {
    if (e === later || e.endtime === undefined || e.endtime > later.begntime || !isStay(e, p)) continue
    if (p.same_institution && e.fixmedins_code !== later.fixmedins_code) continue
    if (admitDay - cnDayNumber(e.endtime) > p.window_days) continue
    if (e.dscg_way !== undefined && (p.exclude_dscg_ways as string[]).includes(e.dscg_way)) continue
    const earlierDiag = principalDiagnosis(e)
    if (earlierDiag === undefined || category(earlierDiag, p.diag_match_chars) !== want) continue
    if (best === undefined || e.endtime > best.endtime!) best = e
  }
  return best
}

function finding(e: VisitState, l: VisitState, p: Params): Finding {
  const gap = cnDayNumber(l.begntime) - cnDayNumber(e.endtime!)
  const eDiag = principalDiagnosis(e)!
  const lDiag = principalDiagnosis(l)!
  const fund = insurancePaid(l)
  const setlIds = activeSettlementIds(l)
  const eventIds: string[] = []
  for (const id of [e.open_event_id, e.close_event_id, l.open_event_id]) if (id !== undefined) eventIds.push(id)
  for (const s of l.settlements.values()) if (!s.reversed) eventIds.push(s.event_id)
  return {
    key: `${e.mdtrt_id}>${l.mdtrt_id}`,
    subject: {
      fixmedins_code: l.fixmedins_code, psn_no: l.psn_no, mdtrt_id: l.mdtrt_id,
      ...(l.atddr_no ? { doctor: l.atddr_no } : {}), ...(setlIds.length === 1 ? { setl_id: setlIds[0] } : {}),
    },
    refs: { mdtrt_ids: [e.mdtrt_id, l.mdtrt_id], setl_ids: setlIds, event_ids: eventIds },
    amount_fen: toFen(fund),
    message: text(
      `出院 ${gap} 天后在同一机构再次住院，主诊断 ${eDiag} → ${lDiag}(前${p.diag_match_chars}位相同)`,
      `Readmitted ${gap} day(s) after discharge, principal diagnosis ${eDiag} → ${lDiag} (first ${p.diag_match_chars} characters agree)`,
    ),
    evidence: {
      gap_days: gap, window_days: p.window_days, diag_match_chars: p.diag_match_chars, matched_category: category(lDiag, p.diag_match_chars),
      planned_cycle_prefixes: p.planned_cycle_prefixes,
      earlier_stay: {
        mdtrt_id: e.mdtrt_id, fixmedins_code: e.fixmedins_code, med_type: e.med_type, begntime: cnIso(e.begntime), endtime: cnIso(e.endtime!),
        dscg_way: e.dscg_way, principal_diagnosis: eDiag, insurance_pay: insurancePaid(e),
      },
      readmission: {
        mdtrt_id: l.mdtrt_id, fixmedins_code: l.fixmedins_code, med_type: l.med_type, begntime: cnIso(l.begntime),
        ...(l.endtime === undefined ? {} : { endtime: cnIso(l.endtime) }), principal_diagnosis: lDiag,
        diagnoses: l.diagnoses.map((d) => d.diag_code), insurance_pay: fund, settled: setlIds.length > 0,
      },
    },
    // Stable across the re-issues on discharge and settlement: the alert is about the readmission.
    event_time: cnIso(l.begntime),
  }
}
