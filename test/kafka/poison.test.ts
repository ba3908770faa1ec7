import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Partitioners } from 'kafkajs'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { feeUploaded, visitOpened } from '../helpers/detect.ts'
import { count, produce, readTopic, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'
import { CASES } from '../helpers/malformed.ts'

/**
 * Done-when 6: ≥ 30 kinds of poison records → all in the DLQ with distinct
 * reasons and their original bytes, the partition keeps moving (valid events
 * produced after the poison are stored), and the processor never crashes.
 */
let c: Cluster
const before = claimStream({ persons: 200, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 1000, tag: 'PB' })
const after = claimStream({ persons: 200, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 1000, tag: 'PA' })

beforeAll(async () => {
  c = await startCluster('poison', deliveryKb)
  await withAdmin(createKafka({ brokers: kafkaBrokers() }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 1 }))
})
afterAll(async () => c?.close())

describe('poison records', () => {
  it(`dead-letters ${CASES.length} kinds of malformed input with distinct reasons and keeps the partition moving`, async () => {
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    const processor = spawnProcessor(c, brokers, 'p1', { FUNDWATCH_MAX_RECORD_BYTES: String(64 * 1024), FUNDWATCH_MAX_LINES_PER_EVENT: '50' })
    await produce(kafka, topics.claims, before.events)
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    // One partition: the poison sits between the valid events, as it would in production.
    await producer.send({ topic: topics.claims, messages: CASES.map(([name, bytes]) => ({ key: `poison-${name}`, value: bytes })) })
    await producer.disconnect()
    await produce(kafka, topics.claims, after.events)

    const total = before.events.length + after.events.length
    await waitFor('valid events after the poison stored', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= total, 120_000)
    await waitFor('dead letters stored', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('dead_letters')} FINAL`)) >= CASES.length, 60_000)
    expect(processor.child.exitCode, 'the processor must still be running').toBeNull()
    processor.child.kill('SIGTERM')
    expect((await processor.exited).code).toBe(0)

    const dlq = await readTopic(kafka, topics.dlq, { expect: CASES.length })
    expect(dlq).toHaveLength(CASES.length)
    const byKey = new Map(dlq.map((m) => [m.key, m]))
    for (const [name, bytes, reason] of CASES) {
      const m = byKey.get(`poison-${name}`)
      expect(m, name).toBeDefined()
      expect(m!.headers['fundwatch.reason'], name).toBe(reason)
      expect(Buffer.compare(m!.value, bytes), `${name}: original bytes kept`).toBe(0)
      expect(m!.headers['fundwatch.source.topic']).toBe(topics.claims)
      expect(Number(m!.headers['fundwatch.source.offset'])).toBeGreaterThanOrEqual(before.events.length)
    }
    expect(new Set(dlq.map((m) => m.headers['fundwatch.reason'])).size).toBe(CASES.length)
    const stored = await c.store.query<{ reason: string }>(`SELECT reason FROM ${c.store.t('dead_letters')} FINAL`)
    expect(stored.map((r) => r.reason).sort()).toEqual(CASES.map((x) => x[2]).sort())
  }, 240_000)

  it('moves past a record whose findings used to multiply with its lines (issue 8: 1,000 identical lines took 4.2 GB), and dead-letters one over the lines limit', async () => {
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    const base = await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)
    const psn_no = 'PSN80000001'
    const at = '2026-03-02T10:00:00+08:00'
    const drugLines = (n: number, tag: string) => feeUploaded({
      event_id: `amp-${tag}`, mdtrt_id: 'MDT-AMP', psn_no,
      lines: Array.from({ length: n }, (_, i) => ({ feedetl_sn: `${tag}${i}`, fee_ocur_time: at, med_list_codg: 'DRUG-1', list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '60', pric: '2.00', prd_days: 60 })),
    })
    const amplifying = [visitOpened({ event_id: 'amp-open', mdtrt_id: 'MDT-AMP', psn_no, begntime: '2026-03-02T09:00:00+08:00', med_type: '11' }), drugLines(1000, 'K'), drugLines(3000, 'M')]
    const tail = claimStream({ persons: 100, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 1000, tag: 'PT' })
    // A heap a tenth of what the record used to take: before the fix the processor died on it, and again on every restart.
    const processor = spawnProcessor(c, brokers, 'p2', { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=384`.trim() })
    await produce(kafka, topics.claims, amplifying)
    await produce(kafka, topics.claims, tail.events)

    await waitFor('the events after the amplifying record stored', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= base + 2 + tail.events.length, 120_000)
    await waitFor('the 3,000-line record dead-lettered', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('dead_letters')} FINAL WHERE reason = 'too_many_lines@payload.lines'`)) >= 1, 60_000)
    expect(processor.child.exitCode, 'the processor must still be running').toBeNull()
    const alerts = await c.store.query<{ detector_id: string; n: string }>(`SELECT detector_id, count() AS n FROM ${c.store.t('alerts')} FINAL WHERE psn_no = {p:String} GROUP BY detector_id ORDER BY detector_id`, { p: psn_no })
    // One finding per item, visit and rule: a handful of alerts, not one per line.
    expect(alerts.reduce((n, a) => n + Number(a.n), 0)).toBeLessThanOrEqual(5)
    processor.child.kill('SIGTERM')
    expect((await processor.exited).code).toBe(0)
  }, 240_000)
})
