import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Alert } from '../../schemas/index.ts'
import { createApp, type App } from '../app.ts'
import { configFromEnv } from '../config.ts'
import { PATTERNS, type PatternId } from '../detect/patterns.ts'
import { alertStatus, evaluate, scoreNearMisses, standing, type AlertStatus, type NearMissScore, type PatternScore } from '../generator/evaluate.ts'
import { writeDataset, type DatasetFormat } from '../generator/generate.ts'
import { datasetFormat } from './generate.ts'
import type { Label, NearMiss } from '../generator/labels.ts'
import { sampleKnowledgeBase } from '../kb/sample.ts'
import { alertFromRow } from '../store/rows.ts'
import { fmtRate } from './common.ts'
import { replayFile, type ReplayResult } from './replay.ts'
import { auditTopK, runAudit, type AuditRun, type TopKScore } from '../audit/runner.ts'
import { DAY_MS, cnDate } from '../util/time.ts'
import { auditWindow } from './audit.ts'

/** An alert document as scored: with its lifecycle status when the store has one (issue 9's revisions). */
export type StoredAlert = Alert & { status?: AlertStatus }

/**
 * Every stored alert (the latest revision of each), as the alert document, or
 * only those of `ids`. Read defensively across the revisions migration: a
 * status column the document does not carry yet is attached to it, a missing
 * one means active, and when several revisions of an alert are kept the
 * highest wins.
 */
export async function storedAlerts(app: App, ids?: readonly string[]): Promise<StoredAlert[]> {
  if (ids?.length === 0) return []
  const where = ids ? ' WHERE alert_id IN {ids:Array(String)}' : ''
  const rows = await app.store.query<Record<string, unknown>>(`SELECT * FROM ${app.store.t('alerts')} FINAL${where}`, ids ? { ids: [...ids] } : {})
  const latest = new Map<string, { revision: number; alert: StoredAlert }>()
  for (const r of rows) {
    const doc: Alert = alertFromRow(r)
    const status = 'status' in doc ? doc.status : r.status
    const alert: StoredAlert = typeof status === 'string' ? { ...doc, status: alertStatus({ status }) } : doc
    const revision = Number(r.revision ?? 1)
    const seen = latest.get(alert.alert_id)
    if (!seen || revision >= seen.revision) latest.set(alert.alert_id, { revision, alert })
  }
  return [...latest.values()].map((x) => x.alert)
}

export function readLabels(file: string): Label[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Label)
}

export function readNearMisses(file: string): NearMiss[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as NearMiss)
}

const isAudit = (n: { pattern: PatternId }): boolean => PATTERNS[n.pattern].kind === 'audit'

/**
 * Replays a labelled dataset through the whole pipeline and scores the stored
 * alerts against the labels, per detector (detector id = pattern id), and
 * against the streaming detectors' near misses.
 */
export async function evaluateReplay(app: App, eventsFile: string, labels: Label[], nearMisses: readonly NearMiss[] = [], format: DatasetFormat = 'contract'): Promise<{ replay: ReplayResult; scores: Map<PatternId, PatternScore>; nearMisses: ReturnType<typeof scoreNearMisses>; alerts: StoredAlert[] }> {
  const replay = await replayDataset(app, eventsFile, format)
  const alerts = await storedAlerts(app)
  return { replay, scores: evaluate(alerts, labels), nearMisses: scoreNearMisses(alerts, nearMisses.filter((n) => !isAudit(n))), alerts }
}

