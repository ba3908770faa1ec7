import { readFileSync } from 'node:fs'
import { Pushgateway } from 'prom-client'
import type { App } from '../app.ts'
import { runAudit, auditTopK } from '../audit/runner.ts'
import { FundwatchError } from '../errors.ts'
import { createKafka } from '../kafka/admin.ts'
import { kafkaSecurity } from '../kafka/security.ts'
import { kafkaAlertSink, kafkaProducer } from '../kafka/sinks.ts'
import { topicNames } from '../kafka/topics.ts'
import type { Label } from '../generator/labels.ts'
import { DAY_MS, cnDate, cnDayStart, parseWhen } from '../util/time.ts'
import { appFromFlags, type CommonFlags } from './common.ts'
import { sumYuan } from '../util/money.ts'

export { parseWhen }

/** The window the flags ask for: [from, to), China days, defaults to the 30 days ending yesterday. */
export function auditWindow(flags: { from?: string; to?: string }, now = Date.now()): { from: number; to: number } {
  const today = cnDayStart(now)
  const to = flags.to ? parseWhen(flags.to, true) : today
  const from = flags.from ? parseWhen(flags.from, false) : to - 30 * DAY_MS
  if (!(from < to)) throw new FundwatchError('BAD_REQUEST', `--from must be before --to (${cnDate(from)} .. ${cnDate(to - 1)})`)
  return { from, to }
}

/** `fundwatch audit`: runs the audit detectors over a window of stored history; exit 1 when a detector failed. */
export async function auditCommand(values: CommonFlags & { from?: string; to?: string; detector?: string[]; labels?: string; top?: string; json?: boolean }): Promise<number> {
  const window = auditWindow(values)
  const k = values.top === undefined ? 10 : Number(values.top)
  if (!(Number.isInteger(k) && k > 0)) throw new FundwatchError('BAD_REQUEST', `--top must be a positive integer (got ${values.top})`)
  const labels = values.labels ? readLabels(values.labels) : undefined
  const app = await appFromFlags(values, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  try {
    const t0 = performance.now()
    // With KAFKA_BROKERS the stored alerts also go to the alerts topic, as the processors' do.
    const brokers = app.config.kafkaBrokers
    const producer = brokers ? await kafkaProducer(createKafka({ brokers, clientId: `fundwatch-audit-${process.pid}`, security: kafkaSecurity(app.config, app.log) })) : undefined
    let run: Awaited<ReturnType<typeof runAudit>>
    try {
      const sinks = producer ? [kafkaAlertSink(producer, topicNames(app.config.topicPrefix).alerts)] : []
      run = await runAudit(app, { ...window, ...(values.detector ? { detectors: values.detector } : {}), sinks })
    } finally {
      await producer?.disconnect().catch(() => undefined)
      // A CronJob ends before any scrape: its run metrics (success or failure) go to the Pushgateway.
      if (app.config.pushgatewayUrl) await pushAuditMetrics(app, app.config.pushgatewayUrl)
    }
    const ms = performance.now() - t0
    const scores = labels ? auditTopK(run.alerts, labels, k) : undefined
    if (values.json) {
      console.log(JSON.stringify({ from: cnDate(window.from), to: cnDate(window.to - 1), ms: Math.round(ms), byDetector: run.byDetector, errors: run.errors, detectorMs: run.ms, ...(scores ? { topK: k, scores } : {}) }, null, 2))
    } else {
      const lines = [`audited ${cnDate(window.from)} .. ${cnDate(window.to - 1)} in ${(ms / 1000).toFixed(1)} s: ${run.alerts.length} alerts stored${producer ? ' and published to the alerts topic' : ''}`]
      for (const [id, n] of Object.entries(run.byDetector)) {
        const amount = sumYuan(run.alerts.filter((a) => a.detector.id === id).map((a) => a.amount_at_risk))
        const sc = scores?.[id]
        const p = sc ? `  precision@${k} ${sc.precision === undefined ? '–' : sc.precision.toFixed(2)} (${sc.tp}/${sc.k}), labels found ${sc.labelsFound}/${sc.labels}` : ''
        lines.push(`  ${id.padEnd(20)} ${String(n).padStart(5)} alerts  ${amount.padStart(14)} at risk  ${String(run.ms[id] ?? 0).padStart(6)} ms${p}`)
      }
      for (const e of run.errors) lines.push(`  ${e.detector.padEnd(20)} FAILED (${e.reason}); see the log`)
      console.log(lines.join('\n'))
    }
    return run.errors.length ? 1 : 0
  } finally {
    await app.close()
  }
}

/**
 * Pushes the last run's audit gauges (job fundwatch-audit) with POST, which
 * replaces only the metrics pushed: a failed run leaves the previous
 * last-success time in place. A failed push is logged, not fatal: the missing
 * success is what FundwatchAuditNotRun pages on.
 */
export async function pushAuditMetrics(app: App, url: string): Promise<void> {
  try {
    await new Pushgateway(url, { timeout: 10_000 }, app.metrics.auditPushRegistry()).pushAdd({ jobName: 'fundwatch-audit' })
  } catch (err) {
    app.log.error({ err: (err as Error).message, pushgateway: new URL(url).origin }, 'pushing audit metrics failed')
  }
}

function readLabels(path: string): Label[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new FundwatchError('BAD_REQUEST', `cannot read labels ${path}`, { cause })
  }
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Label)
}
