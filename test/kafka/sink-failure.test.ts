import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { configFromEnv } from '../../src/config.ts'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { runProcessor } from '../../src/kafka/processor.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { createLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'
import { FundwatchError } from '../../src/errors.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * Done-when 5: sink failures injected around the real client. A ClickHouse
 * outage cannot be caused for real under chDB, so this wraps the real store's
 * insert: the first FAILS inserts throw (as a server outage would), every later
 * one goes to the real engine. While it fails, nothing may be committed; after
 * recovery nothing may be missing.
 */
const FAILS = 12
let c: Cluster
const stream = claimStream({ persons: 800, visitsPerPerson: 2, linesPerVisit: 3, splitEvery: 20, tag: 'F' })

beforeAll(async () => {
  c = await startCluster('sinkfail', deliveryKb)
  await withAdmin(createKafka({ brokers: kafkaBrokers() }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 2 }))
})
afterAll(async () => c?.close())

describe('sink failures', () => {
  it(`commits nothing while ${FAILS} inserts fail, and loses nothing after recovery`, async () => {
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    await produce(kafka, topics.claims, stream.events)
    const config = configFromEnv({ CLICKHOUSE_URL: c.url, FUNDWATCH_DB: c.database, KAFKA_BROKERS: brokers, FUNDWATCH_TOPIC_PREFIX: c.prefix, FUNDWATCH_GROUP: c.group, FUNDWATCH_SESSION_TIMEOUT_MS: '6000' })
    const metrics = new Metrics()
    const app = await createApp(config, { kb: deliveryKb, metrics, log: createLogger({ level: 'silent' }) })
    const realInsert = app.store.insert.bind(app.store)
    let failures = 0
    let committedWhileFailing = false
    app.store.insert = async (table, rows) => {
      if (failures < FAILS) {
        failures++
        const committed = await withAdmin(kafka, (a) => a.fetchOffsets({ groupId: c.group, topics: [topics.claims] }))
        if (committed[0]!.partitions.some((p) => Number(p.offset) > 0)) committedWhileFailing = true
        throw new FundwatchError('STORE_INSERT_FAILED', `injected failure ${failures} of ${FAILS} (insert into ${table})`)
      }
      return realInsert(table, rows)
    }
    const ac = new AbortController()
    const run = runProcessor(app, ac.signal)
    await waitFor('all events stored after recovery', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= stream.events.length, 180_000, 500)
    await waitFor('offsets committed to the end', async () => {
      const committed = await withAdmin(kafka, (a) => a.fetchOffsets({ groupId: c.group, topics: [topics.claims] }))
      const ends = new Map((await withAdmin(kafka, (a) => a.fetchTopicOffsets(topics.claims))).map((e) => [e.partition, e.offset]))
      return committed[0]!.partitions.every((p) => p.offset === ends.get(p.partition))
    }, 60_000)
    ac.abort()
    await run
    await app.close()
    const retries = (await metrics.sinkRetries.get()).values.reduce((s, v) => s + v.value, 0)
    expect(failures).toBe(FAILS)
    // One batch write inserts several tables at once, so one retry can absorb several failed inserts.
    expect(retries).toBeGreaterThan(0)
    expect(committedWhileFailing).toBe(false)
    await c.store.command(`OPTIMIZE TABLE ${c.store.t('events')} FINAL`)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)).toBe(stream.events.length)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization'`)).toBe(stream.splitPairs.length)
  }, 300_000)
})
