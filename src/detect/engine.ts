import { createHash } from 'node:crypto'
import type { Alert, AnyEvent, EventType, Stage } from '../../schemas/index.ts'
import { FundwatchError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { applyEvent } from '../state/apply.ts'
import type { PersonState } from '../state/types.ts'
import { fenOf, yuan } from '../util/money.ts'
import { cnIso } from '../util/time.ts'
import { RuleBaseConfig, paramsHash, type DetectorRule } from './rulebase.ts'
import type { AuditDetector, DetectContext, Detector, Finding, StreamDetector } from './types.ts'

export interface ActiveDetector<D extends Detector = Detector> {
  detector: D
  params: Record<string, unknown>
  paramsHash: string
  rule: DetectorRule
  stages: ReadonlySet<Stage>
  /** Time spent in this batch, reset by takeTimings(). */
  spentMs: number
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

  constructor(registry: readonly Detector[], config: unknown = {}) {
    const parsed = RuleBaseConfig.safeParse(config)
    if (!parsed.success) throw new FundwatchError('RULEBASE_INVALID', `rule base: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    this.config = parsed.data
    const ids = new Set(registry.map((d) => d.id))
    for (const id of Object.keys(this.config.detectors)) if (!ids.has(id)) throw new FundwatchError('DETECTOR_UNKNOWN', `rule base names unknown detector "${id}"`)
    const active: ActiveDetector[] = []
    for (const d of registry) {
      const rule = this.config.detectors[d.id] ?? { enabled: this.config.defaults.enabled, params: {}, scope: {} }
      if (!rule.enabled) continue
      const p = d.params.safeParse(rule.params)
      if (!p.success) throw new FundwatchError('RULEBASE_INVALID', `detectors.${d.id}.params: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
      const stages = new Set(rule.stages ? d.stages.filter((s) => rule.stages!.includes(s)) : d.stages)
      active.push({ detector: d, params: p.data as Record<string, unknown>, paramsHash: paramsHash(p.data), rule, stages, spentMs: 0 })
    }
    this.active = active
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
   * detectors of `stage`; findings go into `into` by alert_id, a later version
   * of the same finding replacing the earlier.
   */
  step(into: Map<string, Alert>, o: { event: AnyEvent; eventTime: number; person?: PersonState; stage: Stage; kb: DetectContext['kb'] }, detectedAt: number, metrics?: Metrics, log?: Logger): void {
    const visit = o.person ? applyEvent(o.person, o.event, o.eventTime) : undefined
    for (const a of this.detect({ ...o, visit }, detectedAt, metrics, log)) into.set(a.alert_id, a)
  }

  /** Runs the stream detectors for one event. A detector that throws is counted and logged; the others still run. */
  detect(ctx: DetectContext, detectedAt: number, metrics?: Metrics, log?: Logger): Alert[] {
    const list = this.stream.get(ctx.event.event_type)
    if (!list) return []
    let out: Alert[] | undefined
    for (const a of list) {
      if (!a.stages.has(ctx.stage) || !inScope(a.rule, ctx)) continue
      const t0 = performance.now()
      let findings: Finding[]
      try {
        findings = a.detector.detect(ctx, a.params)
      } catch (err) {
        metrics?.detectorErrors.inc({ detector: a.detector.id })
        log?.error({ err, detector: a.detector.id, event_id: ctx.event.event_id }, 'detector failed on event')
        continue
      } finally {
        a.spentMs += performance.now() - t0
      }
      for (const f of findings) (out ??= []).push(this.toAlert(a, f, ctx.stage, ctx.event.event_time, detectedAt))
    }
    return out ?? []
  }

  toAlert(a: ActiveDetector, f: Finding, stage: Stage, eventTime: string, detectedAt: number): Alert {
    const d = a.detector
    return {
      alert_id: alertId(d.id, f.key),
      schema_version: 1,
      detector: { id: d.id, version: d.version, params_hash: a.paramsHash },
      result: a.rule.result ?? f.result ?? d.result,
      severity: a.rule.severity ?? f.severity ?? d.severity,
      stage,
      subject: f.subject,
      refs: { mdtrt_ids: f.refs.mdtrt_ids ?? [], feedetl_sns: f.refs.feedetl_sns ?? [], setl_ids: f.refs.setl_ids ?? [], event_ids: f.refs.event_ids ?? [] },
      amount_at_risk: yuan(fenOf(f.amount_at_risk)),
      title: d.title,
      message: f.message,
      evidence: f.evidence,
      basis: f.basis ?? d.basis,
      event_time: f.event_time ?? eventTime,
      detected_at: cnIso(detectedAt),
    }
  }

  /** Per-detector time since the last call, then reset (for the per-batch histogram). */
  takeTimings(): { id: string; ms: number }[] {
    const out = this.active.filter((a) => a.spentMs > 0).map((a) => ({ id: a.detector.id, ms: a.spentMs }))
    for (const a of this.active) a.spentMs = 0
    return out
  }
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

