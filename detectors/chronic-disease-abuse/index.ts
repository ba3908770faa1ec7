import { z } from 'zod'
import type { CatalogItem } from '../../schemas/index.ts'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { VisitState } from '../../src/state/types.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, diagnosisRow, itemFinding, startsWithAny, text } from '../_shared/common.ts'
import { touchedItems } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  accept_visit_diagnosis: z.boolean().default(true)
    .describe('On an ordinary visit, a diagnosis matching the drug\'s indications justifies it without a registration (regions that require 门慢 registration everywhere set false). A 门诊慢特病 visit (med_type 14) always needs the registration').meta({ description_zh: '普通就诊中，与药品适应症相符的诊断即可作为依据，无需慢特病登记(要求处处登记门慢的地区设为 false)。门诊慢特病就诊(医疗类别 14)始终需要登记' }),
  med_types: z.array(z.string()).default([])
    .describe('医疗类别 of visits judged; empty = all (the drug is chronic-only wherever it is billed)').meta({ description_zh: '判定的就诊医疗类别；为空 = 全部(该药无论在哪里计费都仅限慢特病)' }),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'chronic-disease-abuse',
  version: '2.0.0',
  title: text('门诊慢特病用药无对应病种', 'Chronic-disease drug without the registered disease'),
  pattern: text('门诊慢特病违规', 'Chronic-disease outpatient abuse'),
  description: text(
    '门诊慢特病专用药品(目录 chronic_only)为未登记相应慢特病病种、本次就诊也无相应诊断的参保人结算。',
    'A drug reserved for registered chronic diseases (catalog chronic_only) settled for a person with neither the registered disease nor a matching diagnosis on the visit.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['chronic', 'outpatient', 'pharmacy'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第三十八条第(六)项(将不属于医疗保障基金支付范围的医药费用纳入基金结算)、第四十一条。国家医保局、财政部《关于建立医疗保障待遇清单制度的意见》及各地门诊慢特病病种管理办法(按认定病种限定用药范围)。${KB_MEASURES}门诊慢特病类规则。`,
    `${REGULATION} art. 38(6) and art. 41; the benefit-list system and regional chronic-disease (门诊慢特病) management rules, which tie drugs to the registered disease; the chronic-disease rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('med_list_codg', 'name', 'indications', 'registered_chronic_diseases', 'person_in_registry', 'visit_diagnoses', 'accept_visit_diagnosis', 'lines_flagged', 'lines', 'feedetl_sn', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'prd_days'),
  reactsTo: ['fee.uploaded'],
  detect(ctx, p) {
    const visit = ctx.visit
    if (ctx.event.event_type !== 'fee.uploaded' || visit === undefined || (p.med_types.length > 0 && !p.med_types.includes(visit.med_type))) return NO_FINDINGS
    let findings: Finding[] | undefined
    let registered: readonly string[] | undefined
    let known = false
    // One finding per item of the visit, over all its lines: the judgement is about the item, the person and the visit.
    for (const [code, lines] of touchedItems(ctx, visit)) {
      const item = ctx.kb.catalog.get(code)
      if (item === undefined || !item.chronic_only) continue
      if (registered === undefined) {
        const row = ctx.kb.persons.get(visit.psn_no)
        known = row !== undefined
        registered = row?.chronic_diseases ?? []
      }
      const byRegistration = registered.find((d) => covers(item, d))
      if (byRegistration !== undefined) continue
      // The 门诊慢特病 benefit (med_type 14) exists only for registered persons:
      // coding the disease on such a visit does not stand in for the registration.
      const byDiagnosis = p.accept_visit_diagnosis && visit.med_type !== '14' ? matchingDiagnosis(ctx.kb, item, visit) : undefined
      if (byDiagnosis !== undefined) continue
      const want = item.indications.length === 0 ? '任一门诊慢特病' : item.indications.join('/')
      ;(findings ??= []).push(itemFinding(visit, lines.map((l) => ({ line: l, amount: l.amount })), 'chronic',
        text(`${item.name}(${item.med_list_codg})限门诊慢特病 ${want} 使用，参保人登记病种 ${registered.join('、') || '(无)'}，本次诊断亦不符`,
          `${item.med_list_codg} (${item.name}) is reserved for chronic disease ${item.indications.length === 0 ? '(any)' : item.indications.join('/')}; registered: ${registered.join(', ') || '(none)'}, and no matching diagnosis on the visit`),
        {
          med_list_codg: item.med_list_codg, name: item.name, indications: item.indications, registered_chronic_diseases: registered,
          person_in_registry: known, visit_diagnoses: diagnosesOf(visit), accept_visit_diagnosis: p.accept_visit_diagnosis,
        }))
    }
    return findings ?? NO_FINDINGS
  },
})

/** A registered disease covers the drug when one code is a prefix of the other (E11 covers E11.9; E11.9 is within E11). */
function covers(item: CatalogItem, disease: string): boolean {
  if (item.indications.length === 0) return true
  for (const i of item.indications) if (disease.startsWith(i) || i.startsWith(disease)) return true
  return false
}

function diagnosesOf(v: VisitState): string[] {
  const codes = v.diagnoses.map((d) => d.diag_code)
  if (v.dscg_maindiag_code !== undefined && !codes.includes(v.dscg_maindiag_code)) codes.push(v.dscg_maindiag_code)
  return codes
}

function matchingDiagnosis(kb: Parameters<typeof diagnosisRow>[0], item: CatalogItem, v: VisitState): string | undefined {
  for (const c of diagnosesOf(v)) {
    if (item.indications.length > 0 ? startsWithAny(c, item.indications) : diagnosisRow(kb, c)?.chronic === true) return c
  }
  return undefined
}
