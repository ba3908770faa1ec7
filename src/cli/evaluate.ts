import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Alert } from '../../schemas/index.ts'
import { createApp, type App } from '../app.ts'
import { configFromEnv } from '../config.ts'
import { PATTERNS, type PatternId } from '../detect/patterns.ts'
import { evaluate, type PatternScore } from '../generator/evaluate.ts'
import { writeDataset } from '../generator/generate.ts'
import type { Label } from '../generator/labels.ts'
import { sampleKnowledgeBase } from '../kb/sample.ts'
import { alertFromRow } from '../store/rows.ts'
import { fmtRate } from './common.ts'
import { replayFile, type ReplayResult } from './replay.ts'
import { auditTopK, runAudit, type TopKScore } from '../audit/runner.ts'

/** Every stored alert (latest version of each), as the alert document. */
export async function storedAlerts(app: App): Promise<Alert[]> {
  const rows = await app.store.query<Record<string, unknown>>(`SELECT * FROM ${app.store.t('alerts')} FINAL`)
  return rows.map(alertFromRow)
}

export function readLabels(file: string): Label[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Label)
}

/**
 * Replays a labelled dataset through the whole pipeline and scores the stored
 * alerts against the labels, per detector (detector id = pattern id).
 */
export async function evaluateReplay(app: App, eventsFile: string, labels: Label[]): Promise<{ replay: ReplayResult; scores: Map<PatternId, PatternScore>; alerts: Alert[] }> {
  const replay = await replayFile(app, eventsFile)
  const alerts = await storedAlerts(app)
  return { replay, scores: evaluate(alerts, labels), alerts }
}

/**
 * The audit (事后) detectors over the replayed history: the whole span for
 * most, and the second half for case-mix drift, which compares a window with
 * the institution's own earlier months. Scored as precision among the top k.
 */
export async function evaluateAudits(app: App, labels: Label[], k = 10): Promise<{ table: string; scores: Record<string, TopKScore> }> {
  const [span] = await app.store.query<{ lo: string; hi: string }>(`SELECT toString(min(event_time)) AS lo, toString(max(event_time)) AS hi FROM ${app.store.t('events')}`)
  const from = Date.parse(span!.lo.replace(' ', 'T') + 'Z')
  const to = Date.parse(span!.hi.replace(' ', 'T') + 'Z') + 1
  const audits = app.engine().audits.map((a) => a.detector.id)
  const whole = await runAudit(app, { from, to, detectors: audits.filter((id) => id !== 'case-mix-drift') })
  const half = audits.includes('case-mix-drift') ? await runAudit(app, { from: from + (to - from) / 2, to, detectors: ['case-mix-drift'] }) : { alerts: [] }
  const scores = auditTopK([...whole.alerts, ...half.alerts], labels, k)
  const head = `${'audit detector'.padEnd(24)} ${'labels'.padStart(7)} ${'found'.padStart(6)} ${'alerts'.padStart(7)} ${`top-${k}`.padStart(6)} ${'TP'.padStart(4)} ${`precision@${k}`.padStart(13)}`
  const rows = Object.entries(scores).map(([id, s]) => `${id.padEnd(24)} ${String(s.labels).padStart(7)} ${String(s.labelsFound).padStart(6)} ${String(s.alerts).padStart(7)} ${String(s.k).padStart(6)} ${String(s.tp).padStart(4)} ${(s.precision === undefined ? '–' : s.precision.toFixed(2)).padStart(13)}`)
  return { table: [head, ...rows].join('\n'), scores }
}

/** What the streaming table's columns count (an over-quantity label can be matched by several alerts, so TP may exceed labels). */
export const SCORE_LEGEND = [
  'labels: injected findings of the detector; alerts: distinct stored alerts;',
  'TP: alerts that match a label (one label can be matched by several alerts — e.g. one per fee line billed too often — so TP may exceed labels);',
  'FP: alerts matching no label; FN: labels no alert matched; precision = TP / alerts; recall = labels found / labels.',
].join('\n')

export function scoreTable(scores: Map<PatternId, PatternScore>, kind: 'stream' | 'audit' = 'stream'): string {
  const rows = [...scores].filter(([id]) => PATTERNS[id].kind === kind)
  const head = `${'detector'.padEnd(24)} ${'labels'.padStart(7)} ${'alerts'.padStart(7)} ${'TP'.padStart(6)} ${'FP'.padStart(5)} ${'FN'.padStart(5)} ${'precision'.padStart(10)} ${'recall'.padStart(8)}`
  return [head, ...rows.map(([id, s]) => `${id.padEnd(24)} ${String(s.labels).padStart(7)} ${String(s.alerts).padStart(7)} ${String(s.tp).padStart(6)} ${String(s.fp).padStart(5)} ${String(s.fn).padStart(5)} ${s.precision.toFixed(3).padStart(10)} ${s.recall.toFixed(3).padStart(8)}`)].join('\n')
}

/** `fundwatch evaluate [--fee-lines N] [--seed S]`: generate, replay into a scratch store, score. */
export async function evaluateCommand(values: { 'fee-lines'?: string; seed?: string; 'data-dir'?: string }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fw-evaluate-'))
  const ds = await writeDataset(join(dir, 'dataset'), { seed: Number(values.seed ?? 11), targetFeeLines: Number(values['fee-lines'] ?? 200_000), kb: sampleKnowledgeBase() })
  console.log(`dataset: ${ds.counts.events.toLocaleString('en-US')} events, ${ds.counts.feeLines.toLocaleString('en-US')} fee lines, ${ds.counts.labels} labelled findings`)
  const config = configFromEnv(process.env, { kbDir: ds.kbDir, dataDir: values['data-dir'] ?? join(dir, 'chdb'), database: 'evaluate', logLevel: 'warn' })
  const app = await createApp(config)
  try {
    const labels = readLabels(ds.labelsFile)
    const { replay, scores } = await evaluateReplay(app, ds.eventsFile, labels)
    console.log(`replayed in ${(replay.ms / 1000).toFixed(1)} s: ${fmtRate(replay.events, replay.ms)} events/s, ${fmtRate(replay.feeLines, replay.ms)} fee lines/s\n\n${scoreTable(scores)}\n\n${SCORE_LEGEND}`)
    const audit = await evaluateAudits(app, labels)
    console.log(`\n${audit.table}`)
    return 0
  } finally {
    await app.close()
  }
}
