import { createHash } from 'node:crypto'
import type { AnyEvent, EventType } from '../../schemas/index.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import { EVERY_UNSETTLED_LINE, heldVisit, linesOfBatch } from '../state/apply.ts'
import type { PersonState, VisitState } from '../state/types.ts'
import { lookupKnown, type Known, type VisitOwner } from '../store/lookups.ts'
import type { Store } from '../store/store.ts'
import { cnDate } from '../util/time.ts'
import type { SourceRecord } from './types.ts'

/**
 * Admission: between decode and detect, an event is judged against what is
 * already known before it may change anything. The rules, per case, are in
 * docs/admission.md; in short —
 *
 * - refused to the dead-letter queue (the event is not stored, the reason is
 *   machine-readable): events no sender may send (another institution's
 *   visit or stock, an institution the knowledge base does not know, an
 *   event_id already stored with other content) and values no event can
 *   truly have (times before 1998 or in the future, a birth after the visit,
 *   a discharge before the admission, a visit under another person);
 * - stored as sent and flagged in `data_quality`: events naming facts
 *   fundwatch has never seen (a reversal of an unknown line or settlement, a
 *   settlement or discharge of an unknown visit) — possibly older than the
 *   stored history, so not provably false, but never applied as if fine.
 *
 * A redelivery (same event_id, same bytes as what is stored) is admitted
 * without the refusal checks: it was admitted once, and what is stored stands.
 */
export interface Refusal {
  reason: string
  detail: string
}

export const DATA_QUALITY_REASONS = [
  'reversal_of_unknown_line', 'reversal_of_unknown_batch', 'reversal_of_unknown_settlement', 'settlement_of_unknown_visit', 'discharge_of_unknown_visit',
  'update_of_unknown_visit', 'cancellation_of_unknown_visit',
] as const
export type DataQualityReason = (typeof DATA_QUALITY_REASONS)[number]

export interface DataQualityFlag {
  reason: DataQualityReason
  detail: string
  /** The ids it names that nothing stored matches. */
  refs: string[]
}

/**
 * 1998: the year basic medical insurance for urban employees began
 * (国发〔1998〕44号). No claim, visit, line or stock movement predates it.
 */
export const EARLIEST_TIME = Date.parse('1998-01-01T00:00:00+08:00')
/** Nobody insured today was born before it. */
export const EARLIEST_BIRTH_DATE = '1900-01-01'

export interface TimeLimits {
  now: () => number
  /** A time later than now + this is in the future (decode uses the same tolerance for event_time). */
  futureToleranceMs: number
  earliestMs?: number
}

/** The visit-scoped event types that establish a visit (a reversal withdraws and establishes nothing). */
const ESTABLISHING: ReadonlySet<EventType> = new Set(['visit.opened', 'fee.uploaded', 'visit.closed', 'settlement.completed'])

/** Identity of an event's content: the SHA-256 of the bytes received (the stored raw text is those bytes). */
export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * Checks that need nothing but the event, its record and the knowledge base:
 * who may send it and whether its values can be true. Called where the event
 * is validated, before any state is loaded for it (a year-0001 time must not
 * widen the history window it would load).
 */
export function checkEvent(ev: AnyEvent, rec: Pick<SourceRecord, 'sender'>, kb: KnowledgeBase, limits: TimeLimits): Refusal | undefined {
  const source = ev.source.fixmedins_code
  if (rec.sender !== undefined && rec.sender !== source) {
    return { reason: 'foreign_institution', detail: `source.fixmedins_code ${source} is not the authenticated sender ${rec.sender}` }
  }
  if (!kb.institutions.has(source)) return { reason: 'unknown_institution', detail: `source.fixmedins_code ${source} is not an institution of the knowledge base (${kb.version})` }
  if (ev.event_type === 'inventory.movement' && ev.payload.fixmedins_code !== source) {
    return { reason: 'foreign_institution', detail: `payload.fixmedins_code ${ev.payload.fixmedins_code} is not the sender ${source}` }
  }
  return checkTimes(ev, limits)
}

