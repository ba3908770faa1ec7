import { z } from 'zod'
import { defineDetector, type Finding } from '../../src/detect/types.ts'
import type { FeeLineState } from '../../src/state/types.ts'
import { DAY_MS, cnDate, cnDayNumber } from '../../src/util/time.ts'
import { KB_MEASURES, NO_FINDINGS, REGULATION, activeLine, excessShare, lineEvidence, lineFinding, round2, text, uploadedLines } from '../_shared/common.ts'
import { linesWithCode } from '../_shared/visit-index.ts'

const params = z.object({
  check_days_of_supply: z.boolean().default(true).describe('Flag a line whose prd_days exceeds the catalog max_prd_days (per prescription)'),
  check_daily_quantity: z.boolean().default(true)
    .describe('Flag an item whose quantity billed on one China day in one visit exceeds the catalog max_cnt_per_day (lines without prd_days)'),
  check_cumulative_supply: z.boolean().default(true)
    .describe('Flag a drug line that brings the person\'s supply of that drug, over all institutions, above the window'),
  window_days: z.number().int().min(7).max(180).default(30).describe('Window of the cumulative supply check, in days'),
  max_supply_ratio: z.number().min(1).max(5).default(1.5)
    .describe('Cumulative supply above window_days × this ratio is over-quantity (slack for early refills)'),
}).strict()

