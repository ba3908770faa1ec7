import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, readTopic, spawnProcessor, startCluster, waitFor, type Cluster, type Processor } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * Done-when 2: kill -9 the processor at each of three points — after detection,
 * after the insert but before the commit, during a rebalance — several times
 * each, restarting it every time; then lost events 0, duplicate event rows 0,
 * duplicate alerts 0. Small fetches make many small batches, so the faults land
 * mid-stream.
 */
let c: Cluster
const stream = claimStream({ persons: 3000, visitsPerPerson: 2, linesPerVisit: 3, splitEvery: 40, tag: 'C' })
const N = stream.events.length
const small = { FUNDWATCH_FETCH_MAX_BYTES: String(48 * 1024) }

beforeAll(async () => {
  c = await startCluster('crash', deliveryKb)
  const kafka = createKafka({ brokers: kafkaBrokers() })
  await withAdmin(kafka, (admin) => createTopics(admin, { prefix: c.prefix, partitions: 4 }))
  await produce(kafka, topicNames(c.prefix).claims, stream.events)
})
afterAll(async () => c?.close())

async function killedAt(p: Processor): Promise<void> {
  const r = await p.exited
  expect(r.signal, `${p.name} should have been killed by its fault (log: ${p.logFile})`).toBe('SIGKILL')
}

describe('crash loop', () => {
  it('kill -9 after detection, after the insert before the commit, and during a rebalance: nothing lost, nothing doubled', async () => {
    const brokers = kafkaBrokers()
    const kills: string[] = []
    for (const point of ['after-detect', 'after-store'] as const) {
      for (const n of [3, 7, 12]) {
        const p = spawnProcessor(c, brokers, `${point}-${n}`, { ...small, FUNDWATCH_FAULT: `${point}:${n}` })
        await killedAt(p)
        kills.push(`${point}:${n}`)
      }
    }
    // During a rebalance: a second member joins, the first dies as it rejoins the group.
    for (let i = 0; i < 3; i++) {
      const victim = spawnProcessor(c, brokers, `rebalance-victim-${i}`, { ...small, FUNDWATCH_FAULT: 'rebalance:2' })
      await new Promise((r) => setTimeout(r, 4000))
      const other = spawnProcessor(c, brokers, `rebalance-other-${i}`, { ...small, FUNDWATCH_FAULT: 'after-store:6' })
      await killedAt(victim)
      await killedAt(other)
      kills.push('rebalance:2')
    }
    const stored = await count(c.store, `SELECT uniqExact(event_id) AS c FROM ${c.store.t('events')}`)
    expect(stored, 'the faults must land mid-stream, not after the end').toBeLessThan(N)

    const final = spawnProcessor(c, brokers, 'final', small)
    const kafka = createKafka({ brokers })
    await waitFor('everything committed', async () => {
      const committed = await withAdmin(kafka, (a) => a.fetchOffsets({ groupId: c.group, topics: [topicNames(c.prefix).claims] }))
      const ends = await withAdmin(kafka, (a) => a.fetchTopicOffsets(topicNames(c.prefix).claims))
      const end = new Map(ends.map((e) => [e.partition, e.offset]))
      return committed[0]!.partitions.every((p) => p.offset === end.get(p.partition))
    }, 240_000, 1000)
    final.child.kill('SIGTERM')
    expect((await final.exited).code).toBe(0)

    const rawEvents = await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)
    for (const t of ['events', 'fee_lines', 'alerts']) await c.store.command(`OPTIMIZE TABLE ${c.store.t(t)} FINAL`)
    const uniqueEvents = await count(c.store, `SELECT uniqExact(event_id) AS c FROM ${c.store.t('events')}`)
    const eventRows = await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)
    const alertRows = await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')}`)
    const uniqueAlerts = await count(c.store, `SELECT uniqExact(alert_id) AS c FROM ${c.store.t('alerts')}`)
    const onTopic = await readTopic(kafka, topicNames(c.prefix).alerts, { expect: uniqueAlerts })
    const topicIds = new Set(onTopic.map((m) => m.headers.alert_id))
    const split = await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')} WHERE detector_id = 'split-hospitalization'`)
    console.log([
      `crash loop: ${kills.length} kills (${kills.join(', ')})`,
      `  events produced ${N}, stored ${uniqueEvents}, lost ${N - uniqueEvents}`,
      `  event rows written before merge ${rawEvents} (replays), after merge ${eventRows}: duplicates ${eventRows - uniqueEvents}`,
      `  alerts stored ${uniqueAlerts}, duplicate alert rows ${alertRows - uniqueAlerts}; on the topic ${onTopic.length} records, ${topicIds.size} distinct (${onTopic.length - topicIds.size} redelivered after crashes)`,
      `  split hospitalizations caught ${split} of ${stream.splitPairs.length}`,
    ].join('\n'))
    expect(uniqueEvents).toBe(N)
    expect(eventRows).toBe(N)
    expect(alertRows).toBe(uniqueAlerts)
    expect(topicIds.size).toBe(uniqueAlerts)
    expect(split).toBe(stream.splitPairs.length)
  }, 540_000)
})
