import { createHash } from 'node:crypto'
import { z } from 'zod'
import { INSURANCE_PAID, IS_INPATIENT, activeLines, activeSettlements, activeVisits, num, windowEvidence } from '../../src/audit/sql.ts'
import { r2, r4 } from '../../src/audit/stats.ts'
import { defineDetector, type AuditContext, type Finding } from '../../src/detect/types.ts'
import { cnIso } from '../../src/util/time.ts'
import { KB_MEASURES, REGULATION, chargeCategoryInSql, text, toFen } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const HOUR = 3_600_000
const DAY = 86_400_000
const CN = 8 * HOUR

const SIGNALS = ['odd_hours', 'one_doctor', 'burst'] as const
type Signal = (typeof SIGNALS)[number]

const params = z.object({
  min_persons: z.number().int().min(2).default(8).describe('Distinct persons a cluster needs: visits at one institution within window_hours that bill the same set of items').meta({ description_zh: '一个聚集需要的不同参保人数：在同一机构、window_hours 内、计费同一组项目的就诊' }),
  window_hours: z.number().positive().max(24).default(3).describe('The short window: a cluster is the largest group of visits with one item set starting within this many hours').meta({ description_zh: '短时间窗：聚集是同一项目组合、在这么多小时内开始的最大一组就诊' }),
  min_items: z.number().int().min(1).default(3).describe('Items (after the exclusions below) the shared set needs; fewer is too common to mean anything').meta({ description_zh: '共同项目组合需要的项目数(按下述排除后)；更少则太常见，没有意义' }),
  exclude_chrgitm_types: z.array(z.string()).default(['02', '12', '13'])
    .describe('收费项目类别 left out of the item set because every visit bills them: 02 诊察费, 12 一般诊疗费, 13 挂号费').meta({ description_zh: '因每次就诊都会计费而不计入项目组合的收费项目类别：02 诊察费、12 一般诊疗费、13 挂号费' }),
  odd_hours: z.object({ from: z.number().int().min(0).max(23), to: z.number().int().min(0).max(23) }).strict().default({ from: 20, to: 7 })
    .describe('Visits starting from `from` o\'clock until `to` o\'clock (China time, wrapping midnight) are at odd hours for an outpatient service').meta({ description_zh: '从 `from` 点到 `to` 点(北京时间，可跨午夜)开始的就诊，对门诊服务而言属于非常规时段' }),
  emergency_med_types: z.array(z.string()).default(['13'])
    .describe('医疗类别 whose visits are never at an odd hour (13 急诊: the emergency department works at night)').meta({ description_zh: '其就诊从不算非常规时段的医疗类别(13 急诊：急诊科夜间也工作)' }),
  min_odd_share: z.number().min(0).max(1).default(0.5).describe('Signal "odd hours": at least this share of the cluster\'s visits start at odd hours').meta({ description_zh: '"非常规时段"信号：聚集中至少这一比例的就诊在非常规时段开始' }),
  min_doctor_share: z.number().min(0).max(1).default(0.8)
    .describe('Signal "one doctor": one attending doctor has at least this share of the cluster, at an institution where more than one doctor saw patients that day').meta({ description_zh: '"同一医师"信号：在当天有多名医师接诊的机构，一名主诊医师占聚集的比例至少为此' }),
  burst_factor: z.number().min(1).default(3)
    .describe('Signal "burst": the cluster has at least this many times the persons the same item set has on an average other day at the institution (over the window and the lookback)').meta({ description_zh: '"集中爆发"信号：聚集的人数至少是该机构同一项目组合在其他日子平均人数的这么多倍(按窗口和回溯期)' }),
  lookback_days: z.number().int().min(0).max(365).default(28).describe('Days before the window also read to learn how often an item set occurs at the institution (the burst signal)').meta({ description_zh: '窗口之前也读取的天数，用于了解某项目组合在该机构出现的频率(集中爆发信号)' }),
  min_signals: z.number().int().min(1).max(3).default(2)
    .describe('Signals (odd hours, one doctor, burst) a cluster needs: a routine of one item set — a chronic-disease follow-up clinic — is large but shows none of them').meta({ description_zh: '聚集需要的信号数(非常规时段、同一医师、集中爆发)：常规的同一项目组合(如慢病复诊门诊)人数多，但不显示这些信号' }),
  require_any: z.array(z.enum(SIGNALS)).default(['odd_hours', 'one_doctor'])
    .describe('Of these signals at least one must hold (empty = no such rule): a scheduled service — a vaccination morning, a rehab group — is a rare set in one sitting by design; a crowd at night, or one doctor writing the same prescription for all, is what organisation looks like').meta({ description_zh: '这些信号至少须有其一(为空 = 无此规则)：预约服务(疫苗接种上午、康复小组)本就是一次集中的少见组合；夜间的人群，或一名医师为所有人开同样的处方，才像有组织的行为' }),
  skip_dialysis: z.boolean().default(true)
    .describe('Leave out visits that bill a dialysis item (catalog dialysis): a dialysis shift is the same patients, the same items, the same start time, by design').meta({ description_zh: '不计计费透析项目(目录 dialysis)的就诊：透析班次本就是同样的患者、同样的项目、同样的开始时间' }),
  inpatient: z.boolean().default(false).describe('Also cluster inpatient stays (off: a ward\'s care pathway gives many stays the same items)').meta({ description_zh: '也对住院进行聚集(关闭：病房的临床路径会使许多住院计费相同的项目)' }),
  max_refs: z.number().int().min(1).max(1000).default(200).describe('Visits cited per cluster (all of them, up to this many)').meta({ description_zh: '每个聚集引用的就诊数(全部，最多这么多)' }),
}).strict()
type Params = z.infer<typeof params>

