import { createRequire } from 'node:module'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Admin, Consumer, Kafka } from 'kafkajs'
import { createTopics, topicNames } from '../../src/kafka/topics.ts'
import { describeKafka, testKafka, uniquePrefix } from '../helpers/kafka.ts'

/**
 * src/kafka/idle-loop.ts: a client made by fundwatch (createKafka) no longer
 * re-checks its request queue every millisecond while nothing is pending.
 * Counted on a real, idle consumer: every run of the queue's check in a
 * window of quiet. With kafkajs's loop each broker connection runs it about
 * once a millisecond (hundreds in the window); without it, only when a
 * response arrives (the consumer's long-polling fetch and its heartbeats).
 */
const require = createRequire(import.meta.url)
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: { checkPendingRequests(): void } }
const WINDOW_MS = 1500

describeKafka('kafkajs idle loop', () => {
  let kafka: Kafka
  let admin: Admin
  let consumer: Consumer | undefined
  beforeAll(async () => {
    kafka = testKafka()
    admin = kafka.admin()
    await admin.connect()
  })
  afterAll(async () => {
    await consumer?.disconnect()
    await admin?.disconnect()
  })

  it('an idle consumer checks its request queue only when a response arrives, not every millisecond', async () => {
    const prefix = uniquePrefix('idle')
    await createTopics(admin, { prefix, partitions: 1 })
    consumer = kafka.consumer({ groupId: `${prefix}g`, maxWaitTimeInMs: 1000 })
    await consumer.connect()
    await consumer.subscribe({ topic: topicNames(prefix).claims, fromBeginning: true })
    let joined!: () => void
    const isJoined = new Promise<void>((r) => { joined = r })
    consumer.on(consumer.events.GROUP_JOIN, () => joined())
    await consumer.run({ eachMessage: async () => {} })
    await isJoined
    // Counted from here: the consumer is in its group, polling an empty topic.
    const proto = RequestQueue.prototype
    const original = proto.checkPendingRequests
    let checks = 0
    proto.checkPendingRequests = function (this: unknown) {
      checks++
      return original.call(this)
    }
    try {
      await new Promise((r) => setTimeout(r, WINDOW_MS))
    } finally {
      proto.checkPendingRequests = original
    }
    // Fetches answer once a second at most when nothing arrives, heartbeats every 3 s, per connection (a few):
    // tens at most. The loop alone would be about one per millisecond per connection.
    expect(checks).toBeLessThan(50)
  })
})
