import { createWriteStream } from 'node:fs'
import { SOURCE_FORMATS, type SourceFormat } from '../pipeline/types.ts'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AnyEvent, EventType, Person } from '../../schemas/index.ts'
import type { PatternId } from '../detect/patterns.ts'
import { FundwatchError } from '../errors.ts'
import type { KbData } from '../kb/knowledge-base.ts'
import { writeKnowledgeBase } from '../kb/loader.ts'
import { DAY_MS, cnDate } from '../util/time.ts'
import { AUDIT_PATTERNS, STREAM_PATTERNS, inflate, nearMissPlans, planFraud, planNearMisses, planPersistingAuditFindings, prenatalLines, streamInjections, type Draft, type Planner } from './fraud.ts'
import { Inventory } from './inventory.ts'
import { NationalWriter } from './national.ts'
import { emptyRefs, type Label, type NearMiss } from './labels.ts'
import { Rng } from './random.ts'
import {
  CHEMO_SCENARIO, HOUR, IPT, MIN, chronicVisit, dx, corrections, dialysisSession, inpatientStay, iptInstitution, otpInstitution, outpatientVisit,
  pharmacyVisit, pickInpatient, pickOutpatient, type IptScenario, type PharmacyLedger,
} from './scenarios.ts'
import { emitVisit, Visit, type GenCtx, type Pending } from './visit.ts'
import { World, type GInst, type GPerson, type MsgIds } from './world.ts'
import { DEPTS } from '../kb/sample.ts'

export type { Label, NearMiss } from './labels.ts'

/**
 * The claim generator: a seeded, deterministic stream of claim and inventory
 * events per CONTRACT.md, in event-time order, from a population of made-up
 * persons visiting the institutions of a knowledge base — with labelled fraud
 * of every pattern injected and near misses that must not be flagged.
 *
 * Everything happens inside [startTime, startTime + days): stays that would
 * not end in time are not started, so a live demo never produces future events.
 */
export interface GeneratorOptions {
  seed: number
  /** Background population (default 1000). Ignored when targetFeeLines is set: the population is sized to it. */
  persons?: number
  /** Days of history (default 30). Every pattern is injected when days ≥ 28. */
  days?: number
  /** Epoch ms; the stream starts at China midnight of that day (default 2026-01-05, a Monday). */
  startTime?: number
  /** Share of background visits that get an injected finding, split evenly over the stream patterns (default 0.02); every pattern at least once. */
  fraudRate?: number
  kb: KbData
  /** Size the population for about this many fee lines; background visits stop once it is reached. */
  targetFeeLines?: number
  /** The event-id allocator to share with other generators writing the same hours into one store (the demo's rounds); default: this generator's own. */
  msgIds?: MsgIds
}

export interface Generated {
  event: AnyEvent
  topic: 'claims' | 'inventory'
}

export interface GeneratorStats {
  events: number
  feeLines: number
  byType: Record<string, number>
  persons: number
  /** Lines the clean-data rules refused while building background visits (kept for tuning; not an error). */
  refusedLines: number
}

export interface Generator extends Iterable<Generated> {
  /** One per injected finding; complete once the stream has been consumed. */
  readonly labels: Label[]
  readonly nearMisses: NearMiss[]
  /** Registry rows (知识库 persons) of every generated person: gender, birth date, 门诊慢特病 registrations, death dates. */
  readonly persons: Person[]
  /** The input knowledge base with `persons` added: what detectors need to see this stream as it was meant. */
  readonly kb: KbData
  readonly stats: GeneratorStats
  /** The events alone, in order (a source for the pipeline). */
  events(): Iterable<AnyEvent>
}

const DEFAULT_START = Date.parse('2026-01-05T00:00:00+08:00')

// ------------------------------------------------------------------ queue

