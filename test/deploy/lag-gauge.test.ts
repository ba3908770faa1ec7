import { describe, expect, it } from 'vitest'
import { forgetLag } from '../../src/kafka/source.ts'
import { Metrics } from '../../src/metrics.ts'

describe('consumer lag gauges', () => {
  it('regression: a revoked partition\'s lag is removed, not left stale beside its new owner\'s (paged NotConsuming falsely)', async () => {
    const m = new Metrics()
    m.consumerLag.set({ topic: 'p.fundwatch.claims.v1', partition: '0' }, 5000)
    m.consumerLag.set({ topic: 'p.fundwatch.claims.v1', partition: '1' }, 7)
    m.consumerLag.set({ topic: 'p.fundwatch.inventory.v1', partition: '0' }, 3)
    forgetLag(m, ['p.fundwatch.claims.v1/0', 'p.fundwatch.inventory.v1/0'])
    expect((await m.consumerLag.get()).values).toEqual([{ labels: { topic: 'p.fundwatch.claims.v1', partition: '1' }, value: 7 }])
  })
})
