import { accessSync, constants } from 'node:fs'
import type { App } from '../app.ts'
import { FundwatchError } from '../errors.ts'
import { fileSource } from '../pipeline/sources.ts'
import type { RunSummary } from '../pipeline/pipeline.ts'
import { SOURCE_FORMATS, type SourceFormat } from '../pipeline/types.ts'
import { appFromFlags, fmtRate, stopSignal, type CommonFlags } from './common.ts'

export interface ReplayResult extends RunSummary {
  ms: number
  /** Distinct alert ids per detector. */
  alertsByDetector: Record<string, number>
  uniqueAlerts?: number
}

/** Replays a JSON-lines file (contract events, or national transactions with format 'national') through the full pipeline into the store. */
export async function replayFile(app: App, path: string, opts: { batchSize?: number; format?: SourceFormat; signal?: AbortSignal; onProgress?: (done: number, total: number, s: ReplayResult) => void } = {}): Promise<ReplayResult> {
  const t0 = performance.now()
  // A finding can be emitted again by a later event with more facts (same
  // alert_id, the later document wins in the store): count distinct ids.
  const alertIds = new Map<string, Set<string>>()
  const alertsByDetector: Record<string, number> = {}
  let progress = { done: 0, total: 1 }
  const source = fileSource(path, { batchSize: opts.batchSize ?? app.config.batchSize, format: opts.format, onProgress: (done, total) => { progress = { done, total } } })
  const result = await app.pipeline().run(source, opts.signal ?? new AbortController().signal, (p, sum) => {
    // Live alerts only: a shadow detector's are kept apart (src/detect/shadow.ts) and out of the counts.
    for (const a of p.routed?.live ?? []) {
      let ids = alertIds.get(a.detector.id)
      if (!ids) alertIds.set(a.detector.id, (ids = new Set()))
      ids.add(a.alert_id)
      alertsByDetector[a.detector.id] = ids.size
    }
    opts.onProgress?.(progress.done, progress.total, { ...sum, ms: performance.now() - t0, alertsByDetector })
  })
  return { ...result, ms: performance.now() - t0, alertsByDetector, uniqueAlerts: Object.values(alertsByDetector).reduce((a, b) => a + b, 0) }
}

/** The store, as an operator would name it on the dlq command line. */
function where(app: App): string {
  return app.store.embedded ? `chDB ${app.config.dataDir} (database ${app.config.database})` : `ClickHouse database ${app.config.database}`
}

export async function replay(path: string, flags: CommonFlags & { 'batch-size'?: string; format?: string }): Promise<number> {
  const batchSize = flags['batch-size'] === undefined ? undefined : Number(flags['batch-size'])
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) throw new FundwatchError('BAD_REQUEST', `--batch-size must be a positive integer (got ${flags['batch-size']})`)
  const format = (flags.format ?? 'contract') as SourceFormat
  if (!SOURCE_FORMATS.includes(format)) throw new FundwatchError('BAD_REQUEST', `--format must be ${SOURCE_FORMATS.join(' or ')} (got ${flags.format})`)
  // Checked before the app opens (and migrates) the store: a typo touches nothing.
  try {
    accessSync(path, constants.R_OK)
  } catch (cause) {
    throw new FundwatchError('NOT_FOUND', `cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'}): give the path of a JSON-lines event file`, { cause })
  }
  const app = await appFromFlags(flags, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  const ac = stopSignal()
  const tty = process.stderr.isTTY
  let lastPrint = 0
  try {
    const r = await replayFile(app, path, {
      batchSize,
      format,
      signal: ac.signal,
      onProgress: (done, total, s) => {
        const now = Date.now()
        if (now - lastPrint < (tty ? 100 : 2000)) return
        lastPrint = now
        const pct = total ? done / total : 0
        const bar = '█'.repeat(Math.round(pct * 30)).padEnd(30, '░')
        const line = `${bar} ${(pct * 100).toFixed(1).padStart(5)}%  ${s.events.toLocaleString('en-US')} events  ${s.feeLines.toLocaleString('en-US')} lines  ${fmtRate(s.feeLines, s.ms)} lines/s  ${s.alerts} alerts  ${s.rejected} rejected`
        process.stderr.write(tty ? `\r${line}` : `${line}\n`)
      },
    })
    if (tty) process.stderr.write('\n')
    const lines = [
      `replayed ${path} in ${(r.ms / 1000).toFixed(1)} s`,
      `  records     ${r.records.toLocaleString('en-US')}`,
      `  events      ${r.events.toLocaleString('en-US')}  (${fmtRate(r.events, r.ms)}/s)`,
      `  fee lines   ${r.feeLines.toLocaleString('en-US')}  (${fmtRate(r.feeLines, r.ms)}/s)`,
      `  rejected    ${r.rejected.toLocaleString('en-US')}${Object.keys(r.rejectedByReason).length ? '  ' + Object.entries(r.rejectedByReason).map(([k, v]) => `${k}=${v}`).join(' ') : ''}`,
      ...(r.rejected ? [`              stored with their reason and raw bytes in the dead_letters table of ${where(app)}: fundwatch dlq list (show <dlq_id>, export)`] : []),
      ...(r.ignored ? [`  ignored     ${r.ignored.toLocaleString('en-US')}  (national transactions that are not facts, or failed on the platform: docs/national.md)`] : []),
      ...(r.blankLines ? [`  blank lines ${r.blankLines.toLocaleString('en-US')}  (skipped: empty or whitespace only, not records)`] : []),
      `  alerts      ${(r.uniqueAlerts ?? 0).toLocaleString('en-US')}${r.alerts !== r.uniqueAlerts ? `  (${r.alerts.toLocaleString('en-US')} emitted; a later event may refine an alert, same id)` : ''}`,
      ...Object.entries(r.alertsByDetector).sort((a, b) => b[1] - a[1]).map(([d, n]) => `    ${d.padEnd(26)} ${n}`),
    ]
    console.log(lines.join('\n'))
    return 0
  } finally {
    await app.close()
  }
}
