import type { Doctor } from '../../schemas/index.ts'
import type { PatternId } from '../detect/patterns.ts'
import { DEPTS } from '../kb/sample.ts'
import { DAY_MS, cnDate } from '../util/time.ts'
import type { Inventory } from './inventory.ts'
import type { Label, NearMiss } from './labels.ts'
import type { Rng } from './random.ts'
import {
  CHEMO_SCENARIO, DIALYSIS_ADMISSION_SCENARIO, HOUR, IPT, MIN, OTP, consultFees, dayStartOf, dialysisSession, dx, inpatientStay, labs,
  outpatientVisit, pharmacyVisit, rx, chronicVisit, type DayCtx, type IptScenario, type OtpScenario, type PharmacyLedger,
} from './scenarios.ts'
import { Visit, emitVisit, type GenCtx, type LineRec } from './visit.ts'
import { distanceKm, type GInst, type GPerson, type GRegion, type World } from './world.ts'

/**
 * Injected fraud, one function per pattern (= detector id), and near misses
 * that look like a pattern but are legitimate. Each injection uses persons
 * made for it, so its label is the only finding in its records: a detector
 * that reports something else there is imprecise, not lucky.
 */

export interface Draft {
  label: Label
  /** Episodes still to run before the label's refs are complete. */
  pending: number
  /** An episode of it could not be scheduled (past the horizon): the label is dropped, unless provider-level and partly there. */
  broken?: boolean
  /** Episodes scheduled for it. */
  scheduled: number
}

export interface Planner {
  readonly world: World
  readonly g: GenCtx
  readonly inventory: Inventory
  readonly pharmacyLedger: PharmacyLedger
  readonly outlierInsts: Set<string>
  drift?: { inst: string; from: number }
  rng(label: string): Rng
  person(rng: Rng, o?: Parameters<World['makePerson']>[1]): GPerson
  schedule(start: number, run: (rng: Rng) => void, o?: { drafts?: Draft[] }): void
  draft(pattern: PatternId, inst: GInst, note: string, person?: GPerson): Draft
  nearMiss(kind: string, pattern: PatternId, inst: GInst, note: string, person?: GPerson): NearMiss
  mdtrt(): string
}

const otp = (id: string): OtpScenario => OTP.find((s) => s.id === id)!
const ipt = (id: string): IptScenario => IPT.find((s) => s.id === id)!

function at(w: World, day: number, hh: number, mm = 0): number {
  return w.dayMs(day) + hh * HOUR + mm * MIN
}

/** A start day leaving `need` days (inclusive of the last) inside the horizon, or undefined when it does not fit. */
function pickDay(P: Planner, rng: Rng, need: number, from = 0): number | undefined {
  // The last day is kept out when there is room: an evening there is past the last start the driver accepts.
  let last = P.world.days - need
  if (last - 1 >= from) last--
  if (last < from) return undefined
  return rng.int(from, last)
}
/** Any day but the last (when there are two or more). */
function anyDay(P: Planner, rng: Rng): number {
  return rng.int(0, Math.max(0, P.world.days - 2))
}

function regions(P: Planner, pred: (r: GRegion) => boolean): GRegion[] {
  return P.world.regions.filter((r) => r.share > 0 && pred(r))
}
function pickRegion(P: Planner, rng: Rng, pred: (r: GRegion) => boolean = () => true): GRegion | undefined {
  const rs = regions(P, pred)
  return rs.length ? rng.weighted(rs.map((r) => [r, r.share] as const)) : undefined
}
function hospitalIn(rng: Rng, r: GRegion, minLevel: number): GInst | undefined {
  const h = r.general.filter((i) => i.level >= minLevel)
  return h.length ? rng.pick(h) : undefined
}
/**
 * Where a planted episode happens: a region (of those `region` accepts), a
 * general hospital of at least `level` in it, a start day leaving `span` days,
 * and a person of the region aged within `age` — drawn in that order, so a
 * seed gives the same world — or undefined when the world has no such place.
 */
function hospitalSite(P: Planner, rng: Rng, o: { level: number; span: number; age: [number, number]; region?: (r: GRegion) => boolean }): { r: GRegion; inst: GInst; day: number; p: GPerson } | undefined {
  const r = pickRegion(P, rng, o.region)
  const inst = r && hospitalIn(rng, r, o.level)
  const day = pickDay(P, rng, o.span)
  if (!r || !inst || day === undefined) return undefined
  return { r, inst, day, p: P.person(rng, { region: r, age: o.age }) }
}
/** As hospitalSite, for an episode whose institution the caller chooses. */
function regionSite(P: Planner, rng: Rng, o: { span: number; age: [number, number] }): { r: GRegion; day: number; p: GPerson } | undefined {
  const r = pickRegion(P, rng)
  const day = pickDay(P, rng, o.span)
  if (!r || day === undefined) return undefined
  return { r, day, p: P.person(rng, { region: r, age: o.age }) }
}
function lv1ClinicIn(rng: Rng, r: GRegion, pred: (i: GInst) => boolean = () => true): GInst | undefined {
  const c = r.clinics.filter((i) => i.level === 1 && pred(i))
  return c.length ? rng.pick(c) : undefined
}
function doctorTitled(w: World, rng: Rng, inst: GInst, titles: readonly Doctor['title'][], dept?: string): Doctor {
  return w.pickDoctor(rng, inst, dept, titles)
}

/** A custom outpatient visit (11 unless told), built by `build`, closed 20–50 minutes after its last line. */
function customVisit(g: GenCtx, p: GPerson, inst: GInst, t: number, dxCodes: string[], mdtrt_id: string, rng: Rng, build: (v: Visit, t: number) => void, o: { med_type?: string; doctor?: Doctor; dept?: string; reverseLine?: boolean; rebill?: boolean; reverse?: (v: Visit) => LineRec[] } = {}): { v: Visit; rebilled?: { reversed: string; rebilled: string } } {
  const w = g.world
  const doctor = o.doctor ?? w.pickDoctor(rng, inst, o.dept)
  const v = new Visit(g, p, inst, o.med_type ?? '11', t, doctor.dept_codg ?? DEPTS.general, doctor, dxCodes.map((c, i) => dx(w, c, i === 0)), mdtrt_id)
  build(v, t + 2 * MIN)
  const last = v.lines.reduce((m, l) => Math.max(m, l.t), t)
  const closed = emitVisit(v, {
    endtime: last + rng.int(20, 50) * MIN, uploads: 'visit', rng, reverseLine: o.reverseLine ?? false, rebill: o.rebill ?? false,
    ...(o.reverse ? { reverse: o.reverse(v) } : {}),
  })
  return { v, ...(closed.rebilled ? { rebilled: closed.rebilled } : {}) }
}

function sns(...ls: (LineRec | undefined)[]): string[] {
  return ls.filter((l): l is LineRec => l !== undefined).map((l) => l.sn)
}

function daytime(rng: Rng): [number, number] {
  return rng.chance(0.6) ? [rng.int(8, 11), rng.int(0, 59)] : [rng.int(14, 16), rng.int(0, 59)]
}

/** Schedules the outpatient visit `id` of `scenario` at `t`; the label gets the visit and the lines `build` returns. */
function injectVisit(P: Planner, d: Draft, p: GPerson, inst: GInst, t: number, scenario: string, id: string, build: (v: Visit, t: number) => (LineRec | undefined)[]): void {
  P.schedule(t, (er) => {
    outpatientVisit(P.g, p, inst, t, otp(scenario), er, id, { build: (v, tt) => void d.label.refs.feedetl_sns.push(...sns(...build(v, tt))) })
    d.label.refs.mdtrt_ids.push(id)
  }, { drafts: [d] })
}

/** Schedules the stay `id` admitted at `start`; on its day `onDay` `add` bills the injected lines, which the label gets with the stay. */
function injectStay(P: Planner, d: Draft, p: GPerson, inst: GInst, start: number, los: number, scenario: IptScenario, id: string, onDay: number, add: (c: DayCtx) => (LineRec | undefined)[]): void {
  P.schedule(start, (er) => {
    inpatientStay(P.g, p, inst, start, los, scenario, er, id, {
      extra: (c) => {
        if (c.d === onDay) d.label.refs.feedetl_sns.push(...sns(...add(c)))
      },
    })
    d.label.refs.mdtrt_ids.push(id)
  }, { drafts: [d] })
}

/** Schedules a legitimate outpatient visit at `t`: consultation fees and what `add` bills; the near miss gets the lines of `item`. */
function nearMissVisit(P: Planner, nm: NearMiss, p: GPerson, inst: GInst, t: number, dxCodes: string[], item: string, add: (v: Visit, t: number) => void): void {
  const id = P.mdtrt()
  nm.refs.mdtrt_ids.push(id)
  P.schedule(t, (er) => {
    const { v } = customVisit(P.g, p, inst, t, dxCodes, id, er, (v, tt) => {
      consultFees(v, tt)
      add(v, tt)
    })
    nm.refs.feedetl_sns.push(...v.lines.filter((l) => l.item === P.world.item(item)).map((l) => l.sn))
  })
}

// ------------------------------------------------------------------ stream patterns

type Injector = (P: Planner, rng: Rng, i: number) => void

