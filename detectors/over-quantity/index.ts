import { z } from 'zod'
import { defineDetector, type DetectContext, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState, PersonState, VisitState } from '../../src/state/types.ts'
import { DAY_MS, cnDate, cnDayNumber } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, activeLine, excessShare, itemFinding, lineEvidence, round2, text, toFen, type FlaggedLine, uploadedLines } from '../_shared/common.ts'
import { linesWithCode, touchedItems } from '../_shared/visit-index.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const params = z.object({
  check_days_of_supply: z.boolean().default(true).describe('Flag a line whose prd_days exceeds the catalog max_prd_days (per prescription)').meta({ description_zh: '明细的用药天数(prd_days)超过目录最大用药天数(max_prd_days，按单张处方)的，予以标记' }),
  check_daily_quantity: z.boolean().default(true)
    .describe('Flag an item whose quantity billed on one China day in one visit exceeds the catalog max_cnt_per_day (lines without prd_days)').meta({ description_zh: '同一次就诊中某项目一个自然日(北京时间)计费数量超过目录日最大数量(max_cnt_per_day)的，予以标记(不含有用药天数的明细)' }),
  check_cumulative_supply: z.boolean().default(true)
    .describe('Flag a drug line that brings the person\'s supply of that drug, over all institutions, above the window').meta({ description_zh: '某药品明细使参保人在所有机构的该药累计用药天数超过时间窗的，予以标记' }),
  window_days: z.number().int().min(7).max(180).default(30).describe('Window of the cumulative supply check, in days').meta({ description_zh: '累计用药检查的时间窗(天)' }),
  max_supply_ratio: z.number().min(1).max(5).default(1.5)
    .describe('Cumulative supply above window_days × this ratio is over-quantity (slack for early refills)').meta({ description_zh: '累计用药天数超过 window_days × 此比例即为超量(留出提前续药的余地)' }),
}).strict()
type Params = z.infer<typeof params>

export default defineDetector({
  kind: 'stream',
  id: 'over-quantity',
  version: '2.0.0',
  title: text('超量开药', 'Over-quantity prescribing'),
  pattern: text('超量开药', 'Over-quantity / days of supply'),
  description: text(
    '单张处方用药天数超过限定、单日计费数量超过限定，或参保人一段时间内同一药品累计供应天数明显超过时间长度(重复开药)。',
    'Days of supply per prescription above the limit, quantity per day above the limit, or a person\'s cumulative supply of one drug well beyond the window (repeat prescribing).',
  ),
  stages: ['pre', 'in'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy', 'chronic', 'remote'],
  result: 'violation',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十五条：不得超量开药、重复开药；第三十八条第(二)项。《处方管理办法》第十九条(处方一般不超过7日用量，慢性病可延长)及各地长处方管理规定。${KB_MEASURES}"超量开药"类规则。`,
    `${REGULATION} art. 15 (no over-quantity or repeat prescribing) and art. 38(2); Prescription Management Measures art. 19 (7 days in general, longer for chronic disease) and regional long-prescription rules; the over-quantity rule family of the national rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('rule', 'max_prd_days', 'longest_prd_days', 'lines_flagged', 'lines', 'feedetl_sn', 'med_list_codg', 'fee_ocur_time', 'cnt', 'pric', 'amount', 'bilg_dr_codg', 'bilg_dept_codg', 'prd_days', 'day', 'max_cnt_per_day', 'window_days', 'supply_days', 'limit_days', 'prescriptions_counted', 'prescriptions'),
  reactsTo: ['fee.uploaded'],
  lookbackDays: (p) => (p.check_cumulative_supply ? p.window_days + 1 : 1),
  detect(ctx, p) {
    const visit = ctx.visit
    const person = ctx.person
    if (ctx.event.event_type !== 'fee.uploaded' || visit === undefined || person === undefined) return NO_FINDINGS
    // Per item the event touches, over all the item's standing lines in the
    // visit: one finding per item and rule, however many lines repeat it.
    const items = touchedItems(ctx, visit)
    if (items.size === 0) return NO_FINDINGS
    let findings: Finding[] | undefined
    for (const [code, lines] of items) {
      const item = ctx.kb.catalog.get(code)
      if (p.check_days_of_supply && item?.max_prd_days !== undefined) {
        const max = item.max_prd_days
        const flagged: FlaggedLine[] = []
        let longest = 0
        for (const l of lines) {
          if (l.prd_days === undefined || l.prd_days <= max) continue
          flagged.push({ line: l, amount: excessShare(l.amount, l.prd_days, max) })
          longest = Math.max(longest, l.prd_days)
        }
        if (flagged.length > 0) {
          ;(findings ??= []).push(itemFinding(visit, flagged, 'days',
            text(`${item.name}(${code})${flagged.length} 条处方用药天数超过限定 ${max} 天(最长 ${longest} 天)`,
              `${code} (${item.name}): ${flagged.length} prescription line(s) above the ${max}-day limit (longest ${longest} days)`),
            { rule: 'days_of_supply', max_prd_days: max, longest_prd_days: longest }))
        }
      }
      if (p.check_daily_quantity && item?.max_cnt_per_day !== undefined) daily(ctx, visit, lines, item.max_cnt_per_day, item.name, (findings ??= []))
      if (p.check_cumulative_supply) {
        const f = cumulative(ctx, person, visit, code, lines, p)
        if (f !== undefined) (findings ??= []).push(f)
      }
    }
    return findings === undefined || findings.length === 0 ? NO_FINDINGS : findings
  },
})

/** Quantity per China day of an item without prd_days: one finding per item and day over the limit. */
function daily(ctx: DetectContext, visit: VisitState, lines: readonly FeeLineState[], max: number, name: string, out: Finding[]): void {
  const uploaded = uploadedLines(ctx)!
  const days = new Set<number>()
  for (const u of uploaded) {
    const l = activeLine(visit, u.feedetl_sn)
    if (l !== undefined && l.med_list_codg === lines[0]!.med_list_codg && (l.prd_days === undefined || l.prd_days <= 0)) days.add(cnDayNumber(l.fee_ocur_time))
  }
  for (const d of days) {
    const onDay = lines.filter((l) => (l.prd_days === undefined || l.prd_days <= 0) && cnDayNumber(l.fee_ocur_time) === d)
    if (onDay.length === 0) continue
    const first = onDay[0]!
    let cnt = 0
    let amount = 0
    for (const l of onDay) {
      cnt += l.cnt
      amount += l.amount
    }
    if (cnt <= max) continue
    const day = cnDate(first.fee_ocur_time)
    out.push({
      key: `${visit.mdtrt_id}/${first.med_list_codg}/${day}`,
      subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id },
      refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: onDay.map((l) => l.feedetl_sn), event_ids: [...new Set(onDay.map((l) => l.event_id))] },
      amount_fen: toFen(excessShare(amount, cnt, max)),
      message: text(`${name}(${first.med_list_codg})${day} 计费数量 ${cnt}，超过每日限量 ${max}`,
        `${first.med_list_codg} (${name}): quantity ${cnt} billed on ${day}, above the daily limit of ${max}`),
      evidence: { rule: 'daily_quantity', day, cnt, max_cnt_per_day: max, lines: onDay.map(lineEvidence) },
    })
  }
}

