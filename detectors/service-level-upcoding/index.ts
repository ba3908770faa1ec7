import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, findingsByItem, text, type LineJudgement } from '../_shared/common.ts'
import { touchedLines } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  flag_unknown_doctor: z.boolean().default(false)
    .describe('Also flag title-restricted items billed by a doctor code missing from the KB doctors table').meta({ description_zh: '限职称项目的开单医师代码不在知识库医师表中的，也予以标记' }),
}).strict()

const TITLE = {
  chief: ['主任医师', 'chief physician'],
  associate_chief: ['副主任医师', 'associate chief physician'],
  attending: ['主治医师', 'attending physician'],
  resident: ['住院医师', 'resident'],
} as const

export default defineDetector({
  kind: 'stream',
  id: 'service-level-upcoding',
  version: '2.0.0',
  title: text('高套收费(诊查费职称不符)', 'Service-level upcoding'),
  pattern: text('高套收费', 'Service-level upcoding'),
  description: text(
    '目录要求一定职称才能收取的项目(如主任医师诊查费)，由职称不够的医师计费。',
    'An item the catalog reserves for a minimum doctor title (e.g. chief-physician consultation) billed by a doctor of a lower title.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'chronic', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条：不得串换诊疗项目；第三十八条第(四)项。医疗服务价格项目规范中按医师职称分级的诊查费。${KB_MEASURES}"高套收费"类规则。`,
    `${REGULATION} art. 15 (no swapping of service items) and art. 38(4); the title-graded consultation fees of the service price norms; the upcoding rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('med_list_codg', 'name', 'required_title', 'bilg_dr_codg', 'doctor_title', 'doctor_fixmedins_code', 'doctor_registered', 'lines_flagged', 'lines', 'feedetl_sn', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dept_codg'),
  reactsTo: ['fee.uploaded'],
  detect(ctx, p) {
    const visit = ctx.visit
    if (ctx.event.event_type !== 'fee.uploaded' || visit === undefined) return NO_FINDINGS
    // Every line of the items the upload brings, judged again: their findings replace the earlier ones.
    const judged: LineJudgement[] = []
    for (const l of touchedLines(ctx, visit)) {
      const item = ctx.kb.catalog.get(l.med_list_codg)
      if (item?.required_title === undefined) continue
      const dr = ctx.kb.doctors.get(l.bilg_dr_codg)
      if (dr === undefined && !p.flag_unknown_doctor) continue
      if (dr !== undefined && KnowledgeBase.titleRank(dr.title) >= KnowledgeBase.titleRank(item.required_title)) continue
      const need = TITLE[item.required_title]
      const has = dr === undefined ? (['未登记', 'not registered'] as const) : TITLE[dr.title]
      judged.push({
        line: l,
        amount: l.amount,
        message: text(`${item.name}(${item.med_list_codg})须${need[0]}及以上收取，计费医师 ${l.bilg_dr_codg} 为${has[0]}`,
          `${item.med_list_codg} (${item.name}) requires a ${need[1]} or above; billing doctor ${l.bilg_dr_codg} is ${dr === undefined ? 'not registered' : `a ${has[1]}`}`),
        evidence: {
          med_list_codg: item.med_list_codg, name: item.name, required_title: item.required_title, bilg_dr_codg: l.bilg_dr_codg,
          doctor_title: dr?.title ?? null, doctor_fixmedins_code: dr?.fixmedins_code ?? null, doctor_registered: dr !== undefined,
        },
      })
    }
    if (judged.length === 0) return NO_FINDINGS
    // The judgement is about the billing doctor's title: one finding per item and doctor.
    const byDoctor = new Map<string, LineJudgement[]>()
    for (const j of judged) byDoctor.set(j.line.bilg_dr_codg, [...(byDoctor.get(j.line.bilg_dr_codg) ?? []), j])
    const findings: Finding[] = []
    for (const [doctor, group] of byDoctor) findings.push(...findingsByItem(visit, group, `title/${doctor}`))
    return findings
  },
})
