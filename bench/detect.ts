import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp, loadKb } from '../src/app.ts'
import { replayFile } from '../src/cli/replay.ts'
import { configFromEnv } from '../src/config.ts'
import { DetectEngine } from '../src/detect/engine.ts'
import { buildRegistry } from '../src/detect/registry.ts'
import type { Alert } from '../schemas/index.ts'
import type { KnowledgeBase } from '../src/kb/knowledge-base.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { DEFAULT_DECODE, decode } from '../src/pipeline/decode.ts'
import { fileSource } from '../src/pipeline/sources.ts'
import { newPerson, prune } from '../src/state/apply.ts'
import type { PersonState } from '../src/state/types.ts'
import { psnOf } from '../src/store/rows.ts'
import { dataset, type Dataset, type Figure } from './common.ts'

const BATCH = 2000
// The dataset is history; the future-time check must not reject it.
const decodeOpts = { ...DEFAULT_DECODE, futureToleranceMs: 10 * 365 * 86_400_000 }

interface Replay {
  events: number
  decodeMs: number
  /** applyEvent + engine.detect, the work the pipeline's detect stage does per event. */
  detectMs: number
  pruneMs: number
  alerts: number
  byDetector: Map<string, number>
}

/**
 * Issue 4's goal: the full detector catalog costs no more than half of the
 * pipeline's time per event. The dataset is replayed in memory (no store, no
 * Kafka) through decode → applyEvent → DetectEngine.detect in the pipeline's
 * batches, once with every detector enabled and once with none; the
 * difference is what detection costs. Person state starts empty and lives in
 * a plain map (the pipeline loads it from ClickHouse; that is the state
 * stage, not detection), pruned per batch to the full catalog's lookback in
 * both runs so the runs hold the same state.
 */
export async function benchDetect(feeLines: number, pipelineRaw?: Record<string, number>): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const load1Start = loadavg()[0]!
  const ds = await dataset(feeLines)
  const kb = await loadKb(ds.kbDir)
  const registry = buildRegistry()
  const all = new DetectEngine(registry)
  const none = new DetectEngine(registry, { defaults: { enabled: false } })
  // All first: a cold JIT then inflates the all-detectors time, so the difference errs high, not low.
  const withAll = await replay(ds, kb, all, all.lookbackDays)
  const withNone = await replay(ds, kb, none, all.lookbackDays)

  const pipe = pipelineRaw?.pipelineMs !== undefined && pipelineRaw.events !== undefined
    ? { ms: pipelineRaw.pipelineMs, events: pipelineRaw.events, stageDetectS: pipelineRaw.stage_detect_s, own: false }
    : await ownPipelineRun(ds)

  const us = (ms: number, n: number) => Math.round((ms * 1000 * 100) / n) / 100
  const detectUs = us(withAll.detectMs - withNone.detectMs, withAll.events)
  const detectorsUs = us(sum(withAll.byDetector.values()), withAll.events)
  const pipelineUs = us(pipe.ms, pipe.events)
  const ratio = Math.round((detectUs / pipelineUs) * 100) / 100
  const stream = all.active.filter((a) => a.detector.kind === 'stream').length
  const figures: Figure[] = [
    { name: 'events replayed in memory', value: withAll.events, unit: 'events' },
    { name: 'stream detectors enabled', value: stream, unit: 'detectors' },
    { name: 'decode + validate', value: us(withAll.decodeMs, withAll.events), unit: 'µs/event' },
    { name: 'apply + detect, every detector', value: us(withAll.detectMs, withAll.events), unit: 'µs/event' },
    { name: 'apply + detect, no detector', value: us(withNone.detectMs, withNone.events), unit: 'µs/event' },
    { name: 'detect cost (every − none)', value: detectUs, unit: 'µs/event' },
    { name: 'time inside detectors (engine timings)', value: detectorsUs, unit: 'µs/event' },
    { name: `pipeline time per event (${pipe.own ? 'own replay' : 'pipeline section'})`, value: pipelineUs, unit: 'µs/event' },
    { name: 'detect cost ÷ pipeline time per event', value: ratio, unit: '×', goal: '≤ 0.5', met: ratio <= 0.5 },
  ]
  if (pipe.stageDetectS !== undefined) {
    figures.push({ name: 'pipeline detect stage (state apply + detect)', value: us(pipe.stageDetectS * 1000, pipe.events), unit: 'µs/event' })
  }
  figures.push({ name: 'alerts raised (distinct per batch)', value: withAll.alerts, unit: 'alerts' })
  const perDetector = [...withAll.byDetector.entries()].sort((a, b) => b[1] - a[1])
  for (const [id, ms] of perDetector) figures.push({ name: `detector ${id}`, value: Math.round(ms), unit: `ms (${us(ms, withAll.events)} µs/event)` })
  return {
    figures,
    raw: {
      events: withAll.events, decodeMs: withAll.decodeMs, detectAllMs: withAll.detectMs, detectNoneMs: withNone.detectMs, pruneMs: withAll.pruneMs,
      detectUs, detectorsUs, pipelineUs, ratio, pipelineOwnRun: pipe.own ? 1 : 0, load1Start, load1End: loadavg()[0]!,
      ...Object.fromEntries(perDetector.map(([id, ms]) => [`detector_${id}_ms`, ms])),
    },
  }
}