/** Replays a dataset file in its format (national transactions go through the adapter, src/national). */
export async function replayDataset(app: App, file: string, format: DatasetFormat): Promise<ReplayResult> {
  return replayFile(app, file, { format })
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

/**
 * The audit as the nightly CronJob runs it (the 30 days ending yesterday), on
 * the night after the last day of history and on the night before: a finding
 * that persists across both should be one alert. Scores the audit detectors'
 * near misses on the latest stored revision of every alert the two runs
 * raised, and counts distinct alert ids per detector.
 */
export async function evaluateNightlyAudits(app: App, nearMisses: readonly NearMiss[]): Promise<{ table: string; nearMisses: ReturnType<typeof scoreNearMisses>; windows: { from: number; to: number }[] }> {
  const [span] = await app.store.query<{ hi: string }>(`SELECT toString(max(event_time)) AS hi FROM ${app.store.t('events')}`)
  const last = Date.parse(span!.hi.replace(' ', 'T') + 'Z')
  const windows = [auditWindow({}, last), auditWindow({}, last + DAY_MS)]
  const runs: AuditRun[] = []
  for (const w of windows) runs.push(await runAudit(app, w))
  const ids = [...new Set(runs.flatMap((r) => r.alerts.map((a) => a.alert_id)))]
  const alerts = await storedAlerts(app, ids)
  const audits = Object.entries(PATTERNS).filter(([, p]) => p.kind === 'audit').map(([id]) => id)
  const head = `${'audit detector'.padEnd(24)} ${'night 1'.padStart(8)} ${'night 2'.padStart(8)} ${'distinct'.padStart(9)} ${'standing'.padStart(9)}`
  const rows = audits.map((id) => {
    const mine = alerts.filter((a) => a.detector.id === id)
    return `${id.padEnd(24)} ${String(runs[0]!.byDetector[id] ?? 0).padStart(8)} ${String(runs[1]!.byDetector[id] ?? 0).padStart(8)} ${String(mine.length).padStart(9)} ${String(mine.filter(standing).length).padStart(9)}`
  })
  const title = windows.map((w, i) => `night ${i + 1}: ${cnDate(w.from)} .. ${cnDate(w.to - 1)}`).join('; ')
  return { table: [title, head, ...rows].join('\n'), nearMisses: scoreNearMisses(alerts, nearMisses.filter(isAudit)), windows }
}

/** What the streaming table's columns count (an over-quantity label can be matched by several alerts, so TP may exceed labels). */
export const SCORE_LEGEND = [
  'labels: injected findings of the detector; alerts: distinct stored alerts still standing; withdrawn: alerts later facts withdrew (left out of the other columns);',
  'TP: alerts that match a label (one label can be matched by several alerts — e.g. one per fee line billed too often — so TP may exceed labels);',
  'FP: alerts matching no label; FN: labels no alert matched; precision = TP / alerts; recall = labels found / labels;',
  'recall raised: the same counting every alert ever raised, withdrawn ones too — recall below it means a withdrawal took a true finding with it.',
].join('\n')

export function scoreTable(scores: Map<PatternId, PatternScore>, kind: 'stream' | 'audit' = 'stream'): string {
  const rows = [...scores].filter(([id]) => PATTERNS[id].kind === kind)
  const head = `${'detector'.padEnd(24)} ${'labels'.padStart(7)} ${'alerts'.padStart(7)} ${'withdrawn'.padStart(9)} ${'TP'.padStart(6)} ${'FP'.padStart(5)} ${'FN'.padStart(5)} ${'precision'.padStart(10)} ${'recall raised'.padStart(13)} ${'recall'.padStart(8)}`
  return [head, ...rows.map(([id, s]) => `${id.padEnd(24)} ${String(s.labels).padStart(7)} ${String(s.alerts).padStart(7)} ${String(s.withdrawn).padStart(9)} ${String(s.tp).padStart(6)} ${String(s.fp).padStart(5)} ${String(s.fn).padStart(5)} ${s.precision.toFixed(3).padStart(10)} ${s.recallRaised.toFixed(3).padStart(13)} ${s.recall.toFixed(3).padStart(8)}`)].join('\n')
}

export const NEAR_MISS_LEGEND = [
  'near misses: legitimate look-alikes of the detector (near-misses.jsonl; a persisting audit finding is real and due one alert);',
  'raised: alerts on them, withdrawn ones included; withdrawn: alerts later facts withdrew; false: standing alerts beyond what is due;',
  'precision = due standing alerts / standing alerts on them (1.000 when none stands).',
].join('\n')

/** False alerts on near misses per detector, then per shape for the shapes that drew any alert. */
export function nearMissTable(...parts: ReturnType<typeof scoreNearMisses>[]): string {
  const cols = (s: NearMissScore): string => `${String(s.nearMisses).padStart(12)} ${String(s.raised).padStart(7)} ${String(s.withdrawn).padStart(9)} ${String(s.false).padStart(6)} ${s.precision.toFixed(3).padStart(10)}`
  const head = (first: string): string => `${first.padEnd(46)} ${'near misses'.padStart(12)} ${'raised'.padStart(7)} ${'withdrawn'.padStart(9)} ${'false'.padStart(6)} ${'precision'.padStart(10)}`
  const byDetector = parts.flatMap((p) => [...p.byDetector]).sort(([a], [b]) => a.localeCompare(b))
  const byKind = parts.flatMap((p) => [...p.byKind]).filter(([, s]) => s.raised > 0).sort(([a], [b]) => a.localeCompare(b))
  return [
    head('detector'), ...byDetector.map(([id, s]) => `${id.padEnd(46)} ${cols(s)}`),
    '', head('shape (detector)'), ...(byKind.length ? byKind.map(([k, s]) => `${`${k} (${s.pattern})`.padEnd(46)} ${cols(s)}`) : ['(no alert on any near miss)']),
  ].join('\n')
}

/** `fundwatch evaluate [--fee-lines N] [--seed S] [--format F]`: generate, replay into a scratch store, score. */
export async function evaluateCommand(values: { 'fee-lines'?: string; seed?: string; 'data-dir'?: string; format?: string }): Promise<number> {
  const format = datasetFormat(values.format)
  const dir = mkdtempSync(join(tmpdir(), 'fw-evaluate-'))
  const ds = await writeDataset(join(dir, 'dataset'), { seed: Number(values.seed ?? 11), targetFeeLines: Number(values['fee-lines'] ?? 200_000), kb: sampleKnowledgeBase() }, { format })
  console.log(`dataset (${format === 'national' ? 'national transactions' : 'contract events'}): ${ds.counts.events.toLocaleString('en-US')} events, ${ds.counts.feeLines.toLocaleString('en-US')} fee lines, ${ds.counts.labels} labelled findings, ${ds.counts.nearMisses} near misses`)
  const config = configFromEnv(process.env, { kbDir: ds.kbDir, dataDir: values['data-dir'] ?? join(dir, 'chdb'), database: 'evaluate', logLevel: 'warn' })
  const app = await createApp(config)
  try {
    const labels = readLabels(ds.labelsFile)
    const nearMisses = readNearMisses(ds.nearMissesFile)
    const { replay, scores, nearMisses: streamNear } = await evaluateReplay(app, ds.eventsFile, labels, nearMisses, format)
    // What the replay did not store is part of the score: a dataset is generated clean, so any dead letter is a loss (a national one, what the adapter lost).
    const refused = Object.entries(replay.rejectedByReason).map(([r, n]) => `${r} ${n}`).join(', ')
    console.log(`replayed in ${(replay.ms / 1000).toFixed(1)} s: ${fmtRate(replay.events, replay.ms)} events/s, ${fmtRate(replay.feeLines, replay.ms)} fee lines/s; `
      + `${replay.events.toLocaleString('en-US')} events stored, ${replay.rejected} dead letters${refused ? ` (${refused})` : ''}, ${replay.ignored ?? 0} transactions ignored\n\n${scoreTable(scores)}\n\n${SCORE_LEGEND}`)
    const audit = await evaluateAudits(app, labels)
    console.log(`\n${audit.table}`)
    const nightly = await evaluateNightlyAudits(app, nearMisses)
    console.log(`\nthe nightly audit on two consecutive nights: ${nightly.table}`)
    console.log(`\nfalse alerts on near misses:\n${nearMissTable(streamNear, nightly.nearMisses)}\n\n${NEAR_MISS_LEGEND}`)
    return 0
  } finally {
    await app.close()
  }
}
