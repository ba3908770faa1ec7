import { z } from 'zod'
import { FROM, INSURANCE_PAID, TO, activeLines, activeSettlements, num, windowEvidence } from '../../src/audit/sql.ts'
import { r2, r4 } from '../../src/audit/stats.ts'
import { defineDetector, type AuditContext, type Finding } from '../../src/detect/types.ts'
import { cnIso } from '../../src/util/time.ts'
import { KB_MEASURES, REGULATION, text, toFen } from '../_shared/common.ts'
import { evidenceLabels } from '../_shared/evidence-labels.ts'

const DAY = 86_400_000

const params = z.object({
  sales_from: z.enum(['movements', 'fee_lines', 'both']).default('movements')
    .describe('What counts as goods going out: the institution\'s sale movements, the quantities its fee lines billed, or whichever is larger per stock period (use fee_lines or both only where billing and stock units agree: 拆零 sales make a box and a tablet look alike)').meta({ description_zh: '出库以何为准：机构的销售进销存记录、其费用明细计费的数量，或按盘点期取二者较大者(只在计费单位与库存单位一致的地方用 fee_lines 或 both：拆零销售会让一盒和一片看起来一样)' }),
  lookback_days: z.number().int().min(0).max(730).default(90)
    .describe('Days before the window read to find the stock count a period opens with (a period that starts before the window and runs into it is judged whole)').meta({ description_zh: '窗口之前读取的天数，用于找到盘点期开始时的盘点(开始于窗口之前、延续到窗口内的盘点期整体判定)' }),
  tolerance_ratio: z.number().min(0).max(1).default(0.05)
    .describe('Shortfalls up to this share of the goods that went out are counting noise (breakage, rounding), not a finding').meta({ description_zh: '短缺不超过出库量的这一比例视为盘点误差(破损、取整)，不出预警' }),
  min_shortfall: z.number().min(0).default(1).describe('Units of shortfall below which nothing is reported').meta({ description_zh: '短缺数量低于此值不报告' }),
  max_refs: z.number().int().min(1).max(1000).default(50).describe('Sales cited: the largest ones of the periods short of stock').meta({ description_zh: '引用的销售：短缺盘点期中最大的几笔' }),
}).strict()
type Params = z.infer<typeof params>

interface Period {
  start: number
  opening: number
  purchased: number
  returned: number
  lost: number
  sold: number
  billed: number
  outflow: number
  shortfall: number
}

interface Item {
  fixmedins_code: string
  med_list_codg: string
  periods: Period[]
  shortfall: number
  outflow: number
  inflow: number
}

export default defineDetector({
  kind: 'audit',
  id: 'inventory-mismatch',
  version: '2.0.0',
  title: text('进销存不符(疑似串换药品)', 'Sales beyond stock (item swapping)'),
  pattern: text('串换药品(进销存不符)', 'Item swapping (inventory mismatch)'),
  description: text(
    '按机构、药品(耗材)和盘点周期核对进销存：自一次盘点起，销售(及退货、报损)超过盘点库存加同期购进的部分，即"卖出了没有进过的货"，提示以该医保药品名义结算了其他药品或物品(串换)。',
    'Reconciles purchase, sales and stock per institution, item and stock-count period: from each stock count on, whatever went out (sales, returns, losses) beyond the counted stock plus the purchases of the period was sold without ever being bought — the covered item was billed for something else.',
  ),
  stages: ['post'],
  scenarios: ['pharmacy', 'outpatient', 'inpatient'],
  result: 'suspicious',
  severity: 'high',
  basis: text(
    `${REGULATION}第十五条(不得串换药品、医用耗材、诊疗项目和服务设施)、第三十八条第(四)项；《零售药店医疗保障定点管理暂行办法》(国家医疗保障局令第3号)关于建立药品进销存台账的要求；${KB_MEASURES}"串换药品/项目"类规则。`,
    `${REGULATION} art. 15 (no swapping of drugs, consumables, services) and art. 38(4); the Interim Measures for Designated Retail Pharmacies (NHSA Order No. 3) requiring purchase-sale-stock ledgers; the item-swapping rule family of the national smart-review knowledge/rule base measures.`,
  ),
  params,
  evidence: evidenceLabels('med_list_codg', 'name', 'shortfall', 'outflow', 'stock_and_purchases', 'sales_from', 'tolerance_ratio', 'unit_price', 'fund_ratio', 'amount_basis', 'periods', 'counted_at', 'opening', 'purchased', 'returned', 'lost', 'sold', 'window', 'from', 'to', 'days', 'billed'),
  async audit(ctx, p) {
    const items = await reconcile(ctx, p)
    const flagged = items.filter((it) => it.shortfall >= p.min_shortfall && it.shortfall > p.tolerance_ratio * it.outflow)
    if (flagged.length === 0) return []
    const prices = await billedPrices(ctx, flagged)
    const refs = await shortSales(ctx, flagged, p)
    return flagged.map((it) => finding(ctx, p, it, prices.get(`${it.fixmedins_code}|${it.med_list_codg}`), refs.get(`${it.fixmedins_code}|${it.med_list_codg}`) ?? []))
  },
})

