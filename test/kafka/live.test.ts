import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Partitioners } from 'kafkajs'
import example from '../../schemas/examples/alert.json' with { type: 'json' }
import { Users } from '../../src/auth/users.ts'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { HOSPITAL } from '../helpers/detect.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { produce, spawnProcessor, startCluster, waitFor, type Cluster, type Processor } from '../helpers/cluster.ts'
import { kafkaBrokers } from '../helpers/kafka.ts'

/**
 * The production topology of the live feed: a processor (`fundwatch run`) and
 * an API replica (`fundwatch serve`) as separate processes sharing only Kafka
 * and ClickHouse. A console connected to the replica must receive, over SSE,
 * every alert the processor stored — through the alerts topic — and the
 * replica must shrug off records on that topic that are not alerts, and start
 * before the topics exist.
 */
const root = join(import.meta.dirname, '..', '..')
const serveLog = () => (existsSync(join(c.dir, 'serve.log')) ? readFileSync(join(c.dir, 'serve.log'), 'utf8') : '')
let c: Cluster
let serve: ChildProcess | undefined
let processor: Processor | undefined
const stream = claimStream({ persons: 300, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 10, tag: 'LV' })

beforeAll(async () => {
  c = await startCluster('live', deliveryKb)
})
afterAll(async () => {
  for (const child of [serve, processor?.child]) child?.kill('SIGTERM')
  await c?.close()
})

/** `fundwatch serve` as an operator starts it; resolves with the address it prints. */
async function spawnServe(): Promise<string> {
  const logFile = join(c.dir, 'serve.log')
  serve = spawn(process.execPath, [join(root, 'bin/fundwatch.mjs'), 'serve', '--kb', c.kbDir], {
    cwd: root,
    env: { ...process.env, KAFKA_BROKERS: kafkaBrokers(), CLICKHOUSE_URL: c.url, FUNDWATCH_DB: c.database, FUNDWATCH_TOPIC_PREFIX: c.prefix, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log = createWriteStream(logFile, { flags: 'a' })
  serve.stdout!.pipe(log)
  serve.stderr!.pipe(log)
  let address = ''
  await waitFor('fundwatch serve listening', async () => {
    address = /console at (http:\/\/\S+?) /.exec(serveLog())?.[1] ?? ''
    if (serve!.exitCode !== null) throw new Error(`fundwatch serve exited: ${serveLog()}`)
    return address !== ''
  }, 60_000, 200)
  return address
}

describe('live feed across processes', () => {
  it('pushes every alert a separate processor stores to a console on an API replica, via the alerts topic', async () => {
    const kafka = createKafka({ brokers: kafkaBrokers() })
    const topics = topicNames(c.prefix)
    const { token } = await new Users(c.store).create({ name: '监控员乙', role: 'monitor', admdvs: [], fixmedins_codes: [] }, 'cli')
    // The replica starts before the topics exist (a fresh deployment): it serves, and follows once they do.
    const address = await spawnServe()
    expect(serveLog()).toContain('live feed: the alerts topic')
    expect((await fetch(`${address}/healthz`)).status).toBe(200)
    await withAdmin(kafka, (admin) => createTopics(admin, { prefix: c.prefix, partitions: 2 }))

    const ac = new AbortController()
    const res = await fetch(`${address}/api/v1/alerts/stream?access_token=${token}`, { signal: ac.signal })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let text = ''
    const received = () => [...text.matchAll(/event: alert\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!) as { alert_id: string; subject: { fixmedins_code: string } })
    // Reads in the background so the checks below can poll what has arrived.
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
        if (done) return
        text += new TextDecoder().decode(value)
      }
    })()

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    try {
      // The replica's group starts at the newest record once it has joined: a probe alert, sent until it
      // shows up, tells that it is reading. Junk on the topic comes first and must not stop it.
      const probe = { ...example, alert_id: 'f'.repeat(32), subject: { ...example.subject, fixmedins_code: HOSPITAL } }
      await waitFor('the replica reading the alerts topic', async () => {
        await producer.send({ topic: topics.alerts, messages: [{ value: 'not json' }, { value: JSON.stringify({ alert_id: 'x' }) }, { key: HOSPITAL, value: JSON.stringify(probe) }] })
        return received().some((a) => a.alert_id === probe.alert_id)
      }, 60_000, 1000)
    } finally {
      await producer.disconnect()
    }

    processor = spawnProcessor(c, kafkaBrokers(), 'p1')
    await produce(kafka, topics.claims, stream.events)
    // Done when the processor has committed the end of the claims topic: everything before is stored and published.
    const ends = async () => (await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topics.claims))).map((p) => `${p.partition}:${p.high}`).sort()
    const committed = async () => (await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: c.group, topics: [topics.claims] })))[0]!.partitions.map((p) => `${p.partition}:${p.offset}`).sort()
    const end = await ends()
    await waitFor('the processor to commit the whole stream', async () => JSON.stringify(await committed()) === JSON.stringify(end), 120_000)
    const ids = (await c.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${c.store.t('alerts')} FINAL`)).map((r) => r.alert_id).sort()
    const splits = await c.store.query<{ n: string }>(`SELECT count() AS n FROM ${c.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization'`)
    expect(Number(splits[0]!.n)).toBe(stream.splitPairs.length)
    await waitFor('every stored alert pushed to the console', async () => ids.every((id) => received().some((a) => a.alert_id === id)), 60_000)
    ac.abort()

    const pushed = received().filter((a) => a.alert_id !== 'f'.repeat(32))
    // Each once (a processor's re-publication after a retry is absorbed by the replica), none invented.
    expect(pushed.map((a) => a.alert_id).sort()).toEqual(ids)
    expect(serve!.exitCode).toBeNull()
    expect(serveLog()).toContain('not an alert document')
  }, 300_000)
})