/** Binary min-heap on (t, seq): events leave in time order, ties in creation order. */
class Queue {
  private readonly a: Pending[] = []
  get size(): number {
    return this.a.length
  }
  peek(): Pending | undefined {
    return this.a[0]
  }
  push(x: Pending): void {
    const a = this.a
    a.push(x)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(x, a[p]!)) break
      a[i] = a[p]!
      i = p
    }
    a[i] = x
  }
  pop(): Pending | undefined {
    const a = this.a
    const top = a[0]
    const last = a.pop()
    if (a.length && last) {
      let i = 0
      const n = a.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && less(a[r]!, a[l]!) ? r : l
        if (!less(a[c]!, last)) break
        a[i] = a[c]!
        i = c
      }
      a[i] = last
    }
    return top
  }
}
function less(x: Pending, y: Pending): boolean {
  return x.t < y.t || (x.t === y.t && x.seq < y.seq)
}

// ------------------------------------------------------------------ driver

type EpisodeKind = 'background' | 'stream' | 'audit' | 'near'
interface Episode {
  start: number
  seq: number
  run: (rng: Rng) => void
  background: boolean
  kind: EpisodeKind
  drafts?: Draft[]
}

/** How long before the end of the horizon an episode must start, so all its events fall inside it. */
const LAST_START_MARGIN = 6 * HOUR

class Driver implements GenCtx, Planner {
  readonly world: World
  readonly g: GenCtx = this
  readonly queue = new Queue()
  readonly therapy = new Map<string, number>()
  readonly stats = { refusedLines: 0, feeLines: 0 }
  readonly supplyCap = 40
  readonly inventory: Inventory
  readonly pharmacyLedger: PharmacyLedger = new Map()
  readonly outlierInsts = new Set<string>()
  drift?: { inst: string; from: number }
  readonly episodes: Episode[] = []
  readonly drafts: Draft[] = []
  readonly nearMisses: NearMiss[] = []
  readonly people: GPerson[] = []
  private seq = 0
  private epSeq = 0
  private floor = -Infinity
  /** Visits that exist: a near miss naming another one (its episode fell past the horizon) is dropped. */
  private readonly opened = new Set<string>()
  /** Fee lines by the kind of episode that billed them (sizes populations for targetFeeLines). */
  readonly linesByKind: Record<EpisodeKind, number> = { background: 0, stream: 0, audit: 0, near: 0 }
  backgroundEpisodes = 0

  constructor(readonly opts: Required<Omit<GeneratorOptions, 'targetFeeLines' | 'msgIds'>> & { targetFeeLines?: number; msgIds?: MsgIds }) {
    this.world = new World(opts.kb, opts.seed, opts.startTime, opts.days, opts.msgIds)
    this.inventory = new Inventory(this.world, Rng.derive(opts.seed, 'inventory'))
  }

  push(p: Omit<Pending, 'seq'>): void {
    // Everything before `floor` has left the queue: an event there would break the time order.
    if (p.t < this.floor) throw new Error(`generator bug: ${p.event?.event_type ?? 'tick'} at ${new Date(p.t).toISOString()} queued after ${new Date(this.floor).toISOString()} was emitted`)
    ;(p as Pending).seq = this.seq++
    this.queue.push(p as Pending)
    if (p.event?.event_type === 'visit.opened') this.opened.add(p.event.payload.mdtrt_id)
  }
  rng(label: string): Rng {
    return Rng.derive(this.opts.seed, label)
  }
  person(rng: Rng, o?: Parameters<World['makePerson']>[1]): GPerson {
    const p = this.world.makePerson(rng, o)
    p.dedicated = true
    this.people.push(p)
    return p
  }
  mdtrt(): string {
    return this.world.nextMdtrtId()
  }
  schedule(start: number, run: (rng: Rng) => void, o: { drafts?: Draft[]; background?: boolean } = {}): void {
    if (start > this.world.endMs - LAST_START_MARGIN) {
      for (const d of o.drafts ?? []) d.broken = true
      return
    }
    const kind: EpisodeKind = o.background ? 'background' : !o.drafts?.length ? 'near' : o.drafts.some((d) => isAudit(d.label.pattern)) ? 'audit' : 'stream'
    const ep: Episode = { start, seq: this.epSeq++, run, background: o.background ?? false, kind }
    if (o.drafts?.length) {
      ep.drafts = o.drafts
      for (const d of o.drafts) {
        d.pending++
        d.scheduled++
      }
    }
    if (ep.background) this.backgroundEpisodes++
    this.episodes.push(ep)
  }
  draft(pattern: PatternId, inst: GInst, note: string, person?: GPerson): Draft {
    const label: Label = { pattern, fixmedins_code: inst.code, refs: emptyRefs(), note }
    if (person) label.psn_no = person.psn_no
    const d: Draft = { label, pending: 0, scheduled: 0 }
    this.drafts.push(d)
    return d
  }
  nearMiss(kind: string, pattern: PatternId, inst: GInst, note: string, person?: GPerson): NearMiss {
    const nm: NearMiss = { kind, pattern, fixmedins_code: inst.code, refs: emptyRefs(), note }
    if (person) nm.psn_no = person.psn_no
    this.nearMisses.push(nm)
    return nm
  }

