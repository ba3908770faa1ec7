import { z } from 'zod'
import type { CatalogItem } from '../../schemas/index.ts'
import { defineDetector, type DetectContext } from '../../src/detect/types.ts'
import type { FeeLineState, VisitState } from '../../src/state/types.ts'
import { INPATIENT_MED_TYPES, KB_MEASURES, NO_FINDINGS, REGULATION, judgeByItem, startsWithAny, text, type LineJudgement } from '../_shared/common.ts'
import { touchedLines } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  defer_inpatient_to_discharge: z.boolean().default(true)
    .describe('Judge inpatient lines on visit.closed, against the final diagnoses, instead of on upload (except in the pre stage)').meta({ description_zh: '住院明细在出院(visit.closed)时按最终诊断判定，而非上传时(事前阶段除外)' }),
  inpatient_med_types: z.array(z.string()).default([...INPATIENT_MED_TYPES]).describe('医疗类别 codes judged at discharge').meta({ description_zh: '出院时判定的医疗类别代码' }),
  flag_without_diagnosis: z.boolean().default(false)
    .describe('Also flag when the visit carries no diagnosis at all (otherwise such visits are not judged)').meta({ description_zh: '就诊完全没有诊断时也予以标记(否则此类就诊不判定)' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'out-of-scope',
  version: '2.0.0',
  title: text('超医保支付范围(限适应症)', 'Out-of-scope settlement (indication restricted)'),
  pattern: text('超医保支付范围(限适应症)', 'Out-of-scope settlement (indication restricted)'),
  description: text(
    '目录限定适应症的药品、项目，就诊诊断中没有任何一个符合限定的诊断编码前缀，却纳入基金结算。',
    'An item the catalog restricts to indications, billed on a visit none of whose diagnoses matches an allowed diagnosis prefix.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'maternity', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第三十八条第(六)项：将不属于医疗保障基金支付范围的医药费用纳入基金结算；《基本医疗保险用药管理暂行办法》(国家医疗保障局令第1号)及医保药品目录"限…"支付范围(限适应症)。${KB_MEASURES}"超医保支付范围"类规则。`,
    `${REGULATION} art. 38(6): settling costs outside the fund's payment scope; NHSA Decree 1 and the indication restrictions of the national drug catalog; the out-of-scope rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('med_list_codg', 'name', 'chrgitm_lv', 'allowed_prefixes', 'visit_diagnoses', 'judged_at', 'lines_flagged', 'lines', 'feedetl_sn', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'prd_days'),
  reactsTo: ['fee.uploaded', 'visit.closed'],
  detect(ctx, p) {
    const visit = ctx.visit
    if (visit === undefined) return NO_FINDINGS
    const deferred = p.defer_inpatient_to_discharge && ctx.stage !== 'pre' && p.inpatient_med_types.includes(visit.med_type)
    let lines: Iterable<FeeLineState>
    if (ctx.event.event_type === 'visit.closed') {
      if (!deferred) return NO_FINDINGS
      lines = visit.lines.values()
    } else {
      // A line uploaded after discharge is judged now: the final diagnoses are in.
      if (ctx.event.event_type !== 'fee.uploaded' || (deferred && visit.endtime === undefined)) return NO_FINDINGS
      // Every line of the items the upload brings: one finding per item replaces the earlier one.
      lines = touchedLines(ctx, visit)
    }
    return judgeByItem(visit, lines, 'indication', (l) => judge(ctx, visit, l, p))
  },
})

function applies(item: CatalogItem | undefined): item is CatalogItem {
  // 丙类 is self-paid, never fund-paid; chronic-only drugs are chronic-disease-abuse's to judge.
  return item !== undefined && item.indications.length > 0 && item.chrgitm_lv !== '丙' && !item.chronic_only
}

function judge(ctx: DetectContext, visit: VisitState, l: FeeLineState, p: Params): LineJudgement | undefined {
  const item = ctx.kb.catalog.get(l.med_list_codg)
  if (!applies(item)) return undefined
  const codes: string[] = []
  for (const d of visit.diagnoses) codes.push(d.diag_code)
  if (visit.dscg_maindiag_code !== undefined && !codes.includes(visit.dscg_maindiag_code)) codes.push(visit.dscg_maindiag_code)
  if (codes.length === 0 && !p.flag_without_diagnosis) return undefined
  for (const c of codes) if (startsWithAny(c, item.indications)) return undefined
  return {
    line: l,
    amount: l.amount,
    message: text(`${item.name}(${item.med_list_codg})限 ${item.indications.join('/')} 适应症，本次就诊诊断 ${codes.join('、') || '(无)'} 不符`,
      `${item.med_list_codg} (${item.name}) is restricted to ${item.indications.join('/')}; the visit's diagnoses ${codes.join(', ') || '(none)'} do not match`),
    evidence: { med_list_codg: item.med_list_codg, name: item.name, chrgitm_lv: item.chrgitm_lv, allowed_prefixes: item.indications, visit_diagnoses: codes, judged_at: visit.endtime === undefined ? 'upload' : 'discharge' },
  }
}