export default defineDetector({
  kind: 'stream',
  id: 'over-quantity',
  version: '1.0.0',
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
  reactsTo: ['fee.uploaded'],
  lookbackDays: (p) => (p.check_cumulative_supply ? p.window_days + 1 : 1),
  detect(ctx, p) {
    const uploaded = uploadedLines(ctx)
    const visit = ctx.visit
    const person = ctx.person
    if (uploaded === undefined || visit === undefined || person === undefined) return NO_FINDINGS
    let findings: Finding[] | undefined
    let dailyKeys: Set<string> | undefined
    let supplyCodes: Set<string> | undefined
    for (const u of uploaded) {
      const l = activeLine(visit, u.feedetl_sn)
      if (l === undefined) continue
      const item = ctx.kb.catalog.get(l.med_list_codg)
      if (l.prd_days !== undefined && l.prd_days > 0) {
        if (p.check_days_of_supply && item?.max_prd_days !== undefined && l.prd_days > item.max_prd_days) {
          ;(findings ??= []).push(lineFinding(visit, l, excessShare(l.amount, l.prd_days, item.max_prd_days),
            text(`${item.name}(${item.med_list_codg})单张处方 ${l.prd_days} 天用量，超过限定 ${item.max_prd_days} 天`,
              `${item.med_list_codg} (${item.name}) prescribed for ${l.prd_days} days, above the ${item.max_prd_days}-day limit`),
            { rule: 'days_of_supply', prd_days: l.prd_days, max_prd_days: item.max_prd_days }, '/days'))
        }
        if (p.check_cumulative_supply && (l.list_type === 'drug' || l.list_type === 'herb')) (supplyCodes ??= new Set()).add(l.med_list_codg)
      } else if (p.check_daily_quantity && item?.max_cnt_per_day !== undefined) {
        ;(dailyKeys ??= new Set()).add(`${l.med_list_codg}@${cnDayNumber(l.fee_ocur_time)}`)
      }
    }

    if (dailyKeys !== undefined) {
      const days = new Map<string, FeeLineState[]>()
      for (const k of dailyKeys) {
        const at = k.lastIndexOf('@')
        const code = k.slice(0, at)
        const day = Number(k.slice(at + 1))
        const lines: FeeLineState[] = []
        for (const l of linesWithCode(ctx, visit, code)) {
          if ((l.prd_days === undefined || l.prd_days <= 0) && cnDayNumber(l.fee_ocur_time) === day) lines.push(l)
        }
        if (lines.length > 0) days.set(k, lines)
      }
      for (const lines of days.values()) {
        const first = lines[0]!
        const item = ctx.kb.catalog.get(first.med_list_codg)!
        let cnt = 0
        let amount = 0
        for (const l of lines) {
          cnt += l.cnt
          amount += l.amount
        }
        const max = item.max_cnt_per_day!
        if (cnt <= max) continue
        const day = cnDate(first.fee_ocur_time)
        ;(findings ??= []).push({
          key: `${visit.mdtrt_id}/${first.med_list_codg}/${day}`,
          subject: { fixmedins_code: visit.fixmedins_code, psn_no: visit.psn_no, mdtrt_id: visit.mdtrt_id },
          refs: { mdtrt_ids: [visit.mdtrt_id], feedetl_sns: lines.map((l) => l.feedetl_sn), event_ids: [...new Set(lines.map((l) => l.event_id))] },
          amount_at_risk: excessShare(amount, cnt, max),
          message: text(`${item.name}(${item.med_list_codg})${day} 计费数量 ${cnt}，超过每日限量 ${max}`,
            `${item.med_list_codg} (${item.name}): quantity ${cnt} billed on ${day}, above the daily limit of ${max}`),
          evidence: { rule: 'daily_quantity', day, cnt, max_cnt_per_day: max, lines: lines.map(lineEvidence) },
        })
      }
    }

    if (supplyCodes !== undefined) {
      // One pass over the person's recent lines for all drugs this event touches.
      let earliest = Infinity
      for (const u of uploaded) {
        const l = activeLine(visit, u.feedetl_sn)
        if (l !== undefined && l.fee_ocur_time < earliest) earliest = l.fee_ocur_time
      }
      const horizon = earliest - p.window_days * DAY_MS
      const history = new Map<string, FeeLineState[]>()
      for (const code of supplyCodes) history.set(code, [])
      for (const v of person.visits.values()) {
        if (v.endtime !== undefined && v.endtime < horizon) continue
        for (const code of supplyCodes) {
          const into = history.get(code)!
          for (const o of linesWithCode(ctx, v, code)) if (o.prd_days !== undefined && o.fee_ocur_time > horizon) into.push(o)
        }
      }
      for (const u of uploaded) {
        const l = activeLine(visit, u.feedetl_sn)
        if (l === undefined || !supplyCodes.has(l.med_list_codg) || l.prd_days === undefined || l.prd_days <= 0) continue
        const from = l.fee_ocur_time - p.window_days * DAY_MS
        let supply = 0
        const counted: FeeLineState[] = []
        for (const o of history.get(l.med_list_codg) ?? []) {
          if (o.fee_ocur_time <= from || o.fee_ocur_time > l.fee_ocur_time) continue
          supply += o.prd_days!
          counted.push(o)
        }
        const limit = p.window_days * p.max_supply_ratio
        if (supply <= limit) continue
        const name = ctx.kb.catalog.get(l.med_list_codg)?.name ?? l.med_list_codg
        // The line that crosses the limit carries the excess, up to its own supply.
        const excessDays = Math.min(l.prd_days, supply - limit)
        const f = lineFinding(visit, l, round2((l.amount * excessDays) / l.prd_days),
          text(`${name}(${l.med_list_codg})近 ${p.window_days} 天累计供应 ${supply} 天，超过 ${limit} 天`,
            `${l.med_list_codg} (${name}): ${supply} days supplied within ${p.window_days} days, above ${limit}`),
          { rule: 'cumulative_supply', window_days: p.window_days, supply_days: supply, limit_days: limit, prescriptions: counted.map(lineEvidence) }, '/cumulative')
        f.refs.mdtrt_ids = [...new Set(counted.map((o) => o.mdtrt_id))]
        f.refs.feedetl_sns = counted.map((o) => o.feedetl_sn)
        ;(findings ??= []).push(f)
      }
    }
    return findings ?? NO_FINDINGS
  },
})