  // -------------------------------------------------------------- background

  plan(persons: number): void {
    const w = this.world
    for (let i = 0; i < persons; i++) {
      const rng = this.rng(`person/${i}`)
      const p = w.makePerson(rng)
      registerChronic(p, w.age(p, w.startMs), rng)
      this.people.push(p)
      this.planPerson(p, rng)
    }
    const perPattern = perPatternFor(this.opts.fraudRate, this.backgroundEpisodes)
    const perAudit = Math.max(1, Math.round(this.opts.fraudRate * w.insts.length / 2))
    if (this.opts.fraudRate > 0) {
      planFraud(this, perPattern, perAudit)
      planNearMisses(this, nearPerKind(perPattern))
      planPersistingAuditFindings(this, perAudit)
    }
    // Planning state is done with: what the stream needs is in the episodes.
    for (const p of this.people) p.busy.clear()
    this.episodes.sort((a, b) => a.start - b.start || a.seq - b.seq)
    for (let d = 0; d < w.days; d++) {
      const t = w.dayMs(d) + 7.5 * HOUR
      this.push({ t, topic: 'inventory', event: undefined as never, tick: weekdayOf(t) === 1 ? 'weekly' : 'daily' })
    }
  }

  private planPerson(p: GPerson, rng: Rng): void {
    const w = this.world
    const D = w.days
    const age = w.age(p, w.startMs)
    const free = (d: number): boolean => d >= 0 && d < D && !p.busy.has(d) && !inStay(p, d, 1) && (p.deathDay === undefined || d < p.deathDay)

    if (p.dialysis) {
      const inst = p.hospital && p.hospital.level >= 2 ? p.hospital : p.region.general.find((h) => h.level >= 2)
      if (inst) {
        const tue = p.idx % 2 === 1
        let n = rng.int(0, 11)
        for (let d = 0; d < D; d++) {
          const wd = weekdayOf(w.dayMs(d))
          if (!(tue ? wd === 2 || wd === 4 || wd === 6 : wd === 1 || wd === 3 || wd === 5)) continue
          p.busy.add(d)
          const id = this.mdtrt()
          // A patient keeps one shift: the same start time every session.
          const t = w.dayMs(d) + (p.idx % 3 === 0 ? 12.5 : 7) * HOUR + (p.idx % 4) * 10 * MIN
          const k = n++
          this.schedule(t, (er) => void dialysisSession(this, p, inst, t, er, id, k), { background: true })
        }
      }
    }
    if (p.oncology) {
      const inst = p.region.general.filter((h) => h.level >= 2).sort((a, b) => b.level - a.level)[p.idx % 2] ?? p.region.general[0]!
      let d = rng.int(0, 14)
      while (d + 5 < D) {
        const los = rng.int(3, 4)
        const id = this.mdtrt()
        const start = w.dayMs(d) + rng.int(8, 10) * HOUR
        const sec = p.oncology === 'C50' ? 'C50.900' : 'C34.900'
        this.schedule(start, (er) => void inpatientStay(this, p, inst, start, los, CHEMO_SCENARIO, er, id, { secondaries: [sec] }), { background: true })
        for (let k = d; k <= d + los; k++) p.busy.add(k)
        p.stays.push([d, d + los])
        d += rng.int(21, 28)
      }
    }
    // Inpatient stays, at most one per 30 days and never two within the readmission window.
    if (!p.dialysis && !p.oncology) {
      const mean = age <= 13 ? 2500 : age < 40 ? 4000 : age < 60 ? 2500 : age < 80 ? 900 : 500
      let d = rng.exp(mean)
      while (d < D) {
        const day = Math.floor(d)
        const s = pickInpatient(rng, p, age)
        if (!s) break
        const los = rng.int(s.los[0], s.los[1])
        if (day + los + 1 > D - 1) break
        const inst = iptInstitution(rng, p, s)
        if (inst && free(day)) {
          const fatal = age >= 80 && (s.id === 'heart-failure' || s.id === 'pneumonia' || s.id === 'stroke') && rng.chance(0.05)
          this.scheduleStay(p, inst, s, day, los, rng, fatal)
          if (fatal) break
        }
        d = day + los + 30 + rng.exp(mean)
      }
    }
    // Pregnancy: antenatal checks every 2–4 weeks, sometimes the delivery.
    if (p.gend === '2' && age >= 22 && age <= 38 && rng.chance(0.07)) {
      const deliveryDay = rng.chance(0.3) ? rng.int(5, D - 8) : undefined
      let d = rng.int(0, 14)
      while (d < (deliveryDay ?? D) - 1) {
        if (free(d)) {
          p.busy.add(d)
          const id = this.mdtrt()
          const inst = p.region.maternity[0] ?? p.hospital ?? p.region.general[0]!
          const t = w.dayMs(d) + rng.int(8, 10) * HOUR + rng.int(0, 59) * MIN
          this.schedule(t, (er) => void this.prenatalVisit(p, inst, t, er, id), { background: true })
        }
        d += rng.int(14, 28)
      }
      if (deliveryDay !== undefined && deliveryDay >= 0) {
        const s = rng.chance(0.35) ? IPT_CAESAREAN() : IPT_DELIVERY()
        const los = rng.int(s.los[0], s.los[1])
        const inst = iptInstitution(rng, p, s)
        if (inst && deliveryDay + los + 1 <= D - 1 && free(deliveryDay)) this.scheduleStay(p, inst, s, deliveryDay, los, rng, false)
      }
    }
    // 门诊慢特病: a visit every 31–35 days, so one prescription's supply never overlaps the next.
    const diseases = p.chronic.filter((c) => c !== 'N18' && !c.startsWith('C'))
    if (diseases.length && !p.dialysis) {
      let d = rng.int(0, 30)
      let k = rng.int(0, 5)
      const inst = diseases.includes('B18') || rng.chance(0.4) ? p.hospital ?? p.region.general[0]! : p.clinic ?? p.region.clinics[0]!
      while (d < D) {
        let day = d
        while (day < D && !free(day)) day++
        if (day >= D) break
        p.busy.add(day)
        const id = this.mdtrt()
        const t = w.dayMs(day) + rng.int(8, 10) * HOUR + rng.int(0, 59) * MIN
        const visitNo = k++
        this.schedule(t, (er) => void chronicVisit(this, p, inst, t, er, id, visitNo), { background: true })
        d = day + rng.int(31, 35)
      }
    }
    // Outpatient and emergency visits.
    const otpMean = age <= 13 ? 25 : age < 40 ? 60 : age < 60 ? 45 : 30
    for (let d = rng.exp(otpMean); d < D; d += rng.exp(otpMean)) {
      const day = Math.floor(d)
      if (!free(day)) continue
      const emergency = rng.chance(0.1)
      const s = pickOutpatient(rng, p, age, emergency)
      const inst = otpInstitution(rng, p, s)
      const [hh, mm] = emergency ? [rng.weighted([[rng.int(0, 7), 1], [rng.int(8, 17), 3], [rng.int(18, 23), 2]] as const), rng.int(0, 59)] : rng.chance(0.6) ? [rng.int(8, 11), rng.int(0, 59)] : [rng.int(14, 16), rng.int(0, 59)]
      p.busy.add(day)
      const id = this.mdtrt()
      const t = w.dayMs(day) + hh * HOUR + mm * MIN
      const c = corrections(rng)
      this.schedule(t, (er) => {
        const inflateHere = this.outlierInsts.has(inst.code)
        outpatientVisit(this, p, inst, t, s, er, id, { corrections: c, ...(inflateHere ? { build: (v, tt) => inflate(v, tt, er) } : {}) })
      }, { background: true })
    }
    // Pharmacy purchases (定点药店购药), mostly at one's usual pharmacy.
    const own = p.region.pharmacies[p.idx % p.region.pharmacies.length]!
    for (let d = rng.exp(70); d < D; d += rng.exp(70)) {
      const day = Math.floor(d)
      if (!free(day)) continue
      p.busy.add(day)
      const shop = rng.chance(0.8) ? own : rng.pick(p.region.pharmacies)
      const id = this.mdtrt()
      const t = w.dayMs(day) + rng.int(8, 20) * HOUR + rng.int(0, 59) * MIN
      const c = corrections(rng)
      this.schedule(t, (er) => void pharmacyVisit(this, p, shop, t, er, id, this.pharmacyLedger, { corrections: c }), { background: true })
    }
  }

