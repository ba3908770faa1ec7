import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Partitioners, logLevel, type Admin, type Kafka, type Message, type Producer } from 'kafkajs'
import { startLocalBroker } from '../scripts/kafka/local-broker.ts'
import { createApp, type App } from '../src/app.ts'
import { configFromEnv } from '../src/config.ts'
import { createKafka } from '../src/kafka/admin.ts'
import { runProcessor } from '../src/kafka/processor.ts'
import { sendChunked } from '../src/kafka/sinks.ts'
import { createTopics, topicNames } from '../src/kafka/topics.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import type { RunSummary } from '../src/pipeline/pipeline.ts'
import { fileSource } from '../src/pipeline/sources.ts'
import type { SourceRecord } from '../src/pipeline/types.ts'
import { dataset, rate, type Dataset, type Figure } from './common.ts'

/** Partitions per topic: a few, as a small production topic would have, so the processor fetches from several at once. */
const PARTITIONS = 4
/**
 * The latency run's input rate: a share (BENCH_LATENCY_LOAD, default 0.5) of
 * the Kafka → detect → ClickHouse throughput just measured, so latency is
 * measured below capacity instead of reporting a growing backlog;
 * BENCH_LATENCY_RATE (fee lines/s) fixes it instead. Sends every TICK_MS.
 */
const LATENCY_LOAD = Number(process.env.BENCH_LATENCY_LOAD ?? 0.5)
const LATENCY_FIXED_RATE = process.env.BENCH_LATENCY_RATE ? Number(process.env.BENCH_LATENCY_RATE) : undefined
const TICK_MS = 50
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_S ?? 45)
/** A stalled run fails the section instead of hanging the bench. */
const STALL_MS = 5 * 60_000

interface Section { figures: Figure[]; raw: Record<string, number> }

/**
 * Issue 3's goals, on a private broker of our own:
 *  (a) kafkajs consume-only throughput over the claims and inventory topics;
 *  (b) Kafka → detectors → ClickHouse with the real processor, timed until
 *      every offset is committed (committed only after the rows are stored and
 *      the alerts acknowledged), goal ≥ 50k fee lines/s and ≥ 0.7 × the slower
 *      of (a) and the pipeline section's sink-only baseline;
 *  (c) event → alert-on-topic latency at 50 % of (b)'s throughput, goal p99 < 250 ms.
 */
