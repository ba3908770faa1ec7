import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { PersonState, VisitState } from '../../src/state/types.ts'
import { cnDate, cnIso } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, activeSettlementIds, insurancePaid, insurancePaidFen, text } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  max_visits_per_day: z.number().int().min(1).max(50).default(3).describe('Visits of the counted types per person per China day; more is frequent').meta({ description_zh: '每位参保人每个自然日(北京时间)计入类别的就诊次数上限；超过即为频繁' }),
  max_visits_per_month: z.number().int().min(1).max(500).default(15).describe('Visits of the counted types per person per China calendar month (自然月)').meta({ description_zh: '每位参保人每个自然月计入类别的就诊次数上限' }),
  med_types: z.array(z.string()).default(['11', '12', '13', '15', '16', '19'])
    .describe('医疗类别 codes counted; 14 门诊慢特病 (dialysis, chemotherapy) is left out by default because its frequency is prescribed').meta({ description_zh: '计入的医疗类别代码；14 门诊慢特病(透析、化疗)默认不计，因其频次由医嘱决定' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'frequent-visits',
  version: '1.1.0',
  title: text('频繁就医', 'Frequent visits'),
  pattern: text('频繁就医', 'Frequent visits'),
  description: text(
    '参保人单日或单个自然月内门急诊就诊次数超过阈值。',
    'A person with more outpatient or emergency visits in one China day or one calendar month than the threshold.',
  ),
  stages: ['in'],
  scenarios: ['outpatient'],
  result: 'suspicious',
  severity: 'low',
  basis: text(
    `${REGULATION}第四十一条(个人重复享受待遇、转卖药品)及第十五条(诱导、协助他人虚假就医)。${KB_MEASURES}"频繁就医"类规则(单日、自然月就诊次数)。`,
    `${REGULATION} art. 41 (individual abuse of benefits) and art. 15 (inducing false visits); the frequent-visit rule family (per day, per calendar month) of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('period', 'label', 'visits', 'threshold', 'institutions', 'visit_list', 'mdtrt_id', 'fixmedins_code', 'med_type', 'begntime', 'insurance_pay', 'amount_basis'),
  reactsTo: ['visit.opened', 'settlement.completed'],
  lookbackDays: () => 32,
  detect(ctx, p) {
    const v = ctx.visit
    const person = ctx.person
    if (v === undefined || person === undefined || !counted(v, p)) return NO_FINDINGS
    const day = cnDate(v.begntime)
    const month = day.slice(0, 7)
    const sameDay: VisitState[] = []
    const sameMonth: VisitState[] = []
    for (const o of person.visits.values()) {
      if (!counted(o, p)) continue
      const d = cnDate(o.begntime)
      if (d.slice(0, 7) !== month) continue
      sameMonth.push(o)
      if (d === day) sameDay.push(o)
    }
    let findings: Finding[] | undefined
    if (sameDay.length > p.max_visits_per_day) (findings ??= []).push(finding(person, sameDay, p.max_visits_per_day, 'day', day))
    if (sameMonth.length > p.max_visits_per_month) (findings ??= []).push(finding(person, sameMonth, p.max_visits_per_month, 'month', month))
    return findings ?? NO_FINDINGS
  },
})

function counted(v: VisitState, p: Params): boolean {
  return v.opened && v.begntime > 0 && p.med_types.includes(v.med_type)
}

function finding(person: PersonState, visits: VisitState[], max: number, period: 'day' | 'month', label: string): Finding {
  visits.sort((a, b) => a.begntime - b.begntime || (a.mdtrt_id < b.mdtrt_id ? -1 : 1))
  // The visits beyond the threshold are the excess; their fund payment is what is at risk.
  let fen = 0
  for (const v of visits.slice(max)) fen += insurancePaidFen(v)
  const institutions = [...new Set(visits.map((v) => v.fixmedins_code))]
  const last = visits[visits.length - 1]!
  const zhPeriod = period === 'day' ? `${label} 当日` : `${label} 月`
  return {
    key: `${person.psn_no}/${period}/${label}`,
    subject: { fixmedins_code: last.fixmedins_code, psn_no: person.psn_no },
    refs: {
      mdtrt_ids: visits.map((v) => v.mdtrt_id), setl_ids: visits.flatMap(activeSettlementIds),
      event_ids: visits.flatMap((v) => (v.open_event_id === undefined ? [] : [v.open_event_id])),
    },
    amount_fen: fen,
    message: text(`${zhPeriod}就诊 ${visits.length} 次(${institutions.length} 家机构)，超过 ${max} 次`,
      `${visits.length} visits at ${institutions.length} institution(s) in ${period === 'day' ? 'the day' : 'the month'} ${label}, above ${max}`),
    evidence: {
      period, label, visits: visits.length, threshold: max, institutions,
      visit_list: visits.map((v) => ({ mdtrt_id: v.mdtrt_id, fixmedins_code: v.fixmedins_code, med_type: v.med_type, begntime: cnIso(v.begntime), insurance_pay: insurancePaid(v) })),
      amount_basis: 'fund payment of the visits beyond the threshold, in time order',
    },
    event_time: cnIso(last.begntime),
  }
}