/**
 * Every stock-count period of every tracked item that has a movement in the
 * window. A period runs from one stock count to the next; within it, stock can
 * only come from the count and the purchases. Movements at the same instant as
 * a count are taken to follow it (a count is taken before the day's trade).
 * Movements before the first count in reach have no opening stock to check
 * against and are left out.
 */
async function reconcile(ctx: AuditContext, p: Params): Promise<Item[]> {
  const s = ctx.store
  const billed = p.sales_from === 'movements' ? '' : `
      UNION ALL
      SELECT fixmedins_code, med_list_codg, 'billed' AS kind, toFloat64(cnt) AS q, toUnixTimestamp64Milli(fee_ocur_time) AS t
      FROM (${activeLines(s, `fee_ocur_time >= fromUnixTimestamp64Milli({look_from:Int64}) AND fee_ocur_time < ${TO}`)})
      WHERE (fixmedins_code, med_list_codg) IN (SELECT fixmedins_code, med_list_codg FROM tracked)`
  const outflow = p.sales_from === 'movements' ? 'sold' : p.sales_from === 'fee_lines' ? 'billed' : 'greatest(sold, billed)'
  const rows = await s.query<Record<string, unknown>>(`
    WITH
    mv AS (
      SELECT fixmedins_code, med_list_codg, kind, toFloat64(cnt) AS q, toUnixTimestamp64Milli(movement_time) AS t
      FROM ${s.t('inventory_movements')} FINAL
      WHERE movement_time >= fromUnixTimestamp64Milli({look_from:Int64}) AND movement_time < ${TO}
    ),
    tracked AS (SELECT DISTINCT fixmedins_code, med_list_codg FROM mv WHERE kind = 'stock_count'),
    flows AS (
      SELECT fixmedins_code, med_list_codg, kind, q, t FROM mv${billed}
    ),
    numbered AS (
      SELECT *, sum(kind = 'stock_count') OVER (PARTITION BY fixmedins_code, med_list_codg ORDER BY t, kind != 'stock_count' ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS period
      FROM flows
    ),
    periods AS (
      SELECT fixmedins_code, med_list_codg, period, min(t) AS start, max(t) AS last_t,
        sumIf(q, kind = 'stock_count') AS opening, sumIf(q, kind = 'purchase') AS purchased, sumIf(q, kind = 'return') AS returned,
        sumIf(q, kind = 'loss') AS lost, sumIf(q, kind = 'sale') AS sold, sumIf(q, kind = 'billed') AS billed
      FROM numbered WHERE period > 0 GROUP BY fixmedins_code, med_list_codg, period
      HAVING last_t >= {from:Int64}
    )
    SELECT fixmedins_code, med_list_codg, start, opening, purchased, returned, lost, sold, billed, ${outflow} AS outflow,
      greatest(0, ${outflow} + returned + lost - opening - purchased) AS shortfall
    FROM periods ORDER BY fixmedins_code, med_list_codg, start`,
  { look_from: ctx.from - p.lookback_days * DAY, from: ctx.from, to: ctx.to })
  const items = new Map<string, Item>()
  for (const r of rows) {
    const key = `${String(r.fixmedins_code)}|${String(r.med_list_codg)}`
    let it = items.get(key)
    if (!it) items.set(key, (it = { fixmedins_code: String(r.fixmedins_code), med_list_codg: String(r.med_list_codg), periods: [], shortfall: 0, outflow: 0, inflow: 0 }))
    const per: Period = {
      start: num(r.start), opening: num(r.opening), purchased: num(r.purchased), returned: num(r.returned), lost: num(r.lost),
      sold: num(r.sold), billed: num(r.billed), outflow: num(r.outflow), shortfall: num(r.shortfall),
    }
    it.periods.push(per)
    it.shortfall += per.shortfall
    it.outflow += per.outflow + per.returned + per.lost
    it.inflow += per.opening + per.purchased
  }
  return [...items.values()]
}

