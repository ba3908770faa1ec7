import { z } from 'zod'
import type { PayGroupRow } from '../../schemas/index.ts'
import { defineDetector, type DetectContext, type Finding } from '../../src/detect/types.ts'
import type { SettlementState, VisitState } from '../../src/state/types.ts'
import { cnIso } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, diagnosisRow, principalDiagnosis, round2, stayDays, text, toFen, visitEventIds } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  check_unsupported_cc: z.boolean().default(true)
    .describe('Flag a group whose CC/MCC level rests on secondary diagnoses none of whose KB evidence_items was billed').meta({ description_zh: '病组的 CC/MCC 级别依赖的次要诊断，其知识库佐证项目(evidence_items)一项都未计费的，予以标记' }),
  check_short_stay: z.boolean().default(true).describe('Flag a high-weight group with a stay far shorter than the group\'s avg_los_days').meta({ description_zh: '高权重病组的住院天数远短于该组平均住院日(avg_los_days)的，予以标记' }),
  min_weight: z.number().positive().default(2).describe('Groups at or above this weight count as high-weight').meta({ description_zh: '权重不低于此值的病组视为高权重' }),
  short_stay_ratio: z.number().min(0.05).max(1).default(0.3).describe('A stay shorter than avg_los_days × this ratio is implausibly short').meta({ description_zh: '住院天数短于 avg_los_days × 此比例即为不合理的短' }),
  exclude_dscg_ways: z.array(z.enum(['1', '2', '3', '4', '5', '9'])).default(['2', '4', '5'])
    .describe('离院方式 for which a short stay is expected (2 转院, 4 非医嘱离院, 5 死亡)').meta({ description_zh: '住院短属正常的离院方式(2 转院、4 非医嘱离院、5 死亡)' }),
}).strict()
type Params = z.infer<typeof params>

const LEVEL = { none: 0, CC: 1, MCC: 2 } as const
type Level = keyof typeof LEVEL
// CHS-DRG: the last character of a group code is its complication level (1 MCC, 3 CC, 5 none).
const SUFFIX: Record<Level, string> = { MCC: '1', CC: '3', none: '5' }

