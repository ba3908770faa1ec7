import { isValidCertno } from '../../schemas/common.ts'
import type { CatalogItem, Doctor, Institution, Person } from '../../schemas/index.ts'
import { FundwatchError } from '../errors.ts'
import type { KbData } from '../kb/knowledge-base.ts'
import { DEPTS, REGIONS, SAMPLE_ITEM_KEYS, fakeName, sampleCode } from '../kb/sample.ts'
import { CN_OFFSET_MS, DAY_MS, cnDayStart } from '../util/time.ts'
import { hashString, type Rng } from './random.ts'

/**
 * The generator's world: the knowledge base indexed the way scenarios ask for
 * it (institutions by region, kind and level; doctors by department and
 * title; catalog items by sample key), prices, persons and ids.
 */

export interface GInst {
  row: Institution
  code: string
  level: number
  /** Pricing level: ungraded institutions price as level 1 (KnowledgeBase.priceCap does the same). */
  priceLevel: number
  region: GRegion
  doctors: Doctor[]
  byDept: Map<string, Doctor[]>
  system: string
}

export interface GRegion {
  key: string
  admdvs: string
  lat: number
  lon: number
  share: number
  districts: string[]
  all: GInst[]
  lv3: GInst[]
  lv2: GInst[]
  /** Graded hospitals of level ≥ 2, general and TCM (not the specialty ones). */
  general: GInst[]
  maternity: GInst[]
  rehab: GInst[]
  clinics: GInst[]
  pharmacies: GInst[]
}

export interface GPerson {
  idx: number
  psn_no: string
  gend: '1' | '2'
  brdy: string
  /** Epoch ms of China midnight of the birthday. */
  brdyMs: number
  certno: string
  name: string
  region: GRegion
  district: string
  insutype: '310' | '390'
  /** Registered 门诊慢特病 prefixes. */
  chronic: string[]
  death_date?: string
  acctCents: number
  /** Day numbers (relative to the start) with a visit: background keeps one visit a day. */
  busy: Set<number>
  /** Inpatient stays as [first day, last day] (relative). */
  stays: [number, number][]
  /** Days of supply dispensed: the clean generator keeps any 31-day window of one drug under 40 days. */
  supply: { t: number; code: string; days: number }[]
  /** Set for persons made for an injection or a near miss (their background is left out). */
  dedicated?: boolean
  /** Preferred clinic and hospital (people go back to the same places). */
  clinic?: GInst
  hospital?: GInst
  dialysis?: boolean
  oncology?: 'C34' | 'C50'
  /** Relative day of death, when the person dies during the stream. */
  deathDay?: number
}

// Vendor system ids as HIS interfaces send them (ASCII): they ride on every event, and an all-ASCII event
// serialises about twice as fast as one with a single Chinese character.
const VENDORS = ['NEUSOFT-HIS 5.2', 'WINNING-HIS 6.0', 'BSOFT-HIS 3.1', 'WONDERS-HIS 4.5', 'KINGDEE-HIS 2.8', 'HITECH-HIS 3.0']
const PHARMACY_SYSTEMS = ['HYDEE-POS 7', 'INCA-ERP 9', 'KEMAI-POS 5']

export class World {
  readonly items = new Map<string, CatalogItem>()
  readonly byCode = new Map<string, CatalogItem>()
  readonly insts: GInst[] = []
  readonly instByCode = new Map<string, GInst>()
  readonly regions: GRegion[] = []
  readonly tag: string
  readonly startMs: number
  readonly days: number
  readonly endMs: number
  private mdtrtSeq = 0
  private setlSeq = 0
  /** Event ids (msgid-shaped): this world's own, or one allocator shared by generators whose streams overlap. */
  private readonly msgIds: MsgIds
  private readonly ownsMsgIds: boolean
  private psnSeq = 0