function checkTimes(ev: AnyEvent, o: TimeLimits): Refusal | undefined {
  const earliest = o.earliestMs ?? EARLIEST_TIME
  const latest = o.now() + o.futureToleranceMs
  const at = (path: string, value: string): Refusal | undefined => {
    const ms = Date.parse(value)
    if (!(ms >= earliest)) return { reason: `implausible_time@${path}`, detail: `${path} ${value} is before ${cnDate(earliest)}` }
    if (ms > latest) return { reason: `future_time@${path}`, detail: `${path} ${value} is in the future` }
    return undefined
  }
  const first = at('event_time', ev.event_time)
  if (first) return first
  switch (ev.event_type) {
    case 'visit.opened': {
      const p = ev.payload
      const r = at('payload.begntime', p.begntime)
      if (r) return r
      if (!p.psn) return undefined
      if (p.psn.brdy < EARLIEST_BIRTH_DATE) return { reason: 'implausible_time@payload.psn.brdy', detail: `payload.psn.brdy ${p.psn.brdy} is before ${EARLIEST_BIRTH_DATE}` }
      // A newborn's visit may begin on the day of birth, not before it (China days).
      const visitDay = cnDate(Date.parse(p.begntime))
      if (p.psn.brdy > visitDay) return { reason: 'birth_after_visit@payload.psn.brdy', detail: `payload.psn.brdy ${p.psn.brdy} is after the visit began (${visitDay})` }
      return undefined
    }
    case 'fee.uploaded':
      for (const l of ev.payload.lines) {
        const r = at('payload.lines.*.fee_ocur_time', l.fee_ocur_time)
        if (r) return { ...r, detail: `line ${l.feedetl_sn}: ${r.detail}` }
      }
      return undefined
    case 'visit.closed': {
      const r = at('payload.endtime', ev.payload.endtime)
      if (r) return r
      for (const op of ev.payload.operations ?? []) {
        const o2 = at('payload.operations.*.oprn_oprt_date', op.oprn_oprt_date)
        if (o2) return o2
      }
      return undefined
    }
    case 'settlement.completed':
      return at('payload.setl_time', ev.payload.setl_time)
    case 'inventory.movement':
      return at('payload.movement_time', ev.payload.movement_time)
    case 'fee.reversed':
    case 'settlement.reversed':
    case 'visit.updated':
    case 'visit.cancelled':
      return undefined
  }
}

/**
 * The ownership rule, for the pipeline and the pre-check alike: a visit
 * belongs to the institution (and the person) of the first event that
 * established it; only that institution may add to it, withdraw from it or
 * close it, and only for that person.
 */
export function visitRefusal(ev: Exclude<AnyEvent, { event_type: 'inventory.movement' }>, owner: VisitOwner | undefined): Refusal | undefined {
  if (owner === undefined) return undefined
  const m = ev.payload.mdtrt_id
  const sender = ev.source.fixmedins_code
  if (owner.fixmedins_code !== sender) return { reason: 'foreign_visit', detail: `visit ${m} belongs to institution ${owner.fixmedins_code}, not to the sender ${sender}` }
  const psn = ev.payload.psn_no
  if (psn && owner.psn_no !== psn) return { reason: 'visit_person_mismatch', detail: `visit ${m} belongs to another person than psn_no ${psn}` }
  return undefined
}

export interface Candidate {
  ev: AnyEvent
  /** contentHash of the record's bytes. */
  sha256: string
}

/** `redelivery`: the event is already stored (same id, same bytes): it may re-emit what it raised, never revise it. */
export type Verdict = ({ ok: false } & Refusal) | { ok: true; flags: DataQualityFlag[]; redelivery: boolean }

/**
 * The stateful half of admission, one per pipeline. The store is the source of
 * truth (event_index, visit_index: src/store/lookups.ts, one round of queries
 * per batch); on top of it this remembers what batches admitted that are not
 * stored yet — the batch being prepared and those in flight — so an event_id
 * or a visit claimed earlier in the same batch, or in a batch prepared ahead,
 * is seen too. What a stored batch admitted is forgotten here at the next
 * lookup, which then finds it in the store.
 */
export class Admission {
  private readonly events = new Map<string, { sha256: string; seq: number }>()
  private readonly visits = new Map<string, VisitOwner & { seq: number }>()
  private storedSeq = 0

  /** What the store knows of the batch's event ids, visits and the lines and settlements its reversals name. */
  async lookup(store: Store, cands: readonly Candidate[]): Promise<Known> {
    // Batches stored before the query starts are visible to it; one whose
    // store completes while the query runs stays remembered until next time.
    this.forget(this.storedSeq)
    const eventIds: string[] = []
    const mdtrtIds: string[] = []
    const lines: string[] = []
    const settlements: { mdtrt_id: string; setl_id: string }[] = []
    for (const { ev } of cands) {
      eventIds.push(ev.event_id)
      if (ev.event_type === 'inventory.movement') continue
      const m = ev.payload.mdtrt_id
      mdtrtIds.push(m)
      if (ev.event_type === 'fee.reversed') for (const sn of ev.payload.feedetl_sns ?? []) lines.push(`${m}/${sn}`)
      else if (ev.event_type === 'settlement.reversed') settlements.push({ mdtrt_id: m, setl_id: ev.payload.setl_id })
    }
    return lookupKnown(store, { eventIds, mdtrtIds, lines, settlements })
  }

