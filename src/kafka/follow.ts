import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { Alert } from '../../schemas/index.ts'
import type { Logger } from '../log.ts'
import type { AlertSink } from '../pipeline/types.ts'

export interface AlertFollower {
  /** Leaves the group and disconnects. */
  stop(): Promise<void>
}

/**
 * An API replica's view of the alerts topic, for its live feed. Processors and
 * audit runs publish every stored alert there; each replica reads all of them
 * (a consumer group of its own, from the newest record, nothing committed) and
 * hands them to `sink` — so a console connected to any replica sees the alerts
 * of every processor. What arrived before the replica joined is in the feed
 * the console loads on connect. It starts in the background and never fails
 * the replica: while Kafka or the topic cannot be reached it logs and retries.
 * A record that is not an alert document is logged and skipped; a failing
 * sink is logged and the stream goes on (the live feed is a convenience on
 * top of the stored feed, never the record).
 */
export function followAlerts(kafka: Kafka, topic: string, sink: AlertSink, log: Logger, opts: { groupPrefix?: string; retryMs?: number } = {}): AlertFollower {
  const groupId = `${opts.groupPrefix ?? 'fundwatch-live'}.${randomUUID()}`
  // Like the processor's consumer: it keeps retrying and always restarts, because
  // an API replica must keep serving (and come back to live) through a Kafka outage.
  const consumer = kafka.consumer({
    groupId, allowAutoTopicCreation: false,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 10_000, restartOnFailure: async () => true },
  })
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const start = async (): Promise<void> => {
    try {
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: false })
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const alerts: Alert[] = []
          for (const m of batch.messages) {
            const parsed = parse(m.value)
            if (parsed.ok) alerts.push(parsed.alert)
            else log.warn({ topic, partition: batch.partition, offset: m.offset, reason: parsed.reason }, 'alerts topic: skipped a record that is not an alert document')
          }
          if (alerts.length === 0) return
          try {
            await sink.publish(alerts)
          } catch (err) {
            log.warn({ err, sink: sink.name, alerts: alerts.length }, 'live feed: could not push alerts from the topic')
          }
        },
      })
      log.info({ topic, groupId }, 'following the alerts topic for the live feed')
    } catch (err) {
      if (stopped) return
      // Kafka not reachable when the replica starts: serve without live updates and try again.
      const retryMs = opts.retryMs ?? 10_000
      log.warn({ err, topic, retry_ms: retryMs }, 'live feed: cannot follow the alerts topic yet; retrying')
      await consumer.disconnect().catch(() => undefined)
      timer = setTimeout(() => void start(), retryMs)
      timer.unref()
    }
  }
  void start()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await consumer.disconnect().catch(() => undefined)
    },
  }
}

function parse(value: Buffer | null): { ok: true; alert: Alert } | { ok: false; reason: string } {
  if (!value) return { ok: false, reason: 'empty' }
  let json: unknown
  try {
    json = JSON.parse(value.toString('utf8'))
  } catch {
    return { ok: false, reason: 'not_json' }
  }
  const r = Alert.safeParse(json)
  return r.success ? { ok: true, alert: r.data } : { ok: false, reason: `invalid: ${r.error.issues[0]?.path.join('.') ?? ''}` }
}
