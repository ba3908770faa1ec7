import type { Consumer } from 'kafkajs'

/**
 * A processor's standing in its consumer group, from the consumer's own
 * instrumentation events, for the readiness probe (src/api/probes.ts):
 *
 * - ready once the member has joined the group — with partitions, or with
 *   none (more processors than partitions: it waits for an assignment) — and
 *   while a rebalance is under way (it waits for its next assignment);
 * - not ready before the first join, after a crash until it has joined again
 *   (kafkajs restarts it; see source.ts), and once it has stopped or
 *   disconnected.
 */
export class GroupMembership {
  private state: 'starting' | 'member' | 'rebalancing' | 'crashed' | 'stopped' = 'starting'
  private partitions = 0

  /** Follows `consumer` from now on (call before it connects). */
  watch(consumer: Consumer): void {
    const { GROUP_JOIN, REBALANCING, CRASH, STOP, DISCONNECT } = consumer.events
    consumer.on(GROUP_JOIN, (e) => {
      this.state = 'member'
      this.partitions = Object.values(e.payload.memberAssignment).reduce((n, ps) => n + ps.length, 0)
    })
    consumer.on(REBALANCING, () => {
      if (this.state === 'member') this.state = 'rebalancing'
    })
    consumer.on(CRASH, () => {
      this.state = 'crashed'
      this.partitions = 0
    })
    for (const e of [STOP, DISCONNECT]) {
      consumer.on(e, () => {
        this.state = 'stopped'
        this.partitions = 0
      })
    }
  }

  /** `undefined` when ready, else why not (a readiness check's answer). */
  readiness(): string | undefined {
    switch (this.state) {
      case 'member':
      case 'rebalancing':
        return undefined
      case 'starting':
        return 'joining the consumer group'
      case 'crashed':
        return 'consumer crashed; rejoining the group'
      case 'stopped':
        return 'left the consumer group'
    }
  }

  /** Partitions assigned at the last join (0 while waiting for an assignment). */
  assigned(): number {
    return this.partitions
  }
}
