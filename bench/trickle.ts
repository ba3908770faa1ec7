import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { logLevel, type Message } from 'kafkajs'
import { kafkaVersion, localBrokerPrerequisites, startLocalBroker } from '../scripts/kafka/local-broker.ts'
import { createKafka } from '../src/kafka/admin.ts'
import { sendChunked } from '../src/kafka/sinks.ts'
import { createTopics, topicNames } from '../src/kafka/topics.ts'
import { fileSource } from '../src/pipeline/sources.ts'
import type { SourceRecord } from '../src/pipeline/types.ts'
import { ROOT, dataset, type Figure } from './common.ts'
import { endOffsets, idempotentProducer, sleep, toMessage, untilCommitted, untilStable } from './kafka.ts'

/**
 * Issue 13, "a processor at a prefecture's steady trickle should cost almost
 * nothing": a real `fundwatch run` process (Kafka → decode → state → detect →
 * chDB → alerts topic → commit), fed the bench dataset at a fixed, low rate
 * (BENCH_TRICKLE_RATE, default 300 events/s, in sends every 50 ms) from this
 * process. After a warm-up (BENCH_TRICKLE_WARM_S, 10 s) the processor's CPU
 * time is read from /proc/<pid>/stat over a fixed window (BENCH_TRICKLE_S,
 * 60 s): CPU seconds per 1,000 events and the process's CPU % (100 % = one
 * core). The processor's own /metrics says how many batches it made.
 *
 * Before/after: runs alternate between variants on the same data, each on
 * fresh topics, group and chDB directory, and the medians over the pairs are
 * reported with the median of the per-pair ratios.
 *  - BENCH_TRICKLE_BASELINE=<dir>: a checkout of the code before (e.g.
 *    `git archive <commit> | tar -x -C <dir>`, with node_modules linked), run
 *    as variant "before" against this tree's "after";
 *  - BENCH_TRICKLE_LINGERS=0,100: this tree with each FUNDWATCH_BATCH_LINGER_MS.
 * BENCH_TRICKLE_PAIRS (default 3) rounds.
 * BENCH_TRICKLE_RATE=0: nothing is sent — what a processor costs while idle
 * (its Kafka client, its rule-base poll), as % of a core.
 *
 * The source: BENCH_TRICKLE_SOURCE=kafka (the default when a local broker can
 * run: Java, and Kafka's jars or Maven, as bench/kafka.ts) or `start`: the
 * `fundwatch start` process itself, whose live generator stream runs at
 * `--rate` after its history (the figure issue 13 quotes: 105 % CPU). Without
 * a broker the section measures `start` and says so.
 */
const RATE = Number(process.env.BENCH_TRICKLE_RATE ?? 300)
const WARM_S = Number(process.env.BENCH_TRICKLE_WARM_S ?? 10)
const WINDOW_S = Number(process.env.BENCH_TRICKLE_S ?? 60)
const PAIRS = Number(process.env.BENCH_TRICKLE_PAIRS ?? 3)
const TICK_MS = 50
const PARTITIONS = 4

interface Variant { name: string; root: string; env: Record<string, string> }
interface Run { variant: string; events: number; cpuS: number; wallS: number; cpuPer1000: number; cpuPct: number; batches: number; rssMb: number; threads: string }

function variants(): Variant[] {
  if (process.env.BENCH_TRICKLE_BASELINE) return [{ name: 'before', root: process.env.BENCH_TRICKLE_BASELINE, env: {} }, { name: 'after', root: ROOT, env: {} }]
  if (process.env.BENCH_TRICKLE_LINGERS) {
    return process.env.BENCH_TRICKLE_LINGERS.split(',').map((ms) => ({ name: `linger ${ms} ms`, root: ROOT, env: { FUNDWATCH_BATCH_LINGER_MS: ms } }))
  }
  return [{ name: 'this tree', root: ROOT, env: {} }]
}

