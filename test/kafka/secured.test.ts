import { readFileSync } from 'node:fs'
import { logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv } from '../../src/config.ts'
import { createKafka, withAdmin } from '../../src/kafka/admin.ts'
import { kafkaSecurity } from '../../src/kafka/security.ts'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { saslSslEnv } from '../../scripts/kafka/sasl-ssl.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { count, produce, readTopic, spawnProcessor, startCluster, waitFor, type Cluster } from '../helpers/cluster.ts'
import { startPrivateBroker, type PrivateBroker } from '../helpers/kafka.ts'

/**
 * Issue 11, item 7: fundwatch joins a secured cluster. A broker of this file's
 * own whose only client listener is SASL_SSL (throwaway CA, SCRAM users made
 * at format time) and which also requires a client certificate; the processor
 * is configured only through the KAFKA_SASL_* / KAFKA_SSL_* environment, as an
 * operator would, and the test's own clients go through the same settings.
 */
let broker: PrivateBroker
let c: Cluster
let env: Record<string, string>
const stream = claimStream({ persons: 400, visitsPerPerson: 2, linesPerVisit: 3, splitEvery: 20, tag: 'S' })

const clientFor = (e: Record<string, string | undefined>) => createKafka({ brokers: broker.brokers, clientId: 'fundwatch-test', logLevel: logLevel.NOTHING, security: kafkaSecurity(configFromEnv(e)) })
/** One attempt, no retries: a refusal shows at once instead of after kafkajs's backoff. */
const listTopicsOnce = async (e: Record<string, string | undefined>) => {
  const admin = clientFor(e).admin({ retry: { retries: 0 } })
  try {
    await admin.connect()
    return await admin.listTopics()
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

beforeAll(async () => {
  broker = await startPrivateBroker({ saslSsl: { clientAuth: 'required' } })
  env = saslSslEnv(broker.saslSsl!)
  c = await startCluster('secured', deliveryKb)
  await withAdmin(clientFor(env), (admin) => createTopics(admin, { prefix: c.prefix, partitions: 2 }))
})
afterAll(async () => {
  await c?.close()
  await broker?.dispose()
})

describe('secured Kafka: SASL_SSL with SCRAM-SHA-512 and a client certificate', () => {
  it(`stores all ${stream.events.length} events once and publishes exactly the stored alerts`, async () => {
    const topics = topicNames(c.prefix)
    const kafka = clientFor(env)
    const processor = spawnProcessor(c, broker.brokers, 'p1', env)
    await produce(kafka, topics.claims, stream.events)

    await waitFor('every event stored', async () => (await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)) >= stream.events.length, 120_000)
    processor.child.kill('SIGTERM')
    expect((await processor.exited).code).toBe(0)

    expect(await count(c.store, `SELECT count() AS c FROM ${c.store.t('events')} FINAL`)).toBe(stream.events.length)
    const stored = (await c.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${c.store.t('alerts')} FINAL`)).map((r) => r.alert_id).sort()
    expect(stored.length).toBeGreaterThanOrEqual(stream.splitPairs.length)
    const onTopic = await readTopic(kafka, topics.alerts, { expect: stored.length })
    expect([...new Set(onTopic.map((m) => (JSON.parse(m.value.toString()) as { alert_id: string }).alert_id))].sort()).toEqual(stored)
    // The password was in the processor's environment (through its file); it must not be in what it wrote.
    expect(readFileSync(processor.logFile, 'utf8')).not.toContain(Object.values(broker.saslSsl!.users)[0])
  }, 240_000)

  it('refuses a wrong password: the client fails to authenticate, and a processor given it exits 1 without printing it', async () => {
    const wrong = { ...env, KAFKA_SASL_PASSWORD_FILE: undefined, KAFKA_SASL_PASSWORD: 'not-the-password-0451' }
    await expect(listTopicsOnce(wrong)).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/)
    // The right password on the same connection settings works: the refusal above is the password's doing.
    expect(await listTopicsOnce(env)).toContain(topicNames(c.prefix).claims)

    const processor = spawnProcessor(c, broker.brokers, 'p-wrong', { ...env, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: wrong.KAFKA_SASL_PASSWORD })
    expect((await processor.exited).code).toBe(1)
    const log = readFileSync(processor.logFile, 'utf8')
    expect(log).toMatch(/authentication failed/i)
    expect(log).not.toContain(wrong.KAFKA_SASL_PASSWORD)
  }, 120_000)

  it('refuses a client without a certificate when the broker requires one, whatever its password', async () => {
    // The broker's TLS alert: 42 (bad certificate) here; TLS 1.3 stacks may send 116 (certificate required).
    await expect(listTopicsOnce({ ...env, KAFKA_SSL_CERT_FILE: undefined, KAFKA_SSL_KEY_FILE: undefined })).rejects.toThrow(/bad certificate|certificate required/)
    expect(await listTopicsOnce(env)).toContain(topicNames(c.prefix).claims)
  }, 60_000)

  it('authenticates SCRAM-SHA-256 and PLAIN users too (the same users, other mechanisms)', async () => {
    const topic = topicNames(c.prefix).claims
    expect(await listTopicsOnce({ ...env, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' })).toContain(topic)
    expect(await listTopicsOnce({ ...env, KAFKA_SASL_MECHANISM: 'plain' })).toContain(topic)
    await expect(listTopicsOnce({ ...env, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_PASSWORD_FILE: undefined, KAFKA_SASL_PASSWORD: 'not-the-password-0451' })).rejects.toThrow(/SASL SCRAM SHA256 authentication failed/)
  }, 60_000)
})
