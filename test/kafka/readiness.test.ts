import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildProbeServer } from '../../src/api/http-metrics.ts'
import { withAdmin } from '../../src/kafka/admin.ts'
import { GroupMembership } from '../../src/kafka/membership.ts'
import { runProcessor } from '../../src/kafka/processor.ts'
import { createTopics } from '../../src/kafka/topics.ts'
import { waitFor } from '../helpers/cluster.ts'
import { describeKafka, kafkaBrokers, testKafka, uniquePrefix } from '../helpers/kafka.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * A processor's readiness on a real broker: /readyz follows the member's
 * standing in its consumer group as kafkajs reports it — not ready while
 * joining, ready once a member, not ready once it has left.
 */
const prefix = uniquePrefix('readiness')
let app: TestApp
beforeAll(async () => {
  app = await testApp({ env: { FUNDWATCH_TOPIC_PREFIX: prefix, FUNDWATCH_GROUP: `${prefix}group` } })
  await withAdmin(testKafka(), (admin) => createTopics(admin, { prefix, partitions: 2 }))
})
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

describeKafka('processor readiness', () => {
  it('/readyz: 503 while joining the group, 200 as a member, 503 after leaving; /livez 200 throughout', async () => {
    const membership = new GroupMembership()
    const probe = await buildProbeServer(app, { readiness: [{ name: 'kafka', check: () => membership.readiness() }] })
    const readyz = async () => {
      const r = await probe.inject({ method: 'GET', url: '/readyz' })
      return { status: r.statusCode, kafka: (r.json() as { checks: Record<string, string> }).checks.kafka }
    }
    try {
      expect(await readyz()).toEqual({ status: 503, kafka: 'joining the consumer group' })
      const ac = new AbortController()
      const run = runProcessor(app, ac.signal, { brokers: kafkaBrokers(), membership })
      await waitFor('the processor joins its group', async () => (await readyz()).status === 200, 30_000, 100)
      expect(await readyz()).toEqual({ status: 200, kafka: 'ok' })
      // Two partitions on each of the claims, inventory and national topics, one member: it holds all six.
      expect(membership.assigned()).toBe(6)
      expect((await probe.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200)
      ac.abort(new Error('test stops the processor'))
      await run
      expect(await readyz()).toEqual({ status: 503, kafka: 'left the consumer group' })
      expect((await probe.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200)
    } finally {
      await probe.close()
    }
  })
})
