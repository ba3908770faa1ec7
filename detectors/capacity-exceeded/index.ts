import { z } from 'zod'
import { FROM, INSURANCE_PAID, TO, activeLines, activeSettlements, num, windowEvidence } from '../../src/audit/sql.ts'
import { r2, r4 } from '../../src/audit/stats.ts'
import { defineDetector, type AuditContext, type Finding } from '../../src/detect/types.ts'
import { cnIso } from '../../src/util/time.ts'
import { KB_MEASURES, REGULATION, text, toFen } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const DAY = 86_400_000
const CN = 8 * 3_600_000

const params = z.object({
  minutes_per_therapist_day: z.number().int().min(60).max(1440).default(480)
    .describe('Treatment minutes one therapist can deliver in a day (8 hours of hands-on time is already generous)').meta({ description_zh: '一名治疗师一天可提供的治疗分钟数(8 小时实际操作时间已属宽松)' }),
  tolerance_ratio: z.number().min(0).max(5).default(0)
    .describe('Billed minutes may exceed the capacity by this share before a day is reported (0.1 = 10 % for hand-overs and rounding)').meta({ description_zh: '计费分钟数可超出服务能力的比例，超过才报告该日(0.1 = 10 %，用于交接和取整)' }),
  skip_zero_therapists: z.boolean().default(true)
    .describe('Institutions whose knowledge-base row gives 0 therapists are skipped (0 is also what a registry that never reported them holds); off = any therapist-time billing there is reported').meta({ description_zh: '知识库中治疗师人数为 0 的机构跳过(从未上报的登记库也是 0)；关闭 = 该机构任何按治疗师时间计费都报告' }),
  per_staff: z.boolean().default(false)
    .describe('Also check each billing staff code (bilg_dr_codg) against one therapist\'s day: right where the therapist is the one billing, wrong where the ordering doctor\'s code is on the line').meta({ description_zh: '也把每个开单人员代码(bilg_dr_codg)与一名治疗师一天的能力比较：治疗师本人开单时适用，开单医师的代码在明细上时不适用' }),
  max_refs: z.number().int().min(1).max(1000).default(50).describe('Visits cited per day: those with the most therapist minutes billed').meta({ description_zh: '每天引用的就诊：计费治疗师分钟数最多的' }),
}).strict()
type Params = z.infer<typeof params>

interface Day {
  fixmedins_code: string
  staff?: string
  day: number
  minutes: number
  amount: number
  lines: number
  visits: number
  by_item: { med_list_codg: string; cnt: number; minutes: number }[]
  by_dept: { dept: string; minutes: number }[]
}