const INJECT: Record<Exclude<PatternId, 'provider-outlier' | 'case-mix-drift' | 'collusion' | 'inventory-mismatch' | 'capacity-exceeded'>, Injector> = {
  'duplicate-charge'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    if (!r) return
    if (i % 2 === 0) {
      const inst = hospitalIn(rng, r, 2)
      const day = pickDay(P, rng, 1)
      if (!inst || day === undefined) return
      const p = P.person(rng, { region: r, age: [25, 70] })
      const d = P.draft('duplicate-charge', inst, 'same item billed twice for the same service time (常规心电图)', p)
      const id = P.mdtrt()
      const t = at(w, day, ...daytime(rng))
      P.schedule(t, (er) => {
        outpatientVisit(P.g, p, inst, t, otp('bronchitis-adult'), er, id, {
          build: (v, t) => {
            const l = v.add(w.item('ecg'), t + 12 * MIN, 1)
            const dup = l && v.add(w.item('ecg'), l.t, 1, { fraud: true, exactTime: true })
            d.label.refs.feedetl_sns.push(...sns(l, dup))
            d.label.refs.mdtrt_ids.push(id)
          },
        })
      }, { drafts: [d] })
    } else {
      const inst = hospitalIn(rng, r, 2)
      const los = rng.int(6, 8)
      const day = pickDay(P, rng, los + 1)
      if (!inst || day === undefined) return
      const p = P.person(rng, { region: r, age: [40, 80] })
      const d = P.draft('duplicate-charge', inst, '一级护理 and 二级护理 billed on the same day (exclusive nursing levels)', p)
      const id = P.mdtrt()
      const start = at(w, day, rng.int(9, 15))
      injectStay(P, d, p, inst, start, los, ipt('pneumonia'), id, 3, (c) => {
        const t = c.at(0, 7)
        const n2 = c.v.lines.find((l) => l.item === w.item('nurse_2') && dayStartOf(l.t) === dayStartOf(t))
        const n1 = c.v.add(w.item('nurse_1'), t + MIN, 1, { fraud: true })
        return [n2, n1]
      })
    }
  },

  'restricted-item'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    const variant = i % 3
    const t = at(w, day, ...daytime(rng))
    const id = P.mdtrt()
    if (variant === 0) {
      // Gender: a prostate test for a woman, or an antenatal check for a man.
      const woman = rng.chance(0.5)
      const p = P.person(rng, { region: r, gend: woman ? '2' : '1', age: [30, 65] })
      const inst = hospitalIn(rng, r, 2) ?? r.general[0]!
      const key = woman ? 'psa' : 'prenatal'
      const d = P.draft('restricted-item', inst, `gender: ${key === 'psa' ? '前列腺特异性抗原测定 (men only) for a woman' : '产前检查 (women only) for a man'}`, p)
      injectVisit(P, d, p, inst, t, 'dermatitis', id, (v, tt) => [v.add(w.item(key), tt + 15 * MIN, 1, { fraud: true })])
    } else if (variant === 1) {
      // Age: a children's drug for an adult, or a quinolone (18+) for a child.
      const adultCase = rng.chance(0.5)
      const p = P.person(rng, { region: r, age: adultCase ? [25, 60] : [8, 13] })
      const inst = p.clinic ?? r.clinics[0]!
      const key = adultCase ? rng.pick(['kids_cold', 'ibuprofen_susp']) : 'levofloxacin'
      const d = P.draft('restricted-item', inst, `age: ${w.item(key).name} (age ${w.item(key).age_min ?? 0}–${w.item(key).age_max ?? '∞'}) for a person of ${w.age(p, t)}`, p)
      injectVisit(P, d, p, inst, t, adultCase ? 'urti-adult' : 'urti-child', id, (v, tt) => [v.add(w.item(key), tt + 40 * MIN, 1, { fraud: true, sale: true, prd_days: 3 })])
    } else {
      // Institution level: an MRI (level 2+) billed by a level-1 clinic.
      const inst = lv1ClinicIn(rng, r)
      if (!inst) return
      const p = P.person(rng, { region: r, age: [30, 75] })
      const key = rng.pick(['mri_head', 'ct_head', 'gastroscopy'])
      const cap = Math.round(Number(w.item(key).price_cap_lv2 ?? w.item(key).price_cap_lv3) * 100)
      const d = P.draft('restricted-item', inst, `level: ${w.item(key).name} (min level ${w.item(key).min_hosp_lv}) at a level-1 clinic`, p)
      injectVisit(P, d, p, inst, t, key === 'gastroscopy' ? 'gastritis' : 'dermatitis', id, (v, tt) => [v.add(w.item(key), tt + 30 * MIN, 1, { fraud: true, priceFen: cap })])
    }
  },

  'split-hospitalization'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    const los1 = rng.int(4, 7)
    const gap = rng.int(2, 12)
    const los2 = rng.int(4, 6)
    const day = pickDay(P, rng, los1 + gap + los2 + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [50, 85] })
    const scn = ipt(rng.pick(['pneumonia', 'copd', 'heart-failure']))
    const d = P.draft('split-hospitalization', inst, `${scn.principal} discharged and readmitted ${gap} days later at the same hospital, not a planned cycle`, p)
    const id1 = P.mdtrt()
    const id2 = P.mdtrt()
    d.label.refs.mdtrt_ids.push(id1, id2)
    const start1 = at(w, day, rng.int(8, 16))
    P.schedule(start1, (er) => {
      inpatientStay(P.g, p, inst, start1, los1, scn, er, id1)
    }, { drafts: [d] })
    const start2 = at(w, day + los1 + gap, rng.int(8, 16))
    P.schedule(start2, (er) => {
      inpatientStay(P.g, p, inst, start2, los2, scn, er, id2)
    }, { drafts: [d] })
  },

  'over-standard-charge'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    const inst = rng.chance(0.5) ? lv1ClinicIn(rng, r) ?? r.general[0]! : rng.pick(r.general)
    const p = P.person(rng, { region: r, age: [20, 75] })
    const key = rng.pick(['bus', 'ecg', 'dr_chest', 'urine'])
    const cap = w.capFen(inst, w.item(key))!
    const price = Math.round((cap * (1.15 + rng.next() * 0.45)) / 50) * 50
    const d = P.draft('over-standard-charge', inst, `${w.item(key).name} at ${(price / 100).toFixed(2)}, cap ${(cap / 100).toFixed(2)} at level ${inst.level}`, p)
    const id = P.mdtrt()
    const t = at(w, day, ...daytime(rng))
    injectVisit(P, d, p, inst, t, 'dermatitis', id, (v, tt) => [v.add(w.item(key), tt + 20 * MIN, 1, { fraud: true, priceFen: price })])
  },

  'out-of-scope'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    if (!r) return
    if (i % 3 !== 2) {
      const day = pickDay(P, rng, 1)
      if (day === undefined) return
      const inst = rng.chance(0.5) ? p0(r) : rng.pick(r.general)
      const p = P.person(rng, { region: r, age: [30, 75] })
      const key = rng.pick(['tongxinluo', 'xuesaitong', 'clopidogrel', 'oseltamivir'])
      const d = P.draft('out-of-scope', inst, `${w.item(key).name} (限 ${w.item(key).indications.join('/')}) for 急性上呼吸道感染 only`, p)
      const id = P.mdtrt()
      const t = at(w, day, ...daytime(rng))
      injectVisit(P, d, p, inst, t, 'urti-adult', id, (v, tt) => [v.add(w.item(key), tt + 45 * MIN, 1, { fraud: true, sale: true, prd_days: key === 'oseltamivir' ? 5 : 14 })])
    } else {
      const inst = hospitalIn(rng, r, 2)
      const los = rng.int(6, 8)
      const day = pickDay(P, rng, los + 1)
      if (!inst || day === undefined) return
      const p = P.person(rng, { region: r, age: [40, 80] })
      const d = P.draft('out-of-scope', inst, '人血白蛋白 (限 K74/R18/E88: cirrhosis, ascites, hypoalbuminaemia) in a pneumonia stay without them', p)
      const id = P.mdtrt()
      injectStay(P, d, p, inst, at(w, day, 10), los, ipt('pneumonia'), id, 2, (c) => [c.v.add(w.item('albumin'), c.at(10, 15), 1, { fraud: true, sale: true })])
    }
  },

  'over-quantity'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    if (!r) return
    if (i % 2 === 0) {
      const day = pickDay(P, rng, 1)
      if (day === undefined) return
      const inst = rng.chance(0.5) ? p0(r) : rng.pick(r.general)
      const p = P.person(rng, { region: r, age: [25, 70] })
      const [key, prd] = rng.pick([['amoxicillin', rng.int(14, 21)], ['omeprazole', rng.int(28, 42)], ['azithromycin', rng.int(10, 15)]] as const)
      const d = P.draft('over-quantity', inst, `${w.item(key).name}: ${prd} days of supply, limit ${w.item(key).max_prd_days}`, p)
      const id = P.mdtrt()
      const t = at(w, day, ...daytime(rng))
      injectVisit(P, d, p, inst, t, 'dermatitis', id, (v, tt) => [v.add(w.item(key), tt + 30 * MIN, Math.ceil(prd / 7), { fraud: true, sale: true, prd_days: prd })])
    } else {
      const inst = hospitalIn(rng, r, 2)
      const los = rng.int(6, 8)
      const day = pickDay(P, rng, los + 1)
      if (!inst || day === undefined) return
      const p = P.person(rng, { region: r, age: [40, 80] })
      const d = P.draft('over-quantity', inst, '注射用头孢曲松钠 billed 8 a day, limit 4', p)
      const id = P.mdtrt()
      injectStay(P, d, p, inst, at(w, day, 10), los, ipt('copd'), id, 2, (c) => [c.v.add(w.item('ceftriaxone'), c.at(16, 10), 6, { fraud: true, sale: true })])
    }
  },

  'split-prescription'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    const inst = rng.pick(r.general)
    const p = P.person(rng, { region: r, age: [45, 75] })
    const [key, code] = rng.pick([['amlodipine', 'I10.x00x002'], ['atorvastatin', 'I25.100'], ['metformin', 'E11.900']] as const)
    const n = rng.chance(0.5) ? 2 : 3
    const per = n === 2 ? rng.int(17, 22) : rng.int(12, 14)
    const d = P.draft('split-prescription', inst, `${w.item(key).name} in ${n} prescriptions of ${per} days on one day (limit ${w.item(key).max_prd_days} per prescription)`, p)
    const doctors = new Set<string>()
    for (let k = 0; k < n; k++) {
      const id = P.mdtrt()
      const t = at(w, day, 8 + k * 2 + (k === 2 ? 3 : 0), rng.int(0, 40))
      P.schedule(t, (er) => {
        let doctor = w.pickDoctor(er, inst, DEPTS.internal)
        for (let tries = 0; tries < 5 && doctors.has(doctor.dr_code); tries++) doctor = w.pickDoctor(er, inst)
        doctors.add(doctor.dr_code)
        customVisit(P.g, p, inst, t, [code], id, er, (v, tt) => {
          consultFees(v, tt)
          const l = v.add(w.item(key), tt + 10 * MIN, 1, { fraud: true, sale: true, prd_days: per })
          d.label.refs.feedetl_sns.push(...sns(l))
        }, { doctor })
        d.label.refs.mdtrt_ids.push(id)
      }, { drafts: [d] })
    }
  },

  unbundling(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    if (!r) return
    if (i % 2 === 0) {
      const day = pickDay(P, rng, 1)
      if (day === undefined) return
      const inst = rng.chance(0.5) ? p0(r) : rng.pick(r.general)
      const p = P.person(rng, { region: r, age: [20, 75] })
      const comps = rng.sample(['wbc', 'rbc', 'hgb', 'plt'], rng.int(2, 3))
      const d = P.draft('unbundling', inst, `全血细胞计数 billed with its components ${comps.join(', ')}`, p)
      const id = P.mdtrt()
      const t = at(w, day, ...daytime(rng))
      injectVisit(P, d, p, inst, t, 'dermatitis', id, (v, tt) => {
        v.add(w.item('blood_draw'), tt + 10 * MIN, 1)
        const bundle = v.add(w.item('cbc'), tt + 12 * MIN, 1)
        const parts = comps.map((c) => v.add(w.item(c), tt + 12 * MIN, 1, { fraud: true }))
        return [bundle, ...parts]
      })
    } else {
      const inst = hospitalIn(rng, r, 2)
      const los = rng.int(5, 6)
      const day = pickDay(P, rng, los + 1)
      if (!inst || day === undefined) return
      const p = P.person(rng, { region: r, age: [35, 70] })
      const d = P.draft('unbundling', inst, '腹腔镜胆囊切除术(含麻醉及换药) billed with 全身麻醉 separately', p)
      const id = P.mdtrt()
      injectStay(P, d, p, inst, at(w, day, 10), los, ipt('cholecystectomy'), id, 1, (c) => {
        const pkg = c.v.lines.find((l) => l.item === w.item('lc_pkg'))
        const ga = c.v.add(w.item('ga'), c.at(9), 1, { fraud: true })
        return [pkg, ga]
      })
    }
  },

  'phantom-service'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    if (!r || !inst) return
    const variant = i % 6
    const los = rng.int(6, 8)
    const day = pickDay(P, rng, los + 3, 1)
    if (day === undefined) return
    const p = P.person(rng, { region: r, age: [45, 85] })
    const id = P.mdtrt()
    const start = at(w, day, rng.int(9, 15))
    if (variant <= 3) {
      const notes = [
        'bed and ward-round fees dated the day after discharge',
        'a chest CT dated the day before admission',
        '心电监护 for 30 hours on one day',
        'a bed-fee line of 3 days within one day: bed days exceed the stay',
      ]
      const d = P.draft('phantom-service', inst, notes[variant]!, p)
      // Three extra bed days on one day also break the bed fee's one-a-day limit: that is over-quantity too.
      const dq = variant === 3 ? P.draft('over-quantity', inst, 'bed fee billed 4 times on one day (limit 1): the phantom bed days', p) : undefined
      P.schedule(start, (er) => {
        inpatientStay(P.g, p, inst, start, los, ipt('heart-failure'), er, id, {
          extra: (c) => {
            if (variant === 1 && c.d === 0) {
              const l = c.v.add(w.item('ct_chest'), start - DAY_MS + 2 * HOUR, 1, { fraud: true })
              d.label.refs.feedetl_sns.push(...sns(l))
            }
            if (variant === 2 && c.d === 4) {
              const day4 = dayStartOf(c.at(12))
              const a = c.v.add(w.item('ecg_monitor'), day4 + 30 * MIN, 16, { fraud: true, hours: 16 })
              const b = c.v.add(w.item('ecg_monitor'), day4 + 17 * HOUR, 14, { fraud: true, hours: 14 })
              d.label.refs.feedetl_sns.push(...sns(a, b))
            }
            if (variant === 3 && c.d === 3) {
              const bed = c.v.lines.find((l) => l.item.med_chrgitm_type === '01')!.item
              const l = c.v.add(bed, c.at(12), 3, { fraud: true })
              d.label.refs.feedetl_sns.push(...sns(l))
              dq?.label.refs.feedetl_sns.push(...sns(l))
              dq?.label.refs.mdtrt_ids.push(id)
            }
          },
          after: (v, endtime) => {
            if (variant !== 0) return
            const next = dayStartOf(endtime) + DAY_MS
            const bed = v.lines.find((l) => l.item.med_chrgitm_type === '01')!.item
            const a = v.add(bed, next + 5 * MIN, 1, { fraud: true })
            const b = v.add(w.item('ward_round'), next + 8 * HOUR + 30 * MIN, 1, { fraud: true })
            d.label.refs.feedetl_sns.push(...sns(a, b))
          },
        })
        d.label.refs.mdtrt_ids.push(id)
      }, { drafts: dq ? [d, dq] : [d] })
    } else if (variant === 4) {
      const clinic = lv1ClinicIn(rng, r) ?? r.clinics[0]!
      const id2 = P.mdtrt()
      const d = P.draft('phantom-service', clinic, 'outpatient visit billed at a clinic while the person was an inpatient elsewhere', p)
      d.label.refs.mdtrt_ids.push(id2, id)
      P.schedule(start, (er) => {
        inpatientStay(P.g, p, inst, start, los, ipt('pneumonia'), er, id)
      }, { drafts: [d] })
      const t2 = at(w, day + 3, rng.int(9, 16))
      P.schedule(t2, (er) => {
        outpatientVisit(P.g, p, clinic, t2, otp('lumbago'), er, id2)
      }, { drafts: [d] })
    } else {
      const other = r.general.find((h) => h !== inst) ?? lv1ClinicIn(rng, r, (c) => c.row.beds > 0)
      if (!other) return
      const id2 = P.mdtrt()
      const d = P.draft('phantom-service', other, 'two inpatient stays at two institutions at the same time', p)
      d.label.refs.mdtrt_ids.push(id, id2)
      P.schedule(start, (er) => {
        inpatientStay(P.g, p, inst, start, los, ipt('pneumonia'), er, id)
      }, { drafts: [d] })
      const t2 = at(w, day + 2, rng.int(9, 16))
      P.schedule(t2, (er) => {
        inpatientStay(P.g, p, other, t2, 3, ipt(other.level >= 2 ? 'copd' : 'pneumonia'), er, id2)
      }, { drafts: [d] })
    }
  },

  'bed-holding'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && ((rng.chance(0.5) ? lv1ClinicIn(rng, r, (c) => c.row.beds > 0) : undefined) ?? hospitalIn(rng, r, 2))
    const los = rng.int(9, 12)
    const day = pickDay(P, rng, los + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [60, 88] })
    const d = P.draft('bed-holding', inst, `inpatient days 3–${los + 1} with only bed, nursing and ward-round fees`, p)
    const id = P.mdtrt()
    d.label.refs.mdtrt_ids.push(id)
    P.schedule(at(w, day, 10), (er) => {
      inpatientStay(P.g, p, inst, at(w, day, 10), los, ipt('pneumonia'), er, id, { idleFrom: 2, skipDischargeMeds: true })
    }, { drafts: [d] })
  },

  'drg-upcoding'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    const short = i % 2 === 1
    const los = short ? rng.int(2, 3) : rng.int(7, 9)
    const day = pickDay(P, rng, los + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [50, 85] })
    const d = P.draft('drg-upcoding', inst, `急性呼吸衰竭 (MCC) coded with no oxygen or blood gas billed → ES31${short ? `, and a ${los}-day stay against an average of 10` : ''}`, p)
    const id = P.mdtrt()
    d.label.refs.mdtrt_ids.push(id)
    P.schedule(at(w, day, 10), (er) => {
      const res = inpatientStay(P.g, p, inst, at(w, day, 10), los, ipt('pneumonia'), er, id, { secondaries: ['J96.000'], unsupported: ['J96.000'] })
      d.label.refs.setl_ids.push(...res.closed.setl_ids)
    }, { drafts: [d] })
  },

  'service-level-upcoding'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.general.length > 0)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    const inst = rng.pick(r.general)
    const doctor = doctorTitled(w, rng, inst, ['attending', 'resident'], DEPTS.internal)
    if (doctor.title === 'chief' || doctor.title === 'associate_chief') return
    const p = P.person(rng, { region: r, age: [20, 75] })
    const key = rng.chance(0.6) ? 'consult_chief' : 'consult_assoc'
    const d = P.draft('service-level-upcoding', inst, `${w.item(key).name} billed by a ${doctor.title} (${doctor.dr_code})`, p)
    const id = P.mdtrt()
    const t = at(w, day, ...daytime(rng))
    P.schedule(t, (er) => {
      customVisit(P.g, p, inst, t, ['J20.900'], id, er, (v, tt) => {
        v.add(w.item('reg'), tt, 1)
        const l = v.add(w.item(key), tt + MIN, 1, { fraud: true })
        rx(v, 'ambroxol', tt + 20 * MIN, 1, 5)
        d.label.refs.feedetl_sns.push(...sns(l))
      }, { doctor })
      d.label.refs.mdtrt_ids.push(id)
    }, { drafts: [d] })
  },

  'frequent-visits'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    // Inside one calendar month (自然月, as rules count it), the month with the most days in the horizon.
    const months = new Map<string, number[]>()
    for (let dd = 0; dd < w.days; dd++) {
      const m = cnDate(w.dayMs(dd)).slice(0, 7)
      months.set(m, [...(months.get(m) ?? []), dd])
    }
    const monthDays = [...months.values()].sort((a, b) => b.length - a.length)[0] ?? []
    if (!r || monthDays.length < 8) return
    const p = P.person(rng, { region: r, age: [35, 75] })
    const n = Math.min(2 * monthDays.length, rng.int(18, 24))
    const span = rng.sample(monthDays, Math.min(monthDays.length, Math.max(10, Math.ceil(n / 2)))).sort((a, b) => a - b)
    // One visit on each chosen day, a second on some of them: never three in a day.
    const slots = [...span.map((dd) => [dd, 0] as const), ...rng.sample(span, n - span.length).map((dd) => [dd, 1] as const)].sort((a, b) => a[0] - b[0] || a[1] - b[1])
    const places = rng.sample([...r.clinics, ...r.general], rng.int(3, 5))
    const d = P.draft('frequent-visits', places[0]!, `${slots.length} outpatient visits in one calendar month (${cnDate(w.dayMs(span[0]!)).slice(0, 7)}) at ${places.length} institutions`, p)
    const tests = ['ecg', 'urine', 'glu', 'bus', 'dr_chest', 'crp', 'lytes', 'lipid', 'myo', 'cbc', 'liver', 'renal', 'coag', 'flu_ag']
    const codes = ['J06.900', 'M54.500', 'K29.700', 'R10.400', 'R50.900', 'L30.900', 'F51.000']
    slots.forEach(([dd, second], k) => {
      const inst = places[k % places.length]!
      const id = P.mdtrt()
      d.label.refs.mdtrt_ids.push(id)
      const t = at(w, dd, second ? rng.int(14, 16) : rng.int(8, 11), rng.int(0, 59))
      const test = tests[k % tests.length]!
      const code = codes[k % codes.length]!
      P.schedule(t, (er) => {
        customVisit(P.g, p, inst, t, [code], id, er, (v, tt) => {
          consultFees(v, tt)
          if (!v.add(w.item(test), tt + 15 * MIN, 1)) v.add(w.item('blood_draw'), tt + 15 * MIN, 1)
        })
      }, { drafts: [d] })
    })
  },

  'drug-hoarding'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.pharmacies.length >= 3)
    const day = pickDay(P, rng, 10)
    if (!r || day === undefined) return
    const n = Math.min(r.pharmacies.length, rng.int(3, 4))
    const shops = rng.sample(r.pharmacies, n)
    const p = P.person(rng, { region: r, age: [45, 75] })
    const key = rng.pick(['atorvastatin', 'danshen_pills', 'calcium_d3', 'ginkgo', 'mecobalamin'])
    const d = P.draft('drug-hoarding', shops[0]!, `${w.item(key).name} bought at ${n} pharmacies in ${2 * (n - 1) + 1} days, 30 days each`, p)
    const dq = P.draft('over-quantity', shops[0]!, `cumulative supply of ${w.item(key).name}: ${30 * n} days within ${2 * (n - 1) + 1} days (the hoarding also exceeds the supply window)`, p)
    shops.forEach((shop, k) => {
      const id = P.mdtrt()
      const t = at(w, day + 2 * k + (k === n - 1 ? 1 : 0), rng.int(9, 19), rng.int(0, 59))
      P.schedule(t, (er) => {
        const { lines } = pharmacyVisit(P.g, p, shop, t, er, id, P.pharmacyLedger, { items: [{ key, cnt: rng.int(2, 3), prd: 30, fraud: true }] })
        d.label.refs.feedetl_sns.push(...sns(...lines))
        d.label.refs.mdtrt_ids.push(id)
        dq.label.refs.feedetl_sns.push(...sns(...lines))
        dq.label.refs.mdtrt_ids.push(id)
      }, { drafts: [d, dq] })
    })
  },

  'identity-misuse'(P, rng, i) {
    const w = P.world
    if (i % 2 === 0) {
      // The same card at two institutions farther apart than anyone can travel in between.
      const rs = regions(P, () => true)
      let best: [GRegion, GRegion, number] | undefined
      for (const a of rs) for (const b of rs) {
        if (a === b || !a.clinics.length || !b.pharmacies.length) continue
        const km = distanceKm(a.clinics[0]!.row, b.pharmacies[0]!.row)
        if (!best || km > best[2]) best = [a, b, km]
      }
      const day = pickDay(P, rng, 1)
      if (!best || day === undefined || best[2] < 500) return
      const [home, away] = rng.chance(0.5) ? [best[0], best[1]] : [best[1], best[0]]
      const clinic = rng.pick(home.clinics)
      const shop = rng.pick(away.pharmacies.length ? away.pharmacies : away.clinics)
      const p = P.person(rng, { region: home, age: [25, 70] })
      const t1 = at(w, day, rng.int(8, 10), rng.int(0, 59))
      const t2 = t1 + rng.int(90, 180) * MIN
      const id1 = P.mdtrt()
      const id2 = P.mdtrt()
      const d = P.draft('identity-misuse', shop, `card used at ${home.key}xx and ${Math.round(distanceKm(clinic.row, shop.row))} km away ${Math.round((t2 - t1) / MIN)} minutes later`, p)
      d.label.refs.mdtrt_ids.push(id1, id2)
      P.schedule(t1, (er) => {
        outpatientVisit(P.g, p, clinic, t1, otp('dermatitis'), er, id1)
      }, { drafts: [d] })
      P.schedule(t2, (er) => {
        pharmacyVisit(P.g, p, shop, t2, er, id2, P.pharmacyLedger)
      }, { drafts: [d] })
    } else {
      // A dead person's card used at a pharmacy (冒名: 死亡后就医).
      const r = pickRegion(P, rng, (x) => x.pharmacies.length > 0)
      const day = pickDay(P, rng, 1, Math.min(3, P.world.days - 1))
      if (!r || day === undefined) return
      const p = P.person(rng, { region: r, age: [70, 90] })
      p.death_date = cnDate(w.dayMs(day) - rng.int(3, 120) * DAY_MS)
      const shop = rng.pick(r.pharmacies)
      const id = P.mdtrt()
      const d = P.draft('identity-misuse', shop, `card used ${Math.round((w.dayMs(day) - Date.parse(`${p.death_date}T00:00:00+08:00`)) / DAY_MS)} days after the holder's death (${p.death_date})`, p)
      const dp = P.draft('phantom-service', shop, `purchase billed after the person's death (${p.death_date})`, p)
      d.label.refs.mdtrt_ids.push(id)
      dp.label.refs.mdtrt_ids.push(id)
      const t = at(w, day, rng.int(9, 19), rng.int(0, 59))
      P.schedule(t, (er) => {
        pharmacyVisit(P.g, p, shop, t, er, id, P.pharmacyLedger)
      }, { drafts: [d, dp] })
    }
  },

  'dialysis-frequency'(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.general.some((h) => h.level >= 2))
    if (!r || P.world.days < 14) return
    const inst = hospitalIn(rng, r, 2)!
    const p = P.person(rng, { region: r, age: [45, 75] })
    p.chronic = ['N18']
    p.dialysis = true
    // The extra week: a Monday with at least a week of horizon after it.
    const mondays: number[] = []
    for (let dd = 0; dd + 6 < P.world.days; dd++) if (weekday(w, dd) === 1) mondays.push(dd)
    if (!mondays.length) return
    const wk = rng.pick(mondays)
    const d = P.draft('dialysis-frequency', inst, `dialysis on 6 days of the week starting ${cnDate(w.dayMs(wk))} (norm 3)`, p)
    let n = 0
    for (let dd = 0; dd < P.world.days; dd++) {
      const wd = weekday(w, dd)
      const inWeek = dd >= wk && dd < wk + 7
      if (!(wd === 1 || wd === 3 || wd === 5 || (inWeek && wd !== 0))) continue
      const id = P.mdtrt()
      const t = at(w, dd, 7, rng.int(0, 30))
      const k = n++
      P.schedule(t, (er) => {
        const { session } = dialysisSession(P.g, p, inst, t, er, id, k)
        if (inWeek) d.label.refs.feedetl_sns.push(...sns(session))
      }, inWeek ? { drafts: [d] } : {})
    }
  },

  'high-value-consumable'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.lv3.some((h) => x.general.includes(h)))
    const inst = r && hospitalIn(rng, r, 3)
    const los = rng.int(5, 7)
    const day = pickDay(P, rng, los + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [50, 80] })
    const key = i % 2 === 0 ? 'stent' : 'pacemaker'
    const d = P.draft('high-value-consumable', inst, `${w.item(key).name} billed in a medical angina stay with no operation (needs ${w.item(key).oprn_prefixes.join('/')})`, p)
    const id = P.mdtrt()
    injectStay(P, d, p, inst, at(w, day, 10), los, ANGINA, id, 1, (c) => [c.v.add(w.item(key), c.at(10, 40), 1, { fraud: true })])
  },

  'chronic-disease-abuse'(P, rng, i) {
    const w = P.world
    const r = pickRegion(P, rng)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    const [disease, key] = rng.pick([['E11', 'glargine'], ['B18', 'entecavir'], ['J44', 'tiotropium'], ['F20', 'olanzapine']] as const)
    const p = P.person(rng, { region: r, age: [35, 75] })
    const inst = rng.chance(0.5) ? p.clinic ?? r.clinics[0]! : p.hospital ?? r.general[0]!
    const id = P.mdtrt()
    const t = at(w, day, rng.int(8, 11), rng.int(0, 59))
    if (i % 2 === 0) {
      // A 门诊慢特病 visit, with the disease coded on it, for a person never registered for it.
      const d = P.draft('chronic-disease-abuse', inst, `${w.item(key).name} (门诊慢特病 drug) on a 14 visit coded ${disease} for a person with no registered ${disease}`, p)
      P.schedule(t, (er) => {
        chronicVisit(P.g, p, inst, t, er, id, 1, {
          unregistered: [disease],
          extra: (v, tt) => {
            const l = v.add(w.item(key), tt, 1, { fraud: true, sale: true, prd_days: 30 })
            d.label.refs.feedetl_sns.push(...sns(l))
          },
        })
        d.label.refs.mdtrt_ids.push(id)
      }, { drafts: [d] })
    } else {
      // The drug on an ordinary visit with neither the registration nor the diagnosis. Chronic-only drugs are
      // this pattern's alone (out-of-scope leaves them to it), so one label.
      const d = P.draft('chronic-disease-abuse', inst, `${w.item(key).name} (门诊慢特病 drug) for a person with no registered ${disease} and no such diagnosis`, p)
      injectVisit(P, d, p, inst, t, 'urti-adult', id, (v, tt) => [v.add(w.item(key), tt + 40 * MIN, 1, { fraud: true, sale: true, prd_days: 30 })])
    }
  },
}