  private scheduleStay(p: GPerson, inst: GInst, s: IptScenario, day: number, los: number, rng: Rng, fatal: boolean): void {
    const w = this.world
    // Most admissions in working hours; an emergency share at night.
    const hh = rng.chance(0.75) ? rng.int(8, 16) : rng.pick([18, 19, 20, 21, 22, 23])
    const start = w.dayMs(day) + hh * HOUR + rng.int(0, 59) * MIN
    for (let k = day; k <= day + los; k++) p.busy.add(k)
    p.stays.push([day, day + los])
    if (fatal) {
      p.deathDay = day + los
      p.death_date = cnDate(w.dayMs(day + los))
    }
    const secondaries = (s.secondaries ?? []).filter(([, pr]) => rng.chance(pr)).map(([c]) => c)
    const id = this.mdtrt()
    this.schedule(start, (er) => {
      let sec = secondaries
      // Case-mix drift: after the drift starts, this hospital codes a supported complication on most stays.
      if (this.drift && inst.code === this.drift.inst && start >= this.drift.from && sec.length === 0 && er.chance(0.8)) {
        sec = [s.id === 'stroke' || s.id === 'heart-failure' ? 'I48.x00' : 'J96.000']
      }
      inpatientStay(this, p, inst, start, los, s, er, id, { secondaries: sec, ...(fatal ? { dscg_way: '5', skipDischargeMeds: true, dischargeAt: 15 } : {}) })
    }, { background: true })
  }

