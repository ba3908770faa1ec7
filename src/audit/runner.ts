import type { Alert } from '../../schemas/index.ts'
import type { App } from '../app.ts'
import type { ActiveDetector } from '../detect/engine.ts'
import type { DetectorRule } from '../detect/rulebase.ts'
import type { AuditDetector, Finding } from '../detect/types.ts'
import { FundwatchError } from '../errors.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import type { AlertSink } from '../pipeline/types.ts'
import { alertMatchesLabel, type Label } from '../generator/labels.ts'
import { PATTERNS, type PatternId } from '../detect/patterns.ts'
import { ALERT_TABLES, alertsById } from '../store/alerts.ts'
import { alertTable } from '../detect/shadow.ts'
import { alertRow } from '../store/rows.ts'
import { changed, revised } from '../detect/revise.ts'
import { cnIso } from '../util/time.ts'
import { compareYuan } from '../util/money.ts'

export interface AuditOptions {
  /** Inclusive window start, epoch ms. */
  from: number
  /** Exclusive window end, epoch ms. */
  to: number
  /** Only these audit detectors (ids); default every enabled one. */
  detectors?: string[]
  /** Where the stored alerts go next (the alerts topic), as the pipeline's alert sinks: after the store, in order. */
  sinks?: AlertSink[]
}

export interface AuditRun {
  alerts: Alert[]
  /** Alerts per detector id (0 for a detector that ran and found nothing). */
  byDetector: Record<string, number>
  /** Detectors that failed, with a sanitised reason; the others still ran and stored their alerts. */
  errors: { detector: string; reason: string }[]
  /** Milliseconds each detector took. */
  ms: Record<string, number>
}

/**
 * Runs the enabled audit (事后) detectors over [from, to) and stores their
 * alerts. Findings become alerts exactly as streaming ones do (engine.toAlert:
 * detector version, parameter hash, rule-base result and severity), at stage
 * `post`, with the window end as event_time. Keys name the subject and the
 * measure, not the window, so a finding that persists from night to night
 * keeps its alert (revisions(), below). Once
 * stored, the alerts are published to `sinks` (the alerts topic), like the
 * pipeline's: consumers see audit findings in the same document and place.
 */
export async function runAudit(app: App, options: AuditOptions): Promise<AuditRun> {
  const t0 = performance.now()
  let run: AuditRun
  try {
    run = await runDetectors(app, options)
  } catch (err) {
    // A run that failed as a whole (a bad window, the store down) is a run with every detector failed.
    app.metrics.recordAudit({ endedAt: Date.now(), seconds: (performance.now() - t0) / 1000, findings: {}, failed: Math.max(1, app.engine().audits.length) })
    throw err
  }
  app.metrics.recordAudit({ endedAt: Date.now(), seconds: (performance.now() - t0) / 1000, findings: run.byDetector, failed: run.errors.length })
  return run
}

async function runDetectors(app: App, options: AuditOptions): Promise<AuditRun> {
  // Detectors bind the window as Int64 milliseconds: whole milliseconds only.
  const opts = { ...options, from: Math.floor(options.from), to: Math.ceil(options.to) }
  if (!(Number.isFinite(opts.from) && Number.isFinite(opts.to) && opts.from < opts.to)) {
    throw new FundwatchError('BAD_REQUEST', `audit window must have from < to (got ${opts.from}, ${opts.to})`)
  }
  const engine = app.engine()
  const kb = app.kb()
  let audits = engine.audits
  if (opts.detectors?.length) {
    const known = new Set(app.registry.filter((d) => d.kind === 'audit').map((d) => d.id))
    for (const id of opts.detectors) if (!known.has(id)) throw new FundwatchError('DETECTOR_UNKNOWN', `"${id}" is not an audit detector`)
    audits = audits.filter((a) => opts.detectors!.includes(a.detector.id))
  }
  const eventTime = cnIso(opts.to)
  const alerts: Alert[] = []
  const byDetector: Record<string, number> = {}
  const errors: AuditRun['errors'] = []
  const ms: Record<string, number> = {}
  for (const a of audits) {
    if (!a.stages.has('post')) continue
    const t0 = performance.now()
    let findings: Finding[]
    try {
      findings = await a.detector.audit({ store: app.store, kb, from: opts.from, to: opts.to }, a.params)
    } catch (err) {
      app.metrics.detectorErrors.inc({ detector: a.detector.id, kind: 'threw' })
      app.log.error({ err, detector: a.detector.id, from: opts.from, to: opts.to }, 'audit detector failed')
      errors.push({ detector: a.detector.id, reason: err instanceof FundwatchError ? err.code : 'detector_failed' })
      continue
    } finally {
      ms[a.detector.id] = Math.round(performance.now() - t0)
    }
    const detectedAt = Date.now()
    const mine = findings.filter((f) => inScope(a.rule, kb, f)).map((f) => engine.toAlert(a, f, 'post', eventTime, detectedAt))
    // The same facts must not give two rows: a detector that emitted one key twice keeps the last.
    const unique = [...new Map(mine.map((x) => [x.alert_id, x])).values()]
    byDetector[a.detector.id] = unique.length
    alerts.push(...unique)
  }
  const changed = await revisions(app, alerts)
  // Shadow detectors' alerts to shadow_alerts, never to the sinks (src/detect/shadow.ts).
  const shadow = changed.filter((x) => alertTable(engine, x.detector.id) === 'shadow_alerts')
  const live = changed.filter((x) => alertTable(engine, x.detector.id) === 'alerts')
  const row = (x: Alert) => alertRow(x, kb.institutions.get(x.subject.fixmedins_code)?.admdvs ?? '')
  await app.store.insert('alerts', live.map(row))
  await app.store.insert('shadow_alerts', shadow.map(row))
  for (const x of shadow) if (x.status === 'active') app.metrics.shadowAlerts.inc({ detector: x.detector.id })
  for (const sink of opts.sinks ?? []) if (live.length) await sink.publish(live)
  app.log.info({ from: cnIso(opts.from), to: eventTime, byDetector, errors: errors.length, ms }, 'audit finished')
  return { alerts, byDetector, errors, ms }
}

