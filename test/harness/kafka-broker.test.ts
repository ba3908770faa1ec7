/**
 * The Kafka the rest of the suite stands on: a real broker (from the global
 * setup, or a private one for stop/restart), reached by kafkajs and by kcat as
 * an independent client, with the contract's topics created by
 * src/kafka/topics.ts. Run against another release with KAFKA_VERSION=3.9.2.
 */
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Admin, Kafka } from 'kafkajs'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { newClusterId } from '../../scripts/kafka/local-broker.ts'
import {
  collectMessages,
  defaultPartitioner,
  describeKafka,
  kafkaBrokers,
  startPrivateBroker,
  testKafka,
  uniquePrefix,
  type PrivateBroker,
} from '../helpers/kafka.ts'

async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
}

describeKafka('shared broker', () => {
  const prefix = uniquePrefix('harness')
  const topics = topicNames(prefix)
  let kafka: Kafka
  let admin: Admin

  beforeAll(async () => {
    kafka = testKafka()
    admin = kafka.admin()
    await admin.connect()
  })
  afterAll(async () => {
    await admin?.disconnect()
  })

  it('creates the contract topics once and reports, without changing, topics that differ', async () => {
    const first = await createTopics(admin, { prefix, partitions: 3, retentionMs: 86_400_000 })
    expect(first.created.sort()).toEqual(Object.values(topics).sort())
    expect(first.existing).toEqual([])

    const again = await createTopics(admin, { prefix, partitions: 3, retentionMs: 86_400_000 })
    expect(again.created).toEqual([])
    expect(again.existing.sort()).toEqual(Object.values(topics).sort())
    expect(again.mismatches).toEqual([])

    const other = await createTopics(admin, { prefix, partitions: 2, perTopic: { dlq: { retentionMs: 1_000 } } })
    expect(other.created).toEqual([])
    expect(other.mismatches).toContainEqual({ topic: topics.claims, setting: 'partitions', wanted: '2', actual: '3' })
    expect(other.mismatches).toContainEqual({ topic: topics.dlq, setting: 'retention.ms', wanted: '1000', actual: '86400000' })
    const meta = await admin.fetchTopicMetadata({ topics: [topics.claims] })
    expect(meta.topics[0]?.partitions).toHaveLength(3)
  })

  it('regression: a send right after createTopics was appended twice (kafkajs resent the batch on NOT_LEADER_OR_FOLLOWER)', async () => {
    // Not idempotent on purpose: that is the producer that duplicated. The window is
    // short, so several rounds (before the fix most runs failed).
    const producer = kafka.producer({ createPartitioner: defaultPartitioner })
    await producer.connect()
    try {
      for (let round = 0; round < 6; round++) {
        const roundPrefix = `${prefix}w${round}.`
        await createTopics(admin, { prefix: roundPrefix, partitions: 3 })
        const topic = topicNames(roundPrefix).claims
        await producer.send({ topic, acks: -1, messages: Array.from({ length: 40 }, (_, i) => ({ key: `P${i % 4}`, value: String(i) })) })
        const ends = await admin.fetchTopicOffsets(topic)
        expect(ends.reduce((sum, p) => sum + Number(p.high), 0)).toBe(40)
      }
    } finally {
      await producer.disconnect()
    }
  })

  it('refuses to create topics with impossible settings before asking the broker', async () => {
    await expect(createTopics(admin, { prefix: 'bad prefix!' })).rejects.toThrow(/topic prefix/)
    await expect(createTopics(admin, { prefix, replicationFactor: 1, minInsyncReplicas: 2 })).rejects.toThrow(/minInsyncReplicas/)
  })

  it('round-trips keyed messages and resumes a consumer group from its committed offsets', async () => {
    const topic = topics.claims
    const groupId = `${prefix}group`
    // Idempotent, as the pipeline's sinks are: a retried send cannot duplicate.
    const producer = kafka.producer({ createPartitioner: defaultPartitioner, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const persons = ['P0000001', 'P0000002', 'P0000003', 'P0000004']
    const batch1 = Array.from({ length: 40 }, (_, i) => ({ key: persons[i % 4], value: JSON.stringify({ seq: i }) }))
    await producer.send({ topic, acks: -1, messages: batch1 })

    const consumer1 = kafka.consumer({ groupId })
    await consumer1.connect()
    await consumer1.subscribe({ topic, fromBeginning: true })
    const got1 = await collectMessages(consumer1, batch1.length)
    await consumer1.disconnect()
    expect(got1).toHaveLength(batch1.length)
    // One person's records keep their order, because they share a partition.
    for (const psn of persons) {
      const mine = got1.filter((m) => m.key === psn)
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1)
      const seqs = mine.map((m) => (JSON.parse(m.value ?? '{}') as { seq: number }).seq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
      expect(seqs).toHaveLength(10)
    }
    expect(await committedTotal(admin, groupId, topic)).toBe(batch1.length)

    const batch2 = Array.from({ length: 8 }, (_, i) => ({ key: persons[i % 4], value: JSON.stringify({ seq: 100 + i }) }))
    await producer.send({ topic, acks: -1, messages: batch2 })
    await producer.disconnect()

    const consumer2 = kafka.consumer({ groupId })
    await consumer2.connect()
    await consumer2.subscribe({ topic, fromBeginning: true })
    const got2 = await collectMessages(consumer2, batch2.length)
    await consumer2.disconnect()
    const seqs2 = got2.map((m) => (JSON.parse(m.value ?? '{}') as { seq: number }).seq).sort((a, b) => a - b)
    expect(seqs2).toEqual([100, 101, 102, 103, 104, 105, 106, 107])
    expect(await committedTotal(admin, groupId, topic)).toBe(batch1.length + batch2.length)
  })

  it('reads with kafkajs what kcat (librdkafka) produced: key, value and headers', async () => {
    const topic = topics.inventory
    const lines = ['H12010100001|{"kind":"purchase","cnt":"10"}', 'P12010100002|{"kind":"sale","cnt":"2"}']
    const kcat = spawnSync('kcat', ['-b', kafkaBrokers(), '-t', topic, '-P', '-K', '|', '-H', 'source=kcat', '-X', 'acks=all'], {
      input: `${lines.join('\n')}\n`,
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(kcat.error, 'kcat must be installed (apt-get install kcat); .ci/run installs it').toBeUndefined()
    expect(kcat.status, kcat.stderr).toBe(0)

    const consumer = kafka.consumer({ groupId: `${prefix}kcat-reader` })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const got = await collectMessages(consumer, lines.length)
    await consumer.disconnect()
    expect(got.map((m) => [m.key, m.value, m.headers.source]).sort()).toEqual([
      ['H12010100001', '{"kind":"purchase","cnt":"10"}', 'kcat'],
      ['P12010100002', '{"kind":"sale","cnt":"2"}', 'kcat'],
    ])
  })

  it('does not create topics on first use: code must create the topics it needs', async () => {
    const producer = kafka.producer({ createPartitioner: defaultPartitioner, retry: { retries: 1 } })
    await producer.connect()
    try {
      await expect(producer.send({ topic: `${prefix}never-created`, messages: [{ value: 'x' }] })).rejects.toThrow()
    } finally {
      await producer.disconnect()
    }
    expect(await admin.listTopics()).not.toContain(`${prefix}never-created`)
  })
})

describeKafka('local broker', () => {
  it("regression: one format in 64 failed, the cluster id starting with '-' read as an option by StorageTool", () => {
    const ids = Array.from({ length: 2000 }, () => newClusterId())
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([])
    expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id) && Buffer.from(id, 'base64url').length === 16)).toBe(true)
  })
})

describeKafka('private broker stopped and restarted mid-stream', () => {
  let broker: PrivateBroker | undefined

  afterAll(async () => {
    await broker?.dispose()
  })

  it('keeps records and committed offsets across stop and crash, on the same port', { timeout: 180_000 }, async () => {
    broker = await startPrivateBroker()
    const b = broker
    const address = b.brokers
    const prefix = uniquePrefix('restart')
    const { claims: topic } = topicNames(prefix)
    const groupId = `${prefix}group`
    const kafka = testKafka({ brokers: address })
    await withAdmin(kafka, (admin) => createTopics(admin, { prefix, partitions: 2 }))

    // Idempotent, as the pipeline's sinks are: a retried send cannot duplicate.
    const producer = kafka.producer({ createPartitioner: defaultPartitioner, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `P${i % 3}`, value: `before-${i}` })) })

    const consumer = kafka.consumer({ groupId })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const before = await collectMessages(consumer, 10)
    expect(before.map((m) => m.value).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `before-${i}`).sort())

    // Graceful stop: the same log dir and port come back.
    const firstPid = b.pid
    await b.stop()
    expect(b.running).toBe(false)
    await b.start()
    expect(b.brokers).toBe(address)
    expect(b.pid).not.toBe(firstPid)

    // The producer and consumer made before the stop are reused: kafkajs must reconnect on its own.
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ key: `P${i % 3}`, value: `after-stop-${i}` })) })
    const afterStop = await collectMessages(consumer, 5)
    // Committed offsets survived: nothing from before the stop is delivered again.
    expect(afterStop.map((m) => m.value).sort()).toEqual(Array.from({ length: 5 }, (_, i) => `after-stop-${i}`).sort())

    // A crash (SIGKILL): acknowledged records are still there after recovery.
    await b.kill()
    await b.start()
    await producer.send({ topic, acks: -1, messages: [{ key: 'P0', value: 'after-crash' }] })
    await producer.disconnect()
    const afterCrash = await collectMessages(consumer, 1)
    expect(afterCrash.map((m) => m.value)).toEqual(['after-crash'])
    await consumer.disconnect()

    const everything = testKafka({ brokers: address }).consumer({ groupId: `${prefix}audit` })
    await everything.connect()
    await everything.subscribe({ topic, fromBeginning: true })
    const all = await collectMessages(everything, 16)
    await everything.disconnect()
    expect(all).toHaveLength(16)
    expect(new Set(all.map((m) => `${m.partition}:${m.offset}`)).size).toBe(16)
  })
})