export default defineDetector({
  kind: 'stream',
  id: 'drg-upcoding',
  version: '1.0.0',
  title: text('高套病种/高套分组', 'DRG/DIP upcoding'),
  pattern: text('高套病种/高套分组', 'DRG/DIP upcoding'),
  description: text(
    '结算入组依赖的并发症/合并症(CC/MCC)次要诊断在费用明细中没有任何支撑项目；或高权重病组的住院天数远短于该组平均住院日。',
    'The CC/MCC secondary diagnoses the group rests on have no supporting fee lines; or a high-weight group with a stay far shorter than the group\'s average length of stay.',
  ),
  stages: ['in'],
  scenarios: ['inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第三十八条第(七)项及第四十条；国家医保局《DRG/DIP支付方式改革三年行动计划》(医保发〔2021〕48号)要求加强对高套分组、分解住院等行为的监管；《医疗保障基金结算清单填写规范》(次要诊断须有诊疗依据)。${KB_MEASURES}"高套病种"类规则。`,
    `${REGULATION} art. 38(7) and art. 40; the NHSA three-year DRG/DIP action plan (2021 No. 48) on upcoding; the settlement-list coding rules (secondary diagnoses must be supported by care); the upcoding rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('rule', 'pay_grp', 'type', 'code', 'weight', 'group_cc', 'required_level', 'supported_level', 'principal_diagnosis', 'secondary_diagnoses', 'diag_code', 'cc', 'evidence_items', 'supported', 'sibling_group', 'amount_basis', 'fund_pay_sumamt', 'group_weight', 'min_weight', 'avg_los_days', 'short_stay_ratio', 'stay_days', 'begntime', 'endtime', 'end_from', 'dscg_way'),
  reactsTo: ['settlement.completed'],
  detect(ctx, p) {
    const v = ctx.visit
    if (v === undefined || ctx.event.event_type !== 'settlement.completed') return NO_FINDINGS
    const s = v.settlements.get(ctx.event.payload.setl_id)
    if (s === undefined || s.reversed || s.pay_grp === undefined) return NO_FINDINGS
    const group = ctx.kb.groups.get(`${s.pay_grp.type}:${s.pay_grp.code}`)
    let findings: Finding[] | undefined
    if (p.check_unsupported_cc) {
      const f = unsupportedCc(ctx, v, s, group)
      if (f !== undefined) (findings ??= []).push(f)
    }
    if (p.check_short_stay) {
      const f = shortStay(v, s, group, p)
      if (f !== undefined) (findings ??= []).push(f)
    }
    return findings ?? NO_FINDINGS
  },
})

function base(v: VisitState, s: SettlementState, suffix: string): Pick<Finding, 'key' | 'subject' | 'refs'> {
  return {
    key: `${s.setl_id}/${suffix}`,
    subject: { fixmedins_code: v.fixmedins_code, psn_no: v.psn_no, mdtrt_id: v.mdtrt_id, setl_id: s.setl_id, ...(v.atddr_no ? { doctor: v.atddr_no } : {}) },
    refs: { mdtrt_ids: [v.mdtrt_id], setl_ids: [s.setl_id], event_ids: [...visitEventIds(v), s.event_id] },
  }
}

function unsupportedCc(ctx: DetectContext, v: VisitState, s: SettlementState, group: PayGroupRow | undefined): Finding | undefined {
  const principal = principalDiagnosis(v)
  const billed = new Set<string>()
  for (const l of v.lines.values()) if (!l.reversed) billed.add(l.med_list_codg)
  const claimed: { diag_code: string; cc: Level; evidence_items: string[]; supported: boolean }[] = []
  let claimedLevel: Level = 'none'
  let supportedLevel: Level = 'none'
  for (const d of v.diagnoses) {
    if (d.diag_code === principal || d.maindiag_flag === '1') continue
    const row = diagnosisRow(ctx.kb, d.diag_code)
    if (row === undefined || row.cc === 'none') continue
    // A diagnosis the KB names no evidence for cannot be judged: it counts as supported.
    const supported = row.evidence_items.length === 0 || row.evidence_items.some((c) => billed.has(c))
    claimed.push({ diag_code: d.diag_code, cc: row.cc, evidence_items: row.evidence_items, supported })
    if (LEVEL[row.cc] > LEVEL[claimedLevel]) claimedLevel = row.cc
    if (supported && LEVEL[row.cc] > LEVEL[supportedLevel]) supportedLevel = row.cc
  }
  const required: Level = group?.cc ?? claimedLevel
  if (LEVEL[required] <= LEVEL[supportedLevel]) return undefined
  const unsupported = claimed.filter((c) => !c.supported && LEVEL[c.cc] > LEVEL[supportedLevel])
  if (unsupported.length === 0) return undefined
  const weight = s.pay_grp!.weight || group?.weight || 0
  const sibling = ctx.kb.groups.get(`${s.pay_grp!.type}:${s.pay_grp!.code.slice(0, -1)}${SUFFIX[supportedLevel]}`)
  const amount = sibling !== undefined && weight > 0 ? round2(Math.max(0, s.fund_pay_sumamt * (1 - sibling.weight / weight))) : s.fund_pay_sumamt
  const codes = unsupported.map((u) => u.diag_code)
  return {
    ...base(v, s, 'cc'),
    amount_fen: toFen(amount),
    message: text(`病组 ${s.pay_grp!.code} 依赖的${required}次要诊断 ${codes.join('、')} 无任何支撑费用明细`,
      `Group ${s.pay_grp!.code} rests on ${required} secondary diagnoses ${codes.join(', ')} with no supporting fee line`),
    evidence: {
      rule: 'unsupported_cc', pay_grp: s.pay_grp, group_cc: group?.cc ?? null, required_level: required, supported_level: supportedLevel,
      principal_diagnosis: principal, secondary_diagnoses: claimed,
      sibling_group: sibling === undefined ? null : { code: sibling.code, weight: sibling.weight },
      amount_basis: sibling === undefined ? 'fund_pay_upper_bound' : 'fund_pay × (1 − sibling weight / weight)', fund_pay_sumamt: s.fund_pay_sumamt,
    },
  }
}

function shortStay(v: VisitState, s: SettlementState, group: PayGroupRow | undefined, p: Params): Finding | undefined {
  if (group === undefined || !v.opened || v.begntime === 0) return undefined
  const weight = s.pay_grp!.weight || group.weight
  if (weight < p.min_weight) return undefined
  if (v.dscg_way !== undefined && (p.exclude_dscg_ways as string[]).includes(v.dscg_way)) return undefined
  const end = v.endtime ?? s.setl_time
  const los = stayDays(v.begntime, end)
  const limit = group.avg_los_days * p.short_stay_ratio
  if (los >= limit) return undefined
  return {
    ...base(v, s, 'short-stay'),
    amount_fen: toFen(s.fund_pay_sumamt),
    message: text(`高权重病组 ${group.code}(权重 ${weight})住院仅 ${los} 天，平均住院日 ${group.avg_los_days} 天`,
      `High-weight group ${group.code} (weight ${weight}) with a stay of ${los} days against an average of ${group.avg_los_days}`),
    evidence: {
      rule: 'short_stay', pay_grp: s.pay_grp, group_weight: weight, min_weight: p.min_weight, avg_los_days: group.avg_los_days,
      short_stay_ratio: p.short_stay_ratio, stay_days: los, begntime: cnIso(v.begntime), endtime: cnIso(end), end_from: v.endtime === undefined ? 'setl_time' : 'discharge',
      dscg_way: v.dscg_way ?? null, amount_basis: 'fund_pay_upper_bound', fund_pay_sumamt: s.fund_pay_sumamt,
    },
  }
}
