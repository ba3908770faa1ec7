import { Partitioners, type Admin, type Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { kafkaSource } from '../../src/kafka/source.ts'
import { createLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'
import type { SourceBatch } from '../../src/pipeline/types.ts'
import { testKafka, uniquePrefix } from '../helpers/kafka.ts'

/**
 * Issue 13: the Kafka source handed the pipeline one batch per partition
 * fetch, so a trickle made a batch — the admission and state queries, one
 * insert per table, a commit — every few records. It now gathers fetches of
 * all its partitions into one batch until a size bound or the linger bound.
 * No clock in the assertions: a linger far longer than the test makes the
 * size bound the only way a batch can end, and a size bound far above what is
 * sent makes the linger the only way.
 */
const PARTITIONS = 2
let kafka: Kafka
let admin: Admin
const log = createLogger({ level: 'silent' })

beforeAll(async () => {
  kafka = testKafka()
  admin = kafka.admin()
  await admin.connect()
})
afterAll(async () => { await admin?.disconnect() })

async function setup(label: string) {
  const prefix = uniquePrefix(label)
  await createTopics(admin, { prefix, partitions: PARTITIONS })
  const topics = topicNames(prefix)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  return { topics, producer, group: `${prefix}g` }
}

/** The group's committed offset per partition of `topic` (-1: none). */
async function committed(group: string, topic: string): Promise<number[]> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  return t!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset))
}

describe('Kafka source: batches by size and time', () => {
  it('gathers a trickle of single-record sends, from every partition, into one batch, and commits all of it in one go only when told', async () => {
    const { topics, producer, group } = await setup('linger-size')
    const n = 12
    const ac = new AbortController()
    const source = kafkaSource({ kafka, groupId: group, topics: [topics.claims], metrics: new Metrics(), log, lingerMs: 3_600_000, maxBatchRecords: n })
    const it = source.batches(ac.signal)[Symbol.asyncIterator]()
    const first = it.next()
    try {
      // One record per send, each acknowledged before the next: a trickle, many fetches.
      for (let i = 0; i < n; i++) await producer.send({ topic: topics.claims, messages: [{ key: `PSN${i}`, value: `{"n":${i}}` }] })
      const r = await first
      const batch = r.value as SourceBatch
      expect(batch.records.map((x) => JSON.parse(x.value.toString()) as { n: number }).map((x) => x.n).sort((a, b) => a - b)).toEqual([...Array(n).keys()])
      expect(new Set(batch.records.map((x) => x.owner)).size).toBe(PARTITIONS)
      // Handed over, not yet stored: nothing committed.
      expect(await committed(group, topics.claims)).toEqual([-1, -1])
      await batch.commit!()
      const ends = (await admin.fetchTopicOffsets(topics.claims)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.high))
      expect(ends.reduce((a, b) => a + b, 0)).toBe(n)
      expect(await committed(group, topics.claims)).toEqual(ends)
    } finally {
      ac.abort()
      await it.return?.()
      await producer.disconnect()
    }
  })

  it('hands over what it has when the linger ends before the size bound is reached', async () => {
    const { topics, producer, group } = await setup('linger-time')
    const ac = new AbortController()
    const source = kafkaSource({ kafka, groupId: group, topics: [topics.claims], metrics: new Metrics(), log, lingerMs: 50, maxBatchRecords: 1_000_000 })
    const it = source.batches(ac.signal)[Symbol.asyncIterator]()
    const first = it.next()
    try {
      await producer.send({ topic: topics.claims, messages: [{ key: 'PSN1', value: '{"n":1}' }, { key: 'PSN1', value: '{"n":2}' }] })
      const batch = (await first).value as SourceBatch
      expect(batch.records.map((x) => x.value.toString())).toEqual(['{"n":1}', '{"n":2}'])
      await batch.commit!()
      expect((await committed(group, topics.claims)).reduce((a, b) => a + Math.max(0, b), 0)).toBe(2)
    } finally {
      ac.abort()
      await it.return?.()
      await producer.disconnect()
    }
  })

  it('a stop while a batch it handed over is still being stored: that batch still commits, and only then does the source leave the group', async () => {
    const { topics, producer, group } = await setup('linger-stop')
    const ac = new AbortController()
    const source = kafkaSource({ kafka, groupId: group, topics: [topics.claims], metrics: new Metrics(), log, lingerMs: 3_600_000, maxBatchRecords: 4 })
    const it = source.batches(ac.signal)[Symbol.asyncIterator]()
    try {
      const first = it.next()
      for (let i = 0; i < 4; i++) await producer.send({ topic: topics.claims, messages: [{ key: `PSN${i}`, value: `{"n":${i}}` }] })
      const batch = (await first).value as SourceBatch
      // The pipeline asks for the next batch while this one is being stored; SIGTERM comes now.
      const next = it.next()
      ac.abort()
      // The store takes a while; the source must still be in the group when the commit comes.
      await new Promise((r) => setTimeout(r, 1_000))
      await batch.commit!()
      expect((await next).done).toBe(true)
      const ends = (await admin.fetchTopicOffsets(topics.claims)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.high))
      expect(ends.reduce((a, b) => a + b, 0)).toBe(4)
      expect(await committed(group, topics.claims)).toEqual(ends)
    } finally {
      ac.abort()
      await it.return?.()
      await producer.disconnect()
    }
  })
})