function p0(r: GRegion): GInst {
  return r.clinics.find((c) => c.level === 1) ?? r.clinics[0]!
}

function weekday(w: World, day: number): number {
  // 0 = Sunday; epoch day 0 (1970-01-01, China time) was a Thursday.
  return (Math.floor((w.dayMs(day) + 8 * HOUR) / DAY_MS) + 4) % 7
}

/** A medical angina stay (no intervention): what a consumable billed without an operation hides in. */
const ANGINA: IptScenario = {
  id: 'angina-medical', principal: 'I20.000', group: 'FT2', los: [5, 7], minLevel: 2, dept: DEPTS.internal, weight: () => 0,
  day(c) {
    if (c.d === 0) {
      c.add('ecg', 1, c.at(8, 45))
      labs(c.v, ['myo', 'lipid', 'cbc'], c.at(8, 30))
    }
    if (c.d === 0 || c.d === 4) {
      c.add('aspirin', 1, c.at(9))
      c.add('atorvastatin', 1, c.at(9))
    }
    if (c.d < 3) c.add('ecg_monitor', 12, c.at(10))
    c.add('enoxaparin', 1, c.at(8, 20))
  },
  discharge(c) {
    rx(c.v, 'clopidogrel', c.at(8), 1, 28)
  },
}