  constructor(readonly kb: KbData, readonly seed: number, startTime: number, days: number, msgIds?: MsgIds) {
    // Ids carry a tag of the seed so datasets of different seeds can share a store without colliding.
    this.tag = String(hashString(`fundwatch-seed:${seed}`) % 100000).padStart(5, '0')
    this.msgIds = msgIds ?? new MsgIds(seed)
    this.ownsMsgIds = msgIds === undefined
    this.startMs = cnDayStart(startTime)
    this.days = days
    this.endMs = this.startMs + days * DAY_MS
    for (const c of kb.catalog) this.byCode.set(c.med_list_codg, c)
    for (const key of SAMPLE_ITEM_KEYS) {
      const code = sampleCode(key)
      const item = this.byCode.get(code)
      if (!item) throw new FundwatchError('CONFIG_INVALID', `generator: the knowledge base lacks sample catalog item ${key} (${code}); generate against sampleKnowledgeBase() or a KB that includes its catalog`)
      this.items.set(key, item)
    }
    const doctorsByInst = new Map<string, Doctor[]>()
    for (const d of kb.doctors) {
      const a = doctorsByInst.get(d.fixmedins_code)
      if (a) a.push(d)
      else doctorsByInst.set(d.fixmedins_code, [d])
    }
    const regionOf = new Map<string, GRegion>()
    for (const inst of kb.institutions) {
      const key = inst.admdvs.slice(0, 4)
      let region = regionOf.get(key)
      if (!region) {
        const known = REGIONS.find((r) => r.admdvs.slice(0, 4) === key || r.districts.some((d) => d.admdvs === inst.admdvs))
        region = {
          key, admdvs: known?.admdvs ?? `${key}00`, lat: known?.lat ?? inst.lat, lon: known?.lon ?? inst.lon, share: known?.share ?? 0.05,
          districts: [], all: [], lv3: [], lv2: [], general: [], maternity: [], rehab: [], clinics: [], pharmacies: [],
        }
        regionOf.set(key, region)
        this.regions.push(region)
      }
      const doctors = doctorsByInst.get(inst.fixmedins_code) ?? []
      if (doctors.length === 0) continue
      const byDept = new Map<string, Doctor[]>()
      for (const d of doctors) {
        const k = d.dept_codg ?? DEPTS.general
        const a = byDept.get(k)
        if (a) a.push(d)
        else byDept.set(k, [d])
      }
      const h = hashString(inst.fixmedins_code)
      const g: GInst = {
        row: inst, code: inst.fixmedins_code, level: inst.level, priceLevel: Math.max(1, inst.level), region, doctors, byDept,
        system: inst.kind === 'pharmacy' ? PHARMACY_SYSTEMS[h % PHARMACY_SYSTEMS.length]! : VENDORS[h % VENDORS.length]!,
      }
      this.insts.push(g)
      this.instByCode.set(g.code, g)
      region.all.push(g)
      if (!region.districts.includes(inst.admdvs)) region.districts.push(inst.admdvs)
      if (inst.kind === 'pharmacy') region.pharmacies.push(g)
      else if (inst.kind === 'clinic' || inst.level <= 1) region.clinics.push(g)
      else {
        if (inst.level === 3) region.lv3.push(g)
        if (inst.level === 2) region.lv2.push(g)
        if (inst.name.includes('妇幼')) region.maternity.push(g)
        else if (inst.name.includes('康复')) region.rehab.push(g)
        else region.general.push(g)
      }
    }
    for (const r of this.regions) if (r.general.length === 0 || r.clinics.length === 0 || r.pharmacies.length === 0) r.share = 0
    if (!this.regions.some((r) => r.share > 0)) throw new FundwatchError('CONFIG_INVALID', 'generator: no region has a general hospital, a clinic and a pharmacy')
  }

  private readonly ordinals = new Map<CatalogItem, number>()
  /** A small integer per catalog item, for numeric keys. */
  ordinal(item: CatalogItem): number {
    let n = this.ordinals.get(item)
    if (n === undefined) {
      n = this.ordinals.size + 1
      this.ordinals.set(item, n)
    }
    return n
  }

  item(key: string): CatalogItem {
    const it = this.items.get(key)
    if (!it) throw new Error(`generator: unknown item key ${key}`)
    return it
  }

  /** Price cap in fen at an institution, undefined where the item is not priced (not billable). */
  capFen(inst: GInst, item: CatalogItem): number | undefined {
    const lv = inst.priceLevel
    const cap = lv >= 3 ? item.price_cap_lv3 : lv === 2 ? item.price_cap_lv2 : item.price_cap_lv1
    return cap === undefined ? undefined : Math.round(Number(cap) * 100)
  }

  /**
   * The price an institution charges: services at the cap (hospitals charge the
   * 医疗服务价格 as published), goods a little under it and stable per institution.
   */
  priceFen(inst: GInst, item: CatalogItem): number | undefined {
    const cap = this.capFen(inst, item)
    if (cap === undefined) return undefined
    if (item.list_type === 'service') return cap
    const f = 0.92 + (hashString(`${inst.code}/${item.med_list_codg}`) % 800) / 10000
    return Math.max(1, Math.min(cap, Math.floor(cap * f)))
  }

  dayMs(day: number): number {
    return this.startMs + day * DAY_MS
  }

