import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { fixIdleLoop } from '../../src/kafka/idle-loop.ts'

/**
 * src/kafka/idle-loop.ts on kafkajs's own request queue, without a broker:
 * with nothing pending, a check schedules no timer (kafkajs schedules one
 * with a negative delay, i.e. 1 ms, forever); a request waiting behind a
 * throttle is still checked again when the throttle ends.
 */
const require = createRequire(import.meta.url)
interface Queue {
  pending: unknown[]
  throttledUntil: number
  throttleCheckTimeoutId: NodeJS.Timeout | null
  checkPendingRequests(): void
  push(r: unknown): void
  destroy(): void
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: object) => Queue
const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
const queue = () => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:1', logger })

describe('kafkajs request queue (fixIdleLoop)', () => {
  it('is applied to the kafkajs this project installs', () => {
    expect(fixIdleLoop()).toBe('applied')
  })

  it('schedules no check when nothing is pending', () => {
    fixIdleLoop()
    const q = queue()
    q.checkPendingRequests()
    expect(q.throttleCheckTimeoutId).toBeNull()
    q.destroy()
  })

  it('still checks again when a request waits behind a throttle', () => {
    fixIdleLoop()
    const q = queue()
    q.throttledUntil = Date.now() + 60_000
    let sent = 0
    q.push({ entry: { correlationId: 1 }, expectResponse: true, sendRequest: () => { sent++ } })
    expect(q.pending).toHaveLength(1)
    expect(sent).toBe(0)
    expect(q.throttleCheckTimeoutId).not.toBeNull()
    q.destroy()
  })
})