/**
 * The person's supply of one drug within the window before each of the
 * visit's lines of it, over all institutions: one finding per visit and drug
 * listing the lines that take the supply over the limit. Each such line
 * carries the excess, up to its own supply.
 */
function cumulative(ctx: DetectContext, person: PersonState, visit: VisitState, code: string, lines: readonly FeeLineState[], p: Params): Finding | undefined {
  const own = lines.filter((l) => (l.list_type === 'drug' || l.list_type === 'herb') && l.prd_days !== undefined && l.prd_days > 0)
  if (own.length === 0) return undefined
  // One pass over the person's recent lines of the drug for all of the visit's lines.
  let earliest = Infinity
  for (const l of own) if (l.fee_ocur_time < earliest) earliest = l.fee_ocur_time
  const horizon = earliest - p.window_days * DAY_MS
  const history: FeeLineState[] = []
  for (const v of person.visits.values()) {
    if (v.endtime !== undefined && v.endtime < horizon) continue
    for (const o of linesWithCode(ctx, v, code)) if (o.prd_days !== undefined && o.fee_ocur_time > horizon) history.push(o)
  }
  history.sort((a, b) => a.fee_ocur_time - b.fee_ocur_time)
  const limit = p.window_days * p.max_supply_ratio
  const flagged: FlaggedLine[] = []
  const counted = new Set<FeeLineState>()
  let most = 0
  for (const l of own) {
    const from = l.fee_ocur_time - p.window_days * DAY_MS
    let supply = 0
    for (const o of history) if (o.fee_ocur_time > from && o.fee_ocur_time <= l.fee_ocur_time) supply += o.prd_days!
    if (supply <= limit) continue
    for (const o of history) if (o.fee_ocur_time > from && o.fee_ocur_time <= l.fee_ocur_time) counted.add(o)
    most = Math.max(most, supply)
    // The line that crosses the limit carries the excess, up to its own supply.
    const excessDays = Math.min(l.prd_days!, supply - limit)
    flagged.push({ line: l, amount: round2((l.amount * excessDays) / l.prd_days!) })
  }
  if (flagged.length === 0) return undefined
  const name = ctx.kb.catalog.get(code)?.name ?? code
  const prescriptions = [...counted]
  const f = itemFinding(visit, flagged, 'cumulative',
    text(`${name}(${code})近 ${p.window_days} 天累计供应 ${most} 天，超过 ${limit} 天`,
      `${code} (${name}): ${most} days supplied within ${p.window_days} days, above ${limit}`),
    { rule: 'cumulative_supply', window_days: p.window_days, supply_days: most, limit_days: limit, prescriptions_counted: prescriptions.length, prescriptions: prescriptions.map(lineEvidence) })
  f.notice = {
    message: text(`${name}(${code})近 ${p.window_days} 天累计供应 ${most} 天(含其他机构)，超过 ${limit} 天`,
      `${code} (${name}): ${most} days supplied within ${p.window_days} days (all institutions), above ${limit}`),
    evidence: { rule: 'cumulative_supply', window_days: p.window_days, supply_days: most, limit_days: limit },
  }
  f.refs.mdtrt_ids = [...new Set(prescriptions.map((o) => o.mdtrt_id))]
  f.refs.feedetl_sns = prescriptions.map((o) => o.feedetl_sn)
  f.refs.event_ids = [...new Set(prescriptions.map((o) => o.event_id))]
  return f
}
