import type { Store } from '../store/store.ts'
import type { DetectEngine } from './engine.ts'
import type { RuleMode } from './rulebase.ts'

/**
 * Shadow mode (docs/review.md "Shadow rules"). A detector in `mode: shadow`
 * runs in the live pipeline exactly as a live one, with the same ids and
 * revisions, but its alerts are written to `shadow_alerts` instead of
 * `alerts`: one routing decision where alerts are written (the pipeline's
 * store step, the audit run), so no reader of `alerts` — feed, counts, cases,
 * evidence, risk views, 3101/3102, the live feed — needs a filter. They are
 * never handed to the alert sinks (alerts topic, live SSE), and the
 * pre-check leaves them out of its answer.
 *
 * Promotion (shadow → on) copies the latest revision of each of the
 * detector's shadow alerts into `alerts`: the state the live detector would
 * have put them in. Demotion (on → shadow): the live alerts stand as they
 * are (like a detector turned off); new findings and revisions go to
 * `shadow_alerts`, and a later promotion brings the live ones up to date.
 */

/** How the engine runs a detector. */
export function modeIn(engine: DetectEngine, detectorId: string): RuleMode {
  if (engine.shadowIds.has(detectorId)) return 'shadow'
  return engine.active.some((a) => a.detector.id === detectorId) ? 'on' : 'off'
}

/** The table a detector's alert rows go to under `engine`. */
export function alertTable(engine: DetectEngine, detectorId: string): 'alerts' | 'shadow_alerts' {
  return engine.shadowIds.has(detectorId) ? 'shadow_alerts' : 'alerts'
}

/** Detectors that `before` ran in shadow and `after` runs live. */
export function promotedIds(before: DetectEngine, after: DetectEngine): string[] {
  return [...before.shadowIds].filter((id) => modeIn(after, id) === 'on').sort()
}

export interface Promoted {
  detector: string
  /** Alerts whose latest revision this call copied into `alerts` (0 when another replica, or an earlier call, already had). */
  alerts: number
}

/**
 * Every engine swap goes through this (putInForce in rulebase-store.ts: a change, a
 * rule-base poll), and every process start (createApp, with no engine
 * before): for each detector the engine runs live (`on`) that has shadow
 * alerts — it went shadow → on now, or while this process was not running
 * (a restart with a changed rules file, a `fundwatch audit` run) — copies the
 * latest revision of each of its shadow alerts into `alerts` — same
 * alert_id, same revision, same event_time — where `alerts` does not already
 * hold that revision or a later one.
 *
 * Idempotent, so safe when two replicas swap to the same rule base at once,
 * or when a replica that still ran the old engine for a few seconds wrote
 * more shadow alerts and promotes again on its own swap: a second run finds
 * nothing newer to copy; two concurrent runs insert identical rows, which
 * the ReplacingMergeTree collapses and latestOf reads as one. Only a newer
 * revision is ever copied: an older one inserted later would win the merge
 * (same event_time, last insert kept) and make FINAL readers see it.
 * Returns the detectors that went shadow → on (even with nothing to copy)
 * and any other whose alerts it copied.
 */
export async function promoteShadow(store: Store, before: DetectEngine | undefined, after: DetectEngine): Promise<Promoted[]> {
  const went = before ? promotedIds(before, after) : []
  const inShadow = (await store.query<{ d: string }>(`SELECT DISTINCT detector_id AS d FROM ${store.t('shadow_alerts')}`)).map((r) => r.d)
  const ids = [...new Set([...went, ...inShadow.filter((id) => modeIn(after, id) === 'on')])].sort()
  if (ids.length === 0) return []
  const columns = (await store.query<{ name: string }>(
    'SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position', { db: store.db, t: 'shadow_alerts' }))
    .map((c) => c.name)
  const cols = columns.map((c) => `s.${c}`).join(', ')
  const out: Promoted[] = []
  for (const detector of ids) {
    // The latest revision of each shadow alert (the order latestOf uses), kept
    // where the live table has no revision as high.
    const pick = `FROM (
        SELECT * FROM ${store.t('shadow_alerts')} WHERE detector_id = {d:String}
        ORDER BY alert_id, revision DESC, event_time DESC, revised_at DESC, detected_at DESC LIMIT 1 BY alert_id
      ) AS s LEFT JOIN (
        SELECT alert_id, max(revision) AS live_revision FROM ${store.t('alerts')} WHERE detector_id = {d:String} GROUP BY alert_id
      ) AS l ON s.alert_id = l.alert_id
      WHERE s.revision > l.live_revision`
    const settings = { join_use_nulls: 0 as const }
    const [n] = await store.query<{ n: string }>(`SELECT count() AS n ${pick}`, { d: detector }, settings)
    const alerts = Number(n?.n ?? 0)
    if (alerts > 0) await store.command(`INSERT INTO ${store.t('alerts')} (${columns.join(', ')}) SELECT ${cols} ${pick}`, { d: detector }, settings)
    if (alerts > 0 || went.includes(detector)) out.push({ detector, alerts })
  }
  return out
}
