import type { App } from '../app.ts'
import { FundwatchError } from '../errors.ts'
import { createKafka } from './admin.ts'
import { kafkaSecurity } from './security.ts'
import { kafkaAlertSink, kafkaDeadLetterSink, kafkaProducer } from './sinks.ts'
import type { GroupMembership } from './membership.ts'
import { kafkaSource } from './source.ts'
import { topicNames } from './topics.ts'
import type { FaultHook, FaultPoint, RunSummary } from '../pipeline/pipeline.ts'

/**
 * The processor role: one consumer-group member on the claims, inventory and
 * national transaction topics (the last read by the national adapter,
 * docs/national.md), feeding the shared pipeline, with alerts and dead letters produced
 * to their topics before offsets are committed.
 */
export async function runProcessor(app: App, signal: AbortSignal, opts: { brokers?: string; fromBeginning?: boolean; fault?: FaultHook; membership?: GroupMembership } = {}): Promise<RunSummary> {
  const brokers = opts.brokers ?? app.config.kafkaBrokers
  if (!brokers) throw new Error('KAFKA_BROKERS is not set')
  const kafka = createKafka({ brokers, clientId: `fundwatch-${process.pid}`, security: kafkaSecurity(app.config, app.log) })
  const topics = topicNames(app.config.topicPrefix)
  const producer = await kafkaProducer(kafka)
  try {
    const source = kafkaSource({
      kafka, groupId: app.config.groupId, topics: [topics.claims, topics.inventory, topics.national], formats: { [topics.national]: 'national' }, metrics: app.metrics, log: app.log,
      fromBeginning: opts.fromBeginning ?? true,
      maxBytesPerPartition: app.config.fetchMaxBytes,
      maxBatchRecords: app.config.batchSize,
      lingerMs: app.config.batchLingerMs,
      sessionTimeoutMs: app.config.sessionTimeoutMs,
      fault: opts.fault,
      onRevoked: (owners) => {
        let n = 0
        for (const o of owners) n += app.cache.dropOwner(o)
        app.log.info({ owners, persons: n }, 'dropped person state of revoked partitions')
      },
    })
    // The readiness probe's view of this member (src/api/probes.ts).
    opts.membership?.watch(source.consumer)
    const pipeline = app.pipeline({
      alertSinks: [kafkaAlertSink(producer, topics.alerts)],
      deadLetterSinks: [kafkaDeadLetterSink(producer, topics.dlq, app.metrics)],
      fault: opts.fault,
    })
    return await pipeline.run(source, signal)
  } finally {
    await producer.disconnect().catch(() => undefined)
  }
}

/**
 * FUNDWATCH_FAULT="after-store:3" kills this process with SIGKILL when the 3rd
 * batch is stored but not yet published or committed — the crash tests use it
 * to die at exact points (after-detect, after-store, after-commit, rebalance:
 * the Nth group join). A test hook only: honoured under the test runner
 * (NODE_ENV=test, which vitest sets and the processes it spawns inherit);
 * anywhere else a processor refuses to start with it set, and a malformed value
 * is refused too.
 */
export function faultFromEnv(env: NodeJS.ProcessEnv): FaultHook | undefined {
  const spec = env.FUNDWATCH_FAULT
  if (!spec) return undefined
  if (env.NODE_ENV !== 'test') throw new FundwatchError('CONFIG_INVALID', 'FUNDWATCH_FAULT is a test-only fault injection (SIGKILL at named points) and is refused unless NODE_ENV=test: unset it')
  const m = /^(after-detect|after-store|after-commit|rebalance):(\d+)$/.exec(spec)
  if (!m) throw new FundwatchError('CONFIG_INVALID', `FUNDWATCH_FAULT "${spec}": expected <after-detect|after-store|after-commit|rebalance>:<n>`)
  const point = m[1] as FaultPoint
  const n = Number(m[2])
  return (p, i) => {
    if (p === point && i === n) process.kill(process.pid, 'SIGKILL')
  }
}
