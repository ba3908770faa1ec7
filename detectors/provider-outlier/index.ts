import { z } from 'zod'
import type { Institution } from '../../schemas/index.ts'
import { FROM, INSURANCE_PAID, IS_INPATIENT, TO, activeDischarges, activeLines, activeSettlements, activeVisits, assignPeers, num, peerGroupKeys, type PeerGroup, windowEvidence, windowParams } from '../../src/audit/sql.ts'
import { peerStats, r2, r4, robustZ, type PeerStats } from '../../src/audit/stats.ts'
import { defineDetector, type AuditContext, type Finding } from '../../src/detect/types.ts'
import { KB_MEASURES, REGULATION, text, toFen } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const METRIC_IDS = [
  'otp_cost_per_visit', 'otp_drug_share', 'otp_consumable_share', 'chronic_cost_per_visit',
  'ipt_cost_per_stay', 'ipt_drug_share', 'ipt_consumable_share', 'ipt_avg_los',
] as const
/** Ordinary outpatient, chronic-disease outpatient (门诊慢特病), inpatient. */
type ScenarioId = 'otp' | 'chronic' | 'ipt'
type MetricId = (typeof METRIC_IDS)[number]

const params = z.object({
  z_threshold: z.number().positive().default(3.5)
    .describe('Flag a value whose robust z-score against its peers ((x − median) / (1.4826 × MAD)) is at least this (3.5 = the Iglewicz–Hoaglin cut-off)').meta({ description_zh: '相对同类的稳健 Z 值((x − 中位数) / (1.4826 × MAD))不低于此值即标记(3.5 为 Iglewicz–Hoaglin 界值)' }),
  metrics: z.array(z.enum(METRIC_IDS)).default([...METRIC_IDS])
    .describe('Metrics compared: ordinary outpatient cost per visit and its drug (incl. herbs) and consumable shares, 门诊慢特病 cost per visit, inpatient cost per stay and its shares, inpatient average length of stay').meta({ description_zh: '比较的指标：普通门诊次均费用及其药占比(含中药饮片)和耗占比、门诊慢特病次均费用、住院次均费用及其占比、平均住院日' }),
  chronic_med_types: z.array(z.string()).default(['14'])
    .describe('医疗类别 of chronic-disease outpatient visits (门诊慢特病), judged apart: they cost several times an ordinary visit, so a hospital with many of them would look costly on the ordinary metrics').meta({ description_zh: '门诊慢特病的医疗类别，单独判定：其费用是普通门诊的数倍，慢特病多的医院在普通指标上会显得费用高' }),
  min_visits: z.number().int().min(1).default(30).describe('An institution needs at least this many settled outpatient (or chronic-disease) visits in the window for those metrics to be judged').meta({ description_zh: '机构在窗口内至少需要这么多已结算的门诊(或慢特病)就诊，才判定这些指标' }),
  min_stays: z.number().int().min(1).default(10).describe('An institution needs at least this many settled inpatient stays in the window for its inpatient metrics to be judged').meta({ description_zh: '机构在窗口内至少需要这么多已结算的住院，才判定其住院指标' }),
  doctors: z.boolean().default(true).describe('Also compare each attending doctor (atddr_no) with the doctors of the same department at institutions of the same level and type').meta({ description_zh: '也把每位主诊医师(atddr_no)与同级同类机构同科室的医师比较' }),
  doctor_metrics: z.array(z.enum(METRIC_IDS)).default(['otp_cost_per_visit', 'otp_drug_share', 'otp_consumable_share'])
    .describe('Metrics compared per doctor. Inpatient metrics are left out by default: within one department a doctor who does the PCIs has a consumable share and cost per stay no ward colleague has').meta({ description_zh: '按医师比较的指标。住院指标默认不比：同一科室里做 PCI 的医师，其耗占比和次均费用是同事所没有的' }),
  doctor_z_threshold: z.number().positive().default(5)
    .describe('The z-score a doctor needs: hundreds of doctors are compared on several metrics each, so chance alone carries a few past 3.5').meta({ description_zh: '医师需要达到的 Z 值：数百名医师各比较多项指标，仅凭偶然就会有几位超过 3.5' }),
  doctor_min_visits: z.number().int().min(1).default(30).describe('Outpatient visits a doctor needs in the window to be judged').meta({ description_zh: '医师在窗口内需要的门诊就诊数，才予判定' }),
  doctor_min_stays: z.number().int().min(1).default(10).describe('Inpatient stays a doctor needs in the window to be judged').meta({ description_zh: '医师在窗口内需要的住院数，才予判定' }),
  min_peers: z.number().int().min(2).default(4).describe('Peers (other subjects meeting the volume minimum) a peer group needs besides the subject; smaller groups fall back or are not judged').meta({ description_zh: '同类组除被比较对象外需要的同类数(达到量的最低要求的其他对象)；组太小则退而求其次或不判定' }),
  peer_fallback: z.boolean().default(false)
    .describe('When the level+type group is too small, compare with institutions of the same level and kind (hospital / clinic / pharmacy) instead. Off by default: a specialty hospital measured against general hospitals is an outlier by its specialty').meta({ description_zh: '同级同类组太小时，改与同级同种机构(医院/诊所/药店)比较。默认关闭：专科医院与综合医院相比，会因其专科而成为离群者' }),
  mad_floor_ratio: z.number().min(0).max(1).default(0.1)
    .describe('The z-score scale is at least this share of the peer median, so near-identical peers (MAD ≈ 0) do not turn small differences into outliers').meta({ description_zh: 'Z 值的尺度至少为同类中位数的这一比例，使几乎相同的同类(MAD ≈ 0)不会把小差异变成离群' }),
  share_floor: z.number().min(0).max(1).default(0.03).describe('For drug and consumable shares, the z-score scale is at least this many share points (0.03 = 3 %)').meta({ description_zh: '药占比和耗占比的 Z 值尺度至少为这么多个百分点(0.03 = 3 %)' }),
  typical_check: z.boolean().default(true)
    .describe('Cost and stay metrics also need the subject\'s median visit (stay) to stand out against its peers\' medians by the same threshold: a handful of extreme visits — each a case for the stream detectors — does not make a provider\'s practice an outlier').meta({ description_zh: '费用和住院日指标还要求对象的就诊(住院)中位数相对同类中位数同样超过阈值：少数极端就诊(各自交由事中规则处理)不能使机构的执业行为成为离群' }),
  max_stay_days: z.number().int().min(1).max(3650).default(180)
    .describe('A visit settled in the window began at most this many days before it: older visits, discharges and lines are not read (so a monthly audit does not scan years of history)').meta({ description_zh: '窗口内结算的就诊最多在此天数之前开始：更早的就诊、出院和明细不读取(月度稽核不必扫描多年历史)' }),
  max_refs: z.number().int().min(1).max(1000).default(50).describe('Visits cited per finding: the costliest (or longest) ones behind the metric').meta({ description_zh: '每条预警引用的就诊数：该指标背后费用最高(或住院最长)的就诊' }),
}).strict()
type Params = z.infer<typeof params>

