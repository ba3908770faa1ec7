import type { AnyEvent, CatalogItem, Diagnosis, Doctor, FeeLine } from '../../schemas/index.ts'
import { CN_OFFSET_MS, DAY_MS, cnDayNumber } from '../util/time.ts'
import type { Rng } from './random.ts'
import { fenToMoney, isoCn, type GInst, type GPerson, type World } from './world.ts'

/** One event waiting in the time-ordered queue, with what the inventory must do after it. */
export interface Pending {
  t: number
  seq: number
  topic: 'claims' | 'inventory'
  event: AnyEvent
  /** Goods physically handed out by this upload: the inventory books a sale for each. */
  sales?: { code: string; cnt: number }[]
  /** An inventory round (no event of its own): daily reorders, weekly counts. */
  tick?: 'daily' | 'weekly'
}

export interface LineRec {
  sn: string
  t: number
  item: CatalogItem
  cnt: number
  priceFen: number
  amountFen: number
  json: FeeLine
  /** Goods that leave the shelf (dispensed or used). Phantom and duplicate lines do not. */
  sale: boolean
  reversed: boolean
}

export interface LineOpts {
  prd_days?: number
  hours?: number
  doctor?: Doctor
  dept?: string
  /** Injected fraud: skips every clean-data rule for this line. */
  fraud?: boolean
  priceFen?: number
  /** Overrides whether the goods leave the shelf. */
  sale?: boolean
  /** Keep the given time even if the same item is already billed then (for injected duplicates). */
  exactTime?: boolean
}

/** What the generator's driver offers the builders: the world, the queue, shared ledgers. */
export interface GenCtx {
  world: World
  push(p: Omit<Pending, 'seq'>): void
  /** Therapist minutes booked per institution and China day (capacity: therapists × 480). */
  therapy: Map<string, number>
  stats: { refusedLines: number; feeLines: number }
  /** Dispensed drug lines keep each (person, drug) under this many days of supply per 31 days. */
  supplyCap: number
}

/** The diagnosis a visit without any closes on. */
const NO_DIAGNOSIS = { code: 'Z00.000', name: '一般医学检查' } as const

/** The 医疗类别 an outpatient registration stands with until the visit upload names the real one (the adapter's default for 2201). */
export const REGISTRATION_MED_TYPE = '11'
/** An outpatient visit's diagnoses and 医疗类别 (visit.updated, national 2203) follow the registration after this long. */
export const VISIT_UPLOAD_AFTER = 60_000

const TITLE_RANK = { resident: 1, attending: 2, associate_chief: 3, chief: 4 } as const
const HOUR = 3600_000
const MIN = 60_000

/** An item at a minute, as one number: the key of the same-item-same-time check. */
function timeKey(ord: number, t: number): number {
  return ord * 4294967296 + Math.floor(t / MIN)
}

const chinaDay = cnDayNumber

export function dxOf(code: string, name: string, main: boolean): Diagnosis {
  return { diag_code: code, diag_name: name, maindiag_flag: main ? '1' : '0' }
}

/**
 * A visit under construction. In clean mode `add` refuses (returns undefined)
 * any line that would break a catalog rule — gender, age, level, price,
 * indication, registration, daily quantity, days of supply, hours in a day,
 * therapist capacity, or the same item at the same time — so background data
 * stays clean by construction and scenarios can stay simple. Injected fraud
 * passes `fraud: true` for the one line that breaks a rule.
 */
export class Visit {
  readonly lines: LineRec[] = []
  private seq = 0
  // Keys are numbers (item ordinal and minute or day): a visit checks them for every line it adds.
  private readonly times = new Set<number>()
  private readonly daily = new Map<number, number>()
  private readonly hourly = new Map<number, number>()

  constructor(
    readonly g: GenCtx,
    readonly person: GPerson,
    readonly inst: GInst,
    readonly med_type: string,
    readonly begntime: number,
    readonly dept: string,
    readonly doctor: Doctor,
    public diagnoses: Diagnosis[],
    readonly mdtrt_id: string,
  ) {}

  get world(): World {
    return this.g.world
  }

