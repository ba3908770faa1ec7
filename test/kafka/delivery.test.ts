import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, readTopic, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * Done-when 1 of the Kafka issue: N ≥ 100k events produced (part of them by an
 * independent client, kcat) → every event in ClickHouse exactly once, and the
 * alerts on the alerts topic are exactly the alerts in ClickHouse.
 */
let c: Cluster
const stream = claimStream({ persons: 11_200, visitsPerPerson: 3, linesPerVisit: 4, splitEvery: 50, tag: 'D' })
const total = stream.events.length

beforeAll(async () => {
  c = await startCluster('delivery', deliveryKb)
  const kafka = createKafka({ brokers: kafkaBrokers() })
  await withAdmin(kafka, (admin) => createTopics(admin, { prefix: c.prefix, partitions: 4 }))
})
afterAll(async () => c?.close())

describe('Kafka → pipeline → ClickHouse, exactly once in results', () => {
  it(`stores all ${total.toLocaleString('en-US')} events once and publishes exactly the stored alerts`, async () => {
    expect(total).toBeGreaterThanOrEqual(100_000)
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    // The first 5,000 go through kcat, an independent client, keyed by psn_no like any producer.
    const viaKcat = stream.events.slice(0, 5000)
    const file = join(c.dir, 'kcat-input.txt')
    writeFileSync(file, viaKcat.map((e) => `${'psn_no' in e.payload ? e.payload.psn_no : ''}\t${JSON.stringify(e)}`).join('\n') + '\n')
    // murmur2_random is the Java client's partitioner (kafkajs's default too): one
    // psn_no lands in one partition whichever client produced it. librdkafka's
    // own default (CRC32) would split a person's timeline across partitions.
    execFileSync('kcat', ['-P', '-b', brokers, '-t', topics.claims, '-K', '\t', '-X', 'partitioner=murmur2_random', '-l', file], { stdio: 'pipe', timeout: 60_000 })
    const processor = spawnProcessor(c, brokers, 'p1')
    await produce(kafka, topics.claims, stream.events.slice(5000))

    const events = `SELECT count() AS c FROM ${c.store.t('events')} FINAL`
    await waitFor('every event stored', async () => (await count(c.store, events)) >= total, 240_000, 1000)
    processor.child.kill('SIGTERM')
    expect((await processor.exited).code).toBe(0)

    for (const t of ['events', 'fee_lines', 'alerts']) await c.store.command(`OPTIMIZE TABLE ${c.store.t(t)} FINAL`)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)).toBe(total)
    expect(await count(c.store, `SELECT uniqExact(event_id) AS c FROM ${c.store.t('events')}`)).toBe(total)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('fee_lines')}`)).toBe(stream.feeLines)

    const stored = (await c.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${c.store.t('alerts')}`)).map((r) => r.alert_id).sort()
    expect(stored.length).toBeGreaterThanOrEqual(stream.splitPairs.length)
    const onTopic = await readTopic(kafka, topics.alerts, { expect: stored.length })
    const topicIds = onTopic.map((m) => (JSON.parse(m.value.toString()) as { alert_id: string }).alert_id)
    expect([...new Set(topicIds)].sort()).toEqual(stored)
    // Every record on the topic is keyed by institution and carries its alert_id.
    expect(onTopic.every((m) => m.key?.startsWith('H') && m.headers.alert_id && m.headers.revision)).toBe(true)
    const split = await c.store.query<{ m: string[] }>(`SELECT mdtrt_ids AS m FROM ${c.store.t('alerts')} WHERE detector_id = 'split-hospitalization'`)
    expect(split.map((r) => [...r.m].sort().join('+')).sort()).toEqual(stream.splitPairs.map((p) => p.join('+')).sort())
    console.log(`delivery: ${total} events (${stream.feeLines} fee lines), ${stored.length} alerts stored, ${onTopic.length} alert records on the topic (${onTopic.length - new Set(topicIds).size} redelivered)`)
  }, 400_000)
})