interface Agg {
  n: number; amt: number; drug: number; cons: number; fund: number; medfee: number; closed: number; los_days: number; los_amt: number
  /** The median visit's cost and the median stay: what the subject's typical case looks like. */
  med_amt: number; med_los: number
}
const emptyAgg = (): Agg => ({ n: 0, amt: 0, drug: 0, cons: 0, fund: 0, medfee: 0, closed: 0, los_days: 0, los_amt: 0, med_amt: 0, med_los: 0 })

interface Metric {
  scenario: ScenarioId
  kind: 'cost' | 'share' | 'los'
  zh: string
  en: string
  unit: string
  value(a: Agg): number | undefined
  /** The typical case's value, for the cost and stay metrics (typical_check). */
  typical?: (a: Agg) => number
}

const METRICS: Record<MetricId, Metric> = {
  otp_cost_per_visit: { scenario: 'otp', kind: 'cost', zh: '门诊次均费用', en: 'outpatient cost per visit', unit: '元', value: (a) => a.amt / a.n, typical: (a) => a.med_amt },
  ipt_cost_per_stay: { scenario: 'ipt', kind: 'cost', zh: '住院次均费用', en: 'inpatient cost per stay', unit: '元', value: (a) => a.amt / a.n, typical: (a) => a.med_amt },
  otp_drug_share: { scenario: 'otp', kind: 'share', zh: '门诊药占比', en: 'outpatient drug share', unit: '', value: (a) => (a.amt > 0 ? a.drug / a.amt : undefined) },
  ipt_drug_share: { scenario: 'ipt', kind: 'share', zh: '住院药占比', en: 'inpatient drug share', unit: '', value: (a) => (a.amt > 0 ? a.drug / a.amt : undefined) },
  otp_consumable_share: { scenario: 'otp', kind: 'share', zh: '门诊耗材占比', en: 'outpatient consumable share', unit: '', value: (a) => (a.amt > 0 ? a.cons / a.amt : undefined) },
  chronic_cost_per_visit: { scenario: 'chronic', kind: 'cost', zh: '门诊慢特病次均费用', en: 'chronic-disease outpatient cost per visit', unit: '元', value: (a) => a.amt / a.n, typical: (a) => a.med_amt },
  ipt_consumable_share: { scenario: 'ipt', kind: 'share', zh: '住院耗材占比', en: 'inpatient consumable share', unit: '', value: (a) => (a.amt > 0 ? a.cons / a.amt : undefined) },
  ipt_avg_los: { scenario: 'ipt', kind: 'los', zh: '平均住院日', en: 'average length of stay', unit: '天', value: (a) => (a.closed > 0 ? a.los_days / a.closed : undefined), typical: (a) => a.med_los },
}