// ------------------------------------------------------------------ audit patterns (provider level)

type AuditInjector = (P: Planner, rng: Rng, i: number, used: Set<string>) => void

const AUDIT: Record<'provider-outlier' | 'case-mix-drift' | 'collusion' | 'inventory-mismatch' | 'capacity-exceeded', AuditInjector> = {
  'provider-outlier'(P, rng, _i, used) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.clinics.filter((c) => c.level === 1).length >= 3)
    const inst = r && lv1ClinicIn(rng, r, (c) => !used.has(c.code))
    if (!r || !inst) return
    used.add(inst.code)
    P.outlierInsts.add(inst.code)
    const d = P.draft('provider-outlier', inst, 'outpatient visits carry several long-supply drugs and a colour Doppler each: cost per visit and drug share far above level-1 peers')
    const n = Math.max(20, Math.round(P.world.days * 1.2))
    for (let k = 0; k < n; k++) {
      const day = anyDay(P, rng)
      const p = P.person(rng, { region: r, age: [30, 80] })
      const id = P.mdtrt()
      const t = at(w, day, ...daytime(rng))
      const s = otp(rng.pick(['urti-adult', 'gastritis', 'lumbago', 'dermatitis']))
      P.schedule(t, (er) => {
        outpatientVisit(P.g, p, inst, t, s, er, id, { build: (v, tt) => inflate(v, tt, er) })
      }, { drafts: [d] })
    }
  },

  'case-mix-drift'(P, rng, _i, used) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.general.some((h) => h.level >= 2))
    const inst = r && r.general.filter((h) => h.level >= 2 && !used.has(h.code)).sort((a, b) => b.level - a.level)[0]
    if (!r || !inst || P.world.days < 20) return
    used.add(inst.code)
    const half = Math.floor(P.world.days / 2)
    P.drift = { inst: inst.code, from: w.dayMs(half) }
    const d = P.draft('case-mix-drift', inst, `from ${cnDate(w.dayMs(half))} most stays carry a supported MCC/CC and group into higher-weight DRGs: the case-mix index rises against the hospital's own first half`)
    const scns = ['pneumonia', 'copd', 'stroke', 'heart-failure'] as const
    for (let k = 0; k < 24; k++) {
      const late = k >= 10
      const s = ipt(rng.pick(scns.filter((x) => inst.level >= ipt(x).minLevel)))
      const los = rng.int(s.los[0], s.los[1]) + (late ? 1 : 0)
      const day = late ? rng.int(half, Math.max(half, P.world.days - los - 1)) : rng.int(0, Math.max(0, half - los - 1))
      if (day + los + 1 > P.world.days) continue
      const p = P.person(rng, { region: r, age: [60, 85] })
      const id = P.mdtrt()
      const start = at(w, day, rng.int(9, 16))
      const secondary = s.id === 'stroke' || s.id === 'heart-failure' ? 'I48.x00' : 'J96.000'
      P.schedule(start, (er) => {
        inpatientStay(P.g, p, inst, start, los, s, er, id, late ? { secondaries: [secondary] } : {})
      }, { drafts: [d] })
    }
  },

  collusion(P, rng, _i, used) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && lv1ClinicIn(rng, r, (c) => !used.has(c.code))
    const day = pickDay(P, rng, 1)
    if (!r || !inst || day === undefined) return
    used.add(inst.code)
    const doctor = w.pickDoctor(rng, inst)
    const n = rng.int(10, 16)
    const d = P.draft('collusion', inst, `${n} persons seen by ${doctor.dr_code} between 21:30 and 23:30 on ${cnDate(w.dayMs(day))}, every one with the same diagnosis and the same four items`)
    for (let k = 0; k < n; k++) {
      const p = P.person(rng, { region: r, age: [35, 75] })
      const id = P.mdtrt()
      d.label.refs.mdtrt_ids.push(id)
      const t = at(w, day, 21, 30) + Math.floor((k * 120) / n) * MIN
      P.schedule(t, (er) => {
        customVisit(P.g, p, inst, t, ['M54.500'], id, er, (v, tt) => {
          consultFees(v, tt)
          v.add(w.item('acupuncture'), tt + 5 * MIN, 1)
          rx(v, 'ginkgo', tt + 6 * MIN, 1, 10)
          rx(v, 'mecobalamin', tt + 6 * MIN, 1, 10)
          rx(v, 'danshen_pills', tt + 6 * MIN, 1, 10)
        }, { doctor })
      }, { drafts: [d] })
    }
  },

  'inventory-mismatch'(P, rng, _i, used) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.pharmacies.length > 0)
    const shop = r && r.pharmacies.find((s) => !used.has(s.code))
    if (!r || !shop) return
    used.add(shop.code)
    const key = rng.pick(['danshen_pills', 'ginkgo', 'calcium_d3', 'liuwei'])
    P.inventory.markSwapped(shop.code, w.item(key).med_list_codg)
    const d = P.draft('inventory-mismatch', shop, `sales of ${w.item(key).name} (${w.item(key).med_list_codg}) booked far beyond purchases and stock: a covered drug billed for something else`)
    const n = Math.max(14, Math.round(P.world.days * 0.6))
    for (let k = 0; k < n; k++) {
      const day = anyDay(P, rng)
      const p = P.person(rng, { region: r, age: [40, 80] })
      const id = P.mdtrt()
      const t = at(w, day, rng.int(9, 20), rng.int(0, 59))
      P.schedule(t, (er) => {
        pharmacyVisit(P.g, p, shop, t, er, id, P.pharmacyLedger, { items: [{ key, cnt: er.int(2, 3), prd: er.pick([15, 20, 30]) }] })
      }, { drafts: [d] })
    }
  },

  'capacity-exceeded'(P, rng, _i, used) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.clinics.some((c) => c.row.therapists > 0))
    const inst = r && (lv1ClinicIn(rng, r, (c) => c.row.therapists > 0 && !used.has(c.code)))
    if (!r || !inst) return
    used.add(inst.code)
    const cap = inst.row.therapists * 480
    const days = rng.sample(Array.from({ length: Math.max(1, P.world.days - 1) }, (_, k) => k), Math.min(2, P.world.days))
    const perVisit = 40 + 40 + 80
    const n = Math.ceil((cap * 1.6) / perVisit)
    const d = P.draft('capacity-exceeded', inst, `${n} rehab visits a day of ${perVisit} therapist minutes each on ${days.map((x) => cnDate(w.dayMs(x))).join(', ')}: ${n * perVisit} minutes against ${inst.row.therapists} therapist(s) × 480`)
    for (const day of days) {
      for (let k = 0; k < n; k++) {
        const p = P.person(rng, { region: r, age: [30, 75] })
        const id = P.mdtrt()
        const t = at(w, day, 8) + Math.floor((k * 9 * 60) / n) * MIN
        P.schedule(t, (er) => {
          customVisit(P.g, p, inst, t, ['M54.500'], id, er, (v, tt) => {
            consultFees(v, tt)
            v.add(w.item('tuina'), tt + 5 * MIN, 2, { fraud: true })
            v.add(w.item('mf_elec'), tt + 45 * MIN, 2, { fraud: true })
            v.add(w.item('pt_exercise'), tt + 90 * MIN, 2, { fraud: true })
          })
        }, { drafts: [d] })
      }
    }
  },
}

