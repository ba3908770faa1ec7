import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState } from '../../src/state/types.ts'
import { DAY_MS, cnDate, cnDayNumber } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, itemFinding, lineEvidence, text, type FlaggedLine } from '../_shared/common.ts'
import { linesWithCode, touchedItems } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  min_institutions: z.number().int().min(2).max(20).default(3)
    .describe('Distinct institutions whose supplies of one drug overlap in time, counting the new purchase').meta({ description_zh: '同一药品用药期相互重叠的不同机构数(含本次购药)' }),
  window_days: z.number().int().min(7).max(366).default(30)
    .describe('How far back purchases are looked for: a longer supply bought earlier is not seen (the state window grows with this)').meta({ description_zh: '向前查找购药记录的天数：更早购买的长期用药看不到(状态窗口随之增大)' }),
  default_prd_days: z.number().int().min(0).max(90).default(0)
    .describe('Days of supply assumed for a drug line without prd_days; 0 = such lines are not judged').meta({ description_zh: '无用药天数的药品明细假定的用药天数；0 = 此类明细不判定' }),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'drug-hoarding',
  version: '2.0.0',
  title: text('囤药倒卖(多机构重复购药)', 'Drug hoarding across institutions'),
  pattern: text('囤药倒卖', 'Drug hoarding across pharmacies'),
  description: text(
    '参保人在多家药店/医疗机构购买同一药品，各次供应天数相互重叠，提示囤积、倒卖。',
    'A person buying the same drug at several pharmacies or institutions with overlapping days of supply, suggesting hoarding for resale.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['pharmacy', 'outpatient', 'chronic'],
  result: 'suspicious',
  severity: 'medium',
  basis: text(
    `${REGULATION}第四十一条：个人不得利用其享受医疗保障待遇的机会转卖药品；第三十八条第(五)项(定点机构为转卖药品提供便利)。${KB_MEASURES}"重复开药""囤药倒卖"类规则。`,
    `${REGULATION} art. 41 (individuals may not resell drugs obtained through their benefits) and art. 38(5); the repeat-prescribing and hoarding rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('institutions', 'min_institutions', 'supply_from', 'supply_to', 'overlapping_purchases_count', 'overlapping_purchases', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'prd_days', 'mdtrt_id', 'fixmedins_code', 'lines_flagged', 'lines'),
  reactsTo: ['fee.uploaded'],
  lookbackDays: (p) => p.window_days + 1,
  detect(ctx, p) {
    const visit = ctx.visit
    const person = ctx.person
    if (ctx.event.event_type !== 'fee.uploaded' || visit === undefined || person === undefined) return NO_FINDINGS
    let findings: Finding[] | undefined
    // One finding per drug of the visit, over all its lines there, however many the event repeats.
    for (const [code, lines] of touchedItems(ctx, visit)) {
      const flagged: FlaggedLine[] = []
      const overlapping = new Set<FeeLineState>()
      const institutions = new Set<string>([visit.fixmedins_code])
      let from = Infinity
      let to = -Infinity
      for (const l of lines) {
        if (l.list_type !== 'drug' && l.list_type !== 'herb') continue
        const days = supplyDays(l, p.default_prd_days)
        if (days === 0) continue
        const start = cnDayNumber(l.fee_ocur_time)
        const end = start + days - 1
        const horizon = l.fee_ocur_time - p.window_days * DAY_MS
        const mine: FeeLineState[] = []
        const where = new Set<string>([visit.fixmedins_code])
        for (const v of person.visits.values()) {
          if (v === visit || v.fixmedins_code === visit.fixmedins_code || (v.endtime !== undefined && v.endtime < horizon)) continue
          for (const o of linesWithCode(ctx, v, code)) {
            if (o.fee_ocur_time < horizon) continue
            const od = supplyDays(o, p.default_prd_days)
            if (od === 0) continue
            const os = cnDayNumber(o.fee_ocur_time)
            if (os > end || os + od - 1 < start) continue
            mine.push(o)
            where.add(v.fixmedins_code)
          }
        }
        if (where.size < p.min_institutions) continue
        flagged.push({ line: l, amount: l.amount })
        for (const o of mine) overlapping.add(o)
        for (const i of where) institutions.add(i)
        from = Math.min(from, start)
        to = Math.max(to, end)
      }
      if (flagged.length === 0) continue
      const others = [...overlapping].sort((a, b) => a.fee_ocur_time - b.fee_ocur_time)
      const name = ctx.kb.catalog.get(code)?.name ?? code
      const f = itemFinding(visit, flagged, 'overlapping-supply',
        text(`${name}(${code})在 ${institutions.size} 家机构购买，供应期相互重叠(本次 ${cnDate(from * DAY_MS)} 至 ${cnDate(to * DAY_MS)})`,
          `${code} (${name}) bought at ${institutions.size} institutions with overlapping supply (here: ${cnDate(from * DAY_MS)} to ${cnDate(to * DAY_MS)})`),
        {
          institutions: [...institutions], min_institutions: p.min_institutions, supply_from: cnDate(from * DAY_MS), supply_to: cnDate(to * DAY_MS),
          overlapping_purchases_count: others.length,
          overlapping_purchases: others.map((o) => ({ ...lineEvidence(o), mdtrt_id: o.mdtrt_id, fixmedins_code: person.visits.get(o.mdtrt_id)?.fixmedins_code })),
        })
      f.notice = {
        message: text(`${name}(${code})已在其他 ${institutions.size - 1} 家机构购买，供应期与本次重叠`,
          `${code} (${name}) was also bought at ${institutions.size - 1} other institution(s) with supply overlapping this one`),
        evidence: { institutions_involved: institutions.size, min_institutions: p.min_institutions },
      }
      f.refs.mdtrt_ids = [visit.mdtrt_id, ...new Set(others.map((o) => o.mdtrt_id))]
      f.refs.feedetl_sns = [...f.refs.feedetl_sns!, ...others.map((o) => o.feedetl_sn)]
      f.refs.event_ids = [...new Set([...f.refs.event_ids!, ...others.map((o) => o.event_id)])]
      ;(findings ??= []).push(f)
    }
    return findings ?? NO_FINDINGS
  },
})

function supplyDays(l: FeeLineState, fallback: number): number {
  return l.prd_days !== undefined && l.prd_days > 0 ? l.prd_days : fallback
}
