import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import { cnDate, cnDayNumber, cnIso } from '../../src/util/time.ts'
import { INPATIENT_MED_TYPES, chargeCategory, KB_MEASURES, NO_FINDINGS, REGULATION, text, toFen, visitEventIds } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  min_empty_days: z.number().int().min(1).max(60).default(3)
    .describe('Whole inpatient days (admission and discharge days excluded) without any treatment, drug or test line needed').meta({ description_zh: '需要的空床整日数：没有任何治疗、药品或检查明细的住院整日(不含入院日和出院日)' }),
  min_empty_ratio: z.number().min(0).max(1).default(0.3)
    .describe('Share of the whole days that must be empty as well (long stays with a few quiet days are normal)').meta({ description_zh: '空床日占整日的最低比例(长期住院中有几天没有明细属正常)' }),
  active_chrgitm_types: z.array(z.string().regex(/^(0[1-9]|1[0-4])$/)).default(['03', '04', '05', '06', '08', '09', '10', '11'])
    .describe('医疗收费项目类别 that show care was given: 03 检查 04 化验 05 治疗 06 手术 08 材料 09 西药 10 中药饮片 11 中成药').meta({ description_zh: '表明提供了诊疗的医疗收费项目类别：03 检查 04 化验 05 治疗 06 手术 08 材料 09 西药 10 中药饮片 11 中成药' }),
  max_stay_days: z.number().int().min(3).max(365).default(30)
    .describe('Longer stays are not judged: their early lines may lie outside the state window and would look empty').meta({ description_zh: '更长的住院不判定：其早期明细可能在状态窗口之外，会被误看作空床' }),
  inpatient_med_types: z.array(z.string()).default([...INPATIENT_MED_TYPES]).describe('医疗类别 codes that count as an inpatient stay').meta({ description_zh: '计为住院的医疗类别代码' }),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'bed-holding',
  version: '1.1.0',
  title: text('挂床住院', 'Bed-holding'),
  pattern: text('挂床住院', 'Bed-holding'),
  description: text(
    '住院期间多个整天没有任何检查、化验、治疗、用药或材料费用，只有床位、护理等费用，提示患者不在院。',
    'Whole inpatient days without any test, treatment, drug or material line — only bed, nursing and similar charges — suggesting the patient was not there.',
  ),
  stages: ['in'],
  scenarios: ['inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第十五条：不得挂床住院；第三十八条第(一)项：挂床住院的，责令退回并处罚款。${KB_MEASURES}"挂床住院"类规则。`,
    `${REGULATION} art. 15 (no bed-holding) and art. 38(1); the bed-holding rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('begntime', 'endtime', 'whole_days', 'empty_days', 'empty_count', 'longest_empty_run', 'min_empty_days', 'min_empty_ratio', 'active_chrgitm_types', 'lines_on_empty_days'),
  reactsTo: ['visit.closed'],
  lookbackDays: (p) => p.max_stay_days + 1,
  detect(ctx, p) {
    const v = ctx.visit
    if (v === undefined || v.endtime === undefined || !v.opened || v.begntime === 0 || !p.inpatient_med_types.includes(v.med_type)) return NO_FINDINGS
    const first = cnDayNumber(v.begntime) + 1
    const last = cnDayNumber(v.endtime) - 1
    const whole = last - first + 1
    if (whole < p.min_empty_days || whole > p.max_stay_days) return NO_FINDINGS

    const active = new Uint8Array(whole)
    const idleFen = new Float64Array(whole)
    const idleSns: string[][] = Array.from({ length: whole }, () => [])
    for (const l of v.lines.values()) {
      if (l.reversed) continue
      const i = cnDayNumber(l.fee_ocur_time) - first
      if (i < 0 || i >= whole) continue
      if (p.active_chrgitm_types.includes(chargeCategory(ctx.kb, l))) active[i] = 1
      idleFen[i]! += toFen(l.amount)
      idleSns[i]!.push(l.feedetl_sn)
    }
    const emptyDays: string[] = []
    const sns: string[] = []
    let fen = 0
    let run = 0
    let longest = 0
    for (let i = 0; i < whole; i++) {
      if (active[i]) {
        run = 0
        continue
      }
      emptyDays.push(cnDate((first + i) * 86_400_000))
      fen += idleFen[i]!
      sns.push(...idleSns[i]!)
      longest = Math.max(longest, ++run)
    }
    if (emptyDays.length < p.min_empty_days || emptyDays.length / whole < p.min_empty_ratio) return NO_FINDINGS
    const finding: Finding = {
      key: v.mdtrt_id,
      subject: { fixmedins_code: v.fixmedins_code, psn_no: v.psn_no, mdtrt_id: v.mdtrt_id, ...(v.atddr_no ? { doctor: v.atddr_no } : {}) },
      refs: { mdtrt_ids: [v.mdtrt_id], feedetl_sns: sns, event_ids: visitEventIds(v) },
      amount_fen: fen,
      message: text(`住院 ${whole} 个整天中有 ${emptyDays.length} 天无任何检查、治疗、用药费用(最长连续 ${longest} 天)`,
        `${emptyDays.length} of ${whole} whole inpatient days without any test, treatment or drug line (longest run ${longest} days)`),
      evidence: {
        begntime: cnIso(v.begntime), endtime: cnIso(v.endtime), whole_days: whole, empty_days: emptyDays, empty_count: emptyDays.length,
        longest_empty_run: longest, min_empty_days: p.min_empty_days, min_empty_ratio: p.min_empty_ratio, active_chrgitm_types: p.active_chrgitm_types,
        lines_on_empty_days: sns.length,
      },
    }
    return [finding]
  },
})
