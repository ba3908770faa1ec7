import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { startPrivateBroker, type PrivateBroker } from '../helpers/kafka.ts'

/**
 * Done-when 4: the broker stopped and restarted mid-stream → processing resumes
 * by itself, with exact counts. A broker of this test's own, so stopping it
 * disturbs no other suite.
 */
let c: Cluster
let broker: PrivateBroker
const part1 = claimStream({ persons: 1500, visitsPerPerson: 2, linesPerVisit: 3, splitEvery: 30, tag: 'R1' })
const part2 = claimStream({ persons: 1500, visitsPerPerson: 2, linesPerVisit: 3, splitEvery: 30, tag: 'R2' })

beforeAll(async () => {
  broker = await startPrivateBroker()
  c = await startCluster('restart', deliveryKb)
  await withAdmin(createKafka({ brokers: broker.brokers }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 3 }))
})
afterAll(async () => {
  await c?.close()
  await broker?.dispose()
})

describe('broker outage', () => {
  it('resumes by itself after the broker stops and restarts mid-stream, with exact counts', async () => {
    const topics = topicNames(c.prefix)
    const p = spawnProcessor(c, broker.brokers, 'p1', { FUNDWATCH_FETCH_MAX_BYTES: String(32 * 1024) })
    await produce(createKafka({ brokers: broker.brokers }), topics.claims, part1.events)
    await waitFor('processing under way', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)) > 1000, 120_000, 200)
    await broker.stop()
    const atStop = await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)
    await new Promise((r) => setTimeout(r, 8000))
    expect(p.child.exitCode, 'the processor survives the outage').toBeNull()
    await broker.start()
    await produce(createKafka({ brokers: broker.brokers }), topics.claims, part2.events)
    const total = part1.events.length + part2.events.length
    await waitFor('everything stored after the outage', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= total, 240_000, 1000)
    p.child.kill('SIGTERM')
    expect((await p.exited).code).toBe(0)
    for (const t of ['events', 'alerts']) await c.store.command(`OPTIMIZE TABLE ${c.store.t(t)} FINAL`)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)).toBe(total)
    expect(await count(c.store, `SELECT uniqExact(event_id) AS c FROM ${c.store.t('events')}`)).toBe(total)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')}`)).toBe(await count(c.store, `SELECT uniqExact(alert_id) AS c FROM ${c.store.t('alerts')}`))
    const split = await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')} WHERE detector_id = 'split-hospitalization'`)
    expect(split).toBe(part1.splitPairs.length + part2.splitPairs.length)
    console.log(`broker outage: ${atStop} of ${part1.events.length} stored when the broker stopped; ${total} stored once after restart; ${split} split hospitalizations`)
  }, 420_000)
})