async function replay(ds: Dataset, kb: KnowledgeBase, engine: DetectEngine, lookbackDays: number): Promise<Replay> {
  const persons = new Map<string, PersonState>()
  const r: Replay = { events: 0, decodeMs: 0, detectMs: 0, pruneMs: 0, alerts: 0, byDetector: new Map() }
  const now = Date.now()
  engine.takeTimings()
  for await (const b of fileSource(ds.eventsFile, { batchSize: BATCH }).batches(new AbortController().signal)) {
    const t0 = performance.now()
    const valid = []
    for (const rec of b.records) {
      const d = decode(rec.value, decodeOpts)
      if (d.ok) valid.push(d)
    }
    const t1 = performance.now()
    const touched = new Set<PersonState>()
    const alerts = new Map<string, Alert>()
    for (const { event, eventTime } of valid) {
      const psn = psnOf(event)
      let person: PersonState | undefined
      if (psn) {
        person = persons.get(psn)
        if (!person) persons.set(psn, (person = newPerson(psn, 'bench')))
        touched.add(person)
      }
      // The pipeline's own step: apply to the person's state, then detect.
      engine.step(alerts, { event, eventTime, person, stage: 'in', kb }, now)
    }
    r.alerts += alerts.size
    const t2 = performance.now()
    for (const p of touched) prune(p, lookbackDays)
    const t3 = performance.now()
    r.events += valid.length
    r.decodeMs += t1 - t0
    r.detectMs += t2 - t1
    r.pruneMs += t3 - t2
    for (const { id, ms } of engine.takeTimings()) r.byDetector.set(id, (r.byDetector.get(id) ?? 0) + ms)
  }
  return r
}

/** When the pipeline section did not run in this invocation: the same replay it times, here. */
async function ownPipelineRun(ds: Dataset): Promise<{ ms: number; events: number; stageDetectS: number | undefined; own: true }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-detect-'))
  try {
    const config = configFromEnv({ FUNDWATCH_KB: ds.kbDir, FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: 'bench_detect', CLICKHOUSE_URL: '', FUNDWATCH_BATCH_SIZE: String(BATCH) })
    const app = await createApp(config, { log: createLogger({ level: 'warn' }), metrics: new Metrics() })
    try {
      const r = await replayFile(app, ds.eventsFile, { batchSize: BATCH })
      const stages = await app.metrics.batchSeconds.get()
      const detect = stages.values.find((v) => v.metricName === 'fundwatch_batch_seconds_sum' && v.labels.stage === 'detect')
      return { ms: r.ms, events: r.events, stageDetectS: detect?.value, own: true }
    } finally {
      await app.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function sum(xs: Iterable<number>): number {
  let s = 0
  for (const x of xs) s += x
  return s
}
