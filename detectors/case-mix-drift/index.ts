import { z } from 'zod'
import type { Institution } from '../../schemas/index.ts'
import { FROM, INSURANCE_PAID, TO, activeSettlements, assignPeers, num, peerGroupKeys, type PeerGroup, windowEvidence } from '../../src/audit/sql.ts'
import { median, r2, r4 } from '../../src/audit/stats.ts'
import { defineDetector, type AuditContext, type Finding } from '../../src/detect/types.ts'
import type { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { cnDate } from '../../src/util/time.ts'
import { KB_MEASURES, REGULATION, text, toFen } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const INDICES = ['severity', 'cmi'] as const
type IndexId = (typeof INDICES)[number]

const params = z.object({
  baseline_days: z.number().int().min(7).max(1095).default(180)
    .describe('History the window is compared with: this many days before the window start (6 months by default)').meta({ description_zh: '与窗口比较的历史：窗口开始前这么多天(默认 6 个月)' }),
  indices: z.array(z.enum(INDICES)).default([...INDICES])
    .describe('severity: mean of each case\'s weight over the weight of its group\'s no-complication sibling (the CC/MCC uplift, blind to a changing mix of diseases); cmi: mean weight (the case-mix index)').meta({ description_zh: 'severity：每个病例的权重与其病组无并发症同组权重之比的均值(CC/MCC 上浮，不受病种构成变化影响)；cmi：平均权重(病例组合指数)' }),
  min_cases: z.number().int().min(2).default(30).describe('DRG/DIP-paid settlements an institution needs in the window, and again in the baseline, to be judged').meta({ description_zh: '机构在窗口内、以及在基线内各需要的 DRG/DIP 付费结算数，才予判定' }),
  min_rise: z.number().min(0).default(0.05).describe('Relative rise of the index over the baseline needed (0.05 = 5 %)').meta({ description_zh: '指数相对基线需要的升幅(0.05 = 5 %)' }),
  z_threshold: z.number().positive().default(2.5)
    .describe('The rise must be this many standard errors (Welch, window vs baseline cases) above zero: a few dozen cases move an index by chance').meta({ description_zh: '升幅须高于零这么多个标准误(Welch，窗口与基线病例)：几十个病例就可能偶然使指数变动' }),
  min_peers: z.number().int().min(2).default(3).describe('Peers with a baseline of their own needed to check the rise against theirs; fewer = the peer check is skipped and the evidence says so').meta({ description_zh: '与同类升幅比较所需的、有自身基线的同类数；不足则跳过同类比较，并在证据中说明' }),
  min_rise_over_peers: z.number().min(0).default(0.05)
    .describe('The institution\'s rise (window ÷ baseline) must also exceed the median rise of its peers by this much (0.05 = 5 %), so a grouper change or a season that lifts everyone is not one institution\'s drift').meta({ description_zh: '机构的升幅(窗口 ÷ 基线)还须比同类升幅中位数高出这么多(0.05 = 5 %)，使分组器变更或使大家都上升的季节不被当作一家机构的漂移' }),
  peer_fallback: z.boolean().default(true).describe('When the level+type group is too small, compare with institutions of the same level and kind instead').meta({ description_zh: '同级同类组太小时，改与同级同种机构比较' }),
  max_refs: z.number().int().min(1).max(1000).default(50).describe('Settlements cited: the window\'s cases with the largest uplift').meta({ description_zh: '引用的结算：窗口内上浮最大的病例' }),
}).strict()
type Params = z.infer<typeof params>

interface Moments { n: number; w: number; w2: number; r: number; r2: number; fund: number }
const empty = (): Moments => ({ n: 0, w: 0, w2: 0, r: 0, r2: 0, fund: 0 })

interface Inst { code: string; inst: Institution; now: Moments; base: Moments }

function mean(m: Moments, i: IndexId): number {
  return (i === 'cmi' ? m.w : m.r) / m.n
}
/** Sample variance of the per-case index. */
function variance(m: Moments, i: IndexId): number {
  const mu = mean(m, i)
  const s2 = (i === 'cmi' ? m.w2 : m.r2) / m.n - mu * mu
  return m.n > 1 ? Math.max(0, (s2 * m.n) / (m.n - 1)) : 0
}

/**
 * The weight a group's case would have without complications: the lightest
 * group sharing its type and base group (ADRG: the code less its last
 * character, CHS-DRG suffix 1 MCC / 3 CC / 5 none) when the knowledge base
 * marks it as split by complication; its own weight otherwise (no split, DIP,
 * unknown code), so such a case contributes a neutral 1.
 */
export function baseWeights(kb: KnowledgeBase): (type: string, code: string, weight: number) => number {
  const lightest = new Map<string, number>()
  for (const g of kb.data.groups) {
    if (g.cc === undefined) continue
    const k = `${g.type}:${g.code.slice(0, -1)}`
    lightest.set(k, Math.min(lightest.get(k) ?? Infinity, g.weight))
  }
  return (type, code, weight) => {
    const g = kb.groups.get(`${type}:${code}`)
    if (g?.cc === undefined) return weight
    return lightest.get(`${type}:${code.slice(0, -1)}`) ?? weight
  }
}

export default defineDetector({
  kind: 'audit',
  id: 'case-mix-drift',
  version: '2.0.0',
  title: text('病例组合指数异常上升', 'Case-mix index rising'),
  pattern: text('病例组合指数异常上升', 'Case-mix drift'),
  description: text(
    '比较机构在审核期间内 DRG/DIP 结算病例的病例组合指数(CMI)及并发症权重指数(各病例权重 ÷ 同一核心组无并发症组权重)与本机构此前 N 个月的水平：上升超过阈值且具有统计显著性，并明显高于同级同类机构同期的变化时，提示可能存在高套分组。',
    'Compares an institution\'s case-mix index (mean DRG/DIP weight of its settled cases) and its complication index (each case\'s weight over its base group\'s no-complication weight) in the audit window with its own previous months: a significant rise beyond the threshold that also stands out against the change at peers of the same level and type suggests systematic upcoding.',
  ),
  stages: ['post'],
  scenarios: ['inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第十五条(不得通过诊疗信息造假等方式高套病种)；《DRG/DIP支付方式改革三年行动计划》(医保发〔2021〕48号)关于加强对高套编码、分解住院等行为监管的要求；${KB_MEASURES}"高套病种/高套分组"类规则。`,
    `${REGULATION} art. 15 (no upcoding of disease groups); the DRG/DIP payment reform three-year action plan (医保发〔2021〕48号) on monitoring upcoding; the "upcoding of disease groups" rule family of the national smart-review knowledge/rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('indices', 'index', 'window', 'baseline', 'rise', 'z', 'peer_group', 'peer_basis', 'peers', 'peer_median_ratio', 'excess_over_peers', 'cases_window', 'cases_baseline', 'cmi_window', 'cmi_baseline', 'fund_window', 'thresholds', 'min_rise', 'z_threshold', 'min_rise_over_peers', 'min_cases', 'amount_basis', 'from', 'to', 'days', 'top_cases', 'setl_id', 'group', 'weight', 'uplift', 'fund'),
  async audit(ctx, p) {
    const baseFrom = ctx.from - p.baseline_days * 86_400_000
    const rows = await ctx.store.query<Record<string, unknown>>(`
      SELECT fixmedins_code, setl_time >= ${FROM} AS in_window, pay_grp_type, pay_grp_code,
        count() AS n, sum(toFloat64(pay_grp_weight)) AS w, sum(pow(toFloat64(pay_grp_weight), 2)) AS w2, sum(toFloat64(${INSURANCE_PAID})) AS fund
      FROM (${activeSettlements(ctx.store, `setl_time >= fromUnixTimestamp64Milli({base_from:Int64}) AND setl_time < ${TO} AND pay_grp_type != '' AND pay_grp_weight > 0`)})
      GROUP BY fixmedins_code, in_window, pay_grp_type, pay_grp_code`,
    { from: ctx.from, to: ctx.to, base_from: baseFrom })
    const baseOf = baseWeights(ctx.kb)
    const insts = new Map<string, Inst>()
    for (const r of rows) {
      const code = String(r.fixmedins_code)
      const inst = ctx.kb.institutions.get(code)
      if (!inst) continue
      let s = insts.get(code)
      if (!s) insts.set(code, (s = { code, inst, now: empty(), base: empty() }))
      const m = num(r.in_window) ? s.now : s.base
      const n = num(r.n)
      const w = num(r.w)
      const w2 = num(r.w2)
      const b = baseOf(String(r.pay_grp_type), String(r.pay_grp_code), w / n)
      m.n += n
      m.w += w
      m.w2 += w2
      m.r += w / b
      m.r2 += w2 / (b * b)
      m.fund += num(r.fund)
    }
    const judged = [...insts.values()].filter((s) => s.now.n >= p.min_cases && s.base.n >= p.min_cases)
    const peers = assignPeers(judged, (s) => peerGroupKeys(s.inst), p.min_peers, p.peer_fallback)

    const findings: { s: Inst; hits: Hit[] }[] = []
    for (const s of judged) {
      const hits: Hit[] = []
      for (const i of p.indices) {
        const now = mean(s.now, i)
        const base = mean(s.base, i)
        const rise = now / base - 1
        const se = Math.sqrt(variance(s.now, i) / s.now.n + variance(s.base, i) / s.base.n)
        const zSelf = se > 0 ? (now - base) / se : now > base ? Infinity : 0
        if (rise < p.min_rise || zSelf < p.z_threshold) continue
        const group = peers.get(s)
        let peer: Hit['peer']
        if (group) {
          const others = group.members.filter((x) => x !== s)
          // The other peers' median: with a handful of peers, counting oneself would pull the yardstick towards one's own rise.
          const peerRatio = median(others.map((x) => mean(x.now, i) / mean(x.base, i)))
          const excess = now / base / peerRatio - 1
          if (excess < p.min_rise_over_peers) continue
          peer = { group: group.group, peers: others.length, median_ratio: peerRatio, excess }
        }
        hits.push({ index: i, now, base, rise, zSelf, ...(peer ? { peer } : {}) })
      }
      if (hits.length) findings.push({ s, hits })
    }
    if (findings.length === 0) return []
    const cases = await topCases(ctx, findings.map((f) => f.s.code), p.max_refs)
    return findings.map((f) => finding(ctx, p, f.s, f.hits, cases.get(f.s.code) ?? [], baseOf))
  },
})

interface Hit {
  index: IndexId
  now: number
  base: number
  rise: number
  zSelf: number
  peer?: { group: PeerGroup; peers: number; median_ratio: number; excess: number }
}

interface Case { setl_id: string; mdtrt_id: string; type: string; code: string; weight: number; fund: number }

/** The window's DRG/DIP cases of the flagged institutions, heaviest first (the uplift ranks them once base weights are known). */
async function topCases(ctx: AuditContext, codes: string[], limit: number): Promise<Map<string, Case[]>> {
  const rows = await ctx.store.query<Record<string, unknown>>(`
    SELECT fixmedins_code, setl_id, mdtrt_id, pay_grp_type, pay_grp_code, toFloat64(pay_grp_weight) AS weight, toFloat64(${INSURANCE_PAID}) AS fund
    FROM (${activeSettlements(ctx.store, `setl_time >= ${FROM} AND setl_time < ${TO} AND pay_grp_type != '' AND fixmedins_code IN {codes:Array(String)}`)})
    ORDER BY weight DESC, fund DESC, setl_id LIMIT {limit:UInt32} BY fixmedins_code, pay_grp_code`,
  { from: ctx.from, to: ctx.to, codes, limit })
  const out = new Map<string, Case[]>()
  for (const r of rows) {
    const code = String(r.fixmedins_code)
    const list = out.get(code) ?? []
    list.push({ setl_id: String(r.setl_id), mdtrt_id: String(r.mdtrt_id), type: String(r.pay_grp_type), code: String(r.pay_grp_code), weight: num(r.weight), fund: num(r.fund) })
    out.set(code, list)
  }
  return out
}

const NAMES: Record<IndexId, { zh: string; en: string }> = {
  severity: { zh: '并发症权重指数', en: 'complication index' },
  cmi: { zh: 'CMI', en: 'CMI' },
}

function finding(ctx: AuditContext, p: Params, s: Inst, hits: Hit[], cases: Case[], baseOf: (type: string, code: string, weight: number) => number): Finding {
  // The strongest rise prices the finding: under DRG/DIP the payment is proportional to the weight, so the share
  // (1 − baseline / window) of the window's fund payment is what the rise added.
  const lead = [...hits].sort((a, b) => b.rise - a.rise)[0]!
  const amount = s.now.fund * (1 - lead.base / lead.now)
  const top = cases
    .map((c) => ({ ...c, uplift: c.weight / baseOf(c.type, c.code, c.weight) }))
    .sort((a, b) => b.uplift - a.uplift || b.fund - a.fund || a.setl_id.localeCompare(b.setl_id))
    .slice(0, p.max_refs)
  const baseFrom = ctx.from - p.baseline_days * 86_400_000
  const zh = hits.map((h) => `${NAMES[h.index].zh} ${r4(h.base)} → ${r4(h.now)}(+${(h.rise * 100).toFixed(1)}%，z = ${r2(h.zSelf)})`).join('；')
  const en = hits.map((h) => `${NAMES[h.index].en} ${r4(h.base)} → ${r4(h.now)} (+${(h.rise * 100).toFixed(1)}%, z = ${r2(h.zSelf)})`).join('; ')
  const peerNote = hits.some((h) => h.peer) ? '' : '(同级机构不足，未做同级比较)'
  const peerNoteEn = hits.some((h) => h.peer) ? '' : ' (too few peers with history: no peer check)'
  return {
    key: s.code,
    subject: { fixmedins_code: s.code },
    refs: { setl_ids: top.map((c) => c.setl_id), mdtrt_ids: [...new Set(top.map((c) => c.mdtrt_id))] },
    amount_fen: toFen(Math.max(0, amount)),
    message: text(`审核期间较前 ${p.baseline_days} 天：${zh}${peerNote}`, `Window against the previous ${p.baseline_days} days: ${en}${peerNoteEn}`),
    evidence: {
      indices: hits.map((h) => ({
        index: h.index, window: r4(h.now), baseline: r4(h.base), rise: r4(h.rise), z: r2(h.zSelf),
        ...(h.peer ? { peer_group: h.peer.group.key, peer_basis: h.peer.group.basis, peers: h.peer.peers, peer_median_ratio: r4(h.peer.median_ratio), excess_over_peers: r4(h.peer.excess) } : { peers: 0 }),
      })),
      cases_window: s.now.n, cases_baseline: s.base.n, cmi_window: r4(s.now.w / s.now.n), cmi_baseline: r4(s.base.w / s.base.n),
      fund_window: r2(s.now.fund), thresholds: { min_rise: p.min_rise, z_threshold: p.z_threshold, min_rise_over_peers: p.min_rise_over_peers, min_cases: p.min_cases },
      amount_basis: 'window fund payment × (1 − baseline index ÷ window index) of the largest rise',
      window: windowEvidence(ctx), baseline: { from: cnDate(baseFrom), to: cnDate(ctx.from - 1) },
      top_cases: top.slice(0, 10).map((c) => ({ setl_id: c.setl_id, group: `${c.type}:${c.code}`, weight: c.weight, uplift: r4(c.uplift), fund: c.fund })),
    },
  }
}
