import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'
import { feeReversed, feeUploaded, visitOpened } from '../helpers/detect.ts'

/**
 * Done-when 3: two processors in one group (the second joining mid-stream,
 * taking partitions from the first), one killed mid-stream → the other
 * takes its partitions; exact counts; a split hospitalization whose admissions
 * straddle the handover is still caught (the survivor loads the person's first
 * stay from ClickHouse).
 */
let c: Cluster
const first = claimStream({ persons: 2000, visitsPerPerson: 2, linesPerVisit: 3, splitEvery: 25, tag: 'H' })
// The straddling persons: first stay before the kill, readmission after it.
const straddle = claimStream({ persons: 40, visitsPerPerson: 0, linesPerVisit: 1, splitEvery: 1, tag: 'S' })
const stayOne = straddle.events.filter((e) => !/B-o$/.test(e.event_id))
const readmissions = straddle.events.filter((e) => /B-o$/.test(e.event_id))
// Duplicates billed before the kill and reversed after it: whoever owns the
// person's partition then (the survivor, for the killed member's persons) must
// know the alert raised before, from the store, and withdraw it.
const dupPersons = Array.from({ length: 30 }, (_, i) => `PSNDUP${String(i).padStart(4, '0')}`)
const at = (d: number, h: number, m = 0) => `2026-04-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`
const duplicates = dupPersons.flatMap((psn_no) => [
  visitOpened({ event_id: `${psn_no}-o`, mdtrt_id: `MD${psn_no}`, psn_no, begntime: at(1, 9), med_type: '11' }),
  feeUploaded({
    event_id: `${psn_no}-f`, mdtrt_id: `MD${psn_no}`, psn_no,
    lines: ['1', '2'].map((n) => ({ feedetl_sn: `${psn_no}-L${n}`, fee_ocur_time: at(1, 10), med_list_codg: 'DRUG-1', list_type: 'drug' as const, med_chrgitm_type: '09' })),
  }),
])
const reversals = dupPersons.map((psn_no) => ({ ...feeReversed({ event_id: `${psn_no}-r`, mdtrt_id: `MD${psn_no}`, feedetl_sns: [`${psn_no}-L2`], time: at(1, 10, 5) }), payload: { mdtrt_id: `MD${psn_no}`, psn_no, feedetl_sns: [`${psn_no}-L2`] } }))

beforeAll(async () => {
  c = await startCluster('handover', deliveryKb)
  await withAdmin(createKafka({ brokers: kafkaBrokers() }), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 6 }))
})
afterAll(async () => c?.close())

describe('consumer-group handover', () => {
  it('a survivor takes over a killed member’s partitions and still catches a split hospitalization across the handover', async () => {
    const brokers = kafkaBrokers()
    const kafka = createKafka({ brokers })
    const topics = topicNames(c.prefix)
    const small = { FUNDWATCH_FETCH_MAX_BYTES: String(32 * 1024) }
    // b works alone first; a joins mid-stream and takes half of b's partitions
    // while b has batches of them under way (their persons must not vanish
    // from under those batches: test/state/revoke.test.ts).
    const b = spawnProcessor(c, brokers, 'b', small)
    await produce(kafka, topics.claims, [...stayOne, ...duplicates, ...first.events])
    await waitFor('b working alone', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)) > 300, 120_000, 100)
    const a = spawnProcessor(c, brokers, 'a', small)
    await waitFor('a took partitions from b', async () => /"revoked":\["[^"]+/.test(readFileSync(b.logFile, 'utf8')), 120_000, 200)
    const joined = await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)
    await waitFor('both members working', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)) > joined + 1000, 120_000, 200)
    a.child.kill('SIGKILL')
    expect((await a.exited).signal).toBe('SIGKILL')
    await produce(kafka, topics.claims, [...readmissions, ...reversals])
    const total = stayOne.length + duplicates.length + first.events.length + readmissions.length + reversals.length
    await waitFor('everything stored by the survivor', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= total, 180_000, 1000)
    await waitFor('split alerts of the straddling persons', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization' AND psn_no LIKE 'PSNS%'`)) >= straddle.splitPairs.length, 60_000)
    const dupAlerts = `SELECT alert_id, argMax(status, revision) AS status, argMax(withdrawn_reason, revision) AS reason, max(revision) AS rev
      FROM ${c.store.t('alerts')} WHERE detector_id = 'duplicate-charge' AND psn_no LIKE 'PSNDUP%' GROUP BY alert_id`
    await waitFor('duplicates withdrawn after the handover', async () =>
      (await c.store.query<{ status: string }>(dupAlerts)).filter((r) => r.status === 'withdrawn').length >= dupPersons.length, 60_000)
    b.child.kill('SIGTERM')
    expect((await b.exited).code).toBe(0)
    const dups = await c.store.query<{ status: string; reason: string; rev: number }>(dupAlerts)
    expect(dups.map((r) => [r.status, r.reason, Number(r.rev)])).toEqual(dupPersons.map(() => ['withdrawn', 'reversed', 2]))

    for (const t of ['events', 'alerts']) await c.store.command(`OPTIMIZE TABLE ${c.store.t(t)} FINAL`)
    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')}`)).toBe(total)
    expect(await count(c.store, `SELECT uniqExact(event_id) AS c FROM ${c.store.t('events')}`)).toBe(total)
    const alertRows = await count(c.store, `SELECT count() AS c FROM ${c.store.t('alerts')}`)
    expect(alertRows).toBe(await count(c.store, `SELECT uniqExact(alert_id) AS c FROM ${c.store.t('alerts')}`))
    const split = await c.store.query<{ m: string[] }>(`SELECT mdtrt_ids AS m FROM ${c.store.t('alerts')} WHERE detector_id = 'split-hospitalization'`)
    const found = new Set(split.map((r) => [...r.m].sort().join('+')))
    for (const pair of [...straddle.splitPairs, ...first.splitPairs]) expect(found.has(pair.join('+')), pair.join('+')).toBe(true)
    console.log(`handover: ${total} events stored once; ${split.length} split hospitalizations incl. ${straddle.splitPairs.length} straddling the kill; ${alertRows} alerts, none doubled`)
  }, 400_000)
})
