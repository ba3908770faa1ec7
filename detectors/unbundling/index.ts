import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState } from '../../src/state/types.ts'
import { cnDate, cnDayNumber } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, activeLine, lineEvidence, text, toFen, uploadedLines } from '../_shared/common.ts'
import { indexFor } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  scope: z.enum(['day', 'visit']).default('day')
    .describe('Bundle and component must be billed on the same China day (day) or anywhere in the same visit (visit)').meta({ description_zh: '打包项目与组成项目须在同一自然日(day)或同一次就诊(visit)内计费' }),
}).strict()

interface Group { bundle: string; day: number; bundles: FeeLineState[]; components: FeeLineState[] }

export default defineDetector({
  kind: 'stream',
  id: 'unbundling',
  version: '1.0.0',
  title: text('分解收费', 'Unbundling'),
  pattern: text('分解收费', 'Unbundling'),
  description: text(
    '已包含若干子项目的打包项目与其子项目在同一天(或同一次就诊)同时计费。',
    'A bundled item billed together with components it already includes, on the same day (or in the same visit).',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'maternity', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条：不得分解项目收费；第三十八条第(三)项。医疗服务价格项目规范中的项目内涵(已含项目不得另收)。${KB_MEASURES}"分解收费"类规则。`,
    `${REGULATION} art. 15 (no unbundled charging) and art. 38(3); the content definitions of the service price norms (included items may not be billed separately); the unbundling rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('scope', 'bundle', 'bundle_name', 'includes', 'components_billed', 'bundle_lines', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'component_lines'),
  reactsTo: ['fee.uploaded'],
  detect(ctx, p) {
    const uploaded = uploadedLines(ctx)
    const visit = ctx.visit
    if (uploaded === undefined || visit === undefined) return NO_FINDINGS
    const dayOf = (l: FeeLineState) => (p.scope === 'day' ? cnDayNumber(l.fee_ocur_time) : 0)
    let groups: Map<string, Group> | undefined
    for (const u of uploaded) {
      const l = activeLine(visit, u.feedetl_sn)
      if (l === undefined) continue
      const day = dayOf(l)
      if ((ctx.kb.catalog.get(l.med_list_codg)?.includes.length ?? 0) > 0) (groups ??= new Map()).set(`${l.med_list_codg}@${day}`, { bundle: l.med_list_codg, day, bundles: [], components: [] })
      const bundles = ctx.kb.includedBy.get(l.med_list_codg)
      if (bundles !== undefined) for (const b of bundles) (groups ??= new Map()).set(`${b}@${day}`, { bundle: b, day, bundles: [], components: [] })
    }
    if (groups === undefined) return NO_FINDINGS
    // The bundle's and its components' lines, through the visit's index by item.
    const idx = indexFor(ctx, visit)
    for (const g of groups.values()) {
      for (const l of idx.lines(g.bundle)) if (dayOf(l) === g.day) g.bundles.push(l)
      if (g.bundles.length === 0) continue
      for (const c of ctx.kb.catalog.get(g.bundle)!.includes) {
        for (const l of idx.lines(c)) if (dayOf(l) === g.day) g.components.push(l)
      }
    }

    let findings: Finding[] | undefined
    for (const g of groups.values()) {
      if (g.bundles.length === 0 || g.components.length === 0) continue
      let fen = 0
      for (const c of g.components) fen += toFen(c.amount)
      const item = ctx.kb.catalog.get(g.bundle)!
      const codes = [...new Set(g.components.map((c) => c.med_list_codg))].sort()
      const where = p.scope === 'day' ? cnDate(g.bundles[0]!.fee_ocur_time) : '本次就诊'
      const all = [...g.bundles, ...g.components]
      ;(findings ??= []).push({
        key: p.scope === 'day' ? `${visit.mdtrt_id}/${g.bundle}/${cnDate(g.bundles[0]!.fee_ocur_time)}` : `${visit.mdtrt_id}/${g.bundle}`,
        subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id, doctor: g.components[0]!.bilg_dr_codg },
        refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: all.map((l) => l.feedetl_sn), event_ids: [...new Set(all.map((l) => l.event_id))] },
        amount_fen: fen,
        message: text(`${where}：${item.name}(${g.bundle})已包含 ${codes.join('、')}，又另行计费`,
          `${p.scope === 'day' ? where : 'In this visit'}: ${g.bundle} (${item.name}) already includes ${codes.join(', ')}, billed separately as well`),
        evidence: {
          scope: p.scope, bundle: g.bundle, bundle_name: item.name, includes: item.includes, components_billed: codes,
          bundle_lines: g.bundles.map(lineEvidence), component_lines: g.components.map(lineEvidence),
        },
      })
    }
    return findings ?? NO_FINDINGS
  },
})
