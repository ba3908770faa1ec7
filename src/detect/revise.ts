import type { Alert, AnyEvent, EventType, FeeLine, WithdrawnReason } from '../../schemas/index.ts'
import { ownAlerts } from '../state/apply.ts'
import type { FeeLineState, PersonState, VisitState } from '../state/types.ts'
import { cnIso } from '../util/time.ts'

/**
 * Alerts follow the facts (DESIGN.md): how a finding becomes a revision of an
 * alert, given what the person's state says was raised before.
 *
 * - a finding nobody raised before is revision 1, `active`;
 * - the same finding again (same facts, same amount, same evidence) adds
 *   nothing — unless it is the event that made the current revision, sent
 *   again after a crash, which re-emits it so it still reaches the topic;
 * - a changed finding is a new revision, `updated` (the previous one kept);
 * - after a reversal, a discharge or a settlement, the detectors that raised
 *   alerts on the visit judge it again (engine.revisit): an alert whose
 *   finding no longer comes back is a new revision, `withdrawn`, with the
 *   reason and the event;
 * - a redelivered event (already stored: src/pipeline/admit.ts) never makes a
 *   revision — the state it is judged against already holds what came after
 *   it — and re-emits the current revisions it made, for the sinks.
 *
 * Revisions made within one batch fold into one: each batch stores and
 * publishes at most one revision of an alert, its state at the end of the batch.
 */
export class Reviser {
  private at: string | undefined
  /** Alerts this event's own detection found again: a re-evaluation need not judge them twice. */
  readonly seen = new Set<string>()

  constructor(
    private readonly into: Map<string, Alert>,
    private readonly person: PersonState,
    private readonly event: AnyEvent,
    private readonly redelivery: boolean,
    private readonly detectedAt: number,
  ) {}

  private get now(): string {
    return (this.at ??= cnIso(this.detectedAt))
  }

  /** A finding of the event's own detection, or of a re-evaluation that still holds. */
  found(fresh: Alert): void {
    this.seen.add(fresh.alert_id)
    const cur = this.person.alerts.get(fresh.alert_id)
    if (cur === undefined) return this.emit(fresh)
    if (this.redelivery) return this.again(cur)
    if (!changed(cur, fresh)) return this.again(cur)
    this.emit(revised(cur, fresh, this.pending(cur) ? cur.revision : cur.revision + 1, this.now, this.event.event_id))
  }

  /** An alert whose finding no longer holds after this event. */
  withdraw(cur: Alert, reason: WithdrawnReason): void {
    if (this.redelivery || cur.status === 'withdrawn') return this.again(cur)
    const revision = this.pending(cur) ? cur.revision : cur.revision + 1
    this.emit({ ...cur, revision, status: 'withdrawn', withdrawn_reason: reason, revised_at: this.now, revision_event_id: this.event.event_id })
  }

  /** The current revision, emitted again only when this event made it (a redelivery after a crash may not have published it). */
  again(cur: Alert): void {
    if (cur.revision_event_id === this.event.event_id && !this.into.has(cur.alert_id)) this.into.set(cur.alert_id, cur)
  }

  private emit(a: Alert): void {
    this.into.set(a.alert_id, a)
    ownAlerts(this.person).set(a.alert_id, a)
  }

  /** Made earlier in this batch and not stored yet: changed in place, not revised again. */
  private pending(cur: Alert): boolean {
    return this.into.get(cur.alert_id) === cur
  }
}

/**
 * A changed finding as revision `revision` of the alert `cur`: its content,
 * with the alert's first event_time and detected_at (its partition, its place
 * in the feed and the review clock). The one rule for streaming and audit alerts.
 */
export function revised(cur: Alert, fresh: Alert, revision: number, at: string, eventId?: string): Alert {
  const { revision_event_id: _, ...content } = fresh
  return {
    ...content, event_time: cur.event_time, detected_at: cur.detected_at,
    revision, status: revision === 1 ? 'active' : 'updated', revised_at: at, ...(eventId !== undefined ? { revision_event_id: eventId } : {}),
  }
}