export async function benchKafka(feeLines: number, pipelineRaw?: Record<string, number>): Promise<Section> {
  const load1Start = loadavg()[0]!
  const ds = await dataset(feeLines)
  const brokerDir = mkdtempSync(join(tmpdir(), 'fw-bench-kafka-'))
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-kafka-ch-'))
  const broker = await startLocalBroker({ dataDir: brokerDir, heapMax: '768m' })
  try {
    // Our own clients stay quiet: the broker's transient coordinator-loading answers are retried, not errors.
    const kafka = createKafka({ brokers: broker.brokers, clientId: 'fundwatch-bench', logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      const run = `bench-${Date.now().toString(36)}`
      const prefix = `${run}.`
      const topics = topicNames(prefix)
      await createTopics(admin, { prefix, partitions: PARTITIONS })

      // Setup, untimed: the whole dataset onto the topics, the way institutions send it.
      let t0 = performance.now()
      const producer = await idempotentProducer(kafka)
      const produced = { claims: 0, inventory: 0 }
      for await (const b of fileSource(ds.eventsFile, { batchSize: 5000 }).batches(new AbortController().signal)) {
        const claims: Message[] = []
        const inventory: Message[] = []
        for (const r of b.records) {
          const m = toMessage(r)
          if (m.topic === 'claims') claims.push(m.message)
          else inventory.push(m.message)
        }
        await sendChunked(producer, topics.claims, claims)
        await sendChunked(producer, topics.inventory, inventory)
        produced.claims += claims.length
        produced.inventory += inventory.length
      }
      await producer.disconnect()
      const produceMs = performance.now() - t0
      const records = produced.claims + produced.inventory
      const ends = await endOffsets(admin, [topics.claims, topics.inventory])
      console.log(`kafka: produced ${records.toLocaleString('en-US')} events in ${(produceMs / 1000).toFixed(1)} s (setup)`)

      // (a) consume-only: the same consumer settings as the processor's source, counting records.
      const consumer = kafka.consumer({ groupId: `${run}-consume-only`, maxBytesPerPartition: 4 << 20, maxWaitTimeInMs: 200 })
      let seen = 0
      let allSeen!: () => void
      const consumed = new Promise<void>((r) => (allSeen = r))
      t0 = performance.now()
      await consumer.connect()
      await consumer.subscribe({ topics: [topics.claims, topics.inventory], fromBeginning: true })
      await consumer.run({
        eachBatch: async ({ batch }) => {
          seen += batch.messages.length
          if (seen >= records) allSeen()
        },
      })
      await withStallGuard(consumed, () => seen, 'consume-only')
      const consumeMs = performance.now() - t0
      await consumer.disconnect()

      // (b) the processor: Kafka → decode → state → detect → ClickHouse + alerts topic, offsets committed last.
      const app = await benchApp(ds, dataDir, 'bench_kafka', broker.brokers, prefix, `${run}-processor`)
      let full: { ms: number; summary: RunSummary; stored: number; alertsOnTopic: number; stages: Record<string, number> }
      try {
        const ac = new AbortController()
        t0 = performance.now()
        const running = runProcessor(app, ac.signal)
        running.catch(() => undefined)
        await untilCommitted(admin, app.config.groupId, ends, running)
        const ms = performance.now() - t0
        ac.abort()
        const summary = await running
        const [row] = await app.store.query<{ c: string }>(`SELECT count() AS c FROM ${app.store.t('events')} FINAL`)
        const alertsOnTopic = sum((await endOffsets(admin, [topics.alerts])).values())
        const stages = Object.fromEntries((await app.metrics.batchSeconds.get()).values
          .filter((v) => v.metricName === 'fundwatch_batch_seconds_sum').map((v) => [`processor_stage_${String(v.labels.stage)}_s`, v.value]))
        full = { ms, summary, stored: Number(row?.c ?? 0), alertsOnTopic, stages }
      } finally {
        await app.close()
      }
      if (full.stored !== records) console.log(`kafka: WARNING ${full.stored} events stored, ${records} produced`)

      // (c) latency, on fresh topics, group and database, the processor already in the group.
      const latencyRate = LATENCY_FIXED_RATE ?? Math.max(1, Math.round(rate(ds.feeLines, full.ms) * LATENCY_LOAD))
      const lat = await latencyRun(admin, ds, dataDir, broker.brokers, `${run}-lat`, latencyRate)

      const consumeEvents = rate(records, consumeMs)
      const consumeLines = Math.round(consumeEvents * (ds.feeLines / ds.events))
      const fullLines = rate(ds.feeLines, full.ms)
      const sinkRate = pipelineRaw?.sinkRate
      const slower = sinkRate === undefined ? consumeLines : Math.min(consumeLines, sinkRate)
      const ratio = Math.round((fullLines / slower) * 100) / 100
      const figures: Figure[] = [
        { name: 'events on the topics (claims + inventory)', value: records, unit: 'events' },
        { name: 'consume-only: events', value: consumeEvents, unit: 'events/s' },
        { name: 'consume-only: fee lines', value: consumeLines, unit: 'lines/s' },
        { name: 'Kafka → detect → ClickHouse: fee lines', value: fullLines, unit: 'lines/s', goal: '≥ 50,000', met: fullLines >= 50_000 },
        { name: 'Kafka → detect → ClickHouse: events', value: rate(records, full.ms), unit: 'events/s' },
        ratioFigure(ratio, fullLines, consumeLines, sinkRate),
        { name: 'events stored (events FINAL)', value: full.stored, unit: 'events' },
        { name: 'alerts on the alerts topic', value: full.alertsOnTopic, unit: 'alerts' },
        { name: 'processor batches (mean events per batch)', value: full.summary.batches, unit: `batches (${Math.round(full.summary.records / Math.max(1, full.summary.batches))})` },
        { name: 'latency run: achieved input rate', value: lat.linesPerS, unit: `lines/s for ${lat.seconds.toFixed(0)} s (asked ${latencyRate.toLocaleString('en-US')}: ${LATENCY_FIXED_RATE === undefined ? `${LATENCY_LOAD * 100} % of the measured Kafka → ClickHouse rate` : 'BENCH_LATENCY_RATE'})` },
        { name: 'latency run: alerts measured', value: lat.latencies.length, unit: 'alerts' },
        { name: `event → alert on topic at ${LATENCY_FIXED_RATE === undefined ? `${LATENCY_LOAD * 100} % load` : 'fixed rate'}: p50`, value: lat.p50, unit: 'ms' },
        { name: `event → alert on topic at ${LATENCY_FIXED_RATE === undefined ? `${LATENCY_LOAD * 100} % load` : 'fixed rate'}: p99`, value: lat.p99, unit: 'ms', goal: '< 250', met: lat.latencies.length > 0 && lat.p99 < 250 },
        { name: 'event → alert on topic: max', value: lat.max, unit: 'ms' },
        { name: 'latency run: processor ms per batch (store)', value: lat.stageMsPerBatch.store ?? 0, unit: `ms over ${lat.batches} batches (decode ${lat.stageMsPerBatch.decode ?? 0}, state ${lat.stageMsPerBatch.state ?? 0}, detect ${lat.stageMsPerBatch.detect ?? 0}, publish ${lat.stageMsPerBatch.publish ?? 0})` },
      ]
      return {
        figures,
        raw: {
          records, feeLines: ds.feeLines, produceMs, consumeMs, consumeEvents, consumeLines, fullMs: full.ms, fullLines, fullEvents: rate(records, full.ms),
          processedEvents: full.summary.events, processorBatches: full.summary.batches, ...full.stages, processedRejected: full.summary.rejected, stored: full.stored, alertsOnTopic: full.alertsOnTopic,
          ...(sinkRate === undefined ? {} : { sinkRate }), ratio,
          latencyAskedLinesPerS: latencyRate, latencyLoad: LATENCY_FIXED_RATE === undefined ? LATENCY_LOAD : latencyRate / Math.max(1, fullLines), latencyLinesPerS: lat.linesPerS, latencyEventsSent: lat.events, latencySeconds: lat.seconds, latencyAlerts: lat.latencies.length, latencySkipped: lat.skipped,
          latencyProcessorBatches: lat.batches, ...Object.fromEntries(Object.entries(lat.stageMsPerBatch).map(([k, v]) => [`latency_stage_${k}_ms_per_batch`, v])),
          load1Start, load1End: loadavg()[0]!,
          latencyP50: lat.p50, latencyP90: lat.p90, latencyP99: lat.p99, latencyMax: lat.max,
        },
      }
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  } finally {
    await broker.stop()
    rmSync(brokerDir, { recursive: true, force: true })
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * Goal: full ≥ 0.7 × min(consume-only, sink-only). Without the pipeline
 * section's sink-only figure the slower baseline is unknown; the goal is still
 * decided when full clears 0.7 × consume-only (the slower one can only be lower).
 */
function ratioFigure(ratio: number, fullLines: number, consumeLines: number, sinkRate: number | undefined): Figure {
  const name = 'full ÷ slower of consume-only, sink-only'
  if (sinkRate !== undefined) return { name, value: ratio, unit: '×', goal: '≥ 0.7', met: fullLines >= 0.7 * Math.min(consumeLines, sinkRate) }
  if (fullLines >= 0.7 * consumeLines) return { name, value: ratio, unit: '× of consume-only (sink-only n/a)', goal: '≥ 0.7', met: true }
  return { name: `${name}: n/a`, value: ratio, unit: '× of consume-only; sink-only n/a (run with the pipeline section)' }
}

export async function idempotentProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  return producer
}

const PSN = /"psn_no":"([^"]+)"/
const INST = /"fixmedins_code":"([^"]+)"/
const EVENT_ID = /"event_id":"([^"]+)"/
const INVENTORY = '"event_type":"inventory.movement"'
const LINE = /"feedetl_sn":/g

