import type { Alert, AnyEvent } from '../../schemas/index.ts'
import type { App } from '../app.ts'
import { canSee, type Principal } from '../auth/principal.ts'
import { FundwatchError } from '../errors.ts'
import { DEFAULT_DECODE, decode } from '../pipeline/decode.ts'
import { newPerson, resolveChargeBatch } from '../state/apply.ts'
import { loadPersons } from '../state/cache.ts'
import { psnOf } from '../store/rows.ts'
import type { Notice } from '../detect/types.ts'
import { DAY_MS } from '../util/time.ts'
import { recordAnswered } from '../review/feedback.ts'
import { admitDraft } from './admission.ts'
import { DisclosureScope } from './disclosure.ts'

/**
 * Most events in one draft. A draft is one person's claim before settlement
 * (an opening, uploads, reversals, a closing); the request body is at most
 * PRECHECK_BODY_LIMIT, which holds this many ordinary events (a one-line
 * fee.uploaded is about 0.5 KiB), so the two limits agree: neither makes the
 * other unreachable. Each event is also under the pipeline's own limits.
 */
export const PRECHECK_MAX_EVENTS = 100
export const PRECHECK_BODY_LIMIT = 64 * 1024

export interface PrecheckResult {
  psn_no: string
  /** What the detectors of the stage (`pre` unless asked) found in the draft, as alert documents at that stage. */
  findings: Alert[]
  /** Any finding is a 违规 (violation): the HIS should stop and have the doctor or pharmacist confirm. */
  violation: boolean
}

/**
 * Claim events a draft may hold: what a doctor's order or a dispensing produces
 * before settlement — the visit's diagnoses included, which a visit opened as
 * the national 2201 does carries in a visit.updated (2203).
 */
const DRAFT_TYPES: ReadonlySet<AnyEvent['event_type']> = new Set(['visit.opened', 'visit.updated', 'fee.uploaded', 'fee.reversed', 'visit.closed'])

export interface PrecheckOptions {
  /**
   * Whose detectors judge the draft: `pre` (事前提醒, the default: a doctor's
   * order, a dispensing) or `in` (事中预警: the claim at (pre-)settlement,
   * judged by the detectors the stream runs on the same facts — the national
   * 3102). Findings carry the stage; their alert_id does not depend on it.
   */
  stage?: 'pre' | 'in'
}

/**
 * 事前提醒: runs the `pre`-stage detectors (or, with `stage: 'in'`, the 事中 ones) on a draft claim (contract events of
 * one person, not yet settled) against that person's stored history, and says
 * what they would flag — nothing of the draft is stored or published (only the
 * ids of the findings answered, for the institution's 3103), and the processors'
 * person state is never touched (the history is loaded into a copy of its own).
 * Each event is validated exactly as the pipeline validates it; the caller may
 * only check claims of institutions in its scope (a hospital HIS: its own).
 * A finding has the alert_id the 事中 alert for the same facts will have.
 */
export async function precheck(app: App, caller: Principal, drafts: readonly unknown[], now = Date.now(), opts: PrecheckOptions = {}): Promise<PrecheckResult> {
  const stage = opts.stage ?? 'pre'
  const kb = app.kb()
  const engine = app.engine()
  const events: { ev: AnyEvent; t: number }[] = []
  drafts.forEach((draft, i) => {
    const r = decode(Buffer.from(JSON.stringify(draft)), { ...DEFAULT_DECODE, now: () => now })
    if (!r.ok) throw new FundwatchError('BAD_REQUEST', `events[${i}]: ${r.reason} (${r.detail})`)
    if (!DRAFT_TYPES.has(r.event.event_type)) throw new FundwatchError('BAD_REQUEST', `events[${i}]: a draft holds ${[...DRAFT_TYPES].join(', ')}, not ${r.event.event_type}`)
    // The earlier form of a reversal (no psn_no) is still accepted from existing producers on the stream; a
    // draft is new input, and it is checked against its person, so every event names one (CONTRACT.md, 2026-12-06).
    if (!psnOf(r.event)) throw new FundwatchError('BAD_REQUEST', `events[${i}]: schema.missing@payload.psn_no (${r.event.event_type} in a draft must name its person: psn_no is required)`)
    const inst = r.event.source.fixmedins_code
    if (!canSee(caller, { fixmedins_code: inst, admdvs: kb.institutions.get(inst)?.admdvs ?? '' })) {
      throw new FundwatchError('FORBIDDEN', `events[${i}]: institution ${inst} is outside your scope`)
    }
    events.push({ ev: r.event, t: r.eventTime })
  })
  const psns = new Set(events.map((e) => psnOf(e.ev)))
  if (psns.size !== 1) throw new FundwatchError('BAD_REQUEST', `a draft is about one person; got ${psns.size} (${[...psns].join(', ')})`)
  const psn = [...psns][0]!
  // The sender and the values are judged here (a refusal throws before anything is read);
  // whether the draft's visits are its sender's is read from the store alongside the history.
  const owned = admitDraft(app, caller, events, now)
  const since = Math.min(...events.map((e) => e.t)) - engine.lookbackDays * DAY_MS
  // The answer is about the draft: what it raises, and what its own reversals
  // withdraw again. Stored 事中 alerts are not the draft's findings: not loaded.
  const [, history] = await Promise.all([owned, loadPersons(app.store, [psn], since, { alerts: false })])
  const person = history.get(psn) ?? newPerson(psn, 'precheck')
  const findings = new Map<string, { alert: Alert; eventTime: string }>()
  const notices = new Map<string, Notice>()
  for (const { ev, t } of events) {
    const step = new Map<string, Alert>()
    resolveChargeBatch(ev, person)
    engine.step(step, { event: ev, eventTime: t, person, stage, kb }, now, app.metrics, app.log, undefined, notices)
    for (const [id, alert] of step) findings.set(id, { alert, eventTime: ev.event_time })
  }
  // Every answer goes through the disclosure rule: the draft's institutions see their own records, nobody else's.
  const scope = new DisclosureScope(person, new Set(events.map((e) => e.ev.source.fixmedins_code)), kb, events.map((e) => e.ev.event_id))
  const standing = [...findings.entries()].filter(([, f]) => f.alert.status !== 'withdrawn')
  // A detector in shadow mode is not in force: its findings are neither answered nor recorded as answered
  // (no 3103 can name them); what it would have told the institution is only counted (src/detect/shadow.ts).
  for (const [, f] of standing) if (engine.shadowIds.has(f.alert.detector.id)) app.metrics.precheckShadowFindings.inc({ detector: f.alert.detector.id })
  const list = standing.filter(([, f]) => !engine.shadowIds.has(f.alert.detector.id)).map(([id, f]) => scope.disclose(f.alert, notices.get(id), f.eventTime))
  // The ids answered, and to whom: an institution may answer them in a 3103 (src/review/feedback.ts). Nothing of the draft is kept.
  await recordAnswered(app.store, list, kb, now)
  return { psn_no: psn, findings: list, violation: list.some((a) => a.result === 'violation') }
}