/** Whether a finding says something its alert's current revision does not. */
export function changed(cur: Alert, fresh: Alert): boolean {
  return cur.status === 'withdrawn' || digest(cur) !== digest(fresh)
}

/**
 * The events after which a visit's alerts are judged again, with the reason an
 * alert that no longer holds is withdrawn. A cancellation withdraws what the
 * visit (or its discharge) brought, as a reversal does; a correction of the
 * visit (visit.updated) is the institution withdrawing what it stated before.
 */
export const REVISIT: Partial<Record<EventType, WithdrawnReason>> = {
  'fee.reversed': 'reversed',
  'settlement.reversed': 'reversed',
  'visit.cancelled': 'reversed',
  'visit.updated': 'reversed',
  'visit.closed': 'reconciled_at_discharge',
  'settlement.completed': 'reconciled_at_discharge',
}

/**
 * The events after which the whole visit is judged again by every detector,
 * not only by those with alerts on it: a changed diagnosis, department,
 * doctor or medical type can make a finding as well as unmake one, and a stay
 * open again (visit.cancelled 'discharge') is judged as open — an alert
 * withdrawn at the discharge comes back. (A cancelled visit is judged by nothing.)
 */
export const REJUDGE: ReadonlySet<EventType> = new Set(['visit.updated', 'visit.cancelled'])

/** A visit's standing alerts that rest on visit `mdtrt_id`, by detector. */
export function alertsOnVisit(person: PersonState, mdtrt_id: string, stage: Alert['stage']): Map<string, Alert[]> {
  const out = new Map<string, Alert[]>()
  for (const a of person.alerts.values()) {
    if (a.stage !== stage || !a.refs.mdtrt_ids.includes(mdtrt_id)) continue
    const list = out.get(a.detector.id)
    if (list) list.push(a)
    else out.set(a.detector.id, [a])
  }
  return out
}

/**
 * The visit as it now stands, as the events a detector reacts to: what a
 * re-evaluation runs it on (`'whole'`: every standing line and settlement, for
 * a visit judged again as a whole). Detectors read facts from the person's state
 * (ctx.visit); an event only names which of them are new, so these carry
 * what the state holds. The fee upload names the standing lines of the items
 * the alerts rest on (every standing line when an alert names none); the
 * settlements, those the alerts name (every standing one when none). A fact
 * with nothing standing yields no event, so its finding cannot come back.
 */
