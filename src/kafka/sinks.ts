import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs'
import type { Alert } from '../../schemas/index.ts'
import type { AlertSink, DeadLetterOut, DeadLetterSink } from '../pipeline/types.ts'
import type { Metrics } from '../metrics.ts'

/**
 * One idempotent producer for the alerts and DLQ topics (acks=all; the broker
 * drops a retried duplicate). Alerts are keyed by fixmedins_code, so one
 * institution's alerts stay in order for downstream consumers.
 */
export async function kafkaProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  return producer
}

export function kafkaAlertSink(producer: Producer, topic: string): AlertSink {
  return {
    name: 'kafka.alerts',
    async publish(alerts: readonly Alert[]) {
      await sendChunked(producer, topic, alerts.map((a) => ({ key: a.subject.fixmedins_code, value: JSON.stringify(a), headers: { alert_id: a.alert_id, revision: String(a.revision), detector: a.detector.id } })))
    },
  }
}

/** Dead letters keep the original bytes and key; why and where go in headers. */
export function kafkaDeadLetterSink(producer: Producer, topic: string, metrics?: Metrics): DeadLetterSink {
  return {
    name: 'kafka.dlq',
    async publish(records: readonly DeadLetterOut[]) {
      await sendChunked(producer, topic, records.map((d) => {
          const [srcTopic, partition, offset] = splitPos(d.record.pos)
          return {
            key: d.record.key ?? null,
            value: d.record.value,
            headers: {
              'fundwatch.reason': d.reason,
              'fundwatch.detail': d.detail,
              'fundwatch.dlq_id': d.dlq_id,
              'fundwatch.source.topic': srcTopic,
              'fundwatch.source.partition': partition,
              'fundwatch.source.offset': offset,
              'fundwatch.received_at': d.received_at,
            },
          }
        }))
      for (const d of records) metrics?.dlqRecords.inc({ reason: d.reason })
    },
  }
}

function splitPos(pos: string): [string, string, string] {
  const i = pos.lastIndexOf('/')
  const j = pos.lastIndexOf('/', i - 1)
  return [pos.slice(0, j), pos.slice(j + 1, i), pos.slice(i + 1)]
}

/**
 * One produce request carries at most the broker's message.max.bytes (1 MiB by
 * default) per partition batch; a detection batch can hold thousands of alerts,
 * so messages go out in requests well under that.
 */
export async function sendChunked(producer: Producer, topic: string, messages: Message[], maxBytes = 512 * 1024): Promise<void> {
  let chunk: Message[] = []
  let bytes = 0
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + 200
    if (chunk.length && bytes + size > maxBytes) {
      await producer.send({ topic, acks: -1, messages: chunk })
      chunk = []
      bytes = 0
    }
    chunk.push(m)
    bytes += size
  }
  if (chunk.length) await producer.send({ topic, acks: -1, messages: chunk })
}
