/**
 * Kafka for test files. The run's shared broker comes from test/global-setup.ts;
 * a test that stops or kills a broker starts a private one instead, so it never
 * pulls the ground from under other test files running at the same time.
 *
 *   describeKafka('kafka source', () => {
 *     const prefix = uniquePrefix('source')      // topics and groups of this file only
 *     const kafka = testKafka()
 *     ...
 *   })
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, inject } from 'vitest'
import { Partitioners, logLevel, type Consumer, type Kafka, type KafkaMessage } from 'kafkajs'
import { createKafka } from '../../src/kafka/admin.ts'
import { kafkaVersion, startLocalBroker, type LocalBroker, type LocalBrokerOptions } from '../../scripts/kafka/local-broker.ts'

/** `describe` for suites that need Kafka: the global setup has provided a broker, or the run has already failed. Never skipped. */
export const describeKafka = describe

/** The shared broker's bootstrap address; throws with the reason when the run has none. */
export function kafkaBrokers(): string {
  const brokers = inject('kafkaBrokers')
  if (brokers) return brokers
  const source = inject('kafkaSource')
  if (source === undefined) {
    // Only the vitest project whose globalSetup is test/global-setup.ts gets a broker.
    throw new Error("no Kafka broker: this test file is outside the vitest 'kafka' project (test/kafka/**, test/harness/**), whose global setup provides one")
  }
  throw new Error(`no Kafka broker in this run (${source}: ${inject('kafkaMissingReason')}); Kafka suites must use describeKafka from test/helpers/kafka.ts`)
}

/** The Kafka release the run asked for (KAFKA_VERSION or the default), for tests that depend on it. */
export function testKafkaVersion(): string {
  return inject('kafkaVersion')
}

/**
 * A prefix no other test file or earlier run uses, for topic names
 * (`${prefix}fundwatch.claims.v1`) and consumer group ids: every test file
 * works in its own topics and never sees another's records.
 */
export function uniquePrefix(label: string): string {
  const safe = label.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 40)
  return `t-${safe}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}.`
}

/** A kafkajs client for `brokers` (default: the shared broker), quiet unless something is wrong. */
export function testKafka(opts: { brokers?: string; clientId?: string; logLevel?: logLevel } = {}): Kafka {
  return createKafka({
    brokers: opts.brokers ?? kafkaBrokers(),
    clientId: opts.clientId ?? 'fundwatch-test',
    logLevel: opts.logLevel ?? logLevel.NOTHING,
  })
}

/** kafkajs 2's default partitioner, chosen explicitly so it does not warn at every producer. */
export const defaultPartitioner = Partitioners.DefaultPartitioner

export interface PrivateBroker extends LocalBroker {
  /** Stops the broker and deletes its data dir. */
  dispose(): Promise<void>
}

/**
 * A broker of this test's own, in a fresh temporary data dir, for tests that
 * stop, kill or restart it. Same Kafka version as the shared one.
 */
export async function startPrivateBroker(opts: Partial<LocalBrokerOptions> = {}): Promise<PrivateBroker> {
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'fundwatch-kafka-private-')))
  const broker = await startLocalBroker({ version: kafkaVersion(), heapMax: '384m', ...opts, dataDir }).catch(async (err: unknown) => {
    if (!opts.dataDir) await fs.rm(dataDir, { recursive: true, force: true })
    throw err
  })
  return Object.assign(broker, {
    async dispose() {
      await broker.kill()
      await fs.rm(dataDir, { recursive: true, force: true })
    },
  })
}

export interface CollectedMessage {
  topic: string
  partition: number
  offset: string
  key: string | null
  value: string | null
  headers: Record<string, string>
}

/**
 * Runs `consumer` (connected, subscribed, not yet running) until `count`
 * messages arrived or `timeoutMs` passed, then stops it. Offsets are
 * committed by kafkajs's autocommit as each batch resolves.
 */
export async function collectMessages(consumer: Consumer, count: number, timeoutMs = 30_000): Promise<CollectedMessage[]> {
  const got: CollectedMessage[] = []
  let done: () => void = () => undefined
  const enough = new Promise<void>((resolve) => (done = resolve))
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      got.push(toCollected(topic, partition, message))
      if (got.length >= count) done()
    },
  })
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))
  await Promise.race([enough, timedOut])
  clearTimeout(timer)
  await consumer.stop()
  return got
}

function toCollected(topic: string, partition: number, m: KafkaMessage): CollectedMessage {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : String(v)
  }
  return { topic, partition, offset: m.offset, key: m.key?.toString() ?? null, value: m.value?.toString() ?? null, headers }
}
