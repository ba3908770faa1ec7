import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { FaultHook } from '../pipeline/pipeline.ts'
import type { Source, SourceBatch, SourceFormat, SourceRecord } from '../pipeline/types.ts'

export interface KafkaSourceOptions {
  kafka: Kafka
  groupId: string
  topics: string[]
  /** How each topic's records are read (src/pipeline/formats.ts); a topic not named here carries contract events. */
  formats?: Readonly<Record<string, SourceFormat>>
  metrics: Metrics
  log: Logger
  /** Called with "topic/partition" owners this member lost in a rebalance: their person state now lives elsewhere. */
  onRevoked?: (owners: string[]) => void
  fromBeginning?: boolean
  fault?: FaultHook
  sessionTimeoutMs?: number
  maxBytesPerPartition?: number
}

/**
 * A consumer-group member as a pipeline source. kafkajs pushes batches; the
 * pipeline pulls them. The bridge hands one batch over at a time and makes
 * kafkajs wait (heartbeating) until the pipeline takes it, so a slow or failing
 * sink stops fetching instead of piling records up in memory.
 *
 * Offsets: autoCommit is off. A batch's offsets are committed by its commit()
 * — which the pipeline calls only after the batch is stored and its alerts are
 * acknowledged by the alerts topic. resolveOffset() only moves kafkajs's fetch
 * position, it commits nothing.
 */
export function kafkaSource(o: KafkaSourceOptions): Source & { consumer: Consumer } {
  const consumer = o.kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: o.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: o.maxBytesPerPartition ?? 4 << 20,
    maxWaitTimeInMs: 200,
    // A broker outage must not end the processor: kafkajs gives up on some
    // connection errors and would leave the member stopped. Always restart; the
    // pipeline is stateless towards Kafka (offsets are committed only after store).
    retry: {
      retries: Number.MAX_SAFE_INTEGER,
      maxRetryTime: 10_000,
      restartOnFailure: async (err: Error) => {
        o.log.warn({ err: err.message }, 'kafka consumer failed; restarting it')
        return true
      },
    },
  })
  let assigned = new Set<string>()
  let joins = 0
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    o.metrics.rebalances.inc()
    o.fault?.('rebalance', ++joins)
    const now = new Set(Object.entries(e.payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)))
    const revoked = [...assigned].filter((x) => !now.has(x))
    assigned = now
    o.log.info({ assigned: [...now], revoked }, 'consumer group assignment')
    forgetLag(o.metrics, revoked)
    if (revoked.length) o.onRevoked?.(revoked)
  })
  consumer.on(consumer.events.CRASH, (e) => o.log.error({ err: e.payload.error, restart: e.payload.restart }, 'kafka consumer crashed'))

  return {
    name: `kafka:${o.topics.join(',')}`,
    consumer,
    async *batches(signal) {
      // One batch in hand at a time; `take` resolves when the pipeline pulled it.
      let offer: { batch: SourceBatch; taken: () => void } | undefined
      let wake: (() => void) | undefined
      const onAbort = () => wake?.()
      signal.addEventListener('abort', onAbort, { once: true })

      await consumer.connect()
      await consumer.subscribe({ topics: o.topics, fromBeginning: o.fromBeginning ?? true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (p: EachBatchPayload) => {
          const { batch } = p
          if (batch.messages.length === 0 || signal.aborted) return
          const topic = batch.topic
          const partition = batch.partition
          const owner = `${topic}/${partition}`
          const format = o.formats?.[topic]
          const records: SourceRecord[] = batch.messages.map((m) => ({
            value: m.value ?? Buffer.alloc(0),
            key: m.key?.toString('utf8') ?? null,
            pos: `${owner}/${m.offset}`,
            owner,
            headers: m.headers ? Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v ?? '')])) : undefined,
            ...(format ? { format } : {}),
          }))
          const next = (BigInt(batch.lastOffset()) + 1n).toString()
          o.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(batch.offsetLag()))
          const sourceBatch: SourceBatch = {
            records,
            commit: async () => {
              try {
                await consumer.commitOffsets([{ topic, partition, offset: next }])
              } catch (err) {
                // The partition moved to another member before this batch was
                // stored. Its rows are in ClickHouse; the new owner re-reads from
                // the last committed offset and the replay dedupes. Retrying here
                // could never succeed, so the commit is dropped, not retried.
                if (isRebalanceError(err)) {
                  o.log.warn({ topic, partition, offset: next, err: (err as Error).message }, 'commit after losing the partition skipped; the new owner replays it')
                  return
                }
                throw err
              }
            },
          }
          await new Promise<void>((resolve) => {
            // Keep the membership alive while the pipeline is busy or a sink is down.
            const beat = setInterval(() => void p.heartbeat().catch(() => undefined), 2_000)
            const done = () => {
              clearInterval(beat)
              signal.removeEventListener('abort', done)
              resolve()
            }
            signal.addEventListener('abort', done, { once: true })
            offer = { batch: sourceBatch, taken: done }
            wake?.()
          })
          if (!signal.aborted) p.resolveOffset(batch.lastOffset())
        },
      })
      try {
        while (!signal.aborted) {
          if (!offer) {
            await new Promise<void>((r) => { wake = r })
            wake = undefined
            continue
          }
          const { batch, taken } = offer
          offer = undefined
          taken()
          yield batch
        }
      } finally {
        signal.removeEventListener('abort', onAbort)
        // Left the group: this member reports lag for nothing any more.
        forgetLag(o.metrics, [...assigned])
        assigned = new Set()
        await consumer.disconnect().catch((err: unknown) => o.log.warn({ err }, 'consumer disconnect failed'))
      }
    },
  }
}

/**
 * Removes the lag series of partitions this member no longer owns. Left in
 * place, a moved partition's last lag stays exported forever next to the new
 * owner's: a stale backlog that, in a quiet period, looks like a stuck consumer.
 */
export function forgetLag(metrics: Metrics, owners: readonly string[]): void {
  for (const owner of owners) {
    const cut = owner.lastIndexOf('/')
    metrics.consumerLag.remove({ topic: owner.slice(0, cut), partition: owner.slice(cut + 1) })
  }
}

function isRebalanceError(err: unknown): boolean {
  const type = (err as { type?: string }).type ?? ''
  return ['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP'].includes(type) || /rebalanc|generation/i.test((err as Error).message ?? '')
}