/**
 * CONTRACT.md § Topics: claims keyed by psn_no, inventory movements on their
 * own topic keyed by fixmedins_code. Keys come from the raw line (the first
 * match is the envelope's or the payload's), so producing costs no JSON parse.
 */
export function toMessage(r: SourceRecord): { topic: 'claims' | 'inventory'; message: Message; eventId: string; lines: number } {
  const text = r.value.toString('utf8')
  const eventId = EVENT_ID.exec(text)?.[1] ?? ''
  if (text.includes(INVENTORY)) return { topic: 'inventory', message: { key: INST.exec(text)?.[1] ?? null, value: r.value }, eventId, lines: 0 }
  return { topic: 'claims', message: { key: PSN.exec(text)?.[1] ?? null, value: r.value }, eventId, lines: text.match(LINE)?.length ?? 0 }
}

function benchApp(ds: Dataset, dataDir: string, database: string, brokers: string, prefix: string, group: string): Promise<App> {
  const config = configFromEnv({
    FUNDWATCH_KB: ds.kbDir, FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: database, CLICKHOUSE_URL: '',
    KAFKA_BROKERS: brokers, FUNDWATCH_TOPIC_PREFIX: prefix, FUNDWATCH_GROUP: group,
  })
  return createApp(config, { log: createLogger({ level: 'warn' }), metrics: new Metrics() })
}