  get inpatient(): boolean {
    return this.med_type.startsWith('2') || this.med_type === '52'
  }

  has(item: CatalogItem): boolean {
    for (const l of this.lines) if (l.item === item && !l.reversed) return true
    return false
  }

  /** Whether an item may be billed here for this person at t, under every clean-data rule but quantities. */
  allowed(item: CatalogItem, t: number): boolean {
    const w = this.world
    if (w.priceFen(this.inst, item) === undefined) return false
    if (item.min_hosp_lv !== undefined && this.inst.priceLevel < item.min_hosp_lv) return false
    if (item.gend !== undefined && item.gend !== this.person.gend) return false
    if (item.age_min !== undefined || item.age_max !== undefined) {
      const age = w.age(this.person, t)
      if (item.age_min !== undefined && age < item.age_min) return false
      if (item.age_max !== undefined && age > item.age_max) return false
    }
    if (item.indications.length > 0 && !this.diagnoses.some((d) => item.indications.some((p) => d.diag_code.startsWith(p)))) return false
    if (item.chronic_only && !this.person.chronic.some((c) => item.indications.some((p) => c.startsWith(p) || p.startsWith(c)))) return false
    if (item.high_value) return false // only surgical scenarios bill these, through addSurgical
    return true
  }

  /** Adds a line; in clean mode clamps quantities to the rules and returns undefined when the line cannot be billed cleanly. */
  add(item: CatalogItem, t: number, cnt: number, o: LineOpts = {}): LineRec | undefined {
    const w = this.world
    const fraud = o.fraud === true
    if (!fraud && !this.allowed(item, t)) return this.refuse()
    if (!fraud && item.required_title !== undefined && TITLE_RANK[(o.doctor ?? this.doctor).title] < TITLE_RANK[item.required_title]) return this.refuse()
    const day = chinaDay(t)
    const ord = w.ordinal(item)
    const dayKey = ord * 65536 + (day & 0xffff)
    let prd = o.prd_days
    let hours = o.hours
    // One prescription of a drug per outpatient visit: a second one at another time reads as a split prescription.
    if (!fraud && prd !== undefined && !this.inpatient && this.lines.some((l) => l.item === item && !l.reversed)) return this.refuse()
    if (!fraud) {
      if (prd !== undefined && item.max_prd_days !== undefined && prd > item.max_prd_days) prd = item.max_prd_days
      if (prd !== undefined && (item.list_type === 'drug' || item.list_type === 'herb')) {
        const from = t - 31 * DAY_MS
        let have = 0
        for (const s of this.person.supply) if (s.code === item.med_list_codg && s.t > from && s.t <= t + 31 * DAY_MS) have += s.days
        if (have + prd > this.g.supplyCap) {
          prd = this.g.supplyCap - have
          if (prd < 1) return this.refuse()
        }
      }
      if (item.time_unit === 'hour') {
        const used = this.hourly.get(dayKey) ?? 0
        const untilMidnight = Math.floor(((day + 1) * DAY_MS - CN_OFFSET_MS - t) / HOUR)
        const h = Math.min(hours ?? cnt, 24 - used, untilMidnight)
        if (h < 1) return this.refuse()
        hours = h
        cnt = h
      }
      if (prd === undefined && item.max_cnt_per_day !== undefined) {
        const used = this.daily.get(dayKey) ?? 0
        if (used + cnt > item.max_cnt_per_day) {
          cnt = item.max_cnt_per_day - used
          if (cnt <= 0) return this.refuse()
        }
      }
      if (item.therapist_minutes !== undefined) {
        const key = `${this.inst.code}@${day}`
        const used = this.g.therapy.get(key) ?? 0
        // Clean providers stay well inside what their therapists can deliver.
        const capacity = this.inst.row.therapists * 480 * 0.55
        if (used + item.therapist_minutes * cnt > capacity) return this.refuse()
      }
    } else if (item.time_unit === 'hour' && hours === undefined) hours = cnt
    if (!o.exactTime) while (this.times.has(timeKey(ord, t))) t += 3 * MIN
    this.times.add(timeKey(ord, t))
    if (prd === undefined) this.daily.set(dayKey, (this.daily.get(dayKey) ?? 0) + cnt)
    if (item.time_unit === 'hour') this.hourly.set(dayKey, (this.hourly.get(dayKey) ?? 0) + (hours ?? cnt))
    if (item.therapist_minutes !== undefined) {
      const key = `${this.inst.code}@${day}`
      this.g.therapy.set(key, (this.g.therapy.get(key) ?? 0) + item.therapist_minutes * cnt)
    }
    if (prd !== undefined && (item.list_type === 'drug' || item.list_type === 'herb')) this.person.supply.push({ t, code: item.med_list_codg, days: prd })
    const priceFen = o.priceFen ?? w.priceFen(this.inst, item) ?? Math.round(Number(item.price_cap_lv3 ?? item.price_cap_lv2 ?? item.price_cap_lv1 ?? '1') * 100)
    const amountFen = Math.round(cnt * priceFen)
    const doctor = o.doctor ?? this.doctor
    const sn = `${this.mdtrt_id}${String(++this.seq).padStart(4, '0')}`
    const json: FeeLine = {
      feedetl_sn: sn,
      fee_ocur_time: isoCn(t),
      med_list_codg: item.med_list_codg,
      medins_list_codg: medinsCode(this.inst, item),
      list_type: item.list_type,
      med_chrgitm_type: item.med_chrgitm_type,
      cnt: String(cnt),
      pric: fenToMoney(priceFen),
      det_item_fee_sumamt: fenToMoney(amountFen),
      bilg_dept_codg: o.dept ?? doctor.dept_codg ?? this.dept,
      bilg_dr_codg: doctor.dr_code,
    }
    if (prd !== undefined) json.prd_days = prd
    if (hours !== undefined) json.hours = String(hours)
    const rec: LineRec = { sn, t, item, cnt, priceFen, amountFen, json, sale: o.sale ?? (item.list_type !== 'service' && !fraud), reversed: false }
    this.lines.push(rec)
    return rec
  }

