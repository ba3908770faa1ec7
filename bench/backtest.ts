import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp, type App } from '../src/app.ts'
import { backtest } from '../src/backtest/backtest.ts'
import type { BacktestResult } from '../src/backtest/result.ts'
import { DEMO_HISTORY } from '../src/cli/start.ts'
import { replayFile } from '../src/cli/replay.ts'
import { configFromEnv } from '../src/config.ts'
import { parseRules, rulesHash } from '../src/detect/rules-file.ts'
import { createGenerator } from '../src/generator/generate.ts'
import { KnowledgeBase } from '../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../src/kb/sample.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { generatorSource } from '../src/pipeline/sources.ts'
import { DAY_MS, cnDayStart, fromChTime } from '../src/util/time.ts'
import { dataset, rate, type Figure } from './common.ts'

/** The change a rule analyst would try first: a raised threshold on one detector. */
const CANDIDATE = 'detectors:\n  over-standard-charge:\n    params:\n      min_excess_amount: 50\n'

async function run(app: App, from: number, to: number): Promise<{ r: BacktestResult; peakRss: number }> {
  let peakRss = process.memoryUsage().rss
  const r = await backtest({
    store: app.store, kb: app.kb(), baseline: { engine: app.engine(), hash: 'defaults' },
    candidate: { engine: parseRules(CANDIDATE, app.registry).engine, hash: rulesHash(CANDIDATE) }, from, to,
    onProgress: () => { peakRss = Math.max(peakRss, process.memoryUsage().rss) },
  })
  return { r, peakRss }
}

/**
 * Issue 14's cost statement: backtest throughput (fee lines/s) over stored
 * history — the bench dataset replayed into a store, then backtested whole
 * (both rule bases, one read) — and the time of a 30-day backtest over the
 * history `npm start` generates (DEMO_HISTORY), on this machine.
 */
export async function benchBacktest(feeLines: number): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const ds = await dataset(feeLines)
  // One chDB data directory per process: both stores are databases in it.
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-backtest-'))
  const log = createLogger({ level: 'warn' })
  const stored = await createApp(configFromEnv({ FUNDWATCH_KB: ds.kbDir, FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: 'bench_backtest', CLICKHOUSE_URL: '' }), { log, metrics: new Metrics() })
  const replayed = await replayFile(stored, ds.eventsFile, { batchSize: 10_000 })
  const [span] = await stored.store.query<{ lo: string; hi: string }>(`SELECT toString(min(event_time)) AS lo, toString(max(event_time)) AS hi FROM ${stored.store.t('events')}`)
  const whole = await run(stored, fromChTime(span!.lo), fromChTime(span!.hi) + 1)
  await stored.close()

  const base = sampleKnowledgeBase()
  const now = Date.now()
  const gen = createGenerator({ seed: 4242, ...DEMO_HISTORY, startTime: now - (DEMO_HISTORY.days + 1) * DAY_MS, kb: base })
  const events = [...gen.events()]
  const demo = await createApp(configFromEnv({ FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: 'bench_backtest_demo', CLICKHOUSE_URL: '' }), {
    log, metrics: new Metrics(), kb: new KnowledgeBase({ ...base, persons: [...base.persons, ...gen.persons] }, 'demo'),
  })
  await demo.pipeline().run(generatorSource(events, { batchSize: 1000 }), new AbortController().signal)
  const to = cnDayStart(now)
  const month = await run(demo, to - 30 * DAY_MS, to)
  await demo.close()

  const w = whole.r
  const m = month.r
  const figures: Figure[] = [
    { name: 'stored history: events replayed', value: w.events, unit: 'events' },
    { name: 'stored history: fee lines replayed', value: w.fee_lines, unit: 'lines' },
    { name: 'backtest: fee lines (both rule bases)', value: rate(w.fee_lines, w.elapsed_ms), unit: 'lines/s' },
    { name: 'backtest: events', value: rate(w.events + w.warmup_events, w.elapsed_ms), unit: 'events/s' },
    // The same history through the live pipeline into the store, in this run: what the machine gives now.
    { name: 'backtest ÷ live replay of the same history', value: Math.round((rate(w.fee_lines, w.elapsed_ms) / rate(replayed.feeLines, replayed.ms)) * 100) / 100, unit: '×' },
    { name: 'backtest: peak RSS', value: Math.round(whole.peakRss / 2 ** 20), unit: 'MiB' },
    { name: 'npm start history, 30 days: events', value: m.events, unit: 'events' },
    { name: 'npm start history, 30 days: warm-up events', value: m.warmup_events, unit: 'events' },
    { name: 'npm start history, 30 days: backtest time', value: m.elapsed_ms, unit: 'ms' },
  ]
  return {
    figures,
    raw: { replayLinesPerS: rate(replayed.feeLines, replayed.ms), events: w.events, feeLines: w.fee_lines, ms: w.elapsed_ms, linesPerS: rate(w.fee_lines, w.elapsed_ms), peakRssMiB: Math.round(whole.peakRss / 2 ** 20), demoEvents: m.events, demoWarmup: m.warmup_events, demoMs: m.elapsed_ms },
  }
}