export async function benchTrickle(): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const missing = localBrokerPrerequisites(kafkaVersion())
  const mode = process.env.BENCH_TRICKLE_SOURCE ?? (missing ? 'start' : 'kafka')
  if (mode === 'start') {
    if (missing) console.log(`trickle: no Kafka broker for the bench (${missing}): measuring \`fundwatch start\`'s live generator stream instead`)
    const runs: Run[] = []
    for (let pair = 0; pair < PAIRS; pair++) {
      const vs = pair % 2 === 0 ? variants() : [...variants()].reverse()
      for (const v of vs) {
        const r = await startRun(v)
        runs.push(r)
        log(v, r)
      }
    }
    return summarise(runs, { source: 0 })
  }
  const load1Start = loadavg()[0]!
  const ds = await dataset(60_000)
  const brokerDir = mkdtempSync(join(tmpdir(), 'fw-bench-trickle-'))
  const broker = await startLocalBroker({ dataDir: brokerDir, heapMax: '512m' })
  const runs: Run[] = []
  try {
    const kafka = createKafka({ brokers: broker.brokers, clientId: 'fundwatch-bench-trickle', logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      const vs = variants()
      const tag = `trickle-${Date.now().toString(36)}`
      for (let pair = 0; pair < PAIRS; pair++) {
        // Alternate the order too, so neither variant always runs first in a pair.
        const order = pair % 2 === 0 ? vs : [...vs].reverse()
        for (const v of order) {
          const i = runs.length
          const prefix = `${tag}-${i}.`
          await createTopics(admin, { prefix, partitions: PARTITIONS })
          const r = await oneRun(v, { brokers: broker.brokers, prefix, group: `${tag}-${i}-processor`, kbDir: ds.kbDir, eventsFile: ds.eventsFile }, kafka, admin)
          runs.push(r)
          log(v, r)
        }
      }
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  } finally {
    await broker.stop()
    rmSync(brokerDir, { recursive: true, force: true })
  }
  return summarise(runs, { source: 1, load1Start })
}

function log(v: Variant, r: Run): void {
  console.log(`trickle: ${v.name}: ${r.events} events in ${r.wallS.toFixed(1)} s, ${r.cpuS.toFixed(2)} CPU s = ${r.cpuPer1000.toFixed(3)} CPU s per 1,000 events, ${r.cpuPct.toFixed(1)} % CPU, ${r.batches} batches, RSS ${r.rssMb} MB; CPU s by thread: ${r.threads}`)
}

/** raw.source: 1 = Kafka → `fundwatch run`, 0 = `fundwatch start`'s own live generator. */
function summarise(runs: Run[], extra: Record<string, number>): { figures: Figure[]; raw: Record<string, number> } {
  const figures: Figure[] = []
  const raw: Record<string, number> = { rate: RATE, windowS: WINDOW_S, pairs: PAIRS, ...extra, load1End: loadavg()[0]! }
  const names = [...new Set(runs.map((r) => r.variant))]
  for (const name of names) {
    const mine = runs.filter((r) => r.variant === name)
    const per1000 = median(mine.map((r) => r.cpuPer1000))
    const pct = median(mine.map((r) => r.cpuPct))
    const perBatch = median(mine.map((r) => r.events / Math.max(1, r.batches)))
    figures.push(
      ...(RATE > 0 ? [{ name: `trickle ${name}: CPU per 1,000 events`, value: round(per1000, 3), unit: `CPU s (median of ${mine.length}; at ${RATE} events/s)` }] : []),
      { name: `trickle ${name}: processor CPU`, value: round(pct, 1), unit: RATE > 0 ? '% of a core' : `% of a core, idle: nothing sent (median of ${mine.length})` },
      ...(RATE > 0 ? [{ name: `trickle ${name}: events per batch`, value: round(perBatch, 1), unit: `events (${round(median(mine.map((r) => r.batches / r.wallS)), 1)} batches/s)` }] : []),
    )
    const key = name.replace(/\W+/g, '_')
    Object.assign(raw, { [`${key}_cpuPer1000`]: per1000, [`${key}_cpuPct`]: pct, [`${key}_eventsPerBatch`]: perBatch, [`${key}_rssMb`]: median(mine.map((r) => r.rssMb)) })
  }
  if (names.length === 2) {
    // Per pair: the second variant's CPU over the first's, in the order they were listed.
    const [a, b] = names as [string, string]
    const as = runs.filter((r) => r.variant === a)
    const bs = runs.filter((r) => r.variant === b)
    // Idle (BENCH_TRICKLE_RATE=0): there are no events to divide by; the processes' CPU is compared.
    const cost = (r: Run) => (RATE > 0 ? r.cpuPer1000 : r.cpuPct)
    const ratios = as.map((r, k) => cost(r) / cost(bs[k]!))
    figures.push({ name: `trickle: ${RATE > 0 ? 'CPU per event' : 'idle CPU'}, ${a} ÷ ${b}`, value: round(median(ratios), 2), unit: `× (median of ${ratios.length} interleaved pairs: ${ratios.map((x) => x.toFixed(2)).join(', ')})` })
    raw.ratio = median(ratios)
  }
  raw.runs = runs.length
  return { figures, raw: { ...raw, ...Object.fromEntries(runs.flatMap((r, k) => [[`run${k}_cpuPer1000`, r.cpuPer1000], [`run${k}_cpuPct`, r.cpuPct], [`run${k}_batches`, r.batches]])) } }
}

interface Where { brokers: string; prefix: string; group: string; kbDir: string; eventsFile: string }

async function oneRun(v: Variant, w: Where, kafka: ReturnType<typeof createKafka>, admin: ReturnType<ReturnType<typeof createKafka>['admin']>): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-trickle-ch-'))
  const metricsPort = await freePort()
  // BENCH_TRICKLE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the processor.
  const nodeArgs = process.env.BENCH_TRICKLE_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...nodeArgs, join(v.root, 'bin/fundwatch.mjs'), 'run', '--kb', w.kbDir], {
    cwd: v.root,
    env: {
      ...process.env, KAFKA_BROKERS: w.brokers, FUNDWATCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '', FUNDWATCH_DB: 'trickle', FUNDWATCH_TOPIC_PREFIX: w.prefix,
      FUNDWATCH_GROUP: w.group, PORT: '0', METRICS_PORT: String(metricsPort), LOG_LEVEL: 'warn', ...v.env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise<void>((resolve, reject) => child.once('exit', (code, signal) => (code === 0 || signal === 'SIGTERM' ? resolve() : reject(new Error(`processor exited ${code ?? signal}`)))))
  exited.catch(() => undefined)
  const topics = topicNames(w.prefix)
  const producer = await idempotentProducer(kafka)
  try {
    await untilStable(admin, [w.group], 120_000)
    const source = fileSource(w.eventsFile, { batchSize: 2000 }).batches(new AbortController().signal)[Symbol.asyncIterator]()
    let ahead: SourceRecord[] = []
    let at = 0
    const start = performance.now()
    const warmEnd = start + WARM_S * 1000
    const end = warmEnd + WINDOW_S * 1000
    let sent = 0
    let inWindow = 0
    let cpu0: number | undefined
    let threads0 = new Map<string, number>()
    let windowStart = 0
    for (let tick = 1; ; tick++) {
      const now = performance.now()
      if (now >= end) break
      if (cpu0 === undefined && now >= warmEnd) {
        cpu0 = cpuSeconds(child)
        threads0 = threadCpu(child)
        windowStart = now
      }
      const due = Math.floor((RATE * (now - start)) / 1000)
      const claims: Message[] = []
      const inventory: Message[] = []
      while (sent < due) {
        if (at === ahead.length) {
          const n = await source.next()
          if (n.done) throw new Error('trickle: the dataset ran out; lower BENCH_TRICKLE_S or the rate')
          ;[ahead, at] = [n.value.records, 0]
        }
        const m = toMessage(ahead[at++]!)
        ;(m.topic === 'claims' ? claims : inventory).push(m.message)
        sent++
        if (cpu0 !== undefined) inWindow++
      }
      if (claims.length) await sendChunked(producer, topics.claims, claims)
      if (inventory.length) await sendChunked(producer, topics.inventory, inventory)
      const wait = start + tick * TICK_MS - performance.now()
      if (wait > 0) await sleep(wait)
    }
    const cpu1 = cpuSeconds(child)
    const threads = [...threadCpu(child)].map(([k, x]) => [k, x - (threads0.get(k) ?? 0)] as const).filter(([, x]) => x > 0).sort((a, b) => b[1] - a[1])
    const wallS = (performance.now() - windowStart) / 1000
    const rssMb = rss(child)
    await source.return?.()
    await untilCommitted(admin, w.group, await endOffsets(admin, [topics.claims, topics.inventory]), exited)
    const batches = await storedBatches(metricsPort)
    const cpuS = cpu1 - cpu0!
    return {
      variant: v.name, events: inWindow, cpuS, wallS, cpuPer1000: inWindow ? (cpuS * 1000) / inWindow : 0, cpuPct: (cpuS / wallS) * 100, batches: sent ? Math.round((batches * inWindow) / sent) : 0, rssMb,
      threads: threads.slice(0, 6).map(([k, x]) => `${k} ${x.toFixed(1)}`).join(', '),
    }
  } finally {
    await producer.disconnect().catch(() => undefined)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited.catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * `fundwatch start` as a user runs it (`--rate`, default 300 events/s): it
 * replays and audits its generated history first; the window starts
 * BENCH_TRICKLE_WARM_S after it logs that the live stream follows. Events and
 * batches are read from its /metrics at both ends of the window.
 */
async function startRun(v: Variant): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-trickle-start-'))
  const nodeArgs = process.env.BENCH_TRICKLE_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...nodeArgs, join(v.root, 'bin/fundwatch.mjs'), 'start', '--rate', String(RATE), '--port', '0', '--seed', '7'], {
    cwd: v.root,
    env: { ...process.env, FUNDWATCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '', FUNDWATCH_DB: 'trickle', LOG_LEVEL: 'info', ...v.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    let out = ''
    let address = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString()
        address ||= /fundwatch is running at (http:\/\/\S+)/.exec(out)?.[1] ?? ''
        if (address && out.includes('live stream follows')) resolve()
        if (out.length > 1 << 20) out = out.slice(-4096)
      })
      void exited.then(() => reject(new Error(`fundwatch start exited before its live stream: ${out.slice(-2000)}`)))
    })
    await sleep(WARM_S * 1000)
    const m0 = await startMetrics(address)
    const cpu0 = cpuSeconds(child)
    const threads0 = threadCpu(child)
    const t0 = performance.now()
    await sleep(WINDOW_S * 1000)
    const cpu1 = cpuSeconds(child)
    const wallS = (performance.now() - t0) / 1000
    const threads = [...threadCpu(child)].map(([k, x]) => [k, x - (threads0.get(k) ?? 0)] as const).filter(([, x]) => x > 0).sort((a, b) => b[1] - a[1])
    const m1 = await startMetrics(address)
    const events = m1.events - m0.events
    const cpuS = cpu1 - cpu0
    return {
      variant: v.name, events, cpuS, wallS, cpuPer1000: (cpuS * 1000) / Math.max(1, events), cpuPct: (cpuS / wallS) * 100, batches: m1.batches - m0.batches, rssMb: rss(child),
      threads: threads.slice(0, 6).map(([k, x]) => `${k} ${x.toFixed(1)}`).join(', '),
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Events stored and batches stored so far, from a `fundwatch start`'s /metrics. */
async function startMetrics(address: string): Promise<{ events: number; batches: number }> {
  const text = await (await fetch(`${address}/metrics`)).text()
  let events = 0
  for (const m of text.matchAll(/^fundwatch_events_in_total\{[^}]*\} (\d+)/gm)) events += Number(m[1])
  const b = /^fundwatch_batch_seconds_count\{[^}]*stage="store"[^}]*\} (\d+)/m.exec(text)
  return { events, batches: b ? Number(b[1]) : 0 }
}

/** CPU seconds per thread name (main JS thread, libuv pool, chDB's pools…), from /proc (Linux). */
function threadCpu(child: ChildProcess): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8')
      const name = tid === String(child.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100)
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out
}

/** User + system CPU seconds of a process, from /proc (Linux). */
function cpuSeconds(child: ChildProcess): number {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
  // Fields after the command (which may hold spaces) start at state (field 3); utime and stime are fields 14 and 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

function rss(child: ChildProcess): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : 0
}

/** Batches the processor stored (and committed), from its /metrics: one store observation per batch. */
async function storedBatches(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const m = /^fundwatch_batch_seconds_count\{[^}]*stage="store"[^}]*\} (\d+)/m.exec(text)
  return m ? Number(m[1]) : 0
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return 0
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function round(x: number, digits: number): number {
  const k = 10 ** digits
  return Math.round(x * k) / k
}