  /**
   * Judges one event against the store (`known`), what this pipeline admitted
   * before it, and the person's state as it stands before the event. Events
   * of a batch must be judged in order, each right before it is applied.
   */
  admit(c: Candidate, person: PersonState | undefined, known: Known, seq: number): Verdict {
    const ev = c.ev
    const first = this.events.get(ev.event_id)?.sha256 ?? known.events.get(ev.event_id)
    if (first !== undefined && first !== c.sha256) {
      return { ok: false, reason: 'event_id_conflict', detail: `event_id ${ev.event_id} was first received with other content (sha256 ${first.slice(0, 16)}…); the first stands` }
    }
    const redelivery = first !== undefined
    let flags: DataQualityFlag[] = []
    if (ev.event_type !== 'inventory.movement') {
      const m = ev.payload.mdtrt_id
      const owner = this.visits.get(m) ?? known.visits.get(m)
      const visit = person && heldVisit(person, m)
      if (!redelivery) {
        const refusal = visitRefusal(ev, owner) ?? stayOrder(ev, visit)
        if (refusal) return { ok: false, ...refusal }
      }
      flags = unknownReferences(ev, visit, owner, known)
      if (owner === undefined && ESTABLISHING.has(ev.event_type)) this.visits.set(m, { psn_no: ev.payload.psn_no ?? '', fixmedins_code: ev.source.fixmedins_code, seq })
    }
    if (!redelivery) this.events.set(ev.event_id, { sha256: c.sha256, seq })
    return { ok: true, flags, redelivery }
  }

  /** Whose visit `mdtrt_id` is, as far as the store and the batches admitted before know. */
  visitOwner(mdtrt_id: string, known: Known): VisitOwner | undefined {
    return this.visits.get(mdtrt_id) ?? known.visits.get(mdtrt_id)
  }

  /** Batch `seq` (and every one before it) is durably stored. */
  markStored(seq: number): void {
    if (seq > this.storedSeq) this.storedSeq = seq
  }

  private forget(upTo: number): void {
    for (const [k, v] of this.events) if (v.seq <= upTo) this.events.delete(k)
    for (const [k, v] of this.visits) if (v.seq <= upTo) this.visits.delete(k)
  }
}

/** A stay ends after it begins: a discharge before the admission (or an admission after the discharge) cannot be true. */
function stayOrder(ev: AnyEvent, visit: VisitState | undefined): Refusal | undefined {
  if (visit === undefined) return undefined
  if (ev.event_type === 'visit.closed' && visit.opened) {
    const end = Date.parse(ev.payload.endtime)
    if (end < visit.begntime) return { reason: 'discharge_before_admission', detail: `visit ${visit.mdtrt_id}: endtime ${ev.payload.endtime} is before the admission (${new Date(visit.begntime).toISOString()})` }
  }
  if (ev.event_type === 'visit.opened' && visit.endtime !== undefined) {
    const begin = Date.parse(ev.payload.begntime)
    if (begin > visit.endtime) return { reason: 'discharge_before_admission', detail: `visit ${visit.mdtrt_id}: begntime ${ev.payload.begntime} is after the discharge (${new Date(visit.endtime).toISOString()})` }
  }
  return undefined
}

/** Facts the event names that neither the person's state nor the store holds. */
function unknownReferences(ev: Exclude<AnyEvent, { event_type: 'inventory.movement' }>, visit: VisitState | undefined, owner: VisitOwner | undefined, known: Known): DataQualityFlag[] {
  const m = ev.payload.mdtrt_id
  switch (ev.event_type) {
    case 'fee.reversed': {
      const out: DataQualityFlag[] = []
      // A reversal by charge batch names lines once the pipeline resolved it (linesOfBatch); one no line
      // of the visit answers is stored as sent and flagged, like a reversal of lines never received.
      const b = ev.payload.chrg_bchno
      if (b !== undefined && linesOfBatch(visit, b).length === 0) {
        out.push({ reason: 'reversal_of_unknown_batch', detail: `visit ${m}: ${b === EVERY_UNSETTLED_LINE ? 'no line not yet settled' : `no line of charge batch ${b}`} was received${owner || visit ? '' : ' (nor the visit)'}`, refs: [b] })
      }
      const sns = ev.payload.feedetl_sns ?? []
      const unknown = sns.filter((sn) => !visit?.lines.has(sn) && !known.lines.has(`${m}/${sn}`))
      if (unknown.length > 0) out.push({ reason: 'reversal_of_unknown_line', detail: `visit ${m}: ${unknown.length} of ${sns.length} reversed lines were never received${owner || visit ? '' : ' (nor the visit)'}`, refs: unknown })
      return out
    }
    case 'visit.updated':
      if (visit || owner) return []
      return [{ reason: 'update_of_unknown_visit', detail: `visit ${m} was never received before this change`, refs: [m] }]
    case 'visit.cancelled':
      if (visit || owner) return []
      return [{ reason: 'cancellation_of_unknown_visit', detail: `visit ${m} was never received before its cancellation (${ev.payload.cancels})`, refs: [m] }]
    case 'settlement.reversed': {
      const s = ev.payload.setl_id
      if (visit?.settlements.has(s) || known.settlements.has(s)) return []
      return [{ reason: 'reversal_of_unknown_settlement', detail: `visit ${m}: settlement ${s} was never received`, refs: [s] }]
    }
    case 'settlement.completed':
      if (visit || owner) return []
      return [{ reason: 'settlement_of_unknown_visit', detail: `settlement ${ev.payload.setl_id}: visit ${m} was never received`, refs: [m] }]
    case 'visit.closed':
      if (visit || owner) return []
      return [{ reason: 'discharge_of_unknown_visit', detail: `visit ${m} was never received before its discharge`, refs: [m] }]
    default:
      return []
  }
}
