import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState } from '../../src/state/types.ts'
import { cnDate, cnDayNumber } from '../../src/util/time.ts'
import { INPATIENT_MED_TYPES, KB_MEASURES, NO_FINDINGS, REGULATION, activeLine, excessShare, lineEvidence, text, toFen, uploadedLines } from '../_shared/common.ts'
import { linesWithCode } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  min_prescriptions: z.number().int().min(2).max(20).default(2)
    .describe('Separate prescriptions (distinct visit + fee time) of one drug on one China day needed').meta({ description_zh: '同一药品在同一自然日(北京时间)需要的独立处方数(不同就诊 + 费用时间)' }),
  same_institution: z.boolean().default(true).describe('Count only prescriptions at the same institution (across institutions is drug-hoarding)').meta({ description_zh: '只计同一机构的处方(跨机构属囤药 drug-hoarding)' }),
  default_max_prd_days: z.number().int().min(0).max(366).default(0)
    .describe('Per-prescription limit for drugs whose catalog entry has no max_prd_days; 0 = such drugs are not judged').meta({ description_zh: '目录未给出最大用药天数的药品的单张处方上限；0 = 此类药品不判定' }),
  inpatient_med_types: z.array(z.string()).default([...INPATIENT_MED_TYPES])
    .describe('医疗类别 of stays whose drug lines are daily administration, not prescriptions: not counted').meta({ description_zh: '住院类医疗类别：其药品明细为每日用药而非处方，不计入' }),
  max_visit_span_days: z.number().int().min(0).max(30).default(3)
    .describe('An outpatient visit not yet closed is searched for lines up to this many days after registration').meta({ description_zh: '尚未结束的门诊就诊，在挂号后这么多天内查找其明细' }),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'split-prescription',
  version: '1.0.0',
  title: text('分解处方', 'Split prescription'),
  pattern: text('分解处方', 'Split prescription'),
  description: text(
    '同一参保人同一天在同一机构就同一药品开具多张处方，单张不超限但合计天数超过单张处方限定。',
    'Several same-day prescriptions of one drug for one person at one institution, each within the per-prescription limit but together above it.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'pharmacy', 'chronic'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条：不得分解处方；第三十八条第(二)项。《处方管理办法》第十九条处方用量规定。${KB_MEASURES}"分解处方"类规则。`,
    `${REGULATION} art. 15 (no split prescriptions) and art. 38(2); Prescription Management Measures art. 19; the split-prescription rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('day', 'prescriptions', 'total_prd_days', 'max_prd_days', 'doctors', 'lines', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'prd_days'),
  reactsTo: ['fee.uploaded'],
  lookbackDays: (p) => p.max_visit_span_days + 1,
  detect(ctx, p) {
    const uploaded = uploadedLines(ctx)
    const visit = ctx.visit
    const person = ctx.person
    if (uploaded === undefined || visit === undefined || person === undefined || p.inpatient_med_types.includes(visit.med_type)) return NO_FINDINGS
    let touched: Map<string, { code: string; day: number; max: number }> | undefined
    for (const u of uploaded) {
      const l = activeLine(visit, u.feedetl_sn)
      if (l === undefined || (l.list_type !== 'drug' && l.list_type !== 'herb') || l.prd_days === undefined || l.prd_days <= 0) continue
      const max = ctx.kb.catalog.get(l.med_list_codg)?.max_prd_days ?? p.default_max_prd_days
      if (max <= 0) continue
      const day = cnDayNumber(l.fee_ocur_time)
      ;(touched ??= new Map()).set(`${l.med_list_codg}@${day}`, { code: l.med_list_codg, day, max })
    }
    if (touched === undefined) return NO_FINDINGS

    let findings: Finding[] | undefined
    for (const { code, day, max } of touched.values()) {
      const lines: FeeLineState[] = []
      for (const v of person.visits.values()) {
        if (p.same_institution && v.fixmedins_code !== visit.fixmedins_code) continue
        if (p.inpatient_med_types.includes(v.med_type)) continue
        const first = v.begntime === 0 ? day : cnDayNumber(v.begntime)
        const last = v.endtime !== undefined ? cnDayNumber(v.endtime) : first + p.max_visit_span_days
        if (v.begntime !== 0 && (first > day || last < day)) continue
        for (const l of linesWithCode(ctx, v, code)) {
          if (l.prd_days !== undefined && l.prd_days > 0 && cnDayNumber(l.fee_ocur_time) === day) lines.push(l)
        }
      }
      const prescriptions = new Set<string>()
      let days = 0
      let amount = 0
      for (const l of lines) {
        prescriptions.add(`${l.mdtrt_id}@${l.fee_ocur_time}`)
        days += l.prd_days!
        amount += l.amount
      }
      if (prescriptions.size < p.min_prescriptions || days <= max) continue
      lines.sort((a, b) => a.fee_ocur_time - b.fee_ocur_time || (a.feedetl_sn < b.feedetl_sn ? -1 : 1))
      const date = cnDate(lines[0]!.fee_ocur_time)
      const name = ctx.kb.catalog.get(code)?.name ?? code
      const mdtrtIds = [...new Set(lines.map((l) => l.mdtrt_id))]
      ;(findings ??= []).push({
        key: `${person.psn_no}/${visit.fixmedins_code}/${code}/${date}`,
        subject: { fixmedins_code: visit.fixmedins_code, psn_no: person.psn_no, ...(mdtrtIds.length === 1 ? { mdtrt_id: mdtrtIds[0] } : {}) },
        refs: { mdtrt_ids: mdtrtIds, feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: [...new Set(lines.map((l) => l.event_id))] },
        amount_fen: toFen(excessShare(amount, days, max)),
        message: text(`${name}(${code})${date} 开具 ${prescriptions.size} 张处方合计 ${days} 天用量，超过单张限定 ${max} 天`,
          `${code} (${name}): ${prescriptions.size} prescriptions on ${date} totalling ${days} days, above the ${max}-day limit per prescription`),
        evidence: {
          day: date, prescriptions: prescriptions.size, total_prd_days: days, max_prd_days: max,
          doctors: [...new Set(lines.map((l) => l.bilg_dr_codg))], lines: lines.map(lineEvidence),
        },
        notice: {
          message: text(`${name}(${code})同日 ${prescriptions.size} 张处方(含其他机构)合计 ${days} 天用量，超过单张限定 ${max} 天`,
            `${code} (${name}): ${prescriptions.size} prescriptions on one day (all institutions) totalling ${days} days, above the ${max}-day limit`),
          evidence: { prescriptions: prescriptions.size, total_prd_days: days, max_prd_days: max },
        },
      })
    }
    return findings ?? NO_FINDINGS
  },
})
