import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sample } from '../helpers/metrics.ts'
import { INST_A, INST_B, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * fundwatch_precheck_seconds sees every pre-check, not only the ones that
 * succeed: refusals and store failures are timed under their own outcome, and
 * the buckets reach 10 s so an outage's p99 can read above 1 s.
 */
let fx: Fixture
beforeAll(async () => {
  fx = await fixture()
})
afterAll(async () => fx?.close())

const scrape = async () => (await fx.server.inject({ method: 'GET', url: '/metrics' })).body
const n = (text: string, outcome: string) => sample(text, `fundwatch_precheck_seconds_count{outcome="${outcome}"}`) ?? 0

describe('pre-check metrics', () => {
  it('has buckets up to 10 s', async () => {
    const text = await scrape()
    const les = [...text.matchAll(/fundwatch_precheck_seconds_bucket\{[^}]*le="([^"]+)"/g)].map((m) => m[1])
    expect(les).toContain('2.5')
    expect(les).toContain('5')
    expect(les).toContain('10')
    // Every outcome exists before its first request, so rates and ratios over it start at 0.
    for (const outcome of ['findings', 'clean', 'refused', 'error']) expect(n(text, outcome)).toBe(0)
  })

  it('observes a refused draft (4xx) as refused', async () => {
    const before = n(await scrape(), 'refused')
    const other = people(1, INST_B, 900)[0]!
    const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: eventsFor(other, 2, 'x').slice(0, 2) })
    expect(res.statusCode).toBe(403)
    expect(n(await scrape(), 'refused')).toBe(before + 1)
  })

  it('observes a pre-check the store fails (5xx) as error', async () => {
    const p = people(1, INST_A, 901)[0]!
    await fx.app.store.command(`RENAME TABLE ${fx.app.store.t('visits')} TO ${fx.app.store.t('visits_away')}`)
    try {
      const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: eventsFor(p, 2, 'y').slice(0, 2) })
      expect(res.statusCode).toBeGreaterThanOrEqual(500)
    } finally {
      await fx.app.store.command(`RENAME TABLE ${fx.app.store.t('visits_away')} TO ${fx.app.store.t('visits')}`)
    }
    expect(n(await scrape(), 'error')).toBe(1)
  })
})
