import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState } from '../../src/state/types.ts'
import { cnDate, cnDayNumber, cnIso } from '../../src/util/time.ts'
import { NO_FINDINGS, REGULATION, activeLine, fromFen, lineEvidence, text, toFen, uploadedLines } from '../_shared/common.ts'
import { exclusiveGroupCodes, indexFor } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  check_same_time: z.boolean().default(true)
    .describe('Flag the same med_list_codg billed more than once at the same fee_ocur_time in one visit').meta({ description_zh: '同一次就诊中同一医保编码在同一费用发生时间计费多次的，予以标记' }),
  check_exclusive: z.boolean().default(true)
    .describe('Flag different items of one catalog exclusive_group billed on the same China day in one visit (一级护理 + 二级护理)').meta({ description_zh: '同一次就诊中同一自然日(北京时间)计费了目录同一互斥组的不同项目(如一级护理 + 二级护理)的，予以标记' }),
  list_types: z.array(z.enum(['drug', 'herb', 'service', 'consumable'])).default(['drug', 'herb', 'service', 'consumable'])
    .describe('Line types the same-time check covers').meta({ description_zh: '同一时间检查所覆盖的明细类别' }),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'duplicate-charge',
  version: '1.0.0',
  title: text('重复收费', 'Duplicate charge'),
  pattern: text('重复收费', 'Duplicate charge'),
  description: text(
    '同一就诊中同一医保项目在同一服务时间重复计费；或同一天内计费了互斥项目(如一级护理与二级护理)。',
    'The same item billed twice for the same service time in one visit, or mutually exclusive items billed on the same day.',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'chronic', 'maternity', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条：不得重复收费；第三十八条第(三)项：重复收费的，责令退回并处罚款。`,
    `${REGULATION} art. 15: no duplicate charging; art. 38(3): duplicate charges are recovered and fined.`,
  ),
  params,
  evidence: evidenceLabels('rule', 'exclusive_group', 'day', 'med_list_codgs', 'names', 'amount_by_item', 'lines', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'name', 'times_billed', 'kept_feedetl_sn', 'duplicate_feedetl_sns'),
  reactsTo: ['fee.uploaded'],
  detect(ctx, p) {
    const uploaded = uploadedLines(ctx)
    const visit = ctx.visit
    if (uploaded === undefined || visit === undefined) return NO_FINDINGS

    // Only facts the current event adds are reported: the item/time and group/day
    // pairs its own lines touch, looked up through the visit's index by item.
    let sameTimeKeys: Map<string, Set<number>> | undefined
    let exclusiveKeys: Map<string, Set<number>> | undefined
    const idx = indexFor(ctx, visit)
    for (const u of uploaded) {
      const l = activeLine(visit, u.feedetl_sn)
      if (l === undefined) continue
      // An item billed once in the visit cannot be a duplicate: one lookup settles most lines.
      if (p.check_same_time && idx.countOf(l.med_list_codg) >= 2 && p.list_types.includes(l.list_type)) {
        addTo((sameTimeKeys ??= new Map()), l.med_list_codg, l.fee_ocur_time)
      }
      if (p.check_exclusive) {
        const group = ctx.kb.catalog.get(l.med_list_codg)?.exclusive_group
        if (group !== undefined) addTo((exclusiveKeys ??= new Map()), group, cnDayNumber(l.fee_ocur_time))
      }
    }
    if (sameTimeKeys === undefined && exclusiveKeys === undefined) return NO_FINDINGS

    // Groups of one item at one time with more than one standing line. Times are
    // compared as numbers: most items are billed at one time per upload, and no
    // key string is built unless a duplicate is there.
    const sameTime: FeeLineState[][] = []
    if (sameTimeKeys !== undefined) {
      for (const [code, times] of sameTimeKeys) {
        const lines = idx.lines(code)
        if (lines.length < 2) continue
        for (const t of times) {
          let n = 0
          for (const l of lines) if (l.fee_ocur_time === t) n++
          if (n >= 2) sameTime.push(lines.filter((l) => l.fee_ocur_time === t))
        }
      }
    }
    const exclusive = new Map<string, FeeLineState[]>()
    if (exclusiveKeys !== undefined) {
      for (const [group, days] of exclusiveKeys) {
        for (const code of exclusiveGroupCodes(ctx.kb, group)) {
          for (const l of idx.lines(code)) {
            const day = cnDayNumber(l.fee_ocur_time)
            if (days.has(day)) push(exclusive, `${group}@${day}`, l)
          }
        }
      }
    }

    const findings: Finding[] = []
    for (const lines of sameTime) {
      lines.sort(bySn)
      // One billing stands; the rest are the duplicates. The dearest one is
      // taken as the one that stands, so the amount at risk is never overstated.
      let keep = lines[0]!
      for (const l of lines) if (l.amount > keep.amount) keep = l
      const dups = lines.filter((l) => l !== keep)
      let fen = 0
      for (const l of dups) fen += toFen(l.amount)
      const first = lines[0]!
      const name = ctx.kb.catalog.get(first.med_list_codg)?.name ?? first.med_list_codg
      const at = cnIso(first.fee_ocur_time)
      findings.push({
        key: `${visit.mdtrt_id}/same-time/${first.med_list_codg}/${at}`,
        subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id, doctor: dups[0]!.bilg_dr_codg },
        refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: uniq(lines.map((l) => l.event_id)) },
        amount_fen: fen,
        message: text(
          `${name}(${first.med_list_codg})在同一服务时间 ${at} 计费 ${lines.length} 次`,
          `${first.med_list_codg} (${name}) billed ${lines.length} times for the same service time ${at}`,
        ),
        evidence: {
          rule: 'same_item_same_time', med_list_codg: first.med_list_codg, name, fee_ocur_time: at, times_billed: lines.length,
          kept_feedetl_sn: keep.feedetl_sn, duplicate_feedetl_sns: dups.map((l) => l.feedetl_sn), lines: lines.map(lineEvidence),
        },
      })
    }
    for (const [k, lines] of exclusive) {
      // Sum per item: the group's dearest item is taken as the one legitimately billed.
      const perCode = new Map<string, number>()
      for (const l of lines) perCode.set(l.med_list_codg, (perCode.get(l.med_list_codg) ?? 0) + toFen(l.amount))
      if (perCode.size < 2) continue
      let total = 0
      let dearest = 0
      for (const fen of perCode.values()) {
        total += fen
        if (fen > dearest) dearest = fen
      }
      lines.sort(bySn)
      const group = k.slice(0, k.lastIndexOf('@'))
      const day = cnDate(lines[0]!.fee_ocur_time)
      const codes = [...perCode.keys()].sort()
      const names = codes.map((c) => ctx.kb.catalog.get(c)?.name ?? c)
      findings.push({
        key: `${visit.mdtrt_id}/exclusive/${group}/${day}`,
        subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id },
        refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: uniq(lines.map((l) => l.event_id)) },
        amount_fen: total - dearest,
        message: text(
          `${day} 同日计费互斥项目：${names.join('、')}(互斥组 ${group})`,
          `Mutually exclusive items billed on ${day}: ${codes.join(', ')} (exclusive group ${group})`,
        ),
        evidence: {
          rule: 'exclusive_same_day', exclusive_group: group, day, med_list_codgs: codes, names,
          amount_by_item: Object.fromEntries(codes.map((c) => [c, fromFen(perCode.get(c)!)])), lines: lines.map(lineEvidence),
        },
      })
    }
    return findings.length === 0 ? NO_FINDINGS : findings
  },
})

function addTo(m: Map<string, Set<number>>, k: string, v: number): void {
  const set = m.get(k)
  if (set === undefined) m.set(k, new Set([v]))
  else set.add(v)
}

function push(m: Map<string, FeeLineState[]>, k: string, l: FeeLineState): void {
  const a = m.get(k)
  if (a === undefined) m.set(k, [l])
  else a.push(l)
}

function bySn(a: FeeLineState, b: FeeLineState): number {
  return a.feedetl_sn < b.feedetl_sn ? -1 : a.feedetl_sn > b.feedetl_sn ? 1 : 0
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)]
}