  private prenatalVisit(p: GPerson, inst: GInst, t: number, rng: Rng, id: string): void {
    const w = this.world
    const doctor = w.pickDoctor(rng, inst, DEPTS.obgyn)
    const v = new Visit(this, p, inst, p.insutype === '310' ? '51' : '11', t, doctor.dept_codg ?? DEPTS.obgyn, doctor, [dx(w, 'Z34.900', true)], id)
    prenatalLines(v, t + 2 * MIN, rng)
    const last = v.lines.reduce((m, l) => Math.max(m, l.t), t)
    emitVisit(v, { endtime: last + rng.int(20, 40) * MIN, uploads: 'visit', rng })
  }

  // -------------------------------------------------------------- the stream

  /** The stream; on the way it counts into `stats`, and at the end it appends the complete labels. */
  *generate(stats: GeneratorStats, labels: Label[]): IterableIterator<Generated> {
    const target = this.opts.targetFeeLines
    const byType = stats.byType
    let i = 0
    let popped = 0
    const eps = this.episodes
    for (;;) {
      const top = this.queue.peek()
      const ep = eps[i]
      if (ep && (!top || ep.start <= top.t)) {
        // Released as it runs: the plan of a large stream is most of the generator's memory.
        eps[i++] = undefined as never
        if (ep.background && target !== undefined && this.stats.feeLines >= target) continue
        const before = this.stats.feeLines
        ep.run(new Rng((Math.imul(this.opts.seed, 0x9e3779b1) ^ Math.imul(ep.seq + 1, 0x85ebca6b)) >>> 0))
        this.linesByKind[ep.kind] += this.stats.feeLines - before
        if (ep.drafts) for (const d of ep.drafts) d.pending--
        continue
      }
      if (!top) break
      this.queue.pop()
      this.floor = top.t
      // Nothing is created before the floor any more: the id sequences of earlier seconds can go.
      if ((++popped & 0xffff) === 0) this.world.forgetEventIdsBefore(this.floor)
      if (top.tick) {
        for (const m of this.inventory.tick(top.t, top.tick === 'weekly')) this.push(m)
        continue
      }
      if (top.sales) {
        const ev = top.event as Extract<AnyEvent, { event_type: 'fee.uploaded' }>
        for (const m of this.inventory.onSales(ev.source.fixmedins_code, top.sales, top.t, ev.payload.mdtrt_id)) this.push(m)
      }
      stats.events++
      const type = top.event.event_type
      byType[type] = (byType[type] ?? 0) + 1
      yield { event: top.event, topic: top.topic }
    }
    stats.feeLines = this.stats.feeLines
    stats.refusedLines = this.stats.refusedLines
    labels.push(...this.labels())
    const kept = this.nearMisses.filter((n) => n.refs.mdtrt_ids.every((id) => this.opened.has(id)) && (n.refs.mdtrt_ids.length || n.refs.feedetl_sns.length))
    this.nearMisses.splice(0, this.nearMisses.length, ...kept)
  }