interface Visit { mdtrt_id: string; psn_no: string; atddr_no: string; t: number; odd: boolean; diag: string }

interface Cluster {
  fixmedins_code: string
  items: string[]
  start: number
  visits: Visit[]
  persons: number
  /** Doctors who saw anyone at the institution on the cluster's China day(s). */
  inst_doctors: number
  top_doctor: string
  top_doctor_visits: number
  /** Persons with the same set on the cluster's China day(s), and on the other days it occurred (window + lookback). */
  day_persons: number
  other_days: number
  other_persons: number
  amount: number
}

export default defineDetector({
  kind: 'audit',
  id: 'collusion',
  version: '1.1.0',
  title: text('聚集性就医', 'Collusion cluster'),
  pattern: text('团伙/聚集性就医', 'Collusion clusters'),
  description: text(
    '同一机构在短时间内(默认 3 小时)有多名不同参保人的就诊收费项目组合完全相同(排除挂号、诊察类)，并带有组织化特征：集中于非正常时段、集中于同一医生、该项目组合在该机构平时少见。',
    'Many distinct persons at one institution within a short window (3 hours) whose visits bill the same set of items (registration and consultation aside), with signs of organisation: odd hours, one doctor, an item set the institution rarely bills otherwise.',
  ),
  stages: ['post'],
  scenarios: ['outpatient', 'pharmacy', 'chronic'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第二十条(不得通过伪造、变造、隐匿、涂改、销毁医学文书等虚构医药服务项目骗取医保基金)、第四十条；国家医保局《关于加强医疗保障基金使用常态化监管的实施意见》中对"团伙化""聚集性"欺诈骗保的大数据筛查要求；${KB_MEASURES}。`,
    `${REGULATION} art. 20 (no fabricated services) and art. 40; the NHSA opinions on routine supervision of fund use, which call for big-data screening of organised (团伙化, 聚集性) fraud; the national smart-monitoring knowledge/rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('persons', 'visits', 'min_persons', 'window_hours', 'items', 'diagnoses', 'first_visit', 'last_visit', 'span_hours', 'odd_hour_visits', 'odd_share', 'top_doctor', 'top_doctor_visits', 'doctor_share', 'doctors', 'institution_doctors_that_day', 'same_set_that_day', 'same_set_other_days', 'same_set_persons_other_days', 'signals', 'odd_hours', 'one_doctor', 'burst', 'min_signals', 'require_any', 'amount_basis', 'window', 'from', 'to', 'days'),
  async audit(ctx, p) {
    const clusters = await findClusters(ctx, p)
    const out: Finding[] = []
    for (const c of clusters) {
      const signals = signalsOf(c, p)
      if (SIGNALS.filter((k) => signals[k]).length < p.min_signals) continue
      if (p.require_any.length && !p.require_any.some((k) => signals[k])) continue
      out.push(finding(ctx, p, c, signals))
    }
    return out
  },
})

function signalsOf(c: Cluster, p: Params): Record<Signal, boolean> {
  const otherMean = c.other_days > 0 ? c.other_persons / c.other_days : 0
  return {
    odd_hours: c.visits.filter((v) => v.odd).length / c.visits.length >= p.min_odd_share,
    // Where only one doctor worked that day (a one-doctor clinic) "one doctor" is necessity, not arrangement.
    one_doctor: c.inst_doctors > 1 && c.top_doctor_visits / c.visits.length >= p.min_doctor_share,
    burst: c.persons >= p.burst_factor * Math.max(1, otherMean),
  }
}

/**
 * The visits of the window and the lookback, each with its item set: the
 * active lines' distinct codes, the charge types every visit bills left out.
 * `where` narrows the visits (a parameterised condition on the visits table).
 */
function perVisitCtes(ctx: AuditContext, p: Params, where: string, excluded: string): string {
  const s = ctx.store
  return `
    visit AS (
      SELECT mdtrt_id, any(psn_no) AS v_psn, any(fixmedins_code) AS v_inst, any(atddr_no) AS v_dr, any(begntime) AS v_begin,
        any(med_type) AS v_med_type, any(diagnoses) AS v_diags
      FROM (${activeVisits(s, `begntime >= fromUnixTimestamp64Milli({look_from:Int64}) AND begntime < fromUnixTimestamp64Milli({to:Int64}) AND (${where})`)})
      GROUP BY mdtrt_id
    ),
    sig AS (
      SELECT mdtrt_id, arraySort(groupUniqArrayIf(med_list_codg, NOT ${excluded})) AS items,
        countIf(med_list_codg IN {dialysis:Array(String)}) > 0 AS dialysis
      -- An outpatient visit's lines are billed within a day or two of it: the time bound keeps the scan to the window's partitions.
      FROM (${activeLines(s, `${LINES_IN_SCOPE} AND mdtrt_id IN (SELECT mdtrt_id FROM visit)`)})
      GROUP BY mdtrt_id
    ),
    per_visit AS (
      SELECT v.mdtrt_id AS mdtrt_id, v.v_psn AS psn_no, v.v_inst AS fixmedins_code, v.v_dr AS atddr_no,
        toUnixTimestamp64Milli(v.v_begin) AS t, intDiv(t + ${CN}, ${DAY}) AS day, s.items AS items, arrayStringConcat(s.items, '|') AS set_key,
        ${oddHours(p)} AND v.v_med_type NOT IN {emergency:Array(String)} AS odd,
        arrayFirst(d -> d.3 = '1', v.v_diags).1 AS main_diag
      FROM visit v INNER JOIN sig s ON s.mdtrt_id = v.mdtrt_id
      WHERE length(s.items) >= {min_items:UInt32} AND NOT s.dialysis
        AND ${p.inpatient ? '1' : `NOT ${IS_INPATIENT.replaceAll('med_type', 'v.v_med_type')}`}
    )`
}

/** Lines in the window (and the two days after, as the item sets read them), by fee time. */
const LINES_IN_SCOPE = 'fee_ocur_time >= fromUnixTimestamp64Milli({look_from:Int64}) AND fee_ocur_time < fromUnixTimestamp64Milli({to:Int64}) + INTERVAL 2 DAY'

/**
 * The condition "left out of the item set": the line's charge category in
 * exclude_chrgitm_types, the catalog's category first (chargeCategoryInSql).
 */
async function excludedLines(ctx: AuditContext, p: Params): Promise<{ sql: string; params: Record<string, string[]> }> {
  const coded = await ctx.store.query<{ med_list_codg: string }>(`
    SELECT DISTINCT med_list_codg FROM ${ctx.store.t('fee_lines')}
    WHERE ${LINES_IN_SCOPE} AND med_chrgitm_type IN {exclude:Array(String)}`,
  { look_from: ctx.from - p.lookback_days * DAY, to: ctx.to, exclude: p.exclude_chrgitm_types })
  return chargeCategoryInSql(ctx.kb, p.exclude_chrgitm_types, coded.map((r) => String(r.med_list_codg)))
}

function baseParams(ctx: AuditContext, p: Params): Record<string, unknown> {
  return {
    look_from: ctx.from - p.lookback_days * DAY, from: ctx.from, to: ctx.to, min_items: p.min_items,
    emergency: p.emergency_med_types, min_persons: p.min_persons, span: Math.round(p.window_hours * HOUR),
    dialysis: p.skip_dialysis ? [...ctx.kb.catalog.values()].filter((i) => i.dialysis).map((i) => i.med_list_codg) : [],
  }
}

/**
 * Finds, per institution and item set, the windows of window_hours holding at
 * least min_persons visits (a window function counts the visits starting in
 * the span ahead of each one), keeps the fullest non-overlapping ones inside
 * the audit window, then reads their visits, the doctors working those days
 * and how often the set occurs on other days.
 */
async function findClusters(ctx: AuditContext, p: Params): Promise<Cluster[]> {
  const s = ctx.store
  const excluded = await excludedLines(ctx, p)
  const base = { ...baseParams(ctx, p), ...excluded.params }
  const starts = await s.query<Record<string, unknown>>(`
    WITH ${perVisitCtes(ctx, p, '1', excluded.sql)},
    ahead AS (
      SELECT fixmedins_code, set_key, t, count() OVER (PARTITION BY fixmedins_code, set_key ORDER BY t RANGE BETWEEN CURRENT ROW AND {span:Int64} FOLLOWING) AS n
      FROM per_visit
    )
    SELECT fixmedins_code, set_key, t, n FROM ahead
    WHERE n >= {min_persons:UInt32} AND t >= {from:Int64} AND t < {to:Int64}
    ORDER BY fixmedins_code, set_key, n DESC, t`, base)
  if (starts.length === 0) return []

  // The fullest window first; windows overlapping a chosen one are the same crowd seen from another start.
  const span = Math.round(p.window_hours * HOUR)
  const chosen: { fixmedins_code: string; set_key: string; start: number }[] = []
  for (const r of starts) {
    const c = { fixmedins_code: String(r.fixmedins_code), set_key: String(r.set_key), start: num(r.t) }
    if (chosen.some((x) => x.fixmedins_code === c.fixmedins_code && x.set_key === c.set_key && Math.abs(x.start - c.start) < span)) continue
    chosen.push(c)
  }
  const codes = [...new Set(chosen.map((c) => c.fixmedins_code))]
  const instDays = chosen.flatMap((c) => [c.start, c.start + span].map((t) => `${c.fixmedins_code}|${Math.floor((t + CN) / DAY)}`))
  const arrays = {
    ...base, codes: chosen.map((c) => c.fixmedins_code), keys: chosen.map((c) => c.set_key), starts: chosen.map((c) => c.start), ends: chosen.map((c) => c.start + span),
    insts: codes, inst_days: [...new Set(instDays)],
  }
  const inCluster = `arrayExists((c, k, a, b) -> fixmedins_code = c AND set_key = k AND t >= a AND t <= b, {codes:Array(String)}, {keys:Array(String)}, {starts:Array(Int64)}, {ends:Array(Int64)})`
  const [members, doctors, days] = await Promise.all([
    s.query<Record<string, unknown>>(`
      WITH ${perVisitCtes(ctx, p, 'fixmedins_code IN {insts:Array(String)}', excluded.sql)}
      SELECT fixmedins_code, set_key, mdtrt_id, psn_no, atddr_no, t, odd, main_diag FROM per_visit WHERE ${inCluster}`, arrays),
    s.query<Record<string, unknown>>(`
      SELECT fixmedins_code, intDiv(toUnixTimestamp64Milli(begntime) + ${CN}, ${DAY}) AS day, groupUniqArray(atddr_no) AS doctors
      FROM (${activeVisits(s, 'fixmedins_code IN {insts:Array(String)} AND begntime >= fromUnixTimestamp64Milli({from:Int64}) AND begntime < fromUnixTimestamp64Milli({to:Int64}) + INTERVAL 1 DAY')})
      WHERE concat(fixmedins_code, '|', toString(day)) IN {inst_days:Array(String)}
      GROUP BY fixmedins_code, day`, arrays),
    s.query<Record<string, unknown>>(`
      WITH ${perVisitCtes(ctx, p, 'fixmedins_code IN {insts:Array(String)}', excluded.sql)}
      SELECT fixmedins_code, set_key, day, uniqExact(psn_no) AS persons FROM per_visit
      WHERE set_key IN {keys:Array(String)} GROUP BY fixmedins_code, set_key, day`, arrays),
  ])

  const clusters: Cluster[] = []
  for (const c of chosen) {
    const end = c.start + span
    const vs: Visit[] = members
      .filter((m) => m.fixmedins_code === c.fixmedins_code && m.set_key === c.set_key && num(m.t) >= c.start && num(m.t) <= end)
      .map((m) => ({ mdtrt_id: String(m.mdtrt_id), psn_no: String(m.psn_no), atddr_no: String(m.atddr_no), t: num(m.t), odd: num(m.odd) === 1, diag: String(m.main_diag) }))
      .sort((a, b) => a.t - b.t || a.mdtrt_id.localeCompare(b.mdtrt_id))
    const persons = new Set(vs.map((v) => v.psn_no)).size
    if (persons < p.min_persons) continue
    const byDoctor = new Map<string, number>()
    for (const v of vs) byDoctor.set(v.atddr_no, (byDoctor.get(v.atddr_no) ?? 0) + 1)
    const [top, topN] = [...byDoctor.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!
    // A session across midnight touches two China days: neither is an "other day" of its own set.
    const own = new Set(vs.map((v) => Math.floor((v.t + CN) / DAY)))
    const working = new Set(doctors.filter((d) => d.fixmedins_code === c.fixmedins_code && own.has(num(d.day))).flatMap((d) => d.doctors as string[]))
    const setDays = days.filter((d) => d.fixmedins_code === c.fixmedins_code && d.set_key === c.set_key)
    const dayPersons = setDays.filter((d) => own.has(num(d.day))).reduce((a, d) => a + num(d.persons), 0)
    const others = setDays.filter((d) => !own.has(num(d.day)))
    clusters.push({
      fixmedins_code: c.fixmedins_code, items: c.set_key.split('|'), start: vs[0]!.t, visits: vs, persons, inst_doctors: working.size,
      top_doctor: top, top_doctor_visits: topN, day_persons: dayPersons, other_days: others.length,
      other_persons: others.reduce((a, d) => a + num(d.persons), 0), amount: 0,
    })
  }
  if (clusters.length === 0) return []
  // What the insurance paid for the clusters' visits (settlements that stand).
  const paid = await s.query<{ mdtrt_id: string; fund: number }>(`
    SELECT mdtrt_id, toFloat64(sum(${INSURANCE_PAID})) AS fund FROM (${activeSettlements(s, 'mdtrt_id IN {ids:Array(String)}')}) GROUP BY mdtrt_id`,
  { ids: clusters.flatMap((c) => c.visits.map((v) => v.mdtrt_id)) })
  const fund = new Map(paid.map((x) => [x.mdtrt_id, num(x.fund)]))
  for (const c of clusters) c.amount = c.visits.reduce((a, v) => a + (fund.get(v.mdtrt_id) ?? 0), 0)
  return clusters
}

function oddHours(p: Params): string {
  const { from, to } = p.odd_hours
  const hh = 'toHour(v.v_begin + INTERVAL 8 HOUR)'
  // Integers from the validated parameters, not user text: safe to inline.
  return from > to ? `(${hh} >= ${from} OR ${hh} < ${to})` : `(${hh} >= ${from} AND ${hh} < ${to})`
}

function finding(ctx: AuditContext, p: Params, c: Cluster, signals: Record<Signal, boolean>): Finding {
  const setHash = createHash('sha256').update(c.items.join('|')).digest('hex').slice(0, 16)
  const first = c.visits[0]!.t
  const last = c.visits[c.visits.length - 1]!.t
  const on = SIGNALS.filter((k) => signals[k])
  const zhSignals: Record<Signal, string> = { odd_hours: '非正常时段', one_doctor: '同一医生', burst: '平时少见' }
  const odd = c.visits.filter((v) => v.odd).length
  const refs = c.visits.slice(0, p.max_refs)
  return {
    // The cluster's first visit (to the minute) names it, not the audit window: any window that finds it gives this key.
    key: `${c.fixmedins_code}/${cnIso(first).slice(0, 16)}/${setHash}`,
    subject: { fixmedins_code: c.fixmedins_code, ...(signals.one_doctor ? { doctor: c.top_doctor } : {}) },
    refs: { mdtrt_ids: refs.map((v) => v.mdtrt_id) },
    amount_fen: toFen(c.amount),
    message: text(
      `${cnIso(first).slice(0, 16).replace('T', ' ')} 起 ${r2((last - first) / HOUR)} 小时内 ${c.persons} 名参保人就诊项目组合相同(${c.items.length} 项)；特征：${on.map((k) => zhSignals[k]).join('、')}`,
      `${c.persons} persons billed the same ${c.items.length} items within ${r2((last - first) / HOUR)} h from ${cnIso(first).slice(0, 16).replace('T', ' ')}; signals: ${on.join(', ')}`,
    ),
    evidence: {
      persons: c.persons, visits: c.visits.length, min_persons: p.min_persons, window_hours: p.window_hours, items: c.items,
      diagnoses: [...new Set(c.visits.map((v) => v.diag).filter(Boolean))].sort(),
      first_visit: cnIso(first), last_visit: cnIso(last), span_hours: r2((last - first) / HOUR),
      odd_hour_visits: odd, odd_share: r4(odd / c.visits.length), top_doctor: c.top_doctor, top_doctor_visits: c.top_doctor_visits,
      doctor_share: r4(c.top_doctor_visits / c.visits.length), doctors: new Set(c.visits.map((v) => v.atddr_no)).size, institution_doctors_that_day: c.inst_doctors,
      same_set_that_day: c.day_persons, same_set_other_days: c.other_days, same_set_persons_other_days: c.other_persons,
      signals, min_signals: p.min_signals, require_any: p.require_any,
      amount_basis: 'insurance payment (fund_pay_sumamt + acct_pay of settlements that stand) of the cluster\'s visits',
      window: windowEvidence(ctx),
    },
    event_time: cnIso(last),
  }
}