export default defineDetector({
  kind: 'audit',
  id: 'capacity-exceeded',
  version: '1.0.0',
  title: text('治疗时长超出服务能力', 'Therapist capacity exceeded'),
  pattern: text('超服务能力', 'Therapist or department capacity exceeded'),
  description: text(
    '按机构和自然日汇总康复、理疗等需治疗师操作的项目(知识库目录 therapist_minutes)计费所需的治疗师时长，超过该机构治疗师人数 × 每人每日可提供时长即提示虚记或虚构服务。',
    'Sums, per institution and China day, the therapist time its billed therapy items take (catalog therapist_minutes × quantity) and reports days that need more than the institution\'s therapists × a therapist\'s day: services that cannot all have been delivered.',
  ),
  stages: ['post'],
  scenarios: ['outpatient', 'inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第二十条(不得虚构医药服务项目)、第十五条(不得虚记费用)；${KB_MEASURES}中"虚记/虚构服务"类规则(诊疗项目计费数量超出机构服务能力)。`,
    `${REGULATION} art. 20 (no fabricated services) and art. 15 (no phantom charges); the phantom-service rule family (billed quantities beyond an institution's service capacity) of the national smart-review knowledge/rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('date', 'billed_minutes', 'capacity_minutes', 'therapists', 'minutes_per_therapist_day', 'tolerance_ratio', 'therapy_amount', 'excess_share', 'fund_ratio', 'lines', 'visits', 'by_item', 'med_list_codg', 'cnt', 'minutes', 'name', 'minutes_per_unit', 'by_dept', 'dept', 'amount_basis', 'window', 'from', 'to', 'days'),
  async audit(ctx, p) {
    const minutes = new Map<string, number>()
    for (const item of ctx.kb.catalog.values()) if (item.therapist_minutes !== undefined) minutes.set(item.med_list_codg, item.therapist_minutes)
    if (minutes.size === 0) return []
    const days = await therapyDays(ctx, p, minutes)
    const over: { d: Day; capacity: number; therapists: number }[] = []
    for (const d of days) {
      const inst = ctx.kb.institutions.get(d.fixmedins_code)
      if (!inst) continue
      if (d.staff === undefined && inst.therapists === 0 && p.skip_zero_therapists) continue
      const therapists = d.staff === undefined ? inst.therapists : 1
      const capacity = therapists * p.minutes_per_therapist_day
      if (d.minutes > capacity * (1 + p.tolerance_ratio)) over.push({ d, capacity, therapists })
    }
    if (over.length === 0) return []
    const [visits, ratios] = await Promise.all([topVisits(ctx, p, minutes, over.map((o) => o.d)), fundRatios(ctx, [...new Set(over.map((o) => o.d.fixmedins_code))])])
    return over.map((o) => finding(ctx, p, o, visits.get(dayKey(o.d)) ?? [], ratios.get(o.d.fixmedins_code) ?? 1))
  },
})

function dayKey(d: { fixmedins_code: string; day: number; staff?: string }): string {
  return `${d.fixmedins_code}|${d.day}|${d.staff ?? ''}`
}

/** Therapist minutes billed per institution and China day (and per staff code when asked), active lines only. */
async function therapyDays(ctx: AuditContext, p: Params, minutes: Map<string, number>): Promise<Day[]> {
  const s = ctx.store
  const staff = p.per_staff
  const rows = await s.query<Record<string, unknown>>(`
    WITH therapy AS (
      SELECT fixmedins_code, bilg_dr_codg, bilg_dept_codg, med_list_codg, mdtrt_id, toFloat64(cnt) AS q, toFloat64(det_item_fee_sumamt) AS amt,
        q * transform(med_list_codg, {codes:Array(String)}, {mins:Array(Float64)}, 0) AS m,
        intDiv(toUnixTimestamp64Milli(fee_ocur_time) + ${CN}, ${DAY}) AS day
      FROM (${activeLines(s, `fee_ocur_time >= ${FROM} AND fee_ocur_time < ${TO} AND med_list_codg IN {codes:Array(String)}`)})
    ),
    per_day AS (
      SELECT fixmedins_code, day, '' AS staff, sum(m) AS minutes, sum(amt) AS amount, count() AS lines, uniqExact(mdtrt_id) AS visits,
        sumMap(map(med_list_codg, q)) AS item_cnt, sumMap(map(med_list_codg, m)) AS item_min, sumMap(map(bilg_dept_codg, m)) AS dept_min
      FROM therapy GROUP BY fixmedins_code, day
      ${staff ? `UNION ALL
      SELECT fixmedins_code, day, bilg_dr_codg AS staff, sum(m) AS minutes, sum(amt) AS amount, count() AS lines, uniqExact(mdtrt_id) AS visits,
        sumMap(map(med_list_codg, q)) AS item_cnt, sumMap(map(med_list_codg, m)) AS item_min, sumMap(map(bilg_dept_codg, m)) AS dept_min
      FROM therapy GROUP BY fixmedins_code, day, bilg_dr_codg HAVING minutes > {one_day:Float64}` : ''}
    )
    SELECT fixmedins_code, day, staff, minutes, amount, lines, visits, mapKeys(item_cnt) AS item_codes, mapValues(item_cnt) AS item_cnts,
      mapValues(item_min) AS item_mins, mapKeys(dept_min) AS depts, mapValues(dept_min) AS dept_mins
    FROM per_day`,
  { from: ctx.from, to: ctx.to, codes: [...minutes.keys()], mins: [...minutes.values()], one_day: p.minutes_per_therapist_day })
  return rows.map((r) => {
    const codes = r.item_codes as string[]
    const cnts = (r.item_cnts as unknown[]).map(num)
    const mins = (r.item_mins as unknown[]).map(num)
    const depts = r.depts as string[]
    const deptMins = (r.dept_mins as unknown[]).map(num)
    return {
      fixmedins_code: String(r.fixmedins_code), ...(r.staff ? { staff: String(r.staff) } : {}), day: num(r.day),
      minutes: num(r.minutes), amount: num(r.amount), lines: num(r.lines), visits: num(r.visits),
      by_item: codes.map((c, i) => ({ med_list_codg: c, cnt: cnts[i]!, minutes: mins[i]! })).sort((a, b) => b.minutes - a.minutes),
      by_dept: depts.map((d, i) => ({ dept: d, minutes: deptMins[i]! })).sort((a, b) => b.minutes - a.minutes),
    }
  })
}

interface Visit { mdtrt_id: string; minutes: number; feedetl_sns: string[] }

/** Per flagged day, the visits with the most therapist minutes and their therapy lines. */
async function topVisits(ctx: AuditContext, p: Params, minutes: Map<string, number>, days: Day[]): Promise<Map<string, Visit[]>> {
  const s = ctx.store
  const rows = await s.query<Record<string, unknown>>(`
    SELECT fixmedins_code, intDiv(toUnixTimestamp64Milli(fee_ocur_time) + ${CN}, ${DAY}) AS day, bilg_dr_codg, mdtrt_id,
      sum(toFloat64(cnt) * transform(med_list_codg, {codes:Array(String)}, {mins:Array(Float64)}, 0)) AS m, groupArray(feedetl_sn) AS sns
    FROM (${activeLines(s, `fee_ocur_time >= ${FROM} AND fee_ocur_time < ${TO} AND med_list_codg IN {codes:Array(String)} AND fixmedins_code IN {insts:Array(String)}`)})
    WHERE concat(fixmedins_code, '|', toString(day)) IN {days:Array(String)}
    GROUP BY fixmedins_code, day, bilg_dr_codg, mdtrt_id`,
  {
    from: ctx.from, to: ctx.to, codes: [...minutes.keys()], mins: [...minutes.values()], insts: [...new Set(days.map((d) => d.fixmedins_code))],
    days: [...new Set(days.map((d) => `${d.fixmedins_code}|${d.day}`))],
  })
  const out = new Map<string, Visit[]>()
  for (const d of days) {
    const byVisit = new Map<string, Visit>()
    for (const r of rows) {
      if (String(r.fixmedins_code) !== d.fixmedins_code || num(r.day) !== d.day || (d.staff !== undefined && String(r.bilg_dr_codg) !== d.staff)) continue
      const id = String(r.mdtrt_id)
      const v = byVisit.get(id) ?? { mdtrt_id: id, minutes: 0, feedetl_sns: [] }
      v.minutes += num(r.m)
      v.feedetl_sns.push(...(r.sns as string[]))
      byVisit.set(id, v)
    }
    out.set(dayKey(d), [...byVisit.values()].sort((a, b) => b.minutes - a.minutes || a.mdtrt_id.localeCompare(b.mdtrt_id)).slice(0, p.max_refs))
  }
  return out
}

/** Each institution's insurance share of its settled costs in the window. */
async function fundRatios(ctx: AuditContext, codes: string[]): Promise<Map<string, number>> {
  const rows = await ctx.store.query<Record<string, unknown>>(`
    SELECT fixmedins_code, toFloat64(sum(${INSURANCE_PAID})) AS paid, toFloat64(sum(medfee_sumamt)) AS medfee
    FROM (${activeSettlements(ctx.store, `setl_time >= ${FROM} AND setl_time < ${TO} AND fixmedins_code IN {codes:Array(String)}`)}) GROUP BY fixmedins_code`,
  { from: ctx.from, to: ctx.to, codes })
  return new Map(rows.map((r) => [String(r.fixmedins_code), num(r.medfee) > 0 ? Math.min(1, num(r.paid) / num(r.medfee)) : 1]))
}

function finding(ctx: AuditContext, p: Params, o: { d: Day; capacity: number; therapists: number }, visits: Visit[], fundRatio: number): Finding {
  const { d, capacity, therapists } = o
  const date = cnIso(d.day * DAY - CN).slice(0, 10)
  const excessShare = d.minutes > 0 ? Math.max(0, 1 - capacity / d.minutes) : 0
  const who = d.staff === undefined ? `${therapists} 名治疗师` : `工号 ${d.staff}`
  const whoEn = d.staff === undefined ? `${therapists} therapist(s)` : `staff ${d.staff}`
  return {
    key: `${d.fixmedins_code}/${date}${d.staff === undefined ? '' : `/${d.staff}`}`,
    subject: { fixmedins_code: d.fixmedins_code, ...(d.staff === undefined ? {} : { doctor: d.staff }) },
    refs: { mdtrt_ids: visits.map((v) => v.mdtrt_id), feedetl_sns: visits.flatMap((v) => v.feedetl_sns) },
    amount_fen: toFen(d.amount * excessShare * fundRatio),
    message: text(
      `${date} 计费治疗师时长 ${r2(d.minutes)} 分钟，${who}每日最多 ${capacity} 分钟(${r2(d.minutes / Math.max(1, capacity))} 倍)`,
      `${date}: ${r2(d.minutes)} therapist minutes billed, ${whoEn} can give at most ${capacity} (${r2(d.minutes / Math.max(1, capacity))}×)`,
    ),
    evidence: {
      date, billed_minutes: r2(d.minutes), capacity_minutes: capacity, therapists, minutes_per_therapist_day: p.minutes_per_therapist_day,
      tolerance_ratio: p.tolerance_ratio, ...(d.staff === undefined ? {} : { staff: d.staff }),
      therapy_amount: r2(d.amount), excess_share: r4(excessShare), fund_ratio: r4(fundRatio), lines: d.lines, visits: d.visits,
      by_item: d.by_item.map((x) => ({ ...x, name: ctx.kb.catalog.get(x.med_list_codg)?.name, minutes_per_unit: ctx.kb.catalog.get(x.med_list_codg)?.therapist_minutes })),
      by_dept: d.by_dept.slice(0, 10),
      amount_basis: 'the day\'s therapy amount × (1 − capacity ÷ billed minutes) × the institution\'s insurance share of settled costs',
      window: windowEvidence(ctx),
    },
    event_time: cnIso(d.day * DAY - CN),
  }
}