  nextMdtrtId(): string {
    return `MD${this.tag}${String(++this.mdtrtSeq).padStart(9, '0')}`
  }
  nextSetlId(): string {
    return `ST${this.tag}${String(++this.setlSeq).padStart(9, '0')}`
  }
  /**
   * An event id shaped as the national envelope's msgid (so the national
   * writer can send it as the msgid and the adapter's event_id equals it):
   * fixmedins_code (12) + the event's China time yyyyMMddHHmmss (14) + a
   * 4-digit sequence, unique per institution and second. The sequence starts
   * at a seed-derived base and wraps; when all 10,000 numbers of a second are
   * taken (the generator's busiest second — a weekly stock count of a large
   * hospital — uses a few hundred) the id moves to the next second with a free
   * number, so ids stay unique whatever the rate. Deterministic for a seed:
   * ids are handed out in the generator's (deterministic) creation order.
   */
  nextEventId(fixmedins_code: string, t: number): string {
    return this.msgIds.next(fixmedins_code, t)
  }

  /** Forgets the sequences of seconds before `t`: no event is created before the stream's floor. A shared allocator is its owner's to trim. */
  forgetEventIdsBefore(t: number): void {
    if (this.ownsMsgIds) this.msgIds.forgetBefore(t)
  }

  pickRegion(rng: Rng): GRegion {
    return rng.weighted(this.regions.filter((r) => r.share > 0).map((r) => [r, r.share] as const))
  }

  /** A person of the given region (or a random one), with attributes drawn to match a real population. */
  makePerson(rng: Rng, o: { region?: GRegion; gend?: '1' | '2'; age?: [number, number]; insutype?: '310' | '390' } = {}): GPerson {
    const region = o.region ?? this.pickRegion(rng)
    const gend = o.gend ?? (rng.chance(0.5) ? '1' : '2')
    const ageBand = o.age ?? rng.weighted<[number, number]>([[[0, 13], 14], [[14, 17], 4], [[18, 39], 28], [[40, 59], 30], [[60, 79], 19], [[80, 95], 5]])
    const age = rng.int(ageBand[0], ageBand[1])
    // A birthday that makes the person exactly `age` at the start.
    const start = new Date(this.startMs + CN_OFFSET_MS)
    const sm = start.getUTCMonth() + 1
    const sd = start.getUTCDate()
    const m = rng.int(1, 12)
    const d = rng.int(1, 28)
    const hadBirthday = m < sm || (m === sm && d <= sd)
    const year = start.getUTCFullYear() - age - (hadBirthday ? 0 : 1)
    const brdy = `${year}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
    const district = rng.pick(region.districts)
    const seq = ++this.psnSeq
    const insutype = o.insutype ?? (age >= 18 && age < 60 ? (rng.chance(0.55) ? '310' : '390') : age >= 60 && rng.chance(0.4) ? '310' : '390')
    const p: GPerson = {
      idx: seq,
      psn_no: `${region.admdvs}${this.tag}${String(seq).padStart(7, '0')}`,
      gend, brdy, brdyMs: Date.parse(`${brdy}T00:00:00+08:00`), certno: certnoFor(rng, district, brdy, gend), name: fakeName(rng),
      region, district, insutype, chronic: [], acctCents: insutype === '310' ? rng.int(0, 400000) : 0,
      busy: new Set(), stays: [], supply: [],
    }
    p.clinic = rng.pick(region.clinics)
    p.hospital = rng.pick(region.general)
    return p
  }

  /** Moves a person's birthday, keeping the ID number (which encodes it) in step. */
  setBirthday(p: GPerson, brdy: string, rng: Rng): void {
    p.brdy = brdy
    p.brdyMs = Date.parse(`${brdy}T00:00:00+08:00`)
    p.certno = certnoFor(rng, p.district, brdy, p.gend)
  }

  /** Age in whole years at an instant (China calendar). */
  age(p: GPerson, t: number): number {
    return ageAt(p.brdyMs + CN_OFFSET_MS, t + CN_OFFSET_MS)
  }

  registryRow(p: GPerson): Person {
    const row: Person = { psn_no: p.psn_no, gend: p.gend, brdy: p.brdy, chronic_diseases: [...p.chronic], insuplc_admdvs: p.region.admdvs }
    if (p.death_date) row.death_date = p.death_date
    return row
  }

  pickDoctor(rng: Rng, inst: GInst, dept?: string, titles?: readonly Doctor['title'][]): Doctor {
    let pool = dept ? inst.byDept.get(dept) ?? inst.doctors : inst.doctors
    if (titles) {
      const f = pool.filter((d) => titles.includes(d.title))
      if (f.length) pool = f
      else {
        const g = inst.doctors.filter((d) => titles.includes(d.title))
        if (g.length) pool = g
      }
    }
    return rng.pick(pool)
  }
}

/** Age from two China-shifted epoch ms values. */
function ageAt(brdyCn: number, atCn: number): number {
  const b = new Date(brdyCn)
  const d = new Date(atCn)
  let age = d.getUTCFullYear() - b.getUTCFullYear()
  const m = d.getUTCMonth() - b.getUTCMonth()
  if (m < 0 || (m === 0 && d.getUTCDate() < b.getUTCDate())) age--
  return age
}

/** 18-digit 身份证号: district + birth date + sequence (odd for men) + ISO 7064 MOD 11-2 check digit. */
export function certnoFor(rng: Rng, district: string, brdy: string, gend: '1' | '2'): string {
  return residentId(district, brdy, gend, rng.int(0, 998))
}

/** An 18-digit resident ID (居民身份证号): district (6) + birthday + a sequence whose parity says the gender + check digit. */
export function residentId(district: string, brdy: string, gend: '1' | '2', seq0: number): string {
  let seq = seq0 % 999
  if ((seq % 2 === 1) !== (gend === '1')) seq++
  const body = `${district}${brdy.replace(/-/g, '')}${String(seq).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += (body.charCodeAt(i) - 48) * w[i]!
  const c = body + '10X98765432'[sum % 11]!
  if (!isValidCertno(c)) throw new Error(`certno ${c} failed its own check`)
  return c
}

export function fenToMoney(fen: number): string {
  const neg = fen < 0
  const a = Math.abs(fen)
  const s = `${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`
  return neg ? `-${s}` : s
}

const dayPrefix = new Map<number, string>()
const two = (n: number): string => (n < 10 ? `0${n}` : String(n))
/**
 * RFC 3339 in China time (+08:00), like util/time.cnIso but without a Date and
 * a regex per call: the generator formats a few million of these.
 */
export function isoCn(ms: number): string {
  const shifted = ms + CN_OFFSET_MS
  const day = Math.floor(shifted / DAY_MS)
  let prefix = dayPrefix.get(day)
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11)
    dayPrefix.set(day, prefix)
  }
  const secs = Math.floor((shifted - day * DAY_MS) / 1000)
  return `${prefix}${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}+08:00`
}