  labels(): Label[] {
    return this.drafts
      // A provider-level finding stands on the part of its cohort that fits; any other label needs all its records.
      .filter((d) => d.pending === 0 && (!d.broken || (isProviderLevel(d.label.pattern) && d.scheduled > 0)) && (d.label.refs.feedetl_sns.length || d.label.refs.mdtrt_ids.length || d.label.refs.setl_ids.length || isProviderLevel(d.label.pattern)))
      .map((d) => d.label)
  }
}

function perPatternFor(fraudRate: number, backgroundEpisodes: number): number {
  return Math.max(1, Math.round((fraudRate * backgroundEpisodes) / STREAM_PATTERNS.length))
}
function nearPerKind(perPattern: number): number {
  return Math.max(1, Math.round(perPattern / 2))
}

function isAudit(p: PatternId): boolean {
  return (AUDIT_PATTERNS as string[]).includes(p)
}
function isProviderLevel(p: PatternId): boolean {
  return isAudit(p) && p !== 'collusion'
}

function inStay(p: GPerson, d: number, margin: number): boolean {
  for (const [a, b] of p.stays) if (d >= a - margin && d <= b + margin) return true
  return false
}

function weekdayOf(t: number): number {
  return (Math.floor((t + 8 * HOUR) / DAY_MS) + 4) % 7
}

/** Deliveries are planned by the pregnancy, not drawn by weight. */
function IPT_DELIVERY(): IptScenario {
  return IPT.find((s) => s.id === 'delivery')!
}
function IPT_CAESAREAN(): IptScenario {
  return IPT.find((s) => s.id === 'caesarean')!
}

/** 门诊慢特病 registrations by age, as a population would have them. */
function registerChronic(p: GPerson, age: number, rng: Rng): void {
  const pr = age >= 60 ? 0.45 : age >= 40 ? 0.22 : age >= 18 ? 0.03 : 0.01
  if (!rng.chance(pr)) return
  if (age < 18) {
    p.chronic = ['J45']
    return
  }
  const options: [string, number][] = [['I10', 45], ['E11', 25], ['I25', age >= 50 ? 10 : 0], ['J44', age >= 55 ? 6 : 0], ['B18', 5], ['I50', age >= 60 ? 4 : 0], ['F20', 2], ['N18', age >= 40 ? 1.5 : 0], ['C', age >= 40 ? 1.5 : 0]]
  const first = rng.weighted(options.filter(([, wt]) => wt > 0))
  if (first === 'N18') {
    p.chronic = ['N18']
    p.dialysis = true
    return
  }
  if (first === 'C') {
    p.oncology = p.gend === '2' && rng.chance(0.6) ? 'C50' : 'C34'
    p.chronic = [p.oncology]
    return
  }
  p.chronic = [first]
  if ((first === 'I10' || first === 'E11') && rng.chance(0.3)) p.chronic.push(first === 'I10' ? 'E11' : 'I10')
}

// ------------------------------------------------------------------ public API