/**
 * What a run changes. An audit finding's key names its subject and measure,
 * not the window (a nightly run over a rolling window sees the same facts
 * again): a finding already stored with the same content adds nothing, one
 * whose amount or evidence changed is its alert's next revision (`updated`,
 * keeping its first event_time and detected_at, so its review and place in
 * the feed), and only a finding never raised is a new alert.
 */
async function revisions(app: App, found: readonly Alert[]): Promise<Alert[]> {
  const ids = found.map((a) => a.alert_id)
  // The latest revision wherever it is: live, or kept in shadow (src/detect/shadow.ts).
  const stored = new Map<string, Alert>()
  for (const table of ALERT_TABLES) {
    for (const s of await alertsById(app.store, ids, table)) {
      const cur = stored.get(s.alert.alert_id)
      if (!cur || s.alert.revision > cur.revision) stored.set(s.alert.alert_id, s.alert)
    }
  }
  const out: Alert[] = []
  for (const a of found) {
    const cur = stored.get(a.alert_id)
    if (cur === undefined) out.push(a)
    else if (changed(sameWindow(cur), sameWindow(a))) out.push(revised(cur, a, cur.revision + 1, a.detected_at))
  }
  return out
}

/** A finding without the window it was computed over: a later window over the same facts is not a change. */
function sameWindow(a: Alert): Alert {
  return { ...a, evidence: { ...a.evidence, window: undefined } }
}

/** The rule's scope, applied to the finding's institution (an audit has no triggering event to scope by). */
function inScope(rule: DetectorRule, kb: KnowledgeBase, f: Finding): boolean {
  const s = rule.scope
  if (!s.admdvs && !s.levels && !s.types) return true
  const inst = kb.institutions.get(f.subject.fixmedins_code)
  if (!inst) return false
  if (s.admdvs && !s.admdvs.some((p) => inst.admdvs.startsWith(p))) return false
  if (s.levels && !s.levels.includes(inst.level)) return false
  if (s.types && !s.types.includes(inst.type)) return false
  return true
}

export interface TopKScore {
  /** Alerts the detector raised. */
  alerts: number
  /** How many of the top were scored: min(k, alerts). */
  k: number
  /** Alerts among the top k that match a label of their pattern. */
  tp: number
  /** tp / k; undefined when the detector raised nothing. */
  precision: number | undefined
  /** Labels of the pattern, and how many of them some alert (any rank) matched. */
  labels: number
  labelsFound: number
  /** Labels matched within the top k. */
  labelsFoundInTopK: number
}

/**
 * Precision among the top k alerts by amount at risk, per audit detector, with
 * the generator's matching rule (labels.ts). Audit detectors rank providers;
 * a reviewer works the list from the top, so what matters is how clean its head is.
 */
export function auditTopK(alerts: readonly Alert[], labels: readonly Label[], k: number): Record<string, TopKScore> {
  const out: Record<string, TopKScore> = {}
  for (const [id, p] of Object.entries(PATTERNS) as [PatternId, (typeof PATTERNS)[PatternId]][]) {
    if (p.kind !== 'audit') continue
    const mine = alerts.filter((a) => a.detector.id === id)
      .sort((x, y) => compareYuan(y.amount_at_risk, x.amount_at_risk) || x.alert_id.localeCompare(y.alert_id))
    const ls = labels.filter((l) => l.pattern === id)
    const top = mine.slice(0, k)
    const found = new Set<number>()
    const foundTop = new Set<number>()
    let tp = 0
    mine.forEach((a, rank) => {
      let hit = false
      ls.forEach((l, i) => {
        if (!alertMatchesLabel(a, l)) return
        hit = true
        found.add(i)
        if (rank < k) foundTop.add(i)
      })
      if (hit && rank < k) tp++
    })
    out[id] = { alerts: mine.length, k: top.length, tp, precision: top.length ? tp / top.length : undefined, labels: ls.length, labelsFound: found.size, labelsFoundInTopK: foundTop.size }
  }
  return out
}

export type { ActiveDetector, AuditDetector }
