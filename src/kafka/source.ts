import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { FaultHook } from '../pipeline/pipeline.ts'
import { DEFAULT_BATCH_LINGER_MS, type Source, type SourceFormat, type SourceRecord } from '../pipeline/types.ts'

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
  /** Size bound of a batch, in records (FUNDWATCH_BATCH_SIZE); a single fetch larger than it is one batch. */
  maxBatchRecords?: number
  /** Size bound of a batch, in bytes of record values; default the fetch size per partition. */
  maxBatchBytes?: number
  /** Time bound: how long the first record of a batch waits for more (FUNDWATCH_BATCH_LINGER_MS). */
  lingerMs?: number
}

/** Longest a stopping source waits for the commits of batches it handed over before it leaves the group. */
export const DRAIN_MS = 30_000

/**
 * A consumer-group member as a pipeline source. kafkajs pushes fetches, one
 * partition at a time; the pipeline pulls batches. The bridge gathers fetches
 * into one batch — from any of this member's partitions — until a size bound
 * (records or bytes) or the linger bound since the batch's first record,
 * whichever comes first: at a trickle a batch waits at most `lingerMs` and
 * then carries everything that arrived meanwhile, so the per-batch work (the
 * state and admission queries, one insert per table, the commit) is paid a
 * few times a second instead of once per fetch. Under load the bounds are
 * reached before the linger and it adds nothing. A fetch that would take the
 * gathered batch over a bound makes kafkajs wait (heartbeating) until the
 * pipeline takes the batch, so a slow or failing sink stops fetching instead
 * of piling records up in memory.
 *
 * Offsets: autoCommit is off. A batch's offsets — the next offset of every
 * partition it holds — are committed in one request by its commit(), which
 * the pipeline calls only after the batch is stored and its alerts are
 * acknowledged by the alerts topic. resolveOffset() only moves kafkajs's fetch
 * position, it commits nothing. Gathered records of a partition this member
 * loses in a rebalance are dropped before they are handed over: the new owner
 * reads them from the last committed offset.
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

  // The batch being gathered, and the fetches waiting because it is full.
  let pend: Gathered | undefined
  const blocked: (() => void)[] = []
  let wake: (() => void) | undefined
  const maxRecords = o.maxBatchRecords ?? 10_000
  const maxBytes = o.maxBatchBytes ?? o.maxBytesPerPartition ?? 4 << 20
  const lingerMs = o.lingerMs ?? DEFAULT_BATCH_LINGER_MS
  consumer.on(consumer.events.GROUP_JOIN, () => {
    // Records of partitions this member no longer owns are not handed over:
    // nothing of them is stored or committed here, their new owner reads them.
    if (!pend) return
    const kept = pend.records.filter((r) => assigned.has(r.owner))
    if (kept.length === pend.records.length) return
    for (const owner of pend.next.keys()) if (!assigned.has(owner)) pend.next.delete(owner)
    pend = kept.length ? { ...pend, records: kept, bytes: kept.reduce((n, r) => n + r.value.length, 0) } : undefined
  })

  // Batches handed over whose commit has not gone through (or been dropped after a rebalance).
  let uncommitted = 0
  let drained: (() => void) | undefined

  return {
    name: `kafka:${o.topics.join(',')}`,
    consumer,
    async *batches(signal) {
      const onAbort = () => {
        wake?.()
        for (const b of blocked.splice(0)) b()
      }
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
          let bytes = 0
          for (const m of batch.messages) bytes += m.value?.length ?? 0
          // Would not fit: wait, heartbeating, until the pipeline takes what is gathered.
          while (pend && (pend.records.length + batch.messages.length > maxRecords || pend.bytes + bytes > maxBytes) && !signal.aborted && !p.isStale()) {
            await new Promise<void>((resolve) => {
              const beat = setInterval(() => void p.heartbeat().catch(() => undefined), 2_000)
              blocked.push(() => {
                clearInterval(beat)
                resolve()
              })
              wake?.()
            })
          }
          // A rebalance while it waited: this fetch may be of a partition that moved.
          if (signal.aborted || p.isStale()) return
          const topic = batch.topic
          const partition = batch.partition
          const owner = `${topic}/${partition}`
          const format = o.formats?.[topic]
          pend ??= { records: [], bytes: 0, next: new Map(), since: Date.now() }
          for (const m of batch.messages) {
            pend.records.push({
              value: m.value ?? Buffer.alloc(0),
              key: m.key?.toString('utf8') ?? null,
              pos: `${owner}/${m.offset}`,
              owner,
              headers: m.headers ? Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v ?? '')])) : undefined,
              ...(format ? { format } : {}),
            })
          }
          pend.bytes += bytes
          pend.next.set(owner, { topic, partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() })
          o.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(batch.offsetLag()))
          // The records are in hand: kafkajs may fetch on while they wait to be taken.
          p.resolveOffset(batch.lastOffset())
          wake?.()
        },
      })
      try {
        while (!signal.aborted) {
          const g = pend
          const wait = !g ? Infinity : blocked.length || g.records.length >= maxRecords || g.bytes >= maxBytes ? 0 : g.since + lingerMs - Date.now()
          if (wait > 0) {
            await new Promise<void>((r) => {
              const t = wait === Infinity ? undefined : setTimeout(r, wait)
              wake = () => {
                clearTimeout(t)
                r()
              }
            })
            wake = undefined
            continue
          }
          pend = undefined
          for (const b of blocked.splice(0)) b()
          const offsets = [...g!.next.values()]
          let settled = false
          const settle = () => {
            if (settled) return
            settled = true
            uncommitted--
            if (uncommitted === 0) drained?.()
          }
          uncommitted++
          yield {
            records: g!.records,
            commit: async () => {
              try {
                await consumer.commitOffsets(offsets)
                settle()
              } catch (err) {
                // A partition moved to another member before this batch was
                // stored. Its rows are in ClickHouse; the new owner re-reads from
                // the last committed offset and the replay dedupes. Retrying here
                // could never succeed, so the commit is dropped, not retried.
                if (isRebalanceError(err)) {
                  o.log.warn({ offsets, err: (err as Error).message }, 'commit after losing a partition skipped; the new owner replays it')
                  settle()
                  return
                }
                throw err
              }
            },
          }
        }
      } finally {
        signal.removeEventListener('abort', onAbort)
        pend = undefined
        for (const b of blocked.splice(0)) b()
        // Left the group: this member reports lag for nothing any more.
        forgetLag(o.metrics, [...assigned])
        assigned = new Set()
        // A stop ends this loop while batches handed over before it are still
        // being stored (the pipeline keeps up to two in flight): their commits
        // need the group, so it is left only once they are in — or after
        // DRAIN_MS, when one never commits (its store failed); the next owner
        // then replays it from the last committed offset, and the replay dedupes.
        if (uncommitted > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, DRAIN_MS)
            drained = () => {
              clearTimeout(t)
              resolve()
            }
          })
        }
        await consumer.disconnect().catch((err: unknown) => o.log.warn({ err }, 'consumer disconnect failed'))
      }
    },
  }
}

/** What the bridge has gathered and not yet handed over. */
interface Gathered {
  records: SourceRecord[]
  /** Bytes of the record values. */
  bytes: number
  /** Per "topic/partition": the offset to commit once the batch is stored. */
  next: Map<string, { topic: string; partition: number; offset: string }>
  /** When its first record arrived (Date.now()). */
  since: number
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
