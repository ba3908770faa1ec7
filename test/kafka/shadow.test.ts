import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, cnIsoOf, deliveryKb } from '../helpers/claims.ts'
import { count, produce, readTopic, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { feeUploaded, visitOpened } from '../helpers/detect.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * Shadow mode through Kafka (issue 14, item 2): a processor (`fundwatch run`)
 * whose rule base runs split-hospitalization in shadow consumes claims; the
 * alerts topic carries no shadow alert — only the live detector's
 * (duplicate-charge) — while shadow_alerts holds every split the stream plants.
 */
let c: Cluster
const stream = claimStream({ persons: 400, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 10, tag: 'SHK' })
/** A duplicated drug line for every 20th person: what the live detector raises. */
const duplicates: AnyEvent[] = Array.from({ length: 20 }, (_, i) => {
  const psn = `PSNSHK${String(i * 20).padStart(7, '0')}`
  const m = `${psn}DUP`
  const t = Date.parse('2026-03-10T09:00:00+08:00') + i * 60_000
  const line = { fee_ocur_time: cnIsoOf(t + 60_000), med_list_codg: 'DRUG-1', list_type: 'drug' as const, med_chrgitm_type: '09' }
  return [
    visitOpened({ event_id: `${m}-o`, psn_no: psn, mdtrt_id: m, begntime: cnIsoOf(t), med_type: '11', diagnoses: [{ diag_code: 'J06.900' }] }),
    feeUploaded({ event_id: `${m}-f`, psn_no: psn, mdtrt_id: m, lines: [{ ...line, feedetl_sn: `${m}L1` }, { ...line, feedetl_sn: `${m}L2` }] }),
  ]
}).flat()
const total = stream.events.length + duplicates.length

beforeAll(async () => {
  c = await startCluster('shadow', deliveryKb)
  await withAdmin(createKafka({ brokers: kafkaBrokers() }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 2 }))
})
afterAll(async () => c?.close())

describe('shadow mode through Kafka', () => {
  it('a processor with a shadow rule publishes none of its alerts on the alerts topic, and stores them in shadow_alerts', async () => {
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    const rules = join(c.dir, 'rules.yaml')
    writeFileSync(rules, 'detectors:\n  split-hospitalization:\n    mode: shadow\n')
    const processor = spawnProcessor(c, brokers, 'p1', { FUNDWATCH_RULES: rules })
    await produce(kafka, topics.claims, [...stream.events, ...duplicates])
    await waitFor('every event stored', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= total, 180_000, 1000)
    processor.child.kill('SIGTERM')
    expect((await processor.exited).code).toBe(0)

    const byDetector = async (table: string) => Object.fromEntries((await c.store.query<{ d: string; n: string }>(
      `SELECT detector_id AS d, uniqExact(alert_id) AS n FROM ${c.store.t(table)} GROUP BY d`)).map((r) => [r.d, Number(r.n)]))
    const shadow = await byDetector('shadow_alerts')
    const live = await byDetector('alerts')
    expect(shadow).toEqual({ 'split-hospitalization': stream.splitPairs.length })
    expect(live['split-hospitalization']).toBeUndefined()
    expect(live['duplicate-charge']).toBe(20)

    const stored = (await c.store.query<{ alert_id: string }>(`SELECT DISTINCT alert_id FROM ${c.store.t('alerts')}`)).map((r) => r.alert_id).sort()
    const onTopic = (await readTopic(kafka, topics.alerts, { expect: stored.length })).map((m) => JSON.parse(m.value.toString()) as { alert_id: string; detector: { id: string } })
    expect(onTopic.filter((a) => a.detector.id === 'split-hospitalization')).toEqual([])
    expect([...new Set(onTopic.map((a) => a.alert_id))].sort()).toEqual(stored)
  })
})