function resolve(opts: GeneratorOptions): Required<Omit<GeneratorOptions, 'targetFeeLines' | 'msgIds'>> & { targetFeeLines?: number; msgIds?: MsgIds } {
  const days = opts.days ?? 30
  const fraudRate = opts.fraudRate ?? 0.02
  if (!Number.isInteger(opts.seed)) throw new FundwatchError('CONFIG_INVALID', 'generator: seed must be an integer')
  if (!Number.isInteger(days) || days < 1 || days > 3660) throw new FundwatchError('CONFIG_INVALID', 'generator: days must be an integer from 1 to 3660')
  if (!(fraudRate >= 0 && fraudRate <= 0.5)) throw new FundwatchError('CONFIG_INVALID', 'generator: fraudRate must be within [0, 0.5]')
  if (opts.persons !== undefined && !(Number.isInteger(opts.persons) && opts.persons >= 0)) throw new FundwatchError('CONFIG_INVALID', 'generator: persons must be a non-negative integer')
  if (opts.targetFeeLines !== undefined && !(Number.isInteger(opts.targetFeeLines) && opts.targetFeeLines > 0)) throw new FundwatchError('CONFIG_INVALID', 'generator: targetFeeLines must be a positive integer')
  return { seed: opts.seed, persons: opts.persons ?? 1000, days, startTime: opts.startTime ?? DEFAULT_START, fraudRate, kb: opts.kb, ...(opts.targetFeeLines !== undefined ? { targetFeeLines: opts.targetFeeLines } : {}), ...(opts.msgIds ? { msgIds: opts.msgIds } : {}) }
}

/**
 * Background persons for about `target` fee lines. A pilot of the same days and
 * knowledge base measures lines per person: background and stream injections
 * grow with the population, the provider-level (audit) cohorts do not.
 */
function sizeFor(o: ReturnType<typeof resolve>, target: number): number {
  const n0 = 1500
  const { msgIds: _shared, ...own } = o
  const pilot = new Driver({ ...own, seed: o.seed + 1_000_003, persons: n0 })
  pilot.plan(n0)
  for (const _ of pilot.generate({ events: 0, feeLines: 0, byType: {}, persons: 0, refusedLines: 0 }, [])) void _
  const k = pilot.linesByKind
  const per0 = perPatternFor(o.fraudRate, pilot.backgroundEpisodes)
  const perStream = o.fraudRate > 0 ? k.stream / streamInjections(per0) : 0
  const perNear = o.fraudRate > 0 ? k.near / nearMissPlans(nearPerKind(per0)) : 0
  const lines = (n: number): number => {
    const per = perPatternFor(o.fraudRate, (pilot.backgroundEpisodes * n) / n0)
    const fraud = o.fraudRate > 0 ? streamInjections(per) * perStream + nearMissPlans(nearPerKind(per)) * perNear + k.audit : 0
    return (k.background * n) / n0 + fraud
  }
  // The largest population whose expected lines stay within the target (lines grow with n).
  let lo = 1
  let hi = 1
  while (lines(hi) <= target && hi < 1e8) hi *= 2
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (lines(mid) <= target) lo = mid
    else hi = mid
  }
  // 5% more: institutions' capacities make lines per person fall a little as the population grows; the cap
  // in the stream then stops background visits at the target.
  return Math.max(50, Math.ceil(lo * 1.05))
}

export function createGenerator(options: GeneratorOptions): Generator {
  const o = resolve(options)
  const persons = o.targetFeeLines !== undefined ? sizeFor(o, o.targetFeeLines) : o.persons
  const d = new Driver(o)
  d.plan(persons)
  const registry = d.people.map((p) => d.world.registryRow(p))
  const personCount = d.people.length
  d.people.length = 0
  const known = new Set(registry.map((p) => p.psn_no))
  const kb: KbData = { ...o.kb, persons: [...o.kb.persons.filter((p) => !known.has(p.psn_no)), ...registry] }
  const stats: GeneratorStats = { events: 0, feeLines: 0, byType: {}, persons: personCount, refusedLines: 0 }
  const labels: Label[] = []
  let started = false
  const start = (): IterableIterator<Generated> => {
    if (started) throw new FundwatchError('CONFIG_INVALID', 'generator: a generator streams once; create another for a second pass')
    started = true
    return d.generate(stats, labels)
  }
  return {
    labels,
    nearMisses: d.nearMisses,
    persons: registry,
    kb,
    stats,
    [Symbol.iterator]: start,
    events: function* () {
      for (const g of start()) yield g.event
    },
  }
}

