import type { AnyEvent } from '../../schemas/index.ts'
import { cnDate } from '../util/time.ts'
import type { Rng } from './random.ts'
import type { Pending } from './visit.ts'
import { isoCn, type World } from './world.ts'

interface Stock {
  inst: string
  code: string
  herb: boolean
  stock: number
  /** Sold since the last daily tick, and a smoothed daily usage for reordering. */
  soldToday: number
  usage: number
  touchedSinceCount: boolean
  /** Item swapping (串换): sales of this item are booked without the goods ever being bought. */
  swapped: boolean
  /** The batch on the shelf (定点医药机构批次流水号): the opening stock's, then the latest purchase's. */
  batch: string
}

/**
 * 进销存 of every institution and item the claims touch, kept in event-time
 * order: the first movement of an (institution, item) is a stock count (the
 * stock when tracking starts), every dispensed line is a sale, a daily 07:30
 * round reorders what runs low (an emergency purchase covers a sale the shelf
 * cannot), and a weekly count on Monday records the book stock (after the odd
 * loss). Clean stock never goes negative: sales never exceed purchases plus
 * stock. A swapped item is the exception, by design.
 */
export class Inventory {
  private readonly stocks: Stock[] = []
  /** institution → item code → stock: two lookups instead of building a key string per sale. */
  private readonly byInst = new Map<string, Map<string, Stock>>()
  private batch = 0
  readonly swapped = new Set<string>()

  constructor(private readonly world: World, private readonly rng: Rng) {}

  markSwapped(inst: string, code: string): void {
    this.swapped.add(`${inst}|${code}`)
  }

  /**
   * Every movement names a batch: the national 3501–3506 require 批次流水号
   * (fixmedins_bchno), so the contract events carry what the national ones do.
   */
  private movement(s: Stock, kind: 'purchase' | 'sale' | 'stock_count' | 'loss', cnt: number, t: number, extra?: { mdtrt_id?: string }): Omit<Pending, 'seq'> {
    const { inst, code } = s
    const time = isoCn(t)
    const payload: Record<string, string> = { fixmedins_code: inst, med_list_codg: code, kind, cnt: String(cnt), movement_time: time, batch_no: s.batch }
    if (extra?.mdtrt_id) payload['mdtrt_id'] = extra.mdtrt_id
    const g = this.world.instByCode.get(inst)
    return {
      t, topic: 'inventory',
      event: {
        event_id: this.world.nextEventId(inst, t), event_type: 'inventory.movement', event_time: time, schema_version: 1,
        source: g ? { fixmedins_code: inst, system: g.system } : { fixmedins_code: inst }, payload,
      } as AnyEvent,
    }
  }

  private stockOf(inst: string, code: string, t: number, out: Omit<Pending, 'seq'>[]): Stock {
    let items = this.byInst.get(inst)
    if (!items) this.byInst.set(inst, (items = new Map()))
    let s = items.get(code)
    if (!s) {
      const item = this.world.byCode.get(code)
      const herb = item?.list_type === 'herb'
      const swapped = this.swapped.has(`${inst}|${code}`)
      const opening = swapped ? this.rng.int(3, 6) : herb ? this.rng.int(20, 60) * 100 : this.rng.int(30, 200)
      s = { inst, code, herb, stock: opening, soldToday: 0, usage: 0, touchedSinceCount: false, swapped, batch: this.nextBatch(t) }
      items.set(code, s)
      this.stocks.push(s)
      out.push(this.movement(s, 'stock_count', opening, t))
    }
    return s
  }

  private reorderQty(s: Stock, need: number): number {
    const unit = s.herb ? 500 : 10
    const want = need + Math.max(s.herb ? 2000 : 20, Math.ceil(s.usage * 10))
    return Math.ceil(want / unit) * unit
  }

  private purchase(s: Stock, qty: number, t: number, out: Omit<Pending, 'seq'>[]): void {
    s.stock += qty
    s.batch = this.nextBatch(t)
    out.push(this.movement(s, 'purchase', qty, t))
  }

  private nextBatch(t: number): string {
    return `B${cnDate(t).replace(/-/g, '')}${String(++this.batch).padStart(6, '0')}`
  }

  /** Sales for the goods an upload handed out, preceded by any stock count or emergency purchase they need. */
  onSales(inst: string, sales: readonly { code: string; cnt: number }[], t: number, mdtrt_id: string): Omit<Pending, 'seq'>[] {
    const out: Omit<Pending, 'seq'>[] = []
    for (const { code, cnt } of sales) {
      const s = this.stockOf(inst, code, t, out)
      if (!s.swapped && s.stock < cnt) this.purchase(s, this.reorderQty(s, cnt - s.stock), t, out)
      s.stock -= cnt
      s.soldToday += cnt
      s.touchedSinceCount = true
      out.push(this.movement(s, 'sale', cnt, t, { mdtrt_id }))
    }
    return out
  }

  /** The 07:30 round: weekly counts on Mondays, then reorders of whatever runs low. */
  tick(t: number, weekly: boolean): Omit<Pending, 'seq'>[] {
    const out: Omit<Pending, 'seq'>[] = []
    for (const s of this.stocks) {
      s.usage = s.usage * 0.8 + s.soldToday * 0.2
      s.soldToday = 0
      if (weekly && s.touchedSinceCount) {
        if (!s.swapped && s.stock > 2 && this.rng.chance(0.03)) {
          // Expired or damaged goods written off before the count.
          const lost = s.herb ? this.rng.int(1, 5) * 10 : 1
          s.stock -= lost
          out.push(this.movement(s, 'loss', lost, t))
        }
        // A swapped item's shelf is empty whatever the books say.
        out.push(this.movement(s, 'stock_count', Math.max(0, s.stock), t))
        if (s.swapped && s.stock < 0) s.stock = 0
        s.touchedSinceCount = false
      }
      if (!s.swapped && s.stock < Math.max(s.herb ? 1000 : 10, Math.ceil(s.usage * 4))) this.purchase(s, this.reorderQty(s, 0), t + 15 * 60_000, out)
    }
    return out
  }
}
