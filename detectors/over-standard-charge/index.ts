import { z } from 'zod'
import { defineDetector } from '../../src/detect/types.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, findingsByItem, round2, text, type LineJudgement } from '../_shared/common.ts'
import { touchedLines } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  tolerance_pct: z.number().min(0).max(100).default(0)
    .describe('Percent above the price cap still accepted (rounding, local surcharges); 0 = any excess').meta({ description_zh: '超过限价仍可接受的百分比(取整、地方加收)；0 = 任何超出都算' }),
  min_excess_amount: z.number().min(0).default(0.01)
    .describe('Smallest excess in yuan (over the whole line) worth a finding').meta({ description_zh: '值得出预警的最小超出金额(元，按整条明细)' }),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'over-standard-charge',
  version: '2.0.0',
  title: text('超标准收费', 'Over-standard charge'),
  pattern: text('超标准收费', 'Over-standard charge'),
  description: text(
    '明细单价高于知识库中该项目在本机构等级的最高限价。',
    'A line whose unit price is above the catalog price cap for the institution\'s level.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'chronic', 'maternity', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条：不得超标准收费；第三十八条第(三)项。各省医疗服务价格项目规范按医院等级核定的最高限价。${KB_MEASURES}"超标准收费"类规则。`,
    `${REGULATION} art. 15 (no charging above the standard) and art. 38(3); the provincial service price caps set by institution level; the over-standard-charge rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('med_list_codg', 'name', 'pric', 'price_cap', 'institution_level', 'tolerance_pct', 'cnt', 'excess', 'lines_flagged', 'lines', 'feedetl_sn', 'fee_ocur_time', 'amount', 'bilg_dr_codg', 'bilg_dept_codg'),
  reactsTo: ['fee.uploaded'],
  detect(ctx, p) {
    const visit = ctx.visit
    if (ctx.event.event_type !== 'fee.uploaded' || visit === undefined) return NO_FINDINGS
    const inst = ctx.kb.institutions.get(visit.fixmedins_code)
    if (inst === undefined) return NO_FINDINGS
    const factor = 1 + p.tolerance_pct / 100
    // Every line of the items the upload brings: one finding per item, its lines' excesses summed.
    const judged: LineJudgement[] = []
    for (const l of touchedLines(ctx, visit)) {
      const item = ctx.kb.catalog.get(l.med_list_codg)
      if (item === undefined) continue
      const cap = ctx.kb.priceCap(item, inst.level)
      if (cap === undefined || l.pric <= cap * factor) continue
      const excess = round2((l.pric - cap) * l.cnt)
      if (excess < p.min_excess_amount) continue
      const lv = inst.level === 0 ? '未定级' : `${inst.level}级`
      judged.push({
        line: l,
        amount: excess,
        message: text(`${item.name}(${item.med_list_codg})单价 ${l.pric.toFixed(2)} 元，超过${lv}机构限价 ${cap.toFixed(2)} 元`,
          `${item.med_list_codg} (${item.name}) priced ${l.pric.toFixed(2)}, above the cap of ${cap.toFixed(2)} for a level-${inst.level} institution`),
        evidence: { med_list_codg: item.med_list_codg, name: item.name, pric: l.pric, price_cap: cap, institution_level: inst.level, tolerance_pct: p.tolerance_pct, cnt: l.cnt, excess },
      })
    }
    return findingsByItem(visit, judged, 'price-cap')
  },
})