/** A visit of an over-prescribing provider: every one carries long-supply drugs and a colour Doppler. */
export function inflate(v: Visit, t: number, rng: Rng): void {
  const w = v.world
  v.add(w.item('cdus'), t + 20 * MIN, 1)
  for (const k of rng.sample(['ginkgo', 'mecobalamin', 'danshen_pills', 'calcium_d3', 'liuwei'], rng.int(3, 4))) rx(v, k, t + 35 * MIN, rng.int(2, 3), 30)
}

// ------------------------------------------------------------------ planning

export const STREAM_PATTERNS = Object.keys(INJECT) as (keyof typeof INJECT)[]
export const AUDIT_PATTERNS = Object.keys(AUDIT) as (keyof typeof AUDIT)[]

/** How many variants a pattern's injector cycles through (by the injection's index). */
const VARIANTS: Partial<Record<PatternId, number>> = {
  'duplicate-charge': 2, 'restricted-item': 3, 'out-of-scope': 3, 'over-quantity': 2, unbundling: 2, 'phantom-service': 6,
  'drg-upcoding': 2, 'identity-misuse': 2, 'high-value-consumable': 2, 'chronic-disease-abuse': 2,
}

/** How many stream injections planFraud makes for a given per-pattern count. */
export function streamInjections(perPattern: number): number {
  return STREAM_PATTERNS.reduce((n, p) => n + Math.max(perPattern, VARIANTS[p] ?? 1), 0)
}