  /** A high-value consumable, which clean data bills only next to its operation (the scenario adds the operation). */
  addSurgical(item: CatalogItem, t: number, cnt: number): LineRec | undefined {
    if (this.world.priceFen(this.inst, item) === undefined) return this.refuse()
    if (item.min_hosp_lv !== undefined && this.inst.priceLevel < item.min_hosp_lv) return this.refuse()
    return this.add(item, t, cnt, { fraud: true, sale: true })
  }

  private refuse(): undefined {
    this.g.stats.refusedLines++
    return undefined
  }
}

function medinsCode(inst: GInst, item: CatalogItem): string {
  const p = item.list_type === 'service' ? 'XM' : item.list_type === 'consumable' ? 'HC' : item.list_type === 'herb' ? 'YP' : 'YP'
  return `${p}${inst.code.slice(-4)}${item.med_list_codg.slice(-6)}`
}

export interface CloseOpts {
  endtime: number
  dscg_way?: string
  /** 'visit': one upload; 'day': one upload per China day (inpatient). */
  uploads: 'visit' | 'day'
  operations?: { code: string; t: number }[]
  payGrp?: { type: 'DRG' | 'DIP'; code: string; weight: number }
  finalDiagnoses?: Diagnosis[]
  settle?: boolean
  /** Lines uploaded at admission, before their time (a HIS billing the planned bed days ahead); the rest as `uploads` says. */
  ahead?: (l: LineRec) => boolean
  /** These lines are withdrawn (fee.reversed) 1–5 minutes after the upload that carried them: a mistake corrected. */
  reverse?: readonly LineRec[]
  /** Background corrections: withdraw a service line (and maybe re-bill it), or re-settle. */
  reverseLine?: boolean
  rebill?: boolean
  resettle?: boolean
  rng: Rng
}

export interface Closed {
  setl_ids: string[]
  /** Re-billed copies of a withdrawn line (same item, same time): a near miss for duplicate checks. */
  rebilled?: { reversed: string; rebilled: string }
}