/** High watermark per "topic/partition". */
export async function endOffsets(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) out.set(`${topic}/${p.partition}`, Number(p.high))
  return out
}

export function sum(xs: Iterable<number>): number {
  let s = 0
  for (const x of xs) s += x
  return s
}

/**
 * Done when the group's committed offsets reach the end offsets: the processor
 * commits a batch only after its rows are in ClickHouse and its alerts are
 * acknowledged, so this is "every event stored", read without touching the store.
 */
export async function untilCommitted(admin: Admin, groupId: string, ends: Map<string, number>, running: Promise<unknown>, pollMs = 250): Promise<void> {
  const topics = [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))))]
  let failed: unknown
  running.then(() => (failed ??= new Error('processor stopped before it committed everything')), (e: unknown) => (failed ??= e))
  let last = -1
  let lastMove = performance.now()
  for (;;) {
    if (failed) throw failed
    let behind = 0
    let committed = 0
    for (const t of await admin.fetchOffsets({ groupId, topics })) {
      for (const p of t.partitions) {
        const off = Math.max(0, Number(p.offset))
        committed += off
        behind += Math.max(0, (ends.get(`${t.topic}/${p.partition}`) ?? 0) - off)
      }
    }
    if (behind === 0) return
    if (committed !== last) {
      last = committed
      lastMove = performance.now()
    } else if (performance.now() - lastMove > STALL_MS) throw new Error(`processor made no progress for ${STALL_MS / 1000} s (${behind} records behind)`)
    await sleep(pollMs)
  }
}

async function withStallGuard(done: Promise<void>, progress: () => number, what: string): Promise<void> {
  let last = -1
  let lastMove = performance.now()
  for (;;) {
    const finished = await Promise.race([done.then(() => true), sleep(500).then(() => false)])
    if (finished) return
    const now = progress()
    if (now !== last) {
      last = now
      lastMove = performance.now()
    } else if (performance.now() - lastMove > STALL_MS) throw new Error(`${what}: no progress for ${STALL_MS / 1000} s at ${now} records`)
  }
}