/** Average billed unit price of the flagged items at their institutions in the window, and the institution's fund share. */
async function billedPrices(ctx: AuditContext, items: Item[]): Promise<Map<string, { unit_price: number; fund_ratio: number }>> {
  const s = ctx.store
  const codes = [...new Set(items.map((i) => i.fixmedins_code))]
  const [lines, setl] = await Promise.all([
    s.query<Record<string, unknown>>(`
      SELECT fixmedins_code, med_list_codg, toFloat64(sum(det_item_fee_sumamt)) AS amt, toFloat64(sum(cnt)) AS q
      FROM (${activeLines(s, `fee_ocur_time >= ${FROM} AND fee_ocur_time < ${TO} AND fixmedins_code IN {codes:Array(String)} AND med_list_codg IN {items:Array(String)}`)})
      GROUP BY fixmedins_code, med_list_codg`, { from: ctx.from, to: ctx.to, codes, items: [...new Set(items.map((i) => i.med_list_codg))] }),
    s.query<Record<string, unknown>>(`
      SELECT fixmedins_code, toFloat64(sum(${INSURANCE_PAID})) AS fund, toFloat64(sum(medfee_sumamt)) AS medfee
      FROM (${activeSettlements(s, `setl_time >= ${FROM} AND setl_time < ${TO} AND fixmedins_code IN {codes:Array(String)}`)}) GROUP BY fixmedins_code`,
    { from: ctx.from, to: ctx.to, codes }),
  ])
  const ratio = new Map(setl.map((r) => [String(r.fixmedins_code), num(r.medfee) > 0 ? Math.min(1, num(r.fund) / num(r.medfee)) : 1]))
  const out = new Map<string, { unit_price: number; fund_ratio: number }>()
  for (const it of items) {
    const l = lines.find((r) => r.fixmedins_code === it.fixmedins_code && r.med_list_codg === it.med_list_codg)
    const inst = ctx.kb.institutions.get(it.fixmedins_code)
    const cat = ctx.kb.catalog.get(it.med_list_codg)
    // Unbilled in the window: the catalog's price cap for the institution's level is the best estimate of a unit's worth.
    const unit = l && num(l.q) > 0 ? num(l.amt) / num(l.q) : (cat && inst ? ctx.kb.priceCap(cat, inst.level) ?? 0 : 0)
    out.set(`${it.fixmedins_code}|${it.med_list_codg}`, { unit_price: unit, fund_ratio: ratio.get(it.fixmedins_code) ?? 1 })
  }
  return out
}

interface Sale { mdtrt_id: string; q: number; t: number }