/** Injects `perPattern` findings of every stream pattern (at least one of each variant) and `perAudit` of every audit pattern. */
export function planFraud(P: Planner, perPattern: number, perAudit: number): void {
  for (const pattern of STREAM_PATTERNS) {
    const rng = P.rng(`fraud/${pattern}`)
    const n = Math.max(perPattern, VARIANTS[pattern] ?? 1)
    for (let i = 0; i < n; i++) INJECT[pattern](P, rng, i)
  }
  const used = new Set<string>()
  for (const pattern of AUDIT_PATTERNS) {
    const rng = P.rng(`fraud/${pattern}`)
    for (let i = 0; i < perAudit; i++) AUDIT[pattern](P, rng, i, used)
  }
}

// ------------------------------------------------------------------ near misses

type NearMissPlan = (P: Planner, rng: Rng) => void

const NEAR: NearMissPlan[] = [
  function readmissionAfter16Days(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    const gap = rng.int(16, 20)
    const day = pickDay(P, rng, 4 + gap + 4 + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [55, 85] })
    const id1 = P.mdtrt()
    const id2 = P.mdtrt()
    const nm = P.nearMiss('readmission-after-16-days', 'split-hospitalization', inst, `pneumonia readmitted ${gap} days after discharge (window 15)`, p)
    nm.refs.mdtrt_ids.push(id1, id2)
    P.schedule(at(w, day, 10), (er) => void inpatientStay(P.g, p, inst, at(w, day, 10), 4, ipt('pneumonia'), er, id1))
    P.schedule(at(w, day + 4 + gap, 10), (er) => void inpatientStay(P.g, p, inst, at(w, day + 4 + gap, 10), 4, ipt('pneumonia'), er, id2))
  },
  function plannedChemoCycle(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    const gap = rng.int(8, 12)
    const day = pickDay(P, rng, 4 + gap + 4 + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [45, 75] })
    p.chronic = ['C34']
    p.oncology = 'C34'
    const id1 = P.mdtrt()
    const id2 = P.mdtrt()
    const nm = P.nearMiss('planned-chemo-cycle', 'split-hospitalization', inst, `chemotherapy (Z51.1) cycles ${gap} days apart: planned, not split`, p)
    nm.refs.mdtrt_ids.push(id1, id2)
    for (const [dd, id] of [[day, id1], [day + 3 + gap, id2]] as const) {
      P.schedule(at(w, dd, 9), (er) => void inpatientStay(P.g, p, inst, at(w, dd, 9), 3, CHEMO_SCENARIO, er, id, { secondaries: ['C34.900'] }))
    }
  },
  function plannedDialysisAdmissions(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 14, age: [50, 80] })
    if (!site) return
    const { inst, day, p } = site
    p.chronic = ['N18']
    const id1 = P.mdtrt()
    const id2 = P.mdtrt()
    const nm = P.nearMiss('planned-dialysis-admission', 'split-hospitalization', inst, 'short dialysis (Z49.1) admissions 7 days apart, two sessions each', p)
    nm.refs.mdtrt_ids.push(id1, id2)
    for (const [dd, id] of [[day, id1], [day + 9, id2]] as const) {
      P.schedule(at(w, dd, 8), (er) => void inpatientStay(P.g, p, inst, at(w, dd, 8), 3, DIALYSIS_ADMISSION_SCENARIO, er, id, { secondaries: ['N18.500'] }))
    }
  },
  function sameItemDifferentTimes(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 1, age: [20, 70] })
    if (!site) return
    const { inst, day, p } = site
    const id = P.mdtrt()
    const nm = P.nearMiss('same-item-different-times', 'duplicate-charge', inst, 'two infusions and two glucose tests in one emergency visit, hours apart', p)
    nm.refs.mdtrt_ids.push(id)
    const t = at(w, day, 8, 30)
    P.schedule(t, (er) => {
      const { v } = customVisit(P.g, p, inst, t, ['R10.400'], id, er, (v, tt) => {
        consultFees(v, tt, true)
        labs(v, ['glu'], tt + 10 * MIN)
        for (const off of [30, 330]) {
          v.add(w.item('ns_250'), tt + off * MIN, 1)
          v.add(w.item('iv_drip'), tt + off * MIN, 1)
          v.add(w.item('infusion_set'), tt + off * MIN, 1)
        }
        v.add(w.item('glu'), tt + 320 * MIN, 1)
      }, { med_type: '13', dept: DEPTS.emergency })
      nm.refs.feedetl_sns.push(...v.lines.filter((l) => l.item === w.item('iv_drip') || l.item === w.item('glu')).map((l) => l.sn))
    })
  },
  function rebilledAfterReversal(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 1, age: [20, 70] })
    if (!site) return
    const { inst, day, p } = site
    const id = P.mdtrt()
    const nm = P.nearMiss('rebilled-after-reversal', 'duplicate-charge', inst, 'a line withdrawn (fee.reversed) and billed again for the same service time', p)
    nm.refs.mdtrt_ids.push(id)
    const t = at(w, day, 9)
    P.schedule(t, (er) => {
      const { rebilled } = customVisit(P.g, p, inst, t, ['J20.900'], id, er, (v, tt) => {
        consultFees(v, tt)
        v.add(w.item('dr_chest'), tt + 15 * MIN, 1)
        rx(v, 'ambroxol', tt + 30 * MIN, 1, 5)
      }, { reverseLine: true, rebill: true })
      if (rebilled) nm.refs.feedetl_sns.push(rebilled.reversed, rebilled.rebilled)
    })
  },
  function womanObstetric(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    const inst = r.maternity[0] ?? r.general[0]!
    const p = P.person(rng, { region: r, gend: '2', age: [24, 36] })
    const id = P.mdtrt()
    const nm = P.nearMiss('woman-obstetric-item', 'restricted-item', inst, '产前检查 and 胎心监测 for a pregnant woman', p)
    nm.refs.mdtrt_ids.push(id)
    const t = at(w, day, 9)
    P.schedule(t, (er) => {
      const { v } = customVisit(P.g, p, inst, t, ['Z34.900'], id, er, (v, tt) => prenatalLines(v, tt, er), { med_type: p.insutype === '310' ? '51' : '11', dept: DEPTS.obgyn })
      nm.refs.feedetl_sns.push(...v.lines.filter((l) => l.item.gend === '2').map((l) => l.sn))
    })
  },
  function seventeenYearOld(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const day = pickDay(P, rng, 1)
    if (!r || day === undefined) return
    // 17 at the visit, 18 within days: the boundary of 限儿童 (age_max 17).
    const p = P.person(rng, { region: r, age: [17, 17] })
    const t = at(w, day, 10)
    const bd = new Date(t + 8 * HOUR + 2 * DAY_MS)
    w.setBirthday(p, `${bd.getUTCFullYear() - 18}-${String(bd.getUTCMonth() + 1).padStart(2, '0')}-${String(bd.getUTCDate()).padStart(2, '0')}`, rng)
    const inst = p.clinic ?? r.clinics[0]!
    const nm = P.nearMiss('child-drug-at-17', 'restricted-item', inst, `children's cold granules for a 17-year-old two days before the 18th birthday (${p.brdy})`, p)
    nearMissVisit(P, nm, p, inst, t, ['J06.900'], 'kids_cold', (v, tt) => rx(v, 'kids_cold', tt + 20 * MIN, 1, 3))
  },
  function levelOk(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 1, age: [55, 80] })
    if (!site) return
    const { inst, day, p } = site
    const nm = P.nearMiss('level-restricted-item-at-its-level', 'restricted-item', inst, `头颅磁共振平扫 (level 2+) at a level-${inst.level} hospital`, p)
    nearMissVisit(P, nm, p, inst, at(w, day, 9), ['I69.300'], 'mri_head', (v, tt) => v.add(w.item('mri_head'), tt + 40 * MIN, 1))
  },
  function priceAtCap(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.lv3.length > 0)
    const inst = r && r.lv3.find((h) => r.general.includes(h))
    const day = pickDay(P, rng, 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [20, 70] })
    const nm = P.nearMiss('price-at-level-3-cap', 'over-standard-charge', inst, '全血细胞计数 at the level-3 cap, above the level-1 and level-2 caps', p)
    nearMissVisit(P, nm, p, inst, at(w, day, 9), ['J06.900'], 'cbc', (v, tt) => labs(v, ['cbc'], tt + 10 * MIN))
  },
  function indicationBySecondary(P, rng) {
    const w = P.world
    const site = regionSite(P, rng, { span: 1, age: [55, 80] })
    if (!site) return
    const { r, day, p } = site
    const inst = p.hospital ?? r.general[0]!
    const nm = P.nearMiss('indication-by-secondary-diagnosis', 'out-of-scope', inst, '氯吡格雷 (限 I20–I25 …) for a visit whose principal is I10 and secondary I25.1', p)
    nearMissVisit(P, nm, p, inst, at(w, day, 9), ['I10.x00x002', 'I25.100'], 'clopidogrel', (v, tt) => rx(v, 'clopidogrel', tt + 20 * MIN, 1, 28))
  },
  function supplyAtMax(P, rng) {
    const w = P.world
    const site = regionSite(P, rng, { span: 1, age: [45, 80] })
    if (!site) return
    const { r, day, p } = site
    const inst = p.clinic ?? r.clinics[0]!
    const nm = P.nearMiss('supply-at-the-limit', 'over-quantity', inst, '苯磺酸氨氯地平片 for exactly 30 days (limit 30)', p)
    nearMissVisit(P, nm, p, inst, at(w, day, 9), ['I10.x00x002'], 'amlodipine', (v, tt) => rx(v, 'amlodipine', tt + 20 * MIN, 2, 30))
  },
  function refillAfter32Days(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.pharmacies.length >= 2)
    const gap = rng.int(32, 34)
    const day = pickDay(P, rng, gap + 1)
    if (!r || day === undefined) return
    const p = P.person(rng, { region: r, age: [50, 80] })
    const [a, b] = rng.sample(r.pharmacies, 2)
    const nm = P.nearMiss('refill-at-another-pharmacy', 'drug-hoarding', a!, `复方丹参滴丸 for 30 days, bought again ${gap} days later at another pharmacy`, p)
    for (const [dd, shop] of [[day, a!], [day + gap, b!]] as const) {
      const id = P.mdtrt()
      nm.refs.mdtrt_ids.push(id)
      const t = at(w, dd, 10)
      P.schedule(t, (er) => {
        const { lines } = pharmacyVisit(P.g, p, shop, t, er, id, P.pharmacyLedger, { items: [{ key: 'danshen_pills', cnt: 3, prd: 30 }] })
        nm.refs.feedetl_sns.push(...sns(...lines))
      })
    }
  },
  function componentAlone(P, rng) {
    const w = P.world
    const site = regionSite(P, rng, { span: 1, age: [30, 80] })
    if (!site) return
    const { r, day, p } = site
    const inst = p.hospital ?? r.general[0]!
    const nm = P.nearMiss('component-alone', 'unbundling', inst, '血红蛋白测定 alone (anaemia follow-up), no 血常规 on the visit', p)
    nearMissVisit(P, nm, p, inst, at(w, day, 9), ['D64.900'], 'hgb', (v, tt) => labs(v, ['hgb'], tt + 10 * MIN))
  },
  function diedInHospital(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    const los = rng.int(3, 5)
    const day = pickDay(P, rng, los + 1)
    if (!r || !inst || day === undefined) return
    const p = P.person(rng, { region: r, age: [78, 92] })
    p.death_date = cnDate(w.dayMs(day + los))
    const id = P.mdtrt()
    const nm = P.nearMiss('died-in-hospital', 'identity-misuse', inst, `heart-failure stay ending in death on ${p.death_date}: lines up to the death only, settled the same day`, p)
    nm.refs.mdtrt_ids.push(id)
    P.schedule(at(w, day, 11), (er) => void inpatientStay(P.g, p, inst, at(w, day, 11), los, ipt('heart-failure'), er, id, { dscg_way: '5', dischargeAt: 14, skipDischargeMeds: true }))
  },
  function supportedMcc(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 10, age: [60, 85] })
    if (!site) return
    const { inst, day, p } = site
    const id = P.mdtrt()
    const nm = P.nearMiss('supported-mcc', 'drg-upcoding', inst, 'pneumonia with 急性呼吸衰竭 supported by oxygen and blood gas, a normal stay → ES31', p)
    nm.refs.mdtrt_ids.push(id)
    P.schedule(at(w, day, 10), (er) => void inpatientStay(P.g, p, inst, at(w, day, 10), 9, ipt('pneumonia'), er, id, { secondaries: ['J96.000'] }))
  },
  function shortStayTransfer(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 3, age: [60, 85] })
    if (!site) return
    const { inst, day, p } = site
    const id = P.mdtrt()
    const nm = P.nearMiss('short-stay-transfer', 'drg-upcoding', inst, 'supported MCC, transferred (离院方式 2) after 2 days: a short high-weight stay with a reason', p)
    nm.refs.mdtrt_ids.push(id)
    P.schedule(at(w, day, 10), (er) => void inpatientStay(P.g, p, inst, at(w, day, 10), 2, ipt('pneumonia'), er, id, { secondaries: ['J96.000'], dscg_way: '2' }))
  },
  function chiefBillsLowerFee(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng, (x) => x.lv3.length > 0)
    const inst = r && r.lv3.find((h) => r.general.includes(h))
    const day = pickDay(P, rng, 1)
    if (!r || !inst || day === undefined) return
    const doctor = doctorTitled(w, rng, inst, ['chief'])
    const p = P.person(rng, { region: r, age: [20, 70] })
    const id = P.mdtrt()
    const nm = P.nearMiss('chief-bills-associate-fee', 'service-level-upcoding', inst, '副主任医师诊查费 billed by a chief (主任医师): the title is above the requirement', p)
    nm.refs.mdtrt_ids.push(id)
    const t = at(w, day, 9)
    P.schedule(t, (er) => {
      const { v } = customVisit(P.g, p, inst, t, ['K29.700'], id, er, (v, tt) => {
        v.add(w.item('reg'), tt, 1)
        v.add(w.item('consult_assoc'), tt + MIN, 1)
        rx(v, 'omeprazole', tt + 20 * MIN, 1, 14)
      }, { doctor })
      nm.refs.feedetl_sns.push(...v.lines.filter((l) => l.item === w.item('consult_assoc')).map((l) => l.sn))
    })
  },
  function stentWithPci(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 3, span: 7, age: [50, 80], region: (x) => x.lv3.some((h) => x.general.includes(h)) })
    if (!site) return
    const { inst, day, p } = site
    const id = P.mdtrt()
    const nm = P.nearMiss('stent-with-pci', 'high-value-consumable', inst, 'drug-eluting stent billed with its PCI (36.06)', p)
    nm.refs.mdtrt_ids.push(id)
    P.schedule(at(w, day, 10), (er) => {
      const res = inpatientStay(P.g, p, inst, at(w, day, 10), 6, ipt('pci'), er, id)
      nm.refs.feedetl_sns.push(...res.visit.lines.filter((l) => l.item.high_value).map((l) => l.sn))
    })
  },
  function travelDaysApart(P, rng) {
    const w = P.world
    const rs = regions(P, (x) => x.pharmacies.length > 0)
    const day = pickDay(P, rng, 5)
    if (rs.length < 2 || day === undefined) return
    const [home, away] = rng.sample(rs, 2) as [GRegion, GRegion]
    const p = P.person(rng, { region: home, age: [30, 70] })
    const clinic = p.clinic ?? home.clinics[0]!
    const shop = rng.pick(away.pharmacies)
    const id1 = P.mdtrt()
    const id2 = P.mdtrt()
    const gap = rng.int(3, 4)
    const nm = P.nearMiss('travel-days-apart', 'identity-misuse', shop, `a visit at home, then a pharmacy ${Math.round(distanceKm(clinic.row, shop.row))} km away ${gap} days later`, p)
    nm.refs.mdtrt_ids.push(id1, id2)
    const t1 = at(w, day, 9)
    const t2 = at(w, day + gap, 15)
    P.schedule(t1, (er) => void outpatientVisit(P.g, p, clinic, t1, otp('dermatitis'), er, id1))
    P.schedule(t2, (er) => void pharmacyVisit(P.g, p, shop, t2, er, id2, P.pharmacyLedger))
  },
  function rescheduledDialysis(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    if (!r || !inst || P.world.days < 14) return
    const p = P.person(rng, { region: r, age: [45, 75] })
    p.chronic = ['N18']
    p.dialysis = true
    const nm = P.nearMiss('dialysis-three-a-week', 'dialysis-frequency', inst, 'three sessions a week, one week shifted to Wed/Fri/Sun: never more than 3 in 7 days', p)
    const nm2 = P.nearMiss('dialysis-patient-visits', 'frequent-visits', inst, 'a dialysis patient: 12–13 visits a month by prescription', p)
    let n = 0
    let lastDay = -10
    const recent: number[] = []
    for (let dd = 0; dd < P.world.days; dd++) {
      const wd = weekday(w, dd)
      const shifted = dd >= 7 && dd < 14
      const on = shifted ? wd === 3 || wd === 5 || wd === 0 : wd === 1 || wd === 3 || wd === 5
      if (!on || dd - lastDay < 2) continue
      while (recent.length && recent[0]! <= dd - 7) recent.shift()
      if (recent.length >= 3) continue
      recent.push(dd)
      lastDay = dd
      const id = P.mdtrt()
      nm.refs.mdtrt_ids.push(id)
      nm2.refs.mdtrt_ids.push(id)
      const k = n++
      const t = at(w, dd, 12, 30)
      P.schedule(t, (er) => void dialysisSession(P.g, p, inst, t, er, id, k))
    }
  },
  function registeredChronic(P, rng) {
    const w = P.world
    const site = regionSite(P, rng, { span: 1, age: [45, 75] })
    if (!site) return
    const { r, day, p } = site
    p.chronic = ['E11']
    p.idx = p.idx - (p.idx % 3) // a regimen with insulin glargine
    const inst = p.hospital ?? r.general[0]!
    const id = P.mdtrt()
    const nm = P.nearMiss('registered-chronic-drug', 'chronic-disease-abuse', inst, '甘精胰岛素 for a person registered for 门诊慢特病 E11', p)
    nm.refs.mdtrt_ids.push(id)
    const t = at(w, day, 9)
    P.schedule(t, (er) => {
      const v = chronicVisit(P.g, p, inst, t, er, id, 1)
      nm.refs.feedetl_sns.push(...v.lines.filter((l) => l.item.chronic_only).map((l) => l.sn))
    })
  },
  // Issue 9: shapes that look like fraud until a later fact arrives (a reversal, the discharge).
  function reversedDuplicate(P, rng) {
    const w = P.world
    const site = hospitalSite(P, rng, { level: 2, span: 1, age: [20, 70] })
    if (!site) return
    const { inst, day, p } = site
    const id = P.mdtrt()
    const nm = P.nearMiss('reversed-duplicate', 'duplicate-charge', inst, '胸部X线摄影 billed twice for the same time by mistake; the second line withdrawn (fee.reversed) minutes after its upload', p)
    nm.refs.mdtrt_ids.push(id)
    const t = at(w, day, ...daytime(rng))
    P.schedule(t, (er) => {
      let pair: LineRec[] = []
      customVisit(P.g, p, inst, t, ['J20.900'], id, er, (v, tt) => {
        consultFees(v, tt)
        const l = v.add(w.item('dr_chest'), tt + 15 * MIN, 1)
        const dup = l && v.add(w.item('dr_chest'), l.t, 1, { fraud: true, exactTime: true, sale: false })
        pair = [l, dup].filter((x): x is LineRec => x !== undefined)
        rx(v, 'ambroxol', tt + 30 * MIN, 1, 5)
      }, { reverse: () => pair.slice(1) })
      nm.refs.feedetl_sns.push(...sns(...pair))
    })
  },
  function preBilledBedDays(P, rng) {
    const w = P.world
    const r = pickRegion(P, rng)
    const inst = r && hospitalIn(rng, r, 2)
    const los = rng.int(5, 8)
    const day = pickDay(P, rng, los + 1)
    if (!r || !inst || day === undefined) return
    const beds = (v: Visit, fromDay = 0): string[] => v.lines.filter((l) => l.item.med_chrgitm_type === '01' && dayStartOf(l.t) >= dayStartOf(v.begntime) + fromDay * DAY_MS).map((l) => l.sn)
    // The stay covers the days billed at admission: legitimate once the discharge is known.
    const p = P.person(rng, { region: r, age: [55, 85] })
    const id = P.mdtrt()
    const nm = P.nearMiss('pre-billed-bed-days', 'phantom-service', inst, `${los} bed days billed and uploaded at admission for the planned stay; discharged after ${los} days, which cover them`, p)
    nm.refs.mdtrt_ids.push(id)
    const start = at(w, day, rng.int(9, 15))
    P.schedule(start, (er) => {
      const res = inpatientStay(P.g, p, inst, start, los, ipt('pneumonia'), er, id, { preBilledBedDays: los })
      nm.refs.feedetl_sns.push(...beds(res.visit))
    })
    // The variant the discharge does not cover is phantom bed days, labelled as such: the days after it.
    const stayed = rng.int(2, los - 2)
    const p2 = P.person(rng, { region: r, age: [55, 85] })
    const id2 = P.mdtrt()
    const d = P.draft('phantom-service', inst, `${los} bed days billed at admission for the planned stay, discharged after ${stayed}: ${los - stayed} bed days the stay never had`, p2)
    const start2 = at(w, day, rng.int(9, 15))
    P.schedule(start2, (er) => {
      const res = inpatientStay(P.g, p2, inst, start2, stayed, ipt('pneumonia'), er, id2, { preBilledBedDays: los })
      d.label.refs.feedetl_sns.push(...beds(res.visit, stayed))
      d.label.refs.mdtrt_ids.push(id2)
    }, { drafts: [d] })
  },
]

