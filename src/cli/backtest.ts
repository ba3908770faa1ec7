import { readFileSync } from 'node:fs'
import { backtest } from '../backtest/backtest.ts'
import { hashInForce, prepare } from '../backtest/jobs.ts'
import type { BacktestResult, DetectorDiff } from '../backtest/result.ts'
import { buildRegistry } from '../detect/registry.ts'
import { FundwatchError } from '../errors.ts'
import { appFromFlags, fmtRate, stopSignal, type CommonFlags } from './common.ts'

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (cause) {
    throw new FundwatchError('NOT_FOUND', `cannot read ${what} ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
  }
}

/**
 * `fundwatch backtest --rules candidate.yaml --from … --to …`: the candidate
 * rule base and the one in force (FUNDWATCH_RULES, or every detector with its
 * defaults) replayed over the stored events of the window; a table of what
 * would change, or the result as JSON. An invalid candidate is refused with
 * its line before the store is opened.
 */
export async function backtestCommand(flags: Omit<CommonFlags, 'rules'> & { rules?: string; from?: string; to?: string; labels?: string; json?: boolean }): Promise<number> {
  if (!flags.rules) throw new FundwatchError('BAD_REQUEST', '--rules <candidate.yaml> is required: the rule base to try')
  if (!flags.from || !flags.to) throw new FundwatchError('BAD_REQUEST', '--from and --to are required: the window of stored history to replay')
  const text = read(flags.rules, 'the candidate rule base')
  const p = prepare({ registry: buildRegistry() }, { text, from: flags.from, to: flags.to, ...(flags.labels ? { labels: read(flags.labels, 'the labels file') } : {}) }, flags.rules)
  // The store's app runs the rule base in force (FUNDWATCH_RULES): --rules here is the candidate, not the app's.
  const app = await appFromFlags({ kb: flags.kb, 'data-dir': flags['data-dir'] }, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  const ac = stopSignal()
  const tty = process.stderr.isTTY
  let lastPrint = 0
  try {
    const result = await backtest({
      store: app.store, kb: app.kb(), baseline: { engine: app.engine(), hash: hashInForce(app) }, candidate: { engine: p.engine, hash: p.hash },
      from: p.from, to: p.to, ...(p.labels ? { labels: p.labels } : {}), signal: ac.signal,
      onProgress: ({ events_done, events_total }) => {
        const now = Date.now()
        if (now - lastPrint < (tty ? 100 : 2000) && events_done < events_total) return
        lastPrint = now
        const pct = events_total ? events_done / events_total : 1
        const line = `${'█'.repeat(Math.round(pct * 30)).padEnd(30, '░')} ${(pct * 100).toFixed(1).padStart(5)}%  ${events_done.toLocaleString('en-US')} / ${events_total.toLocaleString('en-US')} events`
        process.stderr.write(tty ? `\r${line}` : `${line}\n`)
      },
    })
    if (tty) process.stderr.write('\n')
    console.log(flags.json ? JSON.stringify(result, null, 2) : table(result))
    return 0
  } finally {
    await app.close()
  }
}

const n = (x: number) => x.toLocaleString('en-US')
const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(0)}%`)

/** The result as a reader takes it in: one row per detector, then what changed, largest amounts first. */
export function table(r: BacktestResult): string {
  const rows = r.detectors.filter((d) => d.baseline.alerts || d.candidate.alerts || d.baseline_mode !== d.candidate_mode)
  const head = [
    `backtest ${r.window.from} .. ${r.window.to}: ${n(r.events)} events, ${n(r.fee_lines)} fee lines in ${(r.elapsed_ms / 1000).toFixed(1)} s (${fmtRate(r.fee_lines, r.elapsed_ms)} lines/s; warm-up ${n(r.warmup_events)} events${r.skipped ? `, ${n(r.skipped)} undecodable skipped` : ''})`,
    `rule base in force ${r.baseline_hash} → candidate ${r.candidate_hash}; alerts standing at the end of the window`,
    '',
    ['detector'.padEnd(24), 'mode'.padEnd(12), 'alerts'.padStart(15), 'amount at risk (¥)'.padStart(27), '+added'.padStart(7), '−removed'.padStart(9), '~changed'.padStart(9), 'review P'.padStart(11), ...(r.labelled ? ['labels P/R'.padStart(23)] : [])].join(' '),
  ]
  const line = (d: DetectorDiff) => [
    d.detector.padEnd(24),
    (d.baseline_mode === d.candidate_mode ? d.baseline_mode : `${d.baseline_mode}→${d.candidate_mode}`).padEnd(12),
    `${n(d.baseline.alerts)} → ${n(d.candidate.alerts)}`.padStart(15),
    `${d.baseline.amount_at_risk} → ${d.candidate.amount_at_risk}`.padStart(27),
    n(d.added.count).padStart(7), n(d.removed.count).padStart(9), n(d.changed.count).padStart(9),
    `${pct(d.precision.baseline)}→${pct(d.precision.candidate)}`.padStart(11),
    ...(d.labels ? [`${pct(d.labels.baseline.precision)}/${pct(d.labels.baseline.recall)} → ${pct(d.labels.candidate.precision)}/${pct(d.labels.candidate.recall)}`.padStart(23)] : []),
  ].join(' ')
  const out = [...head, ...rows.map(line)]
  if (rows.length === 0) out.push('(no alerts under either rule base in this window)')
  for (const d of r.detectors) {
    if (!d.added.count && !d.removed.count && !d.changed.count) continue
    out.push('', `${d.detector}:`)
    for (const [label, delta] of [['added', d.added], ['removed', d.removed]] as const) {
      if (!delta.count) continue
      out.push(`  ${label} ${n(delta.count)} (¥${delta.amount_at_risk}), largest first:`)
      for (const a of delta.sample.slice(0, 5)) out.push(`    ${a.alert_id}  ${a.fixmedins_code}  ${a.mdtrt_id || '-'}  ¥${a.amount_at_risk}  ${a.severity}/${a.result}  ${a.message_en.slice(0, 80)}`)
    }
    if (d.changed.count) {
      out.push(`  changed ${n(d.changed.count)}:`)
      for (const c of d.changed.sample.slice(0, 5)) out.push(`    ${c.alert_id}  ¥${c.before.amount_at_risk} ${c.before.severity}/${c.before.result} → ¥${c.after.amount_at_risk} ${c.after.severity}/${c.after.result}`)
    }
  }
  out.push('', 'review P: confirmed / reviewed among stored alerts with the same ids (decided = confirmed, dismissed = false positive); --json for every field and up to 20 samples each')
  return out.join('\n')
}