/** The largest sales (with their visits) in the periods that ran short, per item. */
async function shortSales(ctx: AuditContext, items: Item[], p: Params): Promise<Map<string, Sale[]>> {
  const windows: [string, string, number, number][] = []
  for (const it of items) {
    const short = it.periods.filter((x) => x.shortfall > 0)
    for (const x of short) {
      const next = it.periods.find((y) => y.start > x.start)
      windows.push([it.fixmedins_code, it.med_list_codg, x.start, next ? next.start : ctx.to])
    }
  }
  const rows = await ctx.store.query<Record<string, unknown>>(`
    SELECT fixmedins_code, med_list_codg, mdtrt_id, toFloat64(cnt) AS q, toUnixTimestamp64Milli(movement_time) AS t
    FROM ${ctx.store.t('inventory_movements')} FINAL
    WHERE kind = 'sale' AND mdtrt_id != '' AND movement_time >= fromUnixTimestamp64Milli({lo:Int64}) AND movement_time < ${TO}
      AND concat(fixmedins_code, '|', med_list_codg) IN {keys:Array(String)}`,
  { lo: Math.min(...windows.map((w) => w[2])), to: ctx.to, keys: items.map((i) => `${i.fixmedins_code}|${i.med_list_codg}`) })
  const out = new Map<string, Sale[]>()
  for (const r of rows) {
    const t = num(r.t)
    const inst = String(r.fixmedins_code)
    const code = String(r.med_list_codg)
    if (!windows.some((w) => w[0] === inst && w[1] === code && t >= w[2] && t < w[3])) continue
    const key = `${inst}|${code}`
    const list = out.get(key) ?? []
    list.push({ mdtrt_id: String(r.mdtrt_id), q: num(r.q), t })
    out.set(key, list)
  }
  for (const [k, list] of out) out.set(k, list.sort((a, b) => b.q - a.q || a.t - b.t || a.mdtrt_id.localeCompare(b.mdtrt_id)).slice(0, p.max_refs))
  return out
}

function finding(ctx: AuditContext, p: Params, it: Item, price: { unit_price: number; fund_ratio: number } | undefined, sales: Sale[]): Finding {
  const name = ctx.kb.catalog.get(it.med_list_codg)?.name ?? it.med_list_codg
  const unit = price?.unit_price ?? 0
  const fundRatio = price?.fund_ratio ?? 1
  const short = it.periods.filter((x) => x.shortfall > 0)
  return {
    key: `${it.fixmedins_code}/${it.med_list_codg}`,
    subject: { fixmedins_code: it.fixmedins_code },
    refs: { mdtrt_ids: [...new Set(sales.map((x) => x.mdtrt_id))] },
    amount_fen: toFen(it.shortfall * unit * fundRatio),
    message: text(
      `${name}：${short.length} 个盘点周期内销出 ${r2(it.outflow)}，盘点库存加购进仅 ${r2(it.inflow)}，无来源销量 ${r2(it.shortfall)}`,
      `${name}: ${r2(it.outflow)} went out over the stock-count periods against ${r2(it.inflow)} counted or bought; ${r2(it.shortfall)} sold with no stock behind it (${short.length} period(s) short)`,
    ),
    evidence: {
      med_list_codg: it.med_list_codg, name, shortfall: r2(it.shortfall), outflow: r2(it.outflow), stock_and_purchases: r2(it.inflow),
      sales_from: p.sales_from, tolerance_ratio: p.tolerance_ratio, unit_price: r2(unit), fund_ratio: r4(fundRatio),
      amount_basis: 'shortfall units × average billed unit price × the institution\'s fund share of settled costs',
      periods: it.periods.map((x) => ({
        counted_at: cnIso(x.start), opening: x.opening, purchased: x.purchased, returned: x.returned, lost: x.lost, sold: x.sold,
        ...(p.sales_from === 'movements' ? {} : { billed: x.billed }), shortfall: r2(x.shortfall),
      })).slice(-20),
      window: windowEvidence(ctx),
    },
  }
}