/** Emits a visit's events (opened, uploads, reversals, closed, settlements) into the queue. */
export function emitVisit(v: Visit, o: CloseOpts): Closed {
  const g = v.g
  const w = g.world
  const p = v.person
  const rng = o.rng
  const maternity = v.med_type === '51' || v.med_type === '52'
  const insutype = maternity && p.insutype === '310' ? '510' : p.insutype
  const src = { fixmedins_code: v.inst.code, system: v.inst.system }
  // The events of one visit share one source object: they are serialised, never mutated.
  const ev = (type: AnyEvent['event_type'], t: number, payload: object): AnyEvent =>
    ({ event_id: w.nextEventId(src.fixmedins_code, t), event_type: type, event_time: isoCn(t), schema_version: 1, source: src, payload }) as AnyEvent
  const inpatient = v.inpatient
  const psn: { gend: '1' | '2'; brdy: string; certno?: string; psn_name?: string } = { gend: p.gend, brdy: p.brdy }
  // Most HIS send the ID number and name; some (pharmacy systems, older HIS) do not.
  if (p.idx % 10 !== 0) {
    psn.certno = p.certno
    psn.psn_name = p.name
  }
  // As the national interface has it: an outpatient registration (2201) carries no 医疗类别 and no diagnoses;
  // they follow in the visit upload (2203 → visit.updated) a minute later, before any fee upload.
  g.push({
    t: v.begntime, topic: 'claims',
    event: ev('visit.opened', v.begntime, {
      mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, med_type: inpatient ? v.med_type : REGISTRATION_MED_TYPE, begntime: isoCn(v.begntime), insutype,
      insuplc_admdvs: p.region.admdvs, ipt_otp_no: `${inpatient ? 'ZY' : 'MZ'}${v.mdtrt_id.slice(-10)}`, adm_dept_codg: v.dept,
      atddr_no: v.doctor.dr_code, psn, diagnoses: inpatient ? v.diagnoses : [],
    }),
  })
  if (!inpatient) {
    const ut = v.begntime + VISIT_UPLOAD_AFTER
    g.push({ t: ut, topic: 'claims', event: ev('visit.updated', ut, { mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, med_type: v.med_type, diagnoses: v.diagnoses }) })
  }

  // Every upload is one charge batch (收费批次 chrg_bchno), which the national outpatient reversal (2205) withdraws whole.
  let batches = 0
  let lastUpload = inpatient ? v.begntime : v.begntime + VISIT_UPLOAD_AFTER
  const upload = (t: number, chunk: LineRec[]): void => {
    const sales: { code: string; cnt: number }[] = []
    for (const l of chunk) if (l.sale) sales.push({ code: l.item.med_list_codg, cnt: l.cnt })
    g.stats.feeLines += chunk.length
    const chrg_bchno = `${v.mdtrt_id}B${++batches}`
    for (const l of chunk) l.json.chrg_bchno = chrg_bchno
    g.push({
      t, topic: 'claims', ...(sales.length ? { sales } : {}),
      event: ev('fee.uploaded', t, { mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, lines: chunk.map((l) => l.json) }),
    })
  }
  const reversals: { t: number; line: LineRec }[] = []
  const toReverse = new Set(o.reverse ?? [])
  const reverseAfter = (t: number, chunk: readonly LineRec[]): void => {
    for (const l of chunk) if (toReverse.has(l)) reversals.push({ t: t + rng.int(1, 5) * MIN, line: l })
  }

  // Billed ahead: one upload right after admission, whatever the lines' dates.
  const ahead = o.ahead ? v.lines.filter(o.ahead).sort((a, b) => a.t - b.t) : []
  if (ahead.length) {
    lastUpload = v.begntime + rng.int(16, 30) * MIN
    upload(lastUpload, ahead)
    reverseAfter(lastUpload, ahead)
  }
  const aheadSet = new Set(ahead)

  // Uploads: lines grouped by visit or by China day, each sent a few minutes after its last line.
  const sorted = v.lines.filter((l) => !aheadSet.has(l)).sort((a, b) => a.t - b.t)
  const groups: LineRec[][] = []
  if (o.uploads === 'visit') groups.push(sorted)
  else {
    let cur: LineRec[] = []
    let curDay = -1
    for (const l of sorted) {
      const d = chinaDay(l.t)
      if (d !== curDay && cur.length) {
        groups.push(cur)
        cur = []
      }
      curDay = d
      cur.push(l)
    }
    if (cur.length) groups.push(cur)
  }
  // The background correction's line is chosen before the uploads: an outpatient line to be withdrawn travels in its own batch.
  let corrected: LineRec | undefined
  if (o.reverseLine) {
    const candidates = v.lines.filter((l) => l.item.list_type === 'service' && l.t < o.endtime && !l.reversed && !toReverse.has(l))
    if (candidates.length) corrected = rng.pick(candidates)
  }
  const alone = (l: LineRec): boolean => !inpatient && (toReverse.has(l) || l === corrected)
  for (const grp of groups) {
    if (grp.length === 0) continue
    const last = grp[grp.length - 1]!.t
    let ut = Math.max(last, v.begntime) + rng.int(2, 25) * MIN
    // Clean lines of the last day are uploaded before discharge; later ones (phantom) after it.
    if (last < o.endtime && ut >= o.endtime) ut = Math.max(last, o.endtime - MIN)
    ut = Math.max(ut, lastUpload)
    lastUpload = ut
    const rest = grp.filter((l) => !alone(l))
    for (let i = 0; i < rest.length; i += 5000) {
      const chunk = rest.slice(i, i + 5000)
      upload(ut, chunk)
      reverseAfter(ut, chunk)
    }
    for (const l of grp) {
      if (!alone(l)) continue
      upload(ut, [l])
      reverseAfter(ut, [l])
    }
  }

  const closed: Closed = { setl_ids: [] }
  let settleAfter = lastUpload
  for (const r of reversals) {
    r.line.reversed = true
    g.push({ t: r.t, topic: 'claims', event: ev('fee.reversed', r.t, { mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, feedetl_sns: [r.line.sn] }) })
    settleAfter = Math.max(settleAfter, r.t)
  }
  if (corrected) {
    {
      const l = corrected
      l.reversed = true
      const rt = Math.min(Math.max(lastUpload + rng.int(1, 5) * MIN, l.t + MIN), o.endtime + 5 * MIN)
      g.push({ t: rt, topic: 'claims', event: ev('fee.reversed', rt, { mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, feedetl_sns: [l.sn] }) })
      settleAfter = Math.max(settleAfter, rt)
      if (o.rebill) {
        // The correction re-bills the same item for the same service time under a new line id.
        const again = v.add(l.item, l.t, l.cnt, { exactTime: true, fraud: true, priceFen: l.priceFen, sale: false })!
        const bt = rt + MIN
        upload(bt, [again])
        settleAfter = Math.max(settleAfter, bt)
        closed.rebilled = { reversed: l.sn, rebilled: again.sn }
      }
    }
  }

  const closeAt = Math.max(o.endtime, v.begntime + MIN)
  // The discharge names its main diagnosis among its diagnoses (the national 2402 has no other place for it):
  // a visit without any (a pharmacy purchase) closes on 一般医学检查.
  const final = o.finalDiagnoses ?? v.diagnoses
  const closing = final.length ? final : [dxOf(NO_DIAGNOSIS.code, NO_DIAGNOSIS.name, true)]
  g.push({
    t: closeAt, topic: 'claims',
    event: ev('visit.closed', closeAt, {
      mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, endtime: isoCn(closeAt), dscg_way: o.dscg_way ?? '1',
      dscg_maindiag_code: closing.find((d) => d.maindiag_flag === '1')?.diag_code ?? closing[0]!.diag_code,
      diagnoses: closing,
      ...(o.operations?.length ? { operations: o.operations.map((op) => ({ oprn_oprt_code: op.code, oprn_oprt_date: isoCn(op.t).slice(0, 10) })) } : {}),
    }),
  })

  if (o.settle !== false) {
    const amounts = settlementAmounts(v, insutype, rng)
    let st = Math.max(closeAt, settleAfter) + rng.int(1, inpatient ? 40 : 6) * MIN
    const settle = (): string => {
      const setl_id = w.nextSetlId()
      g.push({
        t: st, topic: 'claims',
        event: ev('settlement.completed', st, {
          setl_id, mdtrt_id: v.mdtrt_id, psn_no: p.psn_no, setl_time: isoCn(st), med_type: v.med_type, insutype, ...amounts,
          ...(o.payGrp ? { pay_grp: { type: o.payGrp.type, code: o.payGrp.code, weight: weightText(o.payGrp.weight) } } : {}),
        }),
      })
      closed.setl_ids.push(setl_id)
      return setl_id
    }
    const first = settle()
    if (o.resettle) {
      st += rng.int(3, 30) * MIN
      g.push({ t: st, topic: 'claims', event: ev('settlement.reversed', st, { setl_id: first, mdtrt_id: v.mdtrt_id, psn_no: p.psn_no }) })
      st += rng.int(1, 5) * MIN
      settle()
    }
  }
  return closed
}