/** How a dataset's events are written: contract events (CONTRACT.md) or the national platform's transactions (docs/national.md). */
/** A dataset is written in a format the pipeline's sources read (src/pipeline/types.ts). */
export type DatasetFormat = SourceFormat
export const DATASET_FORMATS: readonly DatasetFormat[] = SOURCE_FORMATS

export interface DatasetResult {
  format: DatasetFormat
  /** The stream to replay: `events.jsonl` (contract) or `national.jsonl` (national transactions, `replay --format national`). */
  eventsFile: string
  labelsFile: string
  nearMissesFile: string
  /** The knowledge base the data was generated against, with the generated persons (replay with --kb <kbDir>). */
  kbDir: string
  counts: { events: number; feeLines: number; byType: Partial<Record<EventType, number>>; labels: number; byPattern: Partial<Record<PatternId, number>>; nearMisses: number; persons: number }
}

/**
 * Writes a dataset: `events.jsonl` (one event a line, in time order, claims
 * and inventory together) — or with format 'national' `national.jsonl`, the
 * same events as national transactions (one `{request, response}` record a
 * line, src/generator/national.ts) — `labels.jsonl`, `near-misses.jsonl` and
 * `kb/` (the knowledge base with the generated persons, as JSON lines). The
 * same seed gives the same facts and the same labels in either format.
 */
export async function writeDataset(dir: string, options: GeneratorOptions, o: { format?: DatasetFormat } = {}): Promise<DatasetResult> {
  const format = o.format ?? 'contract'
  if (!DATASET_FORMATS.includes(format)) throw new FundwatchError('CONFIG_INVALID', `generator: format must be one of ${DATASET_FORMATS.join(', ')}`)
  await mkdir(dir, { recursive: true })
  const gen = createGenerator(options)
  const national = format === 'national' ? new NationalWriter(gen.kb) : undefined
  const eventsFile = join(dir, national ? 'national.jsonl' : 'events.jsonl')
  const out = createWriteStream(eventsFile)
  // A write error (disk full, …) is surfaced at the next wait instead of crashing the process.
  let failed: Error | undefined
  out.on('error', (err) => void (failed = err))
  const wait = (event: 'drain' | 'finish'): Promise<void> =>
    new Promise<void>((res, rej) => {
      if (failed) return rej(failed)
      const done = (): void => {
        out.off('error', onError)
        res()
      }
      const onError = (err: Error): void => {
        out.off(event, done)
        rej(err)
      }
      out.once(event, done)
      out.once('error', onError)
    })
  let buf: string[] = []
  let size = 0
  const flush = async (): Promise<void> => {
    if (failed) throw failed
    if (!buf.length) return
    const chunk = buf.join('\n') + '\n'
    buf = []
    size = 0
    if (!out.write(chunk)) await wait('drain')
  }
  for (const { event } of gen) {
    const s = JSON.stringify(national ? national.write(event) : event)
    buf.push(s)
    size += s.length
    if (size >= 1 << 20) await flush()
  }
  await flush()
  const finished = wait('finish')
  out.end()
  await finished
  const labelsFile = join(dir, 'labels.jsonl')
  const nearMissesFile = join(dir, 'near-misses.jsonl')
  await writeFile(labelsFile, gen.labels.map((l) => JSON.stringify(l)).join('\n') + (gen.labels.length ? '\n' : ''))
  await writeFile(nearMissesFile, gen.nearMisses.map((l) => JSON.stringify(l)).join('\n') + (gen.nearMisses.length ? '\n' : ''))
  const kbDir = join(dir, 'kb')
  await writeKnowledgeBase(kbDir, gen.kb, 'jsonl')
  const byPattern: Partial<Record<PatternId, number>> = {}
  for (const l of gen.labels) byPattern[l.pattern] = (byPattern[l.pattern] ?? 0) + 1
  return {
    format, eventsFile, labelsFile, nearMissesFile, kbDir,
    counts: {
      events: gen.stats.events, feeLines: gen.stats.feeLines, byType: gen.stats.byType as Partial<Record<EventType, number>>,
      labels: gen.labels.length, byPattern, nearMisses: gen.nearMisses.length, persons: gen.stats.persons,
    },
  }
}
