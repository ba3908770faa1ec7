import { z } from 'zod'
import { defineDetector, type DetectContext } from '../../src/detect/types.ts'
import type { FeeLineState, VisitState } from '../../src/state/types.ts'
import { INPATIENT_MED_TYPES, KB_MEASURES, NO_FINDINGS, REGULATION, judgeByItem, startsWithAny, text, type LineJudgement } from '../_shared/common.ts'
import { touchedLines } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  med_types: z.array(z.string()).default([...INPATIENT_MED_TYPES])
    .describe('医疗类别 of visits judged; outpatient visits seldom report operations, so only stays by default').meta({ description_zh: '判定的就诊医疗类别；门诊很少上报手术操作，默认只判定住院' }),
  require_operation_when_unspecified: z.boolean().default(true)
    .describe('A high-value item whose catalog entry names no oprn_prefixes still needs some operation on the visit').meta({ description_zh: '目录未写明手术前缀(oprn_prefixes)的高值耗材，就诊仍须有某项手术操作' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'high-value-consumable',
  version: '2.0.0',
  title: text('高值医用耗材无对应手术', 'High-value consumable without a matching operation'),
  pattern: text('高值耗材无对应手术', 'High-value consumable without a matching operation'),
  description: text(
    '计费了高值医用耗材(如支架、人工关节)，但出院时报告的手术操作中没有与之对应的手术。',
    'A high-value consumable (stent, joint prosthesis) billed on a visit whose reported operations include none that uses it.',
  ),
  stages: ['in'],
  scenarios: ['inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第十五条(不得串换医用耗材)、第三十八条第(四)项、第四十条(虚构医药服务项目)。《医疗器械监督管理条例》及高值医用耗材使用登记、可追溯管理要求。${KB_MEASURES}高值医用耗材类规则。`,
    `${REGULATION} art. 15 (no swapping of consumables), art. 38(4), art. 40 (fictitious services); traceability rules for high-value medical consumables; the high-value consumable rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('med_list_codg', 'name', 'oprn_prefixes', 'visit_operations', 'lines_flagged', 'lines', 'feedetl_sn', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg'),
  reactsTo: ['visit.closed', 'fee.uploaded'],
  detect(ctx, p) {
    const v = ctx.visit
    // Operations are final only at discharge: before that nothing is judged.
    if (v === undefined || v.endtime === undefined || !p.med_types.includes(v.med_type)) return NO_FINDINGS
    // At discharge every line; on a later upload every line of the items it brings: one finding per item.
    let lines: Iterable<FeeLineState>
    if (ctx.event.event_type === 'visit.closed') lines = v.lines.values()
    else if (ctx.event.event_type === 'fee.uploaded') lines = touchedLines(ctx, v)
    else return NO_FINDINGS
    return judgeByItem(v, lines, 'no-operation', (l) => judge(ctx, v, l, p))
  },
})

function judge(ctx: DetectContext, v: VisitState, l: FeeLineState, p: Params): LineJudgement | undefined {
  const item = ctx.kb.catalog.get(l.med_list_codg)
  if (item === undefined || !item.high_value) return undefined
  if (item.oprn_prefixes.length === 0) {
    if (!p.require_operation_when_unspecified || v.operations.length > 0) return undefined
  } else {
    for (const o of v.operations) if (startsWithAny(o.oprn_oprt_code, item.oprn_prefixes)) return undefined
  }
  const ops = v.operations.map((o) => o.oprn_oprt_code)
  const need = item.oprn_prefixes.length === 0 ? '任一手术' : `手术编码 ${item.oprn_prefixes.join('/')}`
  return {
    line: l,
    amount: l.amount,
    message: text(`高值耗材 ${item.name}(${item.med_list_codg})需${need}，本次就诊手术 ${ops.join('、') || '(无)'} 不符`,
      `High-value consumable ${item.med_list_codg} (${item.name}) needs ${item.oprn_prefixes.length === 0 ? 'an operation' : `an operation coded ${item.oprn_prefixes.join('/')}`}; the visit's operations ${ops.join(', ') || '(none)'} do not match`),
    evidence: { med_list_codg: item.med_list_codg, name: item.name, oprn_prefixes: item.oprn_prefixes, visit_operations: v.operations },
  }
}