export function visitEvents(person: PersonState, visit: VisitState, trigger: AnyEvent, reactsTo: readonly EventType[], alerts: readonly Alert[] | 'whole', maxLines: number): AnyEvent[] | undefined {
  // A cancelled visit brings nothing any more: no finding can come back from it.
  if (visit.cancelled) return []
  const envelope = { event_id: trigger.event_id, event_time: trigger.event_time, schema_version: 1 as const, source: { fixmedins_code: visit.fixmedins_code } }
  const base = { mdtrt_id: visit.mdtrt_id, psn_no: person.psn_no }
  const out: AnyEvent[] = []
  for (const type of reactsTo) {
    if (type === 'fee.uploaded') {
      const lines = standingLines(visit, alerts)
      if (lines.length > maxLines) return undefined
      if (lines.length > 0) out.push({ ...envelope, event_type: type, payload: { ...base, lines: lines.map(feeLine) } })
    } else if (type === 'visit.opened' && visit.opened) {
      out.push({
        ...envelope, event_type: type,
        payload: {
          ...base, med_type: visit.med_type, begntime: cnIso(visit.begntime), insutype: visit.insutype, insuplc_admdvs: '', ipt_otp_no: '',
          adm_dept_codg: visit.adm_dept_codg, atddr_no: visit.atddr_no,
          // Only what the person's visits said: detectors fall back to the knowledge base's persons without it.
          ...(person.brdy ? { psn: { gend: (person.gend ?? '9') as '9', brdy: person.brdy } } : {}),
          diagnoses: visit.diagnoses,
        },
      } as AnyEvent)
    } else if (type === 'visit.closed' && visit.endtime !== undefined) {
      out.push({
        ...envelope, event_type: type,
        payload: { ...base, endtime: cnIso(visit.endtime), dscg_way: visit.dscg_way ?? '1', dscg_maindiag_code: visit.dscg_maindiag_code ?? '', diagnoses: visit.diagnoses, operations: visit.operations },
      } as AnyEvent)
    } else if (type === 'settlement.completed') {
      const named = new Set(alerts === 'whole' ? [] : alerts.flatMap((a) => a.refs.setl_ids))
      for (const s of visit.settlements.values()) {
        if (s.reversed || (named.size > 0 && !named.has(s.setl_id))) continue
        out.push({
          ...envelope, event_type: type,
          payload: {
            ...base, setl_id: s.setl_id, setl_time: cnIso(s.setl_time), med_type: s.med_type, insutype: visit.insutype,
            medfee_sumamt: fixed(s.medfee_sumamt), fulamt_ownpay_amt: '0.00', inscp_scp_amt: fixed(s.inscp_scp_amt), hifp_pay: fixed(s.hifp_pay),
            fund_pay_sumamt: fixed(s.fund_pay_sumamt), acct_pay: fixed(s.acct_pay), psn_cash_pay: '0.00',
            ...(s.pay_grp ? { pay_grp: { type: s.pay_grp.type, code: s.pay_grp.code, weight: String(s.pay_grp.weight) } } : {}),
          },
        } as AnyEvent)
      }
    }
  }
  return out
}

function standingLines(visit: VisitState, alerts: readonly Alert[] | 'whole'): FeeLineState[] {
  const items = new Set<string>()
  let all = alerts === 'whole'
  for (const a of alerts === 'whole' ? [] : alerts) {
    const sns = a.refs.feedetl_sns.filter((sn) => visit.lines.has(sn))
    if (sns.length === 0) all = true
    for (const sn of sns) items.add(visit.lines.get(sn)!.med_list_codg)
  }
  const out: FeeLineState[] = []
  for (const l of visit.lines.values()) if (!l.reversed && (all || items.has(l.med_list_codg))) out.push(l)
  return out
}

const fixed = (n: number) => n.toFixed(2)

function feeLine(l: FeeLineState): FeeLine {
  return {
    feedetl_sn: l.feedetl_sn, fee_ocur_time: cnIso(l.fee_ocur_time), med_list_codg: l.med_list_codg, medins_list_codg: l.medins_list_codg,
    list_type: l.list_type, med_chrgitm_type: l.med_chrgitm_type, cnt: String(l.cnt), pric: String(l.pric), det_item_fee_sumamt: fixed(l.amount),
    bilg_dept_codg: l.bilg_dept_codg, bilg_dr_codg: l.bilg_dr_codg,
    ...(l.prd_days !== undefined ? { prd_days: l.prd_days } : {}), ...(l.hours !== undefined ? { hours: String(l.hours) } : {}),
  }
}

/**
 * What makes two versions of a finding the same: everything but the times and
 * the revision bookkeeping, with object keys in a fixed order and the id lists
 * of refs as sets (a finding rebuilt from reloaded state may list them in
 * another order).
 */
export function digest(a: Alert): string {
  let d = digests.get(a)
  if (d === undefined) {
    const refs = Object.fromEntries(Object.entries(a.refs).map(([k, v]) => [k, [...v].sort()]))
    d = canonical([a.detector, a.result, a.severity, a.stage, a.subject, refs, a.amount_at_risk, a.message, a.evidence, a.basis])
    digests.set(a, d)
  }
  return d
}

/** Alert documents are not changed once made: a held alert's digest is computed once, not at every finding that meets it again. */
const digests = new WeakMap<Alert, string>()

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}
