import { Kafka, logLevel, type Admin, type KafkaConfig } from 'kafkajs'
import { fixIdleLoop } from './idle-loop.ts'
import { FundwatchError } from '../errors.ts'
import type { KafkaSecurity } from './security.ts'

/** How fundwatch reaches a Kafka cluster (the CLI and the test setup both build one of these). */
export interface KafkaConnection {
  /** Bootstrap brokers: `host:port` entries, as an array or one comma-separated string (KAFKA_BROKERS). */
  brokers: string | readonly string[]
  clientId?: string
  connectionTimeoutMs?: number
  requestTimeoutMs?: number
  /** kafkajs's own log level; it prints to stderr, so tools and tests keep it quiet by default. */
  logLevel?: logLevel
  /** TLS and SASL for a secured cluster, from kafkaSecurity(config) (src/kafka/security.ts). */
  security?: KafkaSecurity
}

const HOST_PORT = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/

/** `"a:9092, b:9092"` → `["a:9092", "b:9092"]`; a malformed entry is a configuration error, not a hang later. */
export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter((b) => b !== '')
  if (list.length === 0) throw new FundwatchError('CONFIG_INVALID', 'Kafka brokers: none given (expected host:port[,host:port…])')
  const bad = list.filter((b) => !HOST_PORT.test(b))
  if (bad.length > 0) throw new FundwatchError('CONFIG_INVALID', `Kafka brokers: not host:port: ${bad.join(', ')}`)
  return list
}

export function createKafka(conn: KafkaConnection): Kafka {
  // Every client fundwatch makes comes from here: none runs kafkajs's idle timer loop (idle-loop.ts).
  fixIdleLoop()
  const config: KafkaConfig = {
    clientId: conn.clientId ?? 'fundwatch',
    brokers: parseBrokers(conn.brokers),
    connectionTimeout: conn.connectionTimeoutMs ?? 3_000,
    requestTimeout: conn.requestTimeoutMs ?? 30_000,
    logLevel: conn.logLevel ?? logLevel.WARN,
    ...conn.security,
  }
  return new Kafka(config)
}

/** Runs `fn` with a connected admin client and always disconnects it, also when `fn` throws. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

export interface ClusterInfo {
  clusterId: string
  controller: number | null
  brokers: { nodeId: number; host: string; port: number }[]
}

/**
 * Polls until the cluster answers `DescribeCluster` (a broker that accepts TCP
 * connections may still be loading its logs or registering with the
 * controller, and answers nothing useful until it has), or throws when
 * `timeoutMs` passes. `isAlive` lets a caller that started the broker stop
 * waiting as soon as the process has died.
 */
export async function waitForCluster(
  brokers: string | readonly string[],
  opts: { timeoutMs?: number; intervalMs?: number; isAlive?: () => boolean; security?: KafkaSecurity } = {},
): Promise<ClusterInfo> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const intervalMs = opts.intervalMs ?? 250
  const deadline = Date.now() + timeoutMs
  fixIdleLoop()
  // One attempt per poll: kafkajs's own retries would outlive our deadline.
  const kafka = new Kafka({
    clientId: 'fundwatch-wait',
    brokers: parseBrokers(brokers),
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
    ...opts.security,
  })
  let lastError: unknown
  for (;;) {
    if (opts.isAlive && !opts.isAlive()) {
      throw new FundwatchError('SOURCE_FAILED', 'Kafka broker process exited before it was ready', { cause: lastError })
    }
    const admin = kafka.admin({ retry: { retries: 0 } })
    try {
      await admin.connect()
      const info = await admin.describeCluster()
      if (info.brokers.length > 0) return { clusterId: info.clusterId, controller: info.controller, brokers: info.brokers }
    } catch (err) {
      lastError = err
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
    if (Date.now() + intervalMs > deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError)
      throw new FundwatchError('SOURCE_FAILED', `Kafka at ${String(brokers)} not ready after ${timeoutMs} ms: ${why}`, { cause: lastError })
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
