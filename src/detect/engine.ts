import { createHash } from 'node:crypto'
import type { Alert, AnyEvent, EventType, Stage } from '../../schemas/index.ts'
import { FundwatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { applyEvent } from '../state/apply.ts'
import type { PersonState, VisitState } from '../state/types.ts'
import { yuan } from '../util/money.ts'
import { MAX_LINES_PER_EVENT } from '../pipeline/decode.ts'
import { cnIso } from '../util/time.ts'
import { boundEvidence } from './evidence.ts'
import { REJUDGE, REVISIT, Reviser, alertsOnVisit, visitEvents } from './revise.ts'
import { RuleBaseConfig, paramsHash, ruleMode, type DetectorRule } from './rulebase.ts'
import type { AuditDetector, DetectContext, Detector, Finding, Notice, StreamDetector } from './types.ts'

export interface ActiveDetector<D extends Detector = Detector> {
  detector: D
  params: Record<string, unknown>
  paramsHash: string
  rule: DetectorRule
  stages: ReadonlySet<Stage>
  /** mode: shadow — it runs, and its alerts go to shadow_alerts, never to the feed, the alerts topic or a pre-check answer. */
  shadow: boolean
  /** Time spent in this batch, reset by takeTimings(). */
  spentMs: number
}

/**
 * Time one detector may take on one event. A synchronous call cannot be
 * interrupted, so the budget is checked when the call returns: a call over it
 * is recorded (DetectorError `over_budget`) and its findings for that event are
 * dropped, so whatever it built does not go on into the batch; the detector
 * still runs on the next event. Work per event is bounded by construction (the
 * lines-per-event limit, one finding per item/visit/rule, the evidence cap),
 * so a detector near this budget is a bug to fix, not load: the budget is set
 * far above what any detector takes on the largest event the contract allows.
 */
export const DETECTOR_BUDGET_MS = 2000

/** A detector call that failed on one event: stored in detector_errors, so the gap in checking is on record. */
export interface DetectorError {
  event_id: string
  event_type: string
  event_time: string
  fixmedins_code: string
  detector_id: string
  detector_version: string
  kind: 'threw' | 'over_budget'
  /** The error's message (first 500 characters), or the time taken; never the event's data. */
  detail: string
  elapsed_ms: number
}

export interface EngineOptions {
  /** Per detector per event; DETECTOR_BUDGET_MS unless a test needs a small one. */
  budgetMs?: number
}

/** Deterministic alert id: the same detector and the same facts give the same id, on any replica, after any replay. */
export function alertId(detectorId: string, key: string): string {
  return createHash('sha256').update(detectorId).update('\n').update(key).digest('hex').slice(0, 32)
}

/**
 * One version of the rule base applied to the detector registry. Immutable: a
 * rule-base reload builds a new engine and the pipeline switches between
 * batches, so a batch never mixes parameter versions.
 */
export class DetectEngine {
  readonly active: readonly ActiveDetector[]
  readonly stream: ReadonlyMap<EventType, readonly ActiveDetector<StreamDetector>[]>
  readonly audits: readonly ActiveDetector<AuditDetector>[]
  /** Days of person history the enabled stream detectors read. */
  readonly lookbackDays: number
  readonly config: RuleBaseConfig
  readonly budgetMs: number
  /** Detectors in shadow mode: their alerts are stored apart (src/detect/shadow.ts). */
  readonly shadowIds: ReadonlySet<string>

  constructor(registry: readonly Detector[], config: unknown = {}, opts: EngineOptions = {}) {
    this.budgetMs = opts.budgetMs ?? DETECTOR_BUDGET_MS
    const parsed = RuleBaseConfig.safeParse(config)
    if (!parsed.success) throw new FundwatchError('RULEBASE_INVALID', `rule base: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    this.config = parsed.data
    const ids = new Set(registry.map((d) => d.id))
    for (const id of Object.keys(this.config.detectors)) if (!ids.has(id)) throw new FundwatchError('DETECTOR_UNKNOWN', `rule base names unknown detector "${id}"`)
    const active: ActiveDetector[] = []
    for (const d of registry) {
      const named = this.config.detectors[d.id]
      const mode = ruleMode(named, this.config.defaults.enabled)
      if (mode === 'off') continue
      const rule = named ?? { params: {}, scope: {} }
      const p = d.params.safeParse(rule.params)
      if (!p.success) throw new FundwatchError('RULEBASE_INVALID', `detectors.${d.id}.params: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
      const stages = new Set(rule.stages ? d.stages.filter((s) => rule.stages!.includes(s)) : d.stages)
      active.push({ detector: d, params: p.data as Record<string, unknown>, paramsHash: paramsHash(p.data), rule, stages, shadow: mode === 'shadow', spentMs: 0 })
    }
    this.active = active
    this.shadowIds = new Set(active.filter((a) => a.shadow).map((a) => a.detector.id))
    const stream = new Map<EventType, ActiveDetector<StreamDetector>[]>()
    let lookback = 1
    for (const a of active) {
      if (a.detector.kind !== 'stream') continue
      const d = a.detector
      for (const t of d.reactsTo) stream.set(t, [...(stream.get(t) ?? []), a as ActiveDetector<StreamDetector>])
      if (d.lookbackDays) lookback = Math.max(lookback, d.lookbackDays(a.params))
    }
    this.stream = stream
    this.audits = active.filter((a): a is ActiveDetector<AuditDetector> => a.detector.kind === 'audit')
    this.lookbackDays = lookback
  }

  /**
   * One event the way every stage takes it (the pipeline's 事中, the pre-check's
   * 事前): applied to its person's state when it has one, then through the
   * detectors of `stage`; the alerts it raises, revises or withdraws go into
   * `into` by alert_id (src/detect/revise.ts), a later revision in the same
   * batch replacing the earlier. `redelivery`: the event is already stored
   * (src/pipeline/admit.ts), so it re-emits and never revises.
   */
  step(
    into: Map<string, Alert>, o: { event: AnyEvent; eventTime: number; person?: PersonState; stage: Stage; kb: DetectContext['kb']; redelivery?: boolean }, detectedAt: number,
    metrics?: Metrics, log?: Logger, errors?: DetectorError[], notices?: Map<string, Notice>,
  ): void {
    const visit = o.person ? applyEvent(o.person, o.event, o.eventTime) : undefined
    const ctx: DetectContext = { event: o.event, eventTime: o.eventTime, person: o.person, visit, stage: o.stage, kb: o.kb }
    // An event of a cancelled visit (visit.cancelled 'visit') is judged by nothing: the visit no longer counts.
    const found = visit?.cancelled ? [] : this.detect(ctx, detectedAt, metrics, log, errors, notices)
    if (o.person === undefined) {
      for (const a of found) into.set(a.alert_id, a)
      return
    }
    const reason = visit !== undefined ? REVISIT[o.event.event_type] : undefined
    const rejudge = visit !== undefined && !visit.cancelled && REJUDGE.has(o.event.event_type)
    if (found.length === 0 && !rejudge && (reason === undefined || o.person.alerts.size === 0)) return
    const reviser = new Reviser(into, o.person, o.event, o.redelivery ?? false, detectedAt)
    for (const a of found) reviser.found(a)
    if (rejudge) this.rejudge(reviser, { ...ctx, person: o.person, visit }, detectedAt, metrics, log, errors)
    if (visit !== undefined && reason !== undefined) this.revisit(reviser, { ...ctx, person: o.person, visit }, reason, detectedAt, metrics, log, errors)
  }

  /**
   * After a change of the visit itself (REJUDGE: visit.updated): every
   * detector of the stage judges the whole visit as it now stands
   * (visitEvents 'whole'), so a finding the change makes is raised and one it
   * changes is updated. What no longer comes back is left to revisit, which
   * withdraws it.
   */
  private rejudge(reviser: Reviser, ctx: DetectContext & { person: PersonState; visit: VisitState }, detectedAt: number, metrics?: Metrics, log?: Logger, errors?: DetectorError[]): void {
    for (const a of this.active) {
      if (a.detector.kind !== 'stream' || !a.stages.has(ctx.stage)) continue
      const d = a as ActiveDetector<StreamDetector>
      // A visit over the per-event line limit is not judged whole; its standing alerts are still revisited.
      for (const ev of visitEvents(ctx.person, ctx.visit, ctx.event, d.detector.reactsTo, 'whole', MAX_LINES_PER_EVENT) ?? []) {
        const sub = { ...ctx, event: ev }
        if (!inScope(d.rule, sub)) continue
        for (const f of this.run(d, sub, metrics, log, errors) ?? []) reviser.found(this.toAlert(d, f, ctx.stage, ctx.event.event_time, detectedAt, ctx.event.event_id))
      }
    }
  }

  /**
   * After a reversal, a discharge or a settlement: every detector that raised
   * alerts on the visit judges the visit again, as it now stands
   * (visitEvents). An alert whose finding comes back is kept or updated; one
   * whose finding does not is withdrawn — `superseded` when another finding of
   * the same detector now covers its lines, else for `reason`. A detector that
   * fails on the re-evaluation leaves its alerts as they stand (and the
   * failure is on record, as for any event).
   */
  private revisit(
    reviser: Reviser, ctx: DetectContext & { person: PersonState; visit: VisitState }, reason: NonNullable<(typeof REVISIT)[EventType]>,
    detectedAt: number, metrics?: Metrics, log?: Logger, errors?: DetectorError[],
  ): void {
    for (const [id, standing] of alertsOnVisit(ctx.person, ctx.visit.mdtrt_id, ctx.stage)) {
      const a = this.active.find((x) => x.detector.id === id)
      // Alerts the event's own detection already found again stand as judged there.
      const live = standing.filter((x) => x.status !== 'withdrawn' && !reviser.seen.has(x.alert_id))
      if (!a || a.detector.kind !== 'stream' || !a.stages.has(ctx.stage) || live.length === 0) {
        for (const x of standing) reviser.again(x)
        continue
      }
      // Every visit the alerts rest on is judged again, not only the event's:
      // a finding across two visits (an outpatient visit during a stay
      // elsewhere) was raised from one of them, and comes back only from it.
      const visits = new Map<string, VisitState>()
      // The event's own visit first; the others only while some alert has not come back.
      visits.set(ctx.visit.mdtrt_id, ctx.visit)
      for (const x of live) for (const m of x.refs.mdtrt_ids) {
        const v = ctx.person.visits.get(m)
        if (v !== undefined) visits.set(m, v)
      }
      const fresh = new Map<string, Alert>()
      let failed = false
      for (const visit of visits.values()) {
        const events = visitEvents(ctx.person, visit, ctx.event, a.detector.reactsTo, live.filter((x) => x.refs.mdtrt_ids.includes(visit.mdtrt_id)), MAX_LINES_PER_EVENT)
        if (events === undefined) failed = true
        for (const ev of events ?? []) {
          const sub = { ...ctx, event: ev, visit }
          if (failed || !inScope(a.rule, sub)) continue
          const findings = this.run(a as ActiveDetector<StreamDetector>, sub, metrics, log, errors)
          if (findings === undefined) failed = true
          for (const f of findings ?? []) {
            const alert = this.toAlert(a, f, ctx.stage, ctx.event.event_time, detectedAt, ctx.event.event_id)
            fresh.set(alert.alert_id, alert)
          }
        }
        if (failed || live.every((x) => fresh.has(x.alert_id))) break
      }
      for (const x of standing) {
        if (reviser.seen.has(x.alert_id)) continue
        const f = fresh.get(x.alert_id)
        if (failed || x.status === 'withdrawn') reviser.again(x)
        else if (f !== undefined) reviser.found(f)
        else reviser.withdraw(x, supersededBy(x, fresh) ? 'superseded' : reason)
      }
    }
  }

  /**
   * Runs the stream detectors for one event. A detector that throws, or takes
   * longer than the budget, is skipped for this event: counted, logged, and
   * pushed to `errors` (the pipeline stores them); the others still run.
   * A finding's notice (what the pre-check may disclose) goes to `notices`.
   */
  detect(ctx: DetectContext, detectedAt: number, metrics?: Metrics, log?: Logger, errors?: DetectorError[], notices?: Map<string, Notice>): Alert[] {
    const list = this.stream.get(ctx.event.event_type)
    if (!list) return []
    let out: Alert[] | undefined
    for (const a of list) {
      if (!a.stages.has(ctx.stage) || !inScope(a.rule, ctx)) continue
      const findings = this.run(a, ctx, metrics, log, errors)
      for (const f of findings ?? []) {
        const alert = this.toAlert(a, f, ctx.stage, ctx.event.event_time, detectedAt, ctx.event.event_id)
        ;(out ??= []).push(alert)
        if (notices !== undefined && f.notice !== undefined) notices.set(alert.alert_id, f.notice)
      }
    }
    return out ?? []
  }

  /** One detector on one event, within its budget; undefined when it failed (recorded). */
  private run(a: ActiveDetector<StreamDetector>, ctx: DetectContext, metrics?: Metrics, log?: Logger, errors?: DetectorError[]): Finding[] | undefined {
    const t0 = performance.now()
    let findings: Finding[]
    let failure: { kind: DetectorError['kind']; detail: string; err?: unknown } | undefined
    try {
      findings = a.detector.detect(ctx, a.params)
    } catch (err) {
      findings = []
      failure = { kind: 'threw', detail: err instanceof Error ? err.message : String(err), err }
    }
    const ms = performance.now() - t0
    a.spentMs += ms
    if (failure === undefined && ms > this.budgetMs) failure = { kind: 'over_budget', detail: `${Math.round(ms)} ms > budget ${this.budgetMs} ms; ${findings.length} finding(s) dropped` }
    if (failure === undefined) return findings
    const ev = ctx.event
    metrics?.detectorErrors.inc({ detector: a.detector.id, kind: failure.kind })
    log?.error({ err: failure.err, detector: a.detector.id, event_id: ev.event_id, kind: failure.kind, elapsed_ms: Math.round(ms) }, 'detector skipped for this event')
    errors?.push({
      event_id: ev.event_id, event_type: ev.event_type, event_time: ev.event_time, fixmedins_code: ev.source.fixmedins_code,
      detector_id: a.detector.id, detector_version: a.detector.version, kind: failure.kind, detail: failure.detail.slice(0, 500), elapsed_ms: Math.round(ms * 10) / 10,
    })
    return undefined
  }

  /** A finding as revision 1 of its alert; `eventId`: the event whose processing raised it (none for audit runs). */
  toAlert(a: ActiveDetector, f: Finding, stage: Stage, eventTime: string, detectedAt: number, eventId?: string): Alert {
    const d = a.detector
    const at = cnIso(detectedAt)
    return {
      alert_id: alertId(d.id, f.key),
      schema_version: 1,
      detector: { id: d.id, version: d.version, params_hash: a.paramsHash },
      result: a.rule.result ?? f.result ?? d.result,
      severity: a.rule.severity ?? f.severity ?? d.severity,
      stage,
      subject: f.subject,
      refs: { mdtrt_ids: f.refs.mdtrt_ids ?? [], feedetl_sns: f.refs.feedetl_sns ?? [], setl_ids: f.refs.setl_ids ?? [], event_ids: f.refs.event_ids ?? [] },
      amount_at_risk: yuan(BigInt(Math.max(0, Math.round(f.amount_fen)))),
      title: d.title,
      message: f.message,
      evidence: boundEvidence(f.evidence),
      basis: f.basis ?? d.basis,
      event_time: f.event_time ?? eventTime,
      detected_at: at,
      revision: 1,
      status: 'active',
      revised_at: at,
      ...(eventId !== undefined ? { revision_event_id: eventId } : {}),
    }
  }

  /** Per-detector time since the last call, then reset (for the per-batch histogram). */
  takeTimings(): { id: string; ms: number }[] {
    const out = this.active.filter((a) => a.spentMs > 0).map((a) => ({ id: a.detector.id, ms: a.spentMs }))
    for (const a of this.active) a.spentMs = 0
    return out
  }
}

/** Another finding of the same detector now covers every line the withdrawn alert named. */
function supersededBy(old: Alert, fresh: ReadonlyMap<string, Alert>): boolean {
  if (old.refs.feedetl_sns.length === 0) return false
  for (const f of fresh.values()) {
    if (f.alert_id === old.alert_id) continue
    const sns = new Set(f.refs.feedetl_sns)
    if (old.refs.feedetl_sns.every((sn) => sns.has(sn))) return true
  }
  return false
}

function inScope(rule: DetectorRule, ctx: DetectContext): boolean {
  const s = rule.scope
  if (!s.admdvs && !s.levels && !s.types && !s.med_types) return true
  const inst = ctx.kb.institutions.get(ctx.event.source.fixmedins_code)
  if (s.admdvs && !(inst && s.admdvs.some((p) => inst.admdvs.startsWith(p)))) return false
  if (s.levels && !(inst && s.levels.includes(inst.level))) return false
  if (s.types && !(inst && s.types.includes(inst.type))) return false
  if (s.med_types && !(ctx.visit && s.med_types.includes(ctx.visit.med_type))) return false
  return true
}