async function until(cond: () => boolean, pollMs = 50): Promise<void> {
  while (!cond()) await sleep(pollMs)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

interface LatencyResult {
  batches: number
  stageMsPerBatch: Record<string, number>
  latencies: number[]
  skipped: number
  events: number
  linesPerS: number
  seconds: number
  exhausted: boolean
  p50: number
  p90: number
  p99: number
  max: number
}

/** What the load process is told, and what it answers, over the fork's IPC channel. */
interface LoadJob { brokers: string; claims: string; inventory: string; alerts: string; probeGroup: string; eventsFile: string; linesPerS: number; seconds: number }
type ToLoad = { type: 'job'; job: LoadJob } | { type: 'go' } | { type: 'drain'; alerts: number }
type FromLoad =
  | { type: 'probing' }
  | { type: 'produced'; events: number; lines: number; seconds: number; exhausted: boolean }
  | { type: 'result'; latencies: number[]; skipped: number }
  | { type: 'error'; message: string }
const LOAD_ARG = 'latency-load'

/**
 * The processor runs here, in the bench process, and is waited for until it
 * holds its partitions. The load — a producer replaying the dataset from its
 * start at a fixed rate of fee lines, in sends every 50 ms, and a probe
 * consumer on the alerts topic — runs in a child process, so the processor's
 * work can neither hold back the producer's pace nor delay the probe's clock;
 * both timestamps are taken in that one process. An alert's latency is its
 * arrival at the probe minus the send time of the event whose processing
 * raised it (`revision_event_id`). Not the newest of its refs.event_ids: a
 * finding made at discharge rests on fee lines sent long before and names the
 * lines, not the discharge, so timing it from its refs measured the wait for
 * the patient's discharge, not the processor (those refs are the fallback for
 * an alert that names no event). With
 * BENCH_LATENCY_DUMP=<file> the probe writes one line per alert: detector,
 * send time since start, latency (ms), number of refs.
 */
async function latencyRun(admin: Admin, ds: Dataset, dataDir: string, brokers: string, run: string, linesPerS: number): Promise<LatencyResult> {
  const prefix = `${run}.`
  const topics = topicNames(prefix)
  await createTopics(admin, { prefix, partitions: PARTITIONS })
  const app = await benchApp(ds, dataDir, 'bench_kafka_latency', brokers, prefix, `${run}-processor`)
  const ac = new AbortController()
  const child = fork(fileURLToPath(import.meta.url), [LOAD_ARG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const inbox = mailbox<FromLoad>(child)
  const send = (m: ToLoad) => child.send(m)
  let running: Promise<RunSummary> | undefined
  try {
    running = runProcessor(app, ac.signal)
    running.catch(() => undefined)
    const probeGroup = `${run}-probe`
    send({ type: 'job', job: { brokers, claims: topics.claims, inventory: topics.inventory, alerts: topics.alerts, probeGroup, eventsFile: ds.eventsFile, linesPerS, seconds: LATENCY_SECONDS } })
    await inbox.next('probing')
    await untilStable(admin, [app.config.groupId, probeGroup])
    send({ type: 'go' })
    const produced = await inbox.next('produced')
    if (produced.exhausted) console.log(`kafka latency: the dataset ran out after ${produced.seconds.toFixed(1)} s`)
    // Everything sent is processed and its alerts published before the probe stops.
    await untilCommitted(admin, app.config.groupId, await endOffsets(admin, [topics.claims, topics.inventory]), running)
    send({ type: 'drain', alerts: sum((await endOffsets(admin, [topics.alerts])).values()) })
    const { latencies, skipped } = await inbox.next('result')
    // Where a batch's time goes while latency is measured: mean ms per batch by stage.
    const stageMs: Record<string, number> = {}
    let batches = 0
    for (const v of (await app.metrics.batchSeconds.get()).values) {
      const stage = String(v.labels.stage)
      if (v.metricName === 'fundwatch_batch_seconds_sum') stageMs[stage] = (stageMs[stage] ?? 0) + v.value * 1000
      if (v.metricName === 'fundwatch_batch_seconds_count' && stage === 'store') batches = v.value
    }
    latencies.sort((a, b) => a - b)
    const r0 = (x: number) => Math.round(x)
    return {
      batches, stageMsPerBatch: Object.fromEntries(Object.entries(stageMs).map(([k, ms]) => [k, Math.round(ms / Math.max(1, batches))])),
      latencies, skipped, events: produced.events, seconds: produced.seconds, exhausted: produced.exhausted, linesPerS: Math.round(produced.lines / produced.seconds),
      p50: r0(quantile(latencies, 0.5)), p90: r0(quantile(latencies, 0.9)), p99: r0(quantile(latencies, 0.99)), max: r0(latencies.at(-1) ?? 0),
    }
  } finally {
    ac.abort()
    await running?.catch(() => undefined)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    await app.close()
  }
}

/** Messages from the load process in order; a message of another type than expected, an error report or an exit fails the run. */
function mailbox<T extends { type: string }>(child: ChildProcess): { next<K extends T['type']>(type: K): Promise<Extract<T, { type: K }>> } {
  const queue: T[] = []
  const waiting: ((m: T | Error) => void)[] = []
  const deliver = (m: T | Error) => {
    const w = waiting.shift()
    if (w) w(m)
    else if (!(m instanceof Error)) queue.push(m)
  }
  child.on('message', (m) => deliver(m as T))
  child.once('exit', (code, signal) => deliver(new Error(`latency load process exited (code ${code}, signal ${signal})`)))
  return {
    async next(type) {
      const m = queue.shift() ?? (await new Promise<T | Error>((r) => waiting.push(r)))
      if (m instanceof Error) throw m
      if (m.type === 'error') throw new Error(`latency load process: ${(m as unknown as { message: string }).message}`)
      if (m.type !== type) throw new Error(`latency load process sent ${m.type}, expected ${type}`)
      return m as Extract<T, { type: typeof type }>
    },
  }
}

/** The child side of latencyRun: producer and alerts probe, one clock. */
async function loadProcess(): Promise<void> {
  const inbox: ToLoad[] = []
  const waiting: ((m: ToLoad) => void)[] = []
  process.on('message', (m) => {
    const w = waiting.shift()
    if (w) w(m as ToLoad)
    else inbox.push(m as ToLoad)
  })
  const next = async <K extends ToLoad['type']>(type: K): Promise<Extract<ToLoad, { type: K }>> => {
    const m = inbox.shift() ?? (await new Promise<ToLoad>((r) => waiting.push(r)))
    if (m.type !== type) throw new Error(`got ${m.type}, expected ${type}`)
    return m as Extract<ToLoad, { type: K }>
  }
  const tell = (m: FromLoad) => process.send!(m)
  const { job } = await next('job')
  const kafka = createKafka({ brokers: job.brokers, clientId: 'fundwatch-bench-load', logLevel: logLevel.NOTHING })
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  let skipped = 0
  let received = 0
  const dump: string[] = []
  let start = performance.now()
  const probe = kafka.consumer({ groupId: job.probeGroup, maxWaitTimeInMs: 100 })
  await probe.connect()
  await probe.subscribe({ topics: [job.alerts], fromBeginning: true })
  await probe.run({
    eachBatch: async ({ batch }) => {
      const arrived = performance.now()
      received += batch.messages.length
      for (const m of batch.messages) {
        const alert = JSON.parse(m.value?.toString('utf8') ?? '{}') as { revision_event_id?: string; refs?: { event_ids?: string[] } }
        const refs = alert.refs?.event_ids ?? []
        // The event whose processing raised the alert; the newest of its refs only where it names none.
        let sent = alert.revision_event_id === undefined ? undefined : sentAt.get(alert.revision_event_id)
        if (sent === undefined) for (const id of refs) sent = Math.max(sent ?? -Infinity, sentAt.get(id) ?? -Infinity)
        if (sent === undefined || sent === -Infinity) skipped++
        else {
          latencies.push(arrived - sent)
          if (process.env.BENCH_LATENCY_DUMP) dump.push(`${m.headers?.detector?.toString() ?? ''}\t${Math.round(sent - start)}\t${Math.round(arrived - sent)}\t${refs.length}`)
        }
      }
    },
  })
  const producer = await idempotentProducer(kafka)
  tell({ type: 'probing' })
  await next('go')

  const ac = new AbortController()
  const source = fileSource(job.eventsFile, { batchSize: 2000 }).batches(ac.signal)[Symbol.asyncIterator]()
  let ahead: SourceRecord[] = []
  let at = 0
  let exhausted = false
  let lines = 0
  let events = 0
  start = performance.now()
  const stopAt = start + job.seconds * 1000
  for (let tick = 1; ; tick++) {
    const now = performance.now()
    if (now >= stopAt) break
    const due = (job.linesPerS * (now - start)) / 1000
    const claims: Message[] = []
    const inventory: Message[] = []
    const ids: string[] = []
    while (lines < due) {
      if (at === ahead.length && !exhausted) {
        const n = await source.next()
        if (n.done) exhausted = true
        else [ahead, at] = [n.value.records, 0]
      }
      const r = ahead[at++]
      if (!r) break
      const m = toMessage(r)
      ;(m.topic === 'claims' ? claims : inventory).push(m.message)
      ids.push(m.eventId)
      lines += m.lines
      events++
    }
    if (ids.length === 0 && exhausted) break
    const t = performance.now()
    for (const id of ids) sentAt.set(id, t)
    if (claims.length) await sendChunked(producer, job.claims, claims)
    if (inventory.length) await sendChunked(producer, job.inventory, inventory)
    const wait = start + tick * TICK_MS - performance.now()
    if (wait > 0) await sleep(wait)
  }
  const seconds = (performance.now() - start) / 1000
  ac.abort()
  await source.return?.()
  await producer.disconnect()
  tell({ type: 'produced', events, lines, seconds, exhausted })

  const { alerts } = await next('drain')
  await withStallGuard(until(() => received >= alerts), () => received, 'latency probe')
  await probe.disconnect()
  if (process.env.BENCH_LATENCY_DUMP) writeFileSync(process.env.BENCH_LATENCY_DUMP, dump.join('\n'))
  tell({ type: 'result', latencies, skipped })
}

if (process.argv[2] === LOAD_ARG && process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  loadProcess().then(
    () => process.disconnect?.(),
    (err: unknown) => {
      process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies FromLoad)
      process.exitCode = 1
      process.disconnect?.()
    },
  )
}

/** Until every group is Stable with a member: a producer started earlier would measure the group join as latency. */
export async function untilStable(admin: Admin, groups: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { groups: gs } = await admin.describeGroups(groups)
    if (gs.length === groups.length && gs.every((g) => g.state === 'Stable' && g.members.length > 0)) return
    if (Date.now() > deadline) throw new Error(`consumer groups not stable after ${timeoutMs} ms: ${gs.map((g) => `${g.groupId}=${g.state}`).join(', ')}`)
    await sleep(100)
  }
}
