import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sumYuan } from '../../src/util/money.ts'
import { INST_A, INST_B, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * Shadow mode through the API (issue 14, item 2): duplicate-charge runs in
 * shadow, restricted-item live, on the same visits. The shadow alerts are in
 * no feed, count, live stream or pre-check answer; the detector's page says
 * what it would have raised, and its shadow-alerts list shows them, scoped and
 * masked like the feed.
 */
let fx: Fixture
const persons = [...people(3, INST_A, 300), ...people(2, INST_B, 310)]
let liveSeen: string[] = []
beforeAll(async () => {
  fx = await fixture({ rules: { detectors: { 'duplicate-charge': { mode: 'shadow' } } } })
  const seen: string[] = []
  const sink = fx.live.sink
  const publish = sink.publish.bind(sink)
  sink.publish = async (alerts) => {
    seen.push(...alerts.map((a) => a.detector.id))
    return publish(alerts)
  }
  await fx.ingest(persons.flatMap((p) => eventsFor(p, 2, 'sh')))
  liveSeen = seen
})
afterAll(async () => fx?.close())

interface Item { alert_id: string; detector: { id: string }; subject: { fixmedins_code: string; psn_no?: string }; amount_at_risk: string }

describe('shadow alerts through the API', () => {
  it('are in no feed and no count: the feed, the detector stats, the institution ranking, the live stream', async () => {
    const feed = (await fx.call('monitor', 'GET', '/api/v1/alerts?limit=500&lifecycle=all')).json().alerts as Item[]
    expect(feed.some((a) => a.detector.id === 'restricted-item')).toBe(true)
    expect(feed.filter((a) => a.detector.id === 'duplicate-charge')).toEqual([])
    expect(liveSeen).toContain('restricted-item')
    expect(liveSeen).not.toContain('duplicate-charge')
    const d = (await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector
    expect(d.mode).toBe('shadow')
    expect(d.enabled).toBe(true)
    expect(d.stats).toMatchObject({ alerts: 0, open: 0, amount_at_risk: '0.00' })
    const ranking = (await fx.call('monitor', 'GET', '/api/v1/institutions/ranking')).json()
    const total = (ranking.institutions as { alerts: number }[]).reduce((s, i) => s + i.alerts, 0)
    expect(total).toBe(feed.length)
  })

  it('the detector says what it would have raised, in the caller\'s scope; the list shows them scoped and masked like the feed', async () => {
    const all = (await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge/shadow-alerts')).json() as { alerts: Item[]; total: number }
    expect(all.total).toBe(persons.length)
    expect(all.alerts).toHaveLength(persons.length)
    expect(all.alerts.every((a) => a.detector.id === 'duplicate-charge')).toBe(true)
    const d = (await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector
    expect(d.stats.shadow).toEqual({ alerts: persons.length, amount_at_risk: sumYuan(all.alerts.map((a) => a.amount_at_risk)) })
    const other = (await fx.call('monitor', 'GET', '/api/v1/detectors/restricted-item')).json().detector
    expect([other.mode, other.stats.shadow.alerts]).toEqual(['on', 0])

    const b = (await fx.call('monitorB', 'GET', '/api/v1/detectors/duplicate-charge/shadow-alerts')).json() as { alerts: Item[]; total: number }
    expect(b.total).toBe(2)
    expect(b.alerts.map((a) => a.subject.fixmedins_code)).toEqual([INST_B, INST_B])
    expect((await fx.call('monitorB', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector.stats.shadow.alerts).toBe(2)

    // Masked as the feed masks: the same fields for the same role (a live alert of the same person, for comparison).
    const feedItem = ((await fx.call('monitor', 'GET', '/api/v1/alerts?limit=500')).json().alerts as Item[]).find((a) => a.subject.psn_no !== undefined)!
    const shadowItem = all.alerts.find((a) => a.subject.fixmedins_code === feedItem.subject.fixmedins_code)!
    expect(typeof shadowItem.subject.psn_no).toBe(typeof feedItem.subject.psn_no)
    const raw = JSON.stringify(all)
    for (const p of persons) {
      expect(raw).not.toContain(p.certno)
      expect(raw).not.toContain(p.psn_name)
    }

    const page = (await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge/shadow-alerts?limit=2&offset=2')).json() as { alerts: Item[] }
    expect(page.alerts.map((a) => a.alert_id)).toEqual(all.alerts.slice(2, 4).map((a) => a.alert_id))
    expect((await fx.call('precheck', 'GET', '/api/v1/detectors/duplicate-charge/shadow-alerts')).statusCode).toBe(403)
    expect((await fx.call('monitor', 'GET', '/api/v1/detectors/no-such-rule/shadow-alerts')).statusCode).toBe(404)
  })

  it('are not in the pre-check answer (POST /api/v1/precheck)', async () => {
    const draft = eventsFor(people(1, INST_A, 390)[0]!, 2, 'shpre').slice(0, 2)
    const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: draft })
    expect(res.statusCode).toBe(200)
    const ids = (res.json().findings as Item[]).map((f) => f.detector.id)
    expect(ids).toContain('restricted-item')
    expect(ids).not.toContain('duplicate-charge')
  })

  it('promotion through PUT /api/v1/rules makes them live with the same ids, and says how many', async () => {
    const shadowIds = ((await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge/shadow-alerts')).json().alerts as Item[]).map((a) => a.alert_id).sort()
    const res = await fx.call('admin', 'PUT', '/api/v1/rules', { text: 'detectors:\n  duplicate-charge:\n    mode: on\n', reason: 'promote after shadow' })
    expect(res.statusCode).toBe(200)
    expect(res.json().promoted).toEqual([{ detector: 'duplicate-charge', alerts: persons.length }])
    const feed = (await fx.call('monitor', 'GET', '/api/v1/alerts?limit=500&detector=duplicate-charge')).json().alerts as Item[]
    expect(feed.map((a) => a.alert_id).sort()).toEqual(shadowIds)
    const d = (await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector
    expect([d.mode, d.stats.alerts, d.stats.shadow.alerts]).toEqual(['on', persons.length, 0])
  })
})