function weightText(w: number): string {
  return String(Math.round(w * 10000) / 10000)
}

/**
 * Splits the bill the way a 医保 settlement does: 丙 items are fully self-paid,
 * 乙 items carry a 10% first self-pay, the pooled fund pays a share of the rest
 * above the deductible, the personal account (employees) and cash pay the rest.
 * Everything in fen, so medfee = fund + account + cash holds exactly.
 */
export function settlementAmounts(v: Visit, insutype: string, rng: Rng): Record<'medfee_sumamt' | 'fulamt_ownpay_amt' | 'inscp_scp_amt' | 'hifp_pay' | 'fund_pay_sumamt' | 'acct_pay' | 'psn_cash_pay' | 'hosp_part_amt', string> {
  let medfee = 0
  let ownpay = 0
  let preself = 0
  for (const l of v.lines) {
    if (l.reversed) continue
    medfee += l.amountFen
    if (l.item.chrgitm_lv === '丙') ownpay += l.amountFen
    else if (l.item.chrgitm_lv === '乙') preself += Math.round(l.amountFen * 0.1)
  }
  const inscp = Math.max(0, medfee - ownpay - preself)
  const mt = v.med_type
  const lv = v.inst.priceLevel
  const employee = insutype === '310' || insutype === '510'
  let deductible = 0
  let ratio = 0
  if (mt.startsWith('2') || mt === '52') {
    deductible = lv >= 3 ? 80000 : lv === 2 ? 50000 : 20000
    ratio = employee ? (lv >= 3 ? 0.85 : lv === 2 ? 0.9 : 0.95) : (lv >= 3 ? 0.65 : lv === 2 ? 0.75 : 0.85)
    if (mt === '52') deductible = 0
  } else if (mt === '14') ratio = v.lines.some((l) => l.item.dialysis) ? 0.85 : 0.7
  else if (mt === '41') ratio = 0
  else if (mt === '51') ratio = 0.8
  else ratio = lv <= 1 ? 0.6 : 0.5
  const hifp = Math.floor(Math.max(0, inscp - deductible) * ratio)
  // Employees' serious-illness and civil-servant top-ups: a small share of what is left of the in-scope amount.
  const extra = employee && (mt.startsWith('2') || mt === '52') ? Math.floor(Math.max(0, inscp - deductible - hifp) * 0.1) : 0
  const fund = hifp + extra
  const rest = medfee - fund
  let acct = 0
  if (employee && rest > 0 && v.person.acctCents > 0) {
    acct = Math.min(rest, v.person.acctCents, mt === '41' ? rest : Math.floor(rest * (0.3 + rng.next() * 0.7)))
    v.person.acctCents -= acct
  }
  const cash = medfee - fund - acct
  return {
    medfee_sumamt: fenToMoney(medfee), fulamt_ownpay_amt: fenToMoney(ownpay), inscp_scp_amt: fenToMoney(inscp), hifp_pay: fenToMoney(hifp),
    fund_pay_sumamt: fenToMoney(fund), acct_pay: fenToMoney(acct), psn_cash_pay: fenToMoney(cash),
    // The national settlement output always states 医院负担金额 (2207/2304 setlinfo): nothing, here.
    hosp_part_amt: '0.00',
  }
}