/** China time as yyyyMMddHHmmss (the msgid's time part). */
export function compactCn(ms: number): string {
  return isoCn(ms).slice(0, 19).replace(/[-T:]/g, '')
}

const MSG_SEQ = 10_000

/**
 * Event ids shaped as the national msgid: the institution (12), the China
 * time to the second (14) and a 4-digit sequence, unique per institution and
 * second — 10,000 a second, then the next second's. The sequence starts at a
 * place derived from the seed, so datasets of different seeds rarely meet in a
 * shared store; generators whose streams cover the same hours in one store
 * (the demo's rounds, src/cli/start.ts) share one allocator and never meet.
 */
export class MsgIds {
  /** China second → institution → the next sequence number. */
  private readonly seq = new Map<number, Map<string, number>>()
  private readonly base: number

  constructor(seed: number) {
    this.base = hashString(`fundwatch-msgid:${seed}`) % MSG_SEQ
  }

  next(fixmedins_code: string, t: number): string {
    for (let sec = Math.floor(t / 1000); ; sec++) {
      let bySec = this.seq.get(sec)
      if (!bySec) this.seq.set(sec, (bySec = new Map()))
      const n = bySec.get(fixmedins_code) ?? 0
      if (n >= MSG_SEQ) continue
      bySec.set(fixmedins_code, n + 1)
      return `${fixmedins_code}${compactCn(sec * 1000)}${String((this.base + n) % MSG_SEQ).padStart(4, '0')}`
    }
  }

  /** Forgets the seconds before `t` (memory): ids for them are not asked for again. */
  forgetBefore(t: number): void {
    const sec = Math.floor(t / 1000)
    for (const k of this.seq.keys()) if (k < sec) this.seq.delete(k)
  }
}

/** Distance in km between two institutions (haversine). */
export function distanceKm(a: Institution, b: Institution): number {
  const r = 6371
  const dLat = ((b.lat - a.lat) * Math.PI) / 180
  const dLon = ((b.lon - a.lon) * Math.PI) / 180
  const h = Math.sin(dLat / 2) ** 2 + Math.cos((a.lat * Math.PI) / 180) * Math.cos((b.lat * Math.PI) / 180) * Math.sin(dLon / 2) ** 2
  return 2 * r * Math.asin(Math.sqrt(h))
}