/**
 * A real audit finding that persists from one nightly window to the next: a
 * pharmacy selling a drug it never bought (inventory-mismatch), in the middle
 * third of the horizon, so that two consecutive nightly windows (30 days
 * ending yesterday, then today) both see the same short stock-count periods.
 * Labelled, and a near miss that expects exactly one alert: a second alert on
 * the same shortfall the next night is a false one. inventory-mismatch because
 * its finding is the most plainly the same fact night after night: a
 * stock-count period that ran short stays short until it leaves the window.
 */
export function planPersistingAuditFindings(P: Planner, n: number): void {
  const w = P.world
  const rng = P.rng('near/persisting-audit-finding')
  if (w.days < 9) return
  for (let i = 0; i < n; i++) {
    const taken = new Set([...P.inventory.swapped].map((k) => k.split('|')[0]))
    const r = pickRegion(P, rng, (x) => x.pharmacies.some((s) => !taken.has(s.code)))
    const shop = r && r.pharmacies.find((s) => !taken.has(s.code))
    if (!r || !shop) return
    const key = rng.pick(['danshen_pills', 'ginkgo', 'calcium_d3', 'liuwei'])
    const item = w.item(key)
    P.inventory.markSwapped(shop.code, item.med_list_codg)
    const d = P.draft('inventory-mismatch', shop, `sales of ${item.name} (${item.med_list_codg}) booked far beyond purchases and stock in the middle of the period: a covered drug billed for something else`)
    const nm = P.nearMiss('persisting-audit-finding', 'inventory-mismatch', shop, `the same shortfall of ${item.name} in two consecutive nightly audit windows: one alert, not one a night`)
    nm.expected_alerts = 1
    const first = Math.floor(w.days / 3)
    const last = Math.floor((2 * w.days) / 3)
    for (let k = 0; k < 10; k++) {
      const day = rng.int(first, last)
      const p = P.person(rng, { region: r, age: [40, 80] })
      const id = P.mdtrt()
      nm.refs.mdtrt_ids.push(id)
      const t = at(w, day, rng.int(9, 20), rng.int(0, 59))
      P.schedule(t, (er) => {
        pharmacyVisit(P.g, p, shop, t, er, id, P.pharmacyLedger, { items: [{ key, cnt: er.int(2, 3), prd: er.pick([15, 20, 30]) }] })
      }, { drafts: [d] })
    }
  }
}

/** How many near-miss plans planNearMisses makes for a given count per kind. */
export function nearMissPlans(per: number): number {
  return NEAR.length * per
}

/** Near misses, `per` of each kind. */
export function planNearMisses(P: Planner, per: number): void {
  NEAR.forEach((plan, k) => {
    const rng = P.rng(`near/${k}`)
    for (let i = 0; i < per; i++) plan(P, rng)
  })
}

/** The lines of an antenatal check. */
export function prenatalLines(v: Visit, t: number, rng: Rng): void {
  const w = v.world
  consultFees(v, t)
  v.add(w.item('prenatal'), t + 10 * MIN, 1)
  if (rng.chance(0.6)) v.add(w.item('fetal_hr'), t + 20 * MIN, 1)
  if (rng.chance(0.3)) v.add(w.item('ob_us'), t + 35 * MIN, 1)
  if (rng.chance(0.4)) labs(v, ['cbc', 'urine'], t + 15 * MIN)
}
