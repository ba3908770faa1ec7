import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Partitioners } from 'kafkajs'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { institution, makeKb } from '../helpers/detect.ts'
import { count, readTopic, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * The national transaction topic end to end: `topics create` makes it, a
 * `fundwatch run` processor reads it through the national adapter next to the
 * claims topic, stores the events with the record as raw text, and dead-letters
 * a broken transaction with its national reason.
 */
const SAMPLES = join(import.meta.dirname, '..', 'fixtures', 'national', 'samples')
const ORDER = ['3501', '3502', '3503', '3504', '3505', '3506', '2401', '3101', '2403', '2301', '2402', '2303', '2304', '2201', '2203', '2204', '2206', '2207']
const record = (infno: string) => JSON.stringify(JSON.parse(readFileSync(join(SAMPLES, `${infno}.json`), 'utf8')))

let c: Cluster
beforeAll(async () => {
  c = await startCluster('national', makeKb({ institutions: [institution('H37070200001'), institution('P37070200017', { level: 0 })] }))
  await withAdmin(createKafka({ brokers: kafkaBrokers() }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 1 }))
})
afterAll(async () => c?.close())

describe('fundwatch.national.v1', () => {
  it('a processor stores the transactions\' events and dead-letters a broken one', async () => {
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    const processor = spawnProcessor(c, brokers, 'n1')
    const broken = JSON.parse(record('2204')) as { request: { msgid: string; input: { feedetail: Record<string, unknown>[] } } }
    broken.request.msgid = 'H37070200001202403150931209998'
    delete broken.request.input.feedetail[0]!.det_item_fee_sumamt
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    await producer.send({
      topic: topics.national,
      messages: [
        ...ORDER.map((infno) => ({ key: (JSON.parse(record(infno)) as { request: { fixmedins_code: string } }).request.fixmedins_code, value: record(infno) })),
        { key: 'broken', value: JSON.stringify(broken) },
      ],
    })
    await producer.disconnect()
    // 15 transactions are facts, 2301 holds two events; 3101, 2303, 2206 are ignored.
    await waitFor('events stored', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= 16, 120_000)
    const dlq = await readTopic(kafka, topics.dlq, { expect: 1 })
    expect(processor.child.exitCode).toBeNull()
    processor.child.kill('SIGTERM')
    expect((await processor.exited).code).toBe(0)
    expect(dlq.map((m) => [m.key, m.headers['fundwatch.reason'], m.headers['fundwatch.source.topic']])).toEqual([['broken', 'national.missing@2204.feedetail.det_item_fee_sumamt', topics.national]])
    const raw = await c.store.query<{ raw: string }>(`SELECT raw FROM ${c.store.t('events')} FINAL WHERE event_id = 'H37070200001202403150935400008'`)
    expect(raw).toEqual([{ raw: record('2207') }])
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)).toBe(16)
  })
})