/** One subject (an institution, or a doctor at one) with its aggregates per scenario. */
interface Subject {
  fixmedins_code: string
  doctor?: string
  dept?: string
  inst: Institution
  otp: Agg
  chronic: Agg
  ipt: Agg
}

export default defineDetector({
  kind: 'audit',
  id: 'provider-outlier',
  version: '2.0.0',
  title: text('机构/医生费用指标异常', 'Provider or doctor far from its peers'),
  pattern: text('机构/医生异常', 'Provider outliers'),
  description: text(
    '按审核期间内已结算的就诊，计算每家机构(及每名主诊医生)的门诊次均费用、住院次均费用、药占比、耗材占比和平均住院日，与同级别同类别机构(医生按同科室)比较，稳健 z 值(中位数/MAD)超过阈值的判为异常。',
    'Over the visits settled in the audit window, computes for every institution (and attending doctor) the outpatient cost per visit, inpatient cost per stay, drug and consumable shares and average length of stay, and compares each with peers of the same level and type (doctors: same department) by a robust z-score (median / MAD).',
  ),
  stages: ['post'],
  scenarios: ['outpatient', 'inpatient', 'pharmacy'],
  result: 'suspicious',
  severity: 'medium',
  basis: text(
    `${REGULATION}第十四条(定点医药机构应当确保医保基金支付的费用符合规定的支付范围)、第十五条(不得过度诊疗、过度检查、分解处方、超量开药)；${KB_MEASURES}中"医疗机构/医师行为异常"类监控指标(次均费用、药占比、耗材占比、平均住院日)。`,
    `${REGULATION} arts. 14–15 (costs within the payment scope; no over-treatment, over-testing or over-prescribing); the provider and physician behaviour indicators (cost per visit, drug share, consumable share, average length of stay) of the national smart-monitoring knowledge/rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('metric', 'scenario', 'value', 'peer_median', 'mad', 'scale', 'robust_z', 'z_threshold', 'peers', 'peer_group', 'peer_basis', 'typical', 'volume', 'total_amount', 'fund_ratio', 'excess_cost', 'amount_basis', 'window', 'from', 'to', 'days', 'doctor', 'dept'),
  async audit(ctx, p) {
    const rows = await ctx.store.query<Record<string, unknown>>(aggregateSql(ctx), { ...windowParams(ctx), since: ctx.from - p.max_stay_days * 86_400_000, chronic: p.chronic_med_types })
    const insts = new Map<string, Subject>()
    const doctors = new Map<string, Subject>()
    for (const r of rows) {
      const code = String(r.fixmedins_code)
      const inst = ctx.kb.institutions.get(code)
      // An institution the knowledge base does not know has no level or type: no peers to compare with.
      if (!inst) continue
      const scenario = String(r.scenario) as ScenarioId
      const a: Agg = {
        n: num(r.n), amt: num(r.amt), drug: num(r.drug), cons: num(r.cons), fund: num(r.fund), medfee: num(r.medfee),
        closed: num(r.closed), los_days: num(r.los_days), los_amt: num(r.los_amt), med_amt: num(r.med_amt), med_los: num(r.med_los),
      }
      // Institution rows are the grouping set without the doctor (atddr_no is then ''; a real doctor code never is).
      const dr = String(r.atddr_no)
      if (dr === '') subjectOf(insts, code, inst)[scenario] = a
      else if (p.doctors) subjectOf(doctors, `${code}/${dr}`, inst, dr, ctx.kb.doctors.get(dr)?.dept_codg ?? String(r.dept))[scenario] = a
    }
    const flagged: Flag[] = []
    const judge = (subjects: Subject[], metrics: readonly MetricId[], threshold: number, minVisits: number, minStays: number) => {
      for (const metric of metrics) {
        const m = METRICS[metric]
        const eligible = subjects.filter((s) => s[m.scenario].n >= (m.scenario === 'ipt' ? minStays : minVisits) && m.value(s[m.scenario]) !== undefined)
        const peers = assignPeers(eligible, (s) => {
          const k = peerGroupKeys(s.inst)
          if (s.doctor === undefined) return k
          const dept = s.dept ?? ''
          return { exact: { key: `${k.exact.key}/${dept}`, basis: k.exact.basis }, fallback: { key: `${k.fallback.key}/${dept}`, basis: k.fallback.basis } }
        }, p.min_peers, p.peer_fallback)
        const statsByGroup = new Map<string, { stats: PeerStats; typical?: PeerStats }>()
        for (const [s, { group, members }] of peers) {
          let g = statsByGroup.get(group.key)
          if (!g) {
            const floorAbs = m.kind === 'share' ? p.share_floor : 0
            g = {
              stats: peerStats(members.map((x) => m.value(x[m.scenario])!), p.mad_floor_ratio, floorAbs),
              ...(m.typical && p.typical_check ? { typical: peerStats(members.map((x) => m.typical!(x[m.scenario])), p.mad_floor_ratio, floorAbs) } : {}),
            }
            statsByGroup.set(group.key, g)
          }
          const value = m.value(s[m.scenario])!
          const zv = robustZ(value, g.stats)
          // Only the costly direction is a finding: cheaper than peers is not a fund risk.
          if (zv < threshold) continue
          let typical: Flag['typical']
          if (g.typical) {
            const tv = m.typical!(s[m.scenario])
            const tz = robustZ(tv, g.typical)
            if (tz < threshold) continue
            typical = { value: tv, peer_median: g.typical.median, robust_z: tz }
          }
          flagged.push({ s, metric, value, stats: g.stats, z: zv, group, threshold, ...(typical ? { typical } : {}) })
        }
      }
    }
    judge([...insts.values()], p.metrics, p.z_threshold, p.min_visits, p.min_stays)
    if (p.doctors) judge([...doctors.values()], p.doctor_metrics, p.doctor_z_threshold, p.doctor_min_visits, p.doctor_min_stays)
    if (flagged.length === 0) return []

    const refs = await topVisits(ctx, [...new Set(flagged.map((f) => f.s.fixmedins_code))], p.max_refs, ctx.from - p.max_stay_days * 86_400_000, p.chronic_med_types)
    return flagged.map((f) => finding(ctx, p, f, refs))
  },
})

function subjectOf(m: Map<string, Subject>, key: string, inst: Institution, doctor?: string, dept?: string): Subject {
  let s = m.get(key)
  if (!s) {
    s = { fixmedins_code: inst.fixmedins_code, inst, otp: emptyAgg(), chronic: emptyAgg(), ipt: emptyAgg(), ...(doctor ? { doctor } : {}), ...(dept !== undefined ? { dept } : {}) }
    m.set(key, s)
  }
  return s
}

/** Inpatient stay, chronic-disease (门诊慢特病) visit or ordinary outpatient visit, from the visit's 医疗类别. */
const SCENARIO_SQL = `multiIf(${IS_INPATIENT.replaceAll('med_type', 'v.med_type')}, 'ipt', v.med_type IN {chronic:Array(String)}, 'chronic', 'otp')`

/** The earliest a visit settled in the window can have begun (from − max_stay_days): bounds every read to the partitions that matter. */
const SINCE = 'fromUnixTimestamp64Milli({since:Int64})'

/** Bed days as billed (算入不算出): China calendar days from admission to discharge, at least 1. */
const LOS_DAYS = 'greatest(1, intDiv(toUnixTimestamp64Milli(d.endtime) + 28800000, 86400000) - intDiv(toUnixTimestamp64Milli(v.begntime) + 28800000, 86400000))'

/**
 * One row per institution, attending doctor, department and scenario, over the
 * visits with a settlement (that stands) in the window: a settled visit is
 * complete, so a stay is never cut in two by the window edge. Costs are the
 * visit's active fee lines, whenever billed.
 */
function aggregateSql(ctx: AuditContext): string {
  const s = ctx.store
  return `
    WITH settled AS (
      SELECT mdtrt_id, any(fixmedins_code) AS fixmedins_code, sum(${INSURANCE_PAID}) AS fund, sum(medfee_sumamt) AS medfee
      FROM (${activeSettlements(s, `setl_time >= ${FROM} AND setl_time < ${TO}`)}) GROUP BY mdtrt_id
    ),
    visit AS (
      SELECT mdtrt_id, any(med_type) AS med_type, any(atddr_no) AS atddr_no, any(adm_dept_codg) AS dept, any(begntime) AS begntime
      FROM (${activeVisits(s, `begntime >= ${SINCE} AND mdtrt_id IN (SELECT mdtrt_id FROM settled)`)}) GROUP BY mdtrt_id
    ),
    discharge AS (
      SELECT mdtrt_id, argMax(endtime, event_time) AS endtime FROM (${activeDischarges(s, `endtime >= ${SINCE} AND mdtrt_id IN (SELECT mdtrt_id FROM settled)`)}) GROUP BY mdtrt_id
    ),
    cost AS (
      SELECT mdtrt_id, sum(det_item_fee_sumamt) AS amt,
        sumIf(det_item_fee_sumamt, list_type IN ('drug', 'herb')) AS drug, sumIf(det_item_fee_sumamt, list_type = 'consumable') AS cons
      FROM (${activeLines(s, `fee_ocur_time >= ${SINCE} AND mdtrt_id IN (SELECT mdtrt_id FROM settled)`)}) GROUP BY mdtrt_id
    ),
    per_visit AS (
      SELECT st.fixmedins_code AS fixmedins_code, v.atddr_no AS atddr_no, v.dept AS v_dept, ${SCENARIO_SQL} AS scenario,
        toFloat64(c.amt) AS v_amt, toFloat64(c.drug) AS v_drug, toFloat64(c.cons) AS v_cons, toFloat64(st.fund) AS v_fund, toFloat64(st.medfee) AS v_medfee,
        d.mdtrt_id != '' AS is_closed,
        ${LOS_DAYS} AS los
      FROM settled st
      INNER JOIN visit v ON v.mdtrt_id = st.mdtrt_id
      INNER JOIN cost c ON c.mdtrt_id = st.mdtrt_id
      LEFT JOIN discharge d ON d.mdtrt_id = st.mdtrt_id
    )
    SELECT fixmedins_code, atddr_no, any(v_dept) AS dept, scenario, count() AS n, sum(v_amt) AS amt, sum(v_drug) AS drug, sum(v_cons) AS cons,
      sum(v_fund) AS fund, sum(v_medfee) AS medfee, countIf(is_closed) AS closed, sumIf(los, is_closed) AS los_days, sumIf(v_amt, is_closed) AS los_amt,
      quantileExact(0.5)(v_amt) AS med_amt, quantileExactIf(0.5)(los, is_closed) AS med_los
    FROM per_visit
    -- Institutions and doctors in one pass; a median cannot be added up from the doctors' medians.
    GROUP BY GROUPING SETS ((fixmedins_code, scenario), (fixmedins_code, atddr_no, scenario))`
}

interface RefVisit { fixmedins_code: string; mdtrt_id: string; setl_ids: string[]; atddr_no: string; scenario: ScenarioId; amt: number; los: number }

/**
 * The costliest and the longest settled visits of the flagged institutions,
 * per doctor and scenario: an institution's top visits are among the union of
 * its doctors' tops, so one bounded query serves every finding.
 */
async function topVisits(ctx: AuditContext, codes: string[], limit: number, since: number, chronic: string[]): Promise<RefVisit[]> {
  const s = ctx.store
  const rows = await s.query<Record<string, unknown>>(`
    WITH settled AS (
      SELECT mdtrt_id, any(fixmedins_code) AS fixmedins_code, groupArray(setl_id) AS setl_ids
      FROM (${activeSettlements(s, `setl_time >= ${FROM} AND setl_time < ${TO} AND fixmedins_code IN {codes:Array(String)}`)}) GROUP BY mdtrt_id
    ),
    visit AS (
      SELECT mdtrt_id, any(med_type) AS med_type, any(atddr_no) AS atddr_no, any(begntime) AS begntime
      FROM (${activeVisits(s, `begntime >= ${SINCE} AND mdtrt_id IN (SELECT mdtrt_id FROM settled)`)}) GROUP BY mdtrt_id
    ),
    discharge AS (SELECT mdtrt_id, argMax(endtime, event_time) AS endtime FROM (${activeDischarges(s, `endtime >= ${SINCE} AND mdtrt_id IN (SELECT mdtrt_id FROM settled)`)}) GROUP BY mdtrt_id),
    cost AS (SELECT mdtrt_id, toFloat64(sum(det_item_fee_sumamt)) AS amt FROM (${activeLines(s, `fee_ocur_time >= ${SINCE} AND mdtrt_id IN (SELECT mdtrt_id FROM settled)`)}) GROUP BY mdtrt_id),
    per_visit AS (
      SELECT st.fixmedins_code AS fixmedins_code, st.mdtrt_id AS mdtrt_id, st.setl_ids AS setl_ids, v.atddr_no AS atddr_no,
        ${SCENARIO_SQL} AS scenario, c.amt AS amt,
        if(d.mdtrt_id = '', 0, ${LOS_DAYS}) AS los
      FROM settled st INNER JOIN visit v ON v.mdtrt_id = st.mdtrt_id INNER JOIN cost c ON c.mdtrt_id = st.mdtrt_id
      LEFT JOIN discharge d ON d.mdtrt_id = st.mdtrt_id
    )
    SELECT * FROM (SELECT * FROM per_visit ORDER BY amt DESC, mdtrt_id LIMIT {limit:UInt32} BY fixmedins_code, atddr_no, scenario)
    UNION ALL
    SELECT * FROM (SELECT * FROM per_visit WHERE scenario = 'ipt' ORDER BY los DESC, mdtrt_id LIMIT {limit:UInt32} BY fixmedins_code, atddr_no)`,
  { ...windowParams(ctx), codes, limit, since, chronic })
  const seen = new Set<string>()
  const out: RefVisit[] = []
  for (const r of rows) {
    const id = String(r.mdtrt_id)
    if (seen.has(id)) continue
    seen.add(id)
    out.push({ fixmedins_code: String(r.fixmedins_code), mdtrt_id: id, setl_ids: r.setl_ids as string[], atddr_no: String(r.atddr_no), scenario: String(r.scenario) as ScenarioId, amt: num(r.amt), los: num(r.los) })
  }
  return out
}

interface Flag {
  s: Subject; metric: MetricId; value: number; stats: PeerStats; z: number; group: PeerGroup; threshold: number
  typical?: { value: number; peer_median: number; robust_z: number }
}

function finding(ctx: AuditContext, p: Params, f: Flag, visits: readonly RefVisit[]): Finding {
  const m = METRICS[f.metric]
  const a = f.s[m.scenario]
  const fundRatio = a.medfee > 0 ? Math.min(1, Math.max(0, a.fund / a.medfee)) : 1
  const excess = f.value - f.stats.median
  // The part of the fund payment the excess stands for, were the subject at its peers' median.
  const excessCost = m.kind === 'cost' ? excess * a.n : m.kind === 'share' ? excess * a.amt : excess * a.closed * (a.los_days > 0 ? a.los_amt / a.los_days : 0)
  const mine = visits
    .filter((v) => v.fixmedins_code === f.s.fixmedins_code && v.scenario === m.scenario && (f.s.doctor === undefined || v.atddr_no === f.s.doctor))
    .sort(m.kind === 'los' ? (x, y) => y.los - x.los || y.amt - x.amt : (x, y) => y.amt - x.amt)
    .slice(0, p.max_refs)
  const who = f.s.doctor === undefined ? f.s.fixmedins_code : `${f.s.fixmedins_code}/${f.s.doctor}`
  const show = (x: number) => (m.kind === 'share' ? `${(x * 100).toFixed(1)}%` : `${r2(x)}${m.unit}`)
  const peersZh = f.s.doctor === undefined ? (f.group.basis === 'level+type' ? '同级同类机构' : '同级同种机构') : '同级同类机构同科室医生'
  const peersEn = f.s.doctor === undefined ? (f.group.basis === 'level+type' ? 'institutions of the same level and type' : 'institutions of the same level and kind') : 'same-department doctors at institutions of the same level and type'
  return {
    key: `${who}/${f.metric}`,
    subject: { fixmedins_code: f.s.fixmedins_code, ...(f.s.doctor === undefined ? {} : { doctor: f.s.doctor }) },
    refs: { mdtrt_ids: mine.map((v) => v.mdtrt_id), setl_ids: mine.flatMap((v) => v.setl_ids) },
    amount_fen: toFen(Math.max(0, excessCost * fundRatio)),
    message: text(
      `${f.s.doctor === undefined ? '机构' : `医生 ${f.s.doctor} `}${m.zh} ${show(f.value)}，${peersZh}中位数 ${show(f.stats.median)}，稳健 z = ${r2(f.z)}(阈值 ${f.threshold})`,
      `${f.s.doctor === undefined ? 'Institution' : `Doctor ${f.s.doctor}`}: ${m.en} ${show(f.value)} against a median of ${show(f.stats.median)} among ${peersEn}, robust z = ${r2(f.z)} (threshold ${f.threshold})`,
    ),
    evidence: {
      metric: f.metric, scenario: m.scenario, value: r4(f.value), peer_median: r4(f.stats.median), mad: r4(f.stats.mad), scale: r4(f.stats.scale),
      robust_z: r2(f.z), z_threshold: f.threshold, peers: f.stats.n - 1, peer_group: f.group.key, peer_basis: f.group.basis,
      ...(f.s.doctor === undefined ? {} : { doctor: f.s.doctor, dept: f.s.dept }),
      ...(f.typical ? { typical: { value: r4(f.typical.value), peer_median: r4(f.typical.peer_median), robust_z: r2(f.typical.robust_z) } } : {}),
      volume: a.n, total_amount: r2(a.amt), fund_ratio: r4(fundRatio), excess_cost: r2(excessCost),
      amount_basis: m.kind === 'cost' ? '(value − peer median) × visits × fund share'
        : m.kind === 'share' ? '(share − peer median share) × total cost × fund share'
          : '(average stay − peer median) × stays × cost per bed day × fund share',
      window: windowEvidence(ctx),
    },
  }
}
