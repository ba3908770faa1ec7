import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Partitioners, type Kafka } from 'kafkajs'
import { sendChunked } from '../../src/kafka/sinks.ts'
import type { AnyEvent } from '../../schemas/index.ts'
import { writeKnowledgeBase } from '../../src/kb/loader.ts'
import type { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { startChdbHttp } from '../../src/store/chdb-http.ts'
import { migrate } from '../../src/store/migrations.ts'
import { Store } from '../../src/store/store.ts'

const root = join(import.meta.dirname, '../..')

/**
 * What a multi-process delivery test runs on: one real ClickHouse engine (chDB,
 * owned by the test process and served over ClickHouse HTTP) that every
 * processor process reaches through CLICKHOUSE_URL, a knowledge-base directory,
 * and a unique database, topic prefix and consumer group.
 */
export interface Cluster {
  dir: string
  url: string
  store: Store
  database: string
  prefix: string
  group: string
  kbDir: string
  close(): Promise<void>
}

export async function startCluster(label: string, kb: KnowledgeBase): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `fw-${label}-`))
  const srv = await startChdbHttp({ dataDir: join(dir, 'chdb') })
  const database = `k_${label.replace(/\W/g, '_')}`
  const store = await Store.open({ url: srv.url, database })
  await migrate(store)
  const kbDir = join(dir, 'kb')
  await writeKnowledgeBase(kbDir, kb.data, 'jsonl')
  const tag = `${label}-${Date.now().toString(36)}`
  return {
    dir, url: srv.url, store, database, prefix: `t-${tag}.`, group: `g-${tag}`, kbDir,
    async close() {
      await store.close()
      await srv.close()
    },
  }
}

export interface Processor {
  child: ChildProcess
  name: string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  logFile: string
}

/** A `fundwatch run` process, as an operator starts it; its logs go to a file in the cluster dir. */
export function spawnProcessor(c: Cluster, brokers: string, name: string, env: Record<string, string> = {}): Processor {
  const logFile = join(c.dir, `${name}.log`)
  const child = spawn(process.execPath, [join(root, 'bin/fundwatch.mjs'), 'run', '--kb', c.kbDir], {
    cwd: root,
    env: {
      ...process.env, KAFKA_BROKERS: brokers, CLICKHOUSE_URL: c.url, FUNDWATCH_DB: c.database, FUNDWATCH_TOPIC_PREFIX: c.prefix,
      // The broker's minimum session timeout: a killed member's partitions move on after 6 s, not 30.
      FUNDWATCH_GROUP: c.group, PORT: '0', LOG_LEVEL: 'info', FUNDWATCH_BATCH_SIZE: '500', FUNDWATCH_SESSION_TIMEOUT_MS: '6000', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log = createWriteStream(logFile, { flags: 'a' })
  child.stdout!.pipe(log)
  child.stderr!.pipe(log)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { child, name, exited, logFile }
}

export async function produce(kafka: Kafka, topic: string, events: AnyEvent[], chunk = 5000): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    for (let i = 0; i < events.length; i += chunk) {
      await sendChunked(producer, topic, events.slice(i, i + chunk).map((e) => ({ key: 'psn_no' in e.payload ? String(e.payload.psn_no) : e.source.fixmedins_code, value: JSON.stringify(e) })))
    }
  } finally {
    await producer.disconnect()
  }
}

/** Polls until `check` returns true; an error thrown by `check` ends the wait at once. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

export async function count(store: Store, sql: string): Promise<number> {
  return Number((await store.query<{ c: string }>(sql))[0]!.c)
}

/** Reads every record of a topic from the beginning (its own throwaway group): at least `expect` of them, then until quiet. */
export async function readTopic(kafka: Kafka, topic: string, opts: { expect?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<{ key: string | null; value: Buffer; headers: Record<string, string> }[]> {
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}-${Math.random().toString(36).slice(2)}` })
  const out: { key: string | null; value: Buffer; headers: Record<string, string> }[] = []
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  let last = Date.now()
  await consumer.run({
    eachMessage: async ({ message }) => {
      last = Date.now()
      out.push({
        key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0),
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v ?? '')])),
      })
    },
  })
  const start = Date.now()
  const idle = opts.idleMs ?? 3000
  // Done once the expected number arrived and the topic then stayed quiet (late duplicates would show up here).
  while ((out.length < (opts.expect ?? 1) || Date.now() - last < idle) && Date.now() - start < (opts.timeoutMs ?? 60_000)) await new Promise((r) => setTimeout(r, 250))
  await consumer.disconnect()
  return out
}
